import type { Command as Program } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { JOB_STATES, type JobStateValue } from '../../../machines/job.types.js';
import { isExecplaneError, UsageError } from '../../errors.js';
import { planePaths } from '../../ledger/paths.js';
import { fromCheckpointOption, homeOption, jsonOption, ledgerOption, parsePositiveInt } from '../options.js';
import { openForRead } from '../open.js';
import { printLines, warn } from '../output.js';
import { canonicalJson } from '../../canonical.js';
import type { JobView, ReplayReport } from '../../replay/report.js';
import { parseTsUtc } from '../../time.js';
import { JobIndexBuilder, writeJobIndex } from '../index-cache.js';
import { readProgress } from '../progress.js';

/** The version of `replay --json`'s shape (docs/cli.md, "replay"): a new member keeps it, a changed one bumps it. */
export const REPLAY_JSON_VERSION = 1;

interface ReplayOpts {
  home: string;
  ledger?: string;
  at?: number;
  fromCheckpoint?: boolean;
  json?: boolean;
  state?: JobStateValue[];
  type?: string[];
  since?: number;
  limit?: number;
}

/** What a replay read and proved (`verified` in --json). */
interface Verified {
  /** Lines read and verified: chain, schema, job machine. */
  readonly lines_verified: number;
  readonly first_line_verified: number;
  /** Lines before it, whose state came from checkpoint.json (C1 of src/ledger/checkpoint). */
  readonly lines_from_checkpoint: number;
}

export function register(program: Program): void {
  program
    .command('replay')
    .description('fold the ledger through the job machine and print the state and its digest')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .option('--at <seq>', 'the state as of this seq (time travel)', parsePositiveInt('--at'))
    .addOption(fromCheckpointOption())
    .addOption(
      new Option(
        '--state <states>',
        `list only jobs in these states (${JOB_STATES.join(', ')}); repeatable`,
      ).argParser(parseStates),
    )
    .addOption(
      new Option('--type <job_type>', 'list only jobs of this job type; repeatable').argParser(collect),
    )
    .addOption(
      new Option(
        '--since <date|duration>',
        'list only jobs with an event at or after this time: an ISO date (2026-11-30, 2026-11-30T12:00Z) or a duration back from now (90s, 15m, 2h, 7d)',
      ).argParser(parseSince),
    )
    .option('--limit <n>', 'list at most this many jobs (in job_id order)', parsePositiveInt('--limit'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane replay
  execplane replay --json | jq .counts
  execplane replay --state failed --limit 20
  execplane replay --type agent_task --since 2h --json
  execplane replay --at 120 --ledger /backups/jobs.jsonl
  execplane replay --from-checkpoint

Without --from-checkpoint or a filter every line is read and verified (chain, schema, machine),
and checkpoint.json is refreshed afterwards when 10,000 or more lines were folded past it.
A filter (--state, --type, --since, --limit) chooses which jobs are listed, never the state:
counts, last seq and state_digest are the whole plane's. A filtered replay of a home starts
from a verified checkpoint.json, as --from-checkpoint does; the \`verified\` line says which
lines it read. --json prints {"version": 1, …} (docs/cli.md, "replay").`,
    )
    .action((opts: ReplayOpts, cmd: Program) => {
      const filtered = [opts.state, opts.type, opts.since, opts.limit].some((f) => f !== undefined);
      // A filtered replay lists jobs; the whole ledger is proved by a plain one (docs/cli.md).
      const fromCheckpoint = opts.fromCheckpoint === true || (filtered && opts.ledger === undefined);
      const full = !fromCheckpoint && opts.at === undefined && opts.ledger === undefined;
      const index = full ? new JobIndexBuilder() : undefined;
      const progress = fromCheckpoint
        ? undefined
        : readProgress('replay', opts.ledger ?? planePaths(opts.home).ledger);
      let folded = 0;
      let plane: ReturnType<typeof openForRead>;
      try {
        plane = openForRead(
          { ...opts, fromCheckpoint, homeGiven: cmd.getOptionValueSource('home') === 'cli' },
          {
            onEvent: (ev, _line, _state, offset) => {
              folded += 1;
              index?.add(ev.job_id, offset);
              progress?.at(offset);
            },
          },
        );
      } finally {
        progress?.stop();
      }
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
        if (index) writeJobIndex(index, plane);
        if (report.torn_tail) {
          warn(
            `a torn tail of ${report.torn_tail.bytes} byte(s) after line ${report.torn_tail.line - 1} was ignored`,
          );
        }
        const lines = plane.store.position.lines;
        const verified: Verified = {
          lines_verified: folded,
          first_line_verified: lines - folded + 1,
          lines_from_checkpoint: lines - folded,
        };
        const { ids, matched } = select(report.jobs, opts);
        const filter = filtered
          ? {
              state: opts.state ?? null,
              type: opts.type ?? null,
              since: opts.since === undefined ? null : new Date(opts.since).toISOString(),
              limit: opts.limit ?? null,
            }
          : null;
        if (opts.json) return printReportJson(report, ids, { filter, matched, verified });
        const counts = Object.entries(report.counts)
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ');
        printLines(
          `last seq      ${report.last_seq}`,
          `last hash     ${report.last_hash}`,
          `state digest  ${report.state_digest}`,
          `verified      ${verifiedText(verified)}`,
          `jobs          ${Object.keys(report.jobs).length}${counts ? ` (${counts})` : ''}`,
          ...(filter ? [`listed        ${ids.length} of ${matched} matching ${filterText(filter)}`] : []),
          ...ids.map((id) => {
            const j = report.jobs[id]!;
            return (
              `  ${id.padEnd(34)} ${j.state.padEnd(9)} attempt ${j.attempt}/${j.max_attempts}  ${j.job_type}` +
              (j.error && j.state !== 'complete' ? `  ${j.error.code}` : '')
            );
          }),
        );
      } finally {
        plane.close();
      }
    });
}

function verifiedText(v: Verified): string {
  if (v.lines_from_checkpoint === 0) return `every line (${v.lines_verified}): chain, schema, job machine`;
  const read = v.lines_verified
    ? `lines ${v.first_line_verified}–${v.first_line_verified + v.lines_verified - 1} (chain, schema, job machine)`
    : 'no line after it';
  return (
    `${read}; lines 1–${v.lines_from_checkpoint} taken from checkpoint.json, not read ` +
    '(a plain `replay` or `audit` proves them)'
  );
}

function filterText(f: {
  state: string[] | null;
  type: string[] | null;
  since: string | null;
  limit: number | null;
}) {
  const parts = [
    f.state && `state ${f.state.join(',')}`,
    f.type && `type ${f.type.join(',')}`,
    f.since && `since ${f.since}`,
    f.limit && `limit ${f.limit}`,
  ].filter(Boolean);
  return `(${parts.join('; ')})`;
}

/** The ids of the jobs the filters choose, in job_id order, at most --limit of them; and how many match. */
function select(jobs: Record<string, JobView>, opts: ReplayOpts): { ids: string[]; matched: number } {
  const ids: string[] = [];
  let matched = 0;
  for (const id of Object.keys(jobs)) {
    const j = jobs[id]!;
    if (opts.state && !opts.state.includes(j.state)) continue;
    if (opts.type && !opts.type.includes(j.job_type)) continue;
    if (opts.since !== undefined && !(parseTsUtc(j.updated_at_utc) >= opts.since)) continue;
    matched += 1;
    if (opts.limit === undefined || ids.length < opts.limit) ids.push(id);
  }
  return { ids, matched };
}

function collect(value: string, previous: string[] = []): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('needs a value');
  return [...previous, ...items];
}

function parseStates(value: string, previous: JobStateValue[] = []): JobStateValue[] {
  const states = collect(value);
  const unknown = states.filter((s) => !(JOB_STATES as readonly string[]).includes(s));
  if (unknown.length)
    throw new InvalidArgumentError(
      `unknown state ${unknown.join(', ')}; the states are ${JOB_STATES.join(', ')}`,
    );
  return [...previous, ...(states as JobStateValue[])];
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO 8601 date or date-time (UTC unless it says otherwise), or a duration back from now. */
export function parseSince(value: string, _prev?: number, nowMs = Date.now()): number {
  const duration = /^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)$/.exec(value.trim());
  if (duration) return nowMs - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  if (
    /^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(
      value,
    )
  ) {
    // A date-time without a zone is UTC, as every time in the ledger is.
    const zoned = /T|\s/.test(value) && !/(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(value) ? `${value}Z` : value;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return ms;
  }
  throw new InvalidArgumentError(
    'must be an ISO date (2026-11-30, 2026-11-30T12:00Z) or a duration back from now (90s, 15m, 2h, 7d)',
  );
}

/**
 * `{"version": 1, …the report, "filter", "matched", "verified"}` as `JSON.stringify` would print it
 * — except that each job is its canonical JSON, the text `state_digest` hashes (the same text
 * unless a result or error has keys that JavaScript orders differently, integer-like ones) —
 * written a few hundred jobs at a time: a big report printed in one piece is held twice (string,
 * then bytes) (docs/decisions.md, "Replay memory"). `jobs` holds the listed jobs only; every
 * other member is the whole plane's.
 */
function printReportJson(report: ReplayReport, ids: readonly string[], extra: Record<string, unknown>): void {
  const members = Object.entries({ version: REPLAY_JSON_VERSION, ...report, ...extra }).filter(
    ([, v]) => v !== undefined,
  );
  process.stdout.write('{');
  members.forEach(([key, value], i) => {
    process.stdout.write(`${i ? ',' : ''}${JSON.stringify(key)}:`);
    if (key !== 'jobs') return void process.stdout.write(JSON.stringify(value));
    process.stdout.write('{');
    for (let at = 0; at < ids.length; at += 500) {
      const chunk = ids
        .slice(at, at + 500)
        .map((id) => `${JSON.stringify(id)}:${canonicalJson(report.jobs[id])}`);
      process.stdout.write(`${at ? ',' : ''}${chunk.join(',')}`);
    }
    process.stdout.write('}');
  });
  process.stdout.write('}\n');
}
