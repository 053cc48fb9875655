import type { Command as Program } from 'commander';
import { isExecplaneError, UsageError } from '../../errors.js';
import { fromCheckpointOption, homeOption, jsonOption, ledgerOption, parsePositiveInt } from '../options.js';
import { openForRead } from '../open.js';
import { printLines, warn } from '../output.js';
import { canonicalJson } from '../../canonical.js';
import type { ReplayReport } from '../../replay/report.js';

interface ReplayOpts {
  home: string;
  ledger?: string;
  at?: number;
  fromCheckpoint?: boolean;
  json?: boolean;
}

export function register(program: Program): void {
  program
    .command('replay')
    .description('fold the ledger through the job machine and print the state and its digest')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .option('--at <seq>', 'the state as of this seq (time travel)', parsePositiveInt('--at'))
    .addOption(fromCheckpointOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane replay
  execplane replay --json | jq .counts
  execplane replay --at 120 --ledger /backups/jobs.jsonl
  execplane replay --from-checkpoint

Without --from-checkpoint every line is read and verified (chain, schema, machine), and
checkpoint.json is refreshed afterwards when 10,000 or more lines were folded past it.`,
    )
    .action((opts: ReplayOpts, cmd: Program) => {
      const plane = openForRead({ ...opts, homeGiven: cmd.getOptionValueSource('home') === 'cli' });
      try {
        const report = plane.report();
        if (opts.at !== undefined && report.last_seq < opts.at) {
          throw new UsageError(
            'E_USAGE',
            `--at ${opts.at} is past the end of the ledger (last seq ${report.last_seq})`,
          );
        }
        // A cache, written when it can be: a read command never fails for it (a read-only home,
        // a home this user may read but not write, a full disk).
        if (opts.at === undefined) {
          try {
            plane.maybeCheckpoint();
          } catch (err) {
            // Only a fault of the filesystem (an errno code); a damaged checkpoint still stops it.
            const code = (err as NodeJS.ErrnoException).code;
            if (!code || isExecplaneError(err)) throw err;
            warn(`checkpoint.json not refreshed (${code}); the replay itself is complete`);
          }
        }
        if (report.torn_tail) {
          warn(
            `a torn tail of ${report.torn_tail.bytes} byte(s) after line ${report.torn_tail.line - 1} was ignored`,
          );
        }
        if (opts.json) return printReportJson(report);
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

/**
 * The report as `JSON.stringify(report)` would print it — except that each job is its canonical
 * JSON, the text `state_digest` hashes (the same text unless a result or error has keys that
 * JavaScript orders differently, integer-like ones) — written a few hundred jobs at a time: a
 * big report printed in one piece is held twice (string, then bytes) (docs/decisions.md, "Replay
 * memory").
 */
function printReportJson(report: ReplayReport): void {
  const members = Object.entries(report).filter(([, v]) => v !== undefined);
  process.stdout.write('{');
  members.forEach(([key, value], i) => {
    process.stdout.write(`${i ? ',' : ''}${JSON.stringify(key)}:`);
    if (key !== 'jobs') return void process.stdout.write(JSON.stringify(value));
    const jobs = value as ReplayReport['jobs'];
    const ids = Object.keys(jobs);
    process.stdout.write('{');
    for (let at = 0; at < ids.length; at += 500) {
      const chunk = ids.slice(at, at + 500).map((id) => `${JSON.stringify(id)}:${canonicalJson(jobs[id])}`);
      process.stdout.write(`${at ? ',' : ''}${chunk.join(',')}`);
    }
    process.stdout.write('}');
  });
  process.stdout.write('}\n');
}
