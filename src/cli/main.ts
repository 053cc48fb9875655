/**
 * The `execplane` command line. Each command lives in commands/<name>.ts and registers itself
 * here; errors of any kind end as one line on stderr and a documented exit code (output.ts).
 */
import { Command, CommanderError } from 'commander';
import * as audit from './commands/audit.js';
import * as cancel from './commands/cancel.js';
import * as enqueue from './commands/enqueue.js';
import * as head from './commands/head.js';
import * as health from './commands/health.js';
import * as models from './commands/models.js';
import * as portGuard from './commands/port-guard.js';
import * as importLegacy from './commands/import-legacy.js';
import * as killSwitch from './commands/kill-switch.js';
import * as machine from './commands/machine.js';
import * as reap from './commands/reap.js';
import * as replay from './commands/replay.js';
import * as retry from './commands/retry.js';
import * as show from './commands/show.js';
import * as spec from './commands/spec.js';
import * as service from './commands/service.js';
import * as status from './commands/status.js';
import * as stop from './commands/stop.js';
import * as work from './commands/work.js';
import { VERSION } from '../version.js';
import { EXIT_OK, EXIT_USAGE, installStdoutGuard, reportError } from './output.js';

const COMMANDS = [
  enqueue,
  replay,
  show,
  cancel,
  retry,
  work,
  reap,
  killSwitch,
  audit,
  head,
  importLegacy,
  machine,
  models,
  status,
  health,
  service,
  stop,
  portGuard,
  spec,
];

export function buildProgram(): Command {
  const program = new Command('execplane')
    .description('a local execution plane: durable jobs on an auditable, event-sourced ledger')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 1 refused, findings or a corrupt ledger; 2 usage or invalid input;
3 work: the kill switch is on; 42 port-guard: the port is not free.
Docs: docs/cli.md`,
    );
  for (const c of COMMANDS) c.register(program);
  const strict = (cmd: Command) => {
    cmd.exitOverride().allowExcessArguments(false);
    cmd.configureOutput({
      outputError: (str, write) =>
        write(`execplane: ${str.replace(/^error: /, 'E_USAGE: ').trimEnd()} (see --help)\n`),
    });
    cmd.commands.forEach(strict);
  };
  strict(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  installStdoutGuard();
  try {
    await buildProgram().parseAsync(argv);
    // A command that ends with a code of its own (work: 3 for the kill switch) sets exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? EXIT_OK
        : EXIT_USAGE;
    }
    return reportError(err);
  }
}
