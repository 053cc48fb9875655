import { Option, type Command as Program } from 'commander';
import { printJson } from '../output.js';

export function register(program: Program): void {
  program
    .command('machine')
    .description('print the job machine, generated from its definition (Mermaid state diagram)')
    .addOption(new Option('--json', 'print the transitions as JSON instead'))
    .addHelpText(
      'after',
      `\nExamples:\n  execplane machine > docs/job-machine.mmd\n  execplane machine --json`,
    )
    .action(async (opts: { json?: boolean }) => {
      // Loaded here: the diagram reads XState's machine, which no other command needs to load.
      const { finalStates, machineMermaid, machineTransitions } =
        await import('../../../machines/diagram.js');
      if (opts.json)
        printJson({ initial: 'queued', final: finalStates(), transitions: machineTransitions() });
      else process.stdout.write(machineMermaid());
    });
}
