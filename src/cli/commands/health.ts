import type { Command as Program } from 'commander';
import { isExecplaneError } from '../../errors.js';
import { healthOf, type Health } from '../../ops/health.js';
import { homeOption, jsonOption } from '../options.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, printJson, printLines, reportError } from '../output.js';
import { gatherStatus, noProbeOption, probeTimeoutOption } from '../plane-status.js';

export function register(program: Program): void {
  program
    .command('health')
    .description(
      'exit 0 healthy, 1 degraded, 2 could not check; the reasons as lines (for scripts, monitors, ExecStartPre)',
    )
    .addOption(homeOption())
    .addOption(jsonOption())
    .addOption(probeTimeoutOption())
    .addOption(noProbeOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane health && echo ok
  execplane health --json --timeout-ms 500

Degraded (exit 1), one line per reason, each with a stable code: kill_switch_on, leases_unreaped,
model_down, ledger_torn_tail, ledger_ahead_of_clock, jobs_unrunnable, worker_degraded,
worker_stopped, ledger_corrupt. Notes (no_worker, no_claimer, worker_gone, checkpoint_rejected)
do not change the exit code. Exit 2: it could not
check (no plane, a malformed config.json, an unreadable home). See docs/operations.md.`,
    )
    .action(async (opts: { home: string; json?: boolean; timeoutMs: number; probe: boolean }) => {
      let health: Health;
      try {
        health = healthOf(await gatherStatus(opts));
      } catch (err) {
        // A corrupt ledger was checked, and found wrong: degraded, with the line that is.
        if (isExecplaneError(err) && err.code === 'E_LEDGER_CORRUPT') {
          health = {
            healthy: false,
            degraded: [{ code: 'ledger_corrupt', message: err.message }],
            notes: [],
          };
        } else {
          reportError(err);
          process.exitCode = EXIT_USAGE;
          return;
        }
      }
      if (opts.json) printJson(health);
      else
        printLines(
          health.healthy ? 'healthy' : 'degraded',
          ...health.degraded.map((r) => `degraded: ${r.code}: ${r.message}`),
          ...health.notes.map((r) => `note: ${r.code}: ${r.message}`),
        );
      process.exitCode = health.healthy ? EXIT_OK : EXIT_REFUSED;
    });
}
