/**
 * The `execplane` command line. Each command lives in commands/<name>.ts and registers itself
 * here; errors of any kind end as one line on stderr and a documented exit code (output.ts).
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { EXIT_OK, EXIT_USAGE, installStdoutGuard, reportError } from './output.js';

interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command, in the order help lists them, each loaded only when it runs: a command pays for
 * its own modules, not for all nineteen (docs/decisions.md, "Startup").
 */
const COMMANDS: readonly (readonly [string, () => Promise<CommandModule>])[] = [
  ['enqueue', () => import('./commands/enqueue.js')],
  ['replay', () => import('./commands/replay.js')],
  ['show', () => import('./commands/show.js')],
  ['cancel', () => import('./commands/cancel.js')],
  ['retry', () => import('./commands/retry.js')],
  ['work', () => import('./commands/work.js')],
  ['reap', () => import('./commands/reap.js')],
  ['kill-switch', () => import('./commands/kill-switch.js')],
  ['audit', () => import('./commands/audit.js')],
  ['head', () => import('./commands/head.js')],
  ['import-legacy', () => import('./commands/import-legacy.js')],
  ['machine', () => import('./commands/machine.js')],
  ['models', () => import('./commands/models.js')],
  ['status', () => import('./commands/status.js')],
  ['health', () => import('./commands/health.js')],
  ['service', () => import('./commands/service.js')],
  ['stop', () => import('./commands/stop.js')],
  ['port-guard', () => import('./commands/port-guard.js')],
  ['spec', () => import('./commands/spec.js')],
  ['ui', () => import('./commands/ui.js')],
];

/**
 * The commands to load for `argv`: the one its first argument names; none for a bare
 * `--version`/`-V`; all of them otherwise (top-level help, `-h CMD`, `help CMD`, no command, a
 * misspelt one, which is then suggested), so what commander prints never depends on what was
 * loaded.
 */
export function commandsFor(argv: readonly string[]): readonly string[] {
  const args = argv.slice(2);
  const all = COMMANDS.map(([name]) => name);
  if (args.length === 1 && /^(-V|--version)$/.test(args[0]!)) return [];
  // An option before the command (`-h show`) is the program's: its help lists every command.
  const first = args[0];
  return first !== undefined && all.includes(first) ? [first] : all;
}

export async function buildProgram(names: readonly string[] = COMMANDS.map(([n]) => n)): Promise<Command> {
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
  const chosen = COMMANDS.filter(([name]) => names.includes(name));
  for (const c of await Promise.all(chosen.map(([, load]) => load()))) c.register(program);
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
    await (await buildProgram(commandsFor(argv))).parseAsync(argv);
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
