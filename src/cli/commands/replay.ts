import type { Command as Program } from 'commander';
import { UsageError } from '../../errors.js';
import { homeOption, jsonOption, ledgerOption, parsePositiveInt } from '../options.js';
import { openForRead } from '../open.js';
import { printJson, printLines, warn } from '../output.js';

export function register(program: Program): void {
  program
    .command('replay')
    .description('fold the ledger through the job machine and print the state and its digest')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .option('--at <seq>', 'the state as of this seq (time travel)', parsePositiveInt('--at'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane replay
  execplane replay --json | jq .counts
  execplane replay --at 120 --ledger /backups/jobs.jsonl`,
    )
    .action((opts: { home: string; ledger?: string; at?: number; json?: boolean }) => {
      const plane = openForRead(opts);
      try {
        const report = plane.report();
        if (opts.at !== undefined && report.last_seq < opts.at) {
          throw new UsageError(
            'E_USAGE',
            `--at ${opts.at} is past the end of the ledger (last seq ${report.last_seq})`,
          );
        }
        if (opts.at === undefined) plane.maybeCheckpoint();
        if (report.torn_tail) {
          warn(
            `a torn tail of ${report.torn_tail.bytes} byte(s) after line ${report.torn_tail.line - 1} was ignored`,
          );
        }
        if (opts.json) return printJson(report);
        const counts = Object.entries(report.counts)
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ');
        printLines(
          `last seq      ${report.last_seq}`,
          `last hash     ${report.last_hash}`,
          `state digest  ${report.state_digest}`,
          `jobs          ${Object.keys(report.jobs).length}${counts ? ` (${counts})` : ''}`,
          ...Object.entries(report.jobs).map(
            ([id, j]) =>
              `  ${id.padEnd(34)} ${j.state.padEnd(9)} attempt ${j.attempt}/${j.max_attempts}  ${j.job_type}` +
              (j.error && j.state !== 'complete' ? `  ${j.error.code}` : ''),
          ),
        );
      } finally {
        plane.close();
      }
    });
}
