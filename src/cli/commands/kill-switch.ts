import type { Command as Program } from 'commander';
import { UsageError } from '../../errors.js';
import { planePaths } from '../../ledger/paths.js';
import { killSwitchState, setKillSwitch } from '../../ops/kill-switch.js';
import { homeOption, jsonOption } from '../options.js';
import { noteCommitted, printJson, printLines, warn } from '../output.js';

export function register(program: Program): void {
  program
    .command('kill-switch')
    .description('stop all claiming (on), allow it again (off), or show the switch (status)')
    .argument('<action>', 'on | off | status')
    .addOption(homeOption())
    .option('--reason <text>', 'why (with on); shown by status and in workers’ logs')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
While on: nothing is claimed; running jobs are aborted and fail with code kill_switch;
workers exit with code 3.

Examples:
  execplane kill-switch on --reason "disk full"
  execplane kill-switch status --json
  execplane kill-switch off`,
    )
    .action((action: string, opts: { home: string; reason?: string; json?: boolean }) => {
      if (!['on', 'off', 'status'].includes(action)) {
        throw new UsageError('E_USAGE', `kill-switch takes on, off or status, not "${action}"`);
      }
      if (opts.reason !== undefined && action !== 'on')
        throw new UsageError('E_USAGE', '--reason goes with on only');
      const paths = planePaths(opts.home);
      if (action !== 'status') {
        const { reasonKept } = setKillSwitch(paths, action === 'on', opts.reason);
        noteCommitted();
        if (!reasonKept) warn('the disk is full: the kill switch is on, but its reason could not be saved');
      }
      const state = killSwitchState(paths);
      if (opts.json) printJson(state);
      else if (action === 'status')
        printLines(state.on ? `on${state.reason ? `: ${state.reason}` : ''}` : 'off');
    });
}
