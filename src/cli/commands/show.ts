import type { Command as Program } from 'commander';
import { closeSync, constants, existsSync, fstatSync, openSync } from 'node:fs';
import { RefusedError } from '../../errors.js';
import { jobIndexPath, loadJobIndex } from '../../ledger/job-index.js';
import { IndexMismatch, readJobLines, type JobLines } from '../../ledger/job-lines.js';
import { assertPlaneExists, planePaths } from '../../ledger/paths.js';
import type { Plane } from '../../plane.js';
import { jobView, type JobView } from '../../replay/report.js';
import { foldJobEvents, timelineEntry, type TimelineEntry } from '../../replay/timeline.js';
import { homeOption, jsonOption, ledgerOption } from '../options.js';
import { JobIndexBuilder, writeJobIndex } from '../index-cache.js';
import { openForRead } from '../open.js';
import { printJson, printLines, warn } from '../output.js';
import { readProgress } from '../progress.js';

interface ShowOpts {
  home: string;
  ledger?: string;
  json?: boolean;
}

/** What `show` read and checked, printed with the timeline (`verified` in --json). */
type Verified =
  | { readonly read: 'full'; readonly lines: number; readonly not_verified: null }
  | {
      readonly read: 'index';
      /** The job's lines jobs.index pointed at, each checked (hash, canonical form, schema, job, order). */
      readonly job_lines: number;
      /** Links checked between those of them that are adjacent in the ledger. */
      readonly links_checked: number;
      /** The lines after the index, every one read and chained (seq, prev, hash, schema). */
      readonly lines_after_index: number;
      readonly first_line_after_index: number;
      readonly not_verified: string;
    };

export function register(program: Program): void {
  program
    .command('show')
    .description("print a job's timeline: every event for it, and the state each left it in")
    .argument('<job_id>')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane show job-01jd8x7q2m4k5n6p7r8s9t0v1w
  execplane show job-01jd8x7q2m4k5n6p7r8s9t0v1w --json

With <home>/jobs.index (written by \`replay\` and by a \`show\` that read the whole ledger), only
the job's own lines and the lines after the index are read, each checked; the last line says what
was verified and what was not. Without a usable index every line is read and verified.`,
    )
    .action((jobId: string, opts: ShowOpts, cmd: Program) => {
      const homeGiven = cmd.getOptionValueSource('home') === 'cli';
      const shown =
        (opts.ledger === undefined && showFromIndex(opts.home, jobId)) || showFromAll(jobId, opts, homeGiven);
      print(jobId, shown, opts.json === true);
    });
}

interface Shown {
  readonly job: JobView;
  readonly timeline: readonly TimelineEntry[];
  readonly verified: Verified;
}

/**
 * The job through jobs.index (job-lines.ts, L1–L3), or undefined when there is no usable index or
 * it does not check out (said on stderr) — the caller then reads everything.
 */
function showFromIndex(home: string, jobId: string): Shown | undefined {
  assertPlaneExists(home);
  const paths = planePaths(home);
  if (!existsSync(paths.ledger)) return undefined;
  const fd = openSync(paths.ledger, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return undefined; // the full read says what is wrong with it
    const loaded = loadJobIndex(jobIndexPath(paths.home), fd);
    if (!loaded) return undefined;
    if (!loaded.ok) return void warn(`jobs.index ignored (${loaded.reason}); read the whole ledger`);
    let read: JobLines;
    try {
      read = readJobLines(fd, 'jobs.jsonl', loaded.index, jobId);
    } catch (err) {
      if (!(err instanceof IndexMismatch)) throw err;
      return void warn(`jobs.index ignored (${err.message}); read the whole ledger`);
    } finally {
      loaded.index.close();
    }
    if (read.lines.length === 0) throw unknownJob(jobId);
    const folded = foldJobEvents(jobId, read.lines);
    if ('refusal' in folded) {
      const { code, message } = folded.refusal;
      return void warn(
        `jobs.index ignored (the lines it gives for ${jobId} do not fold: ${code}: ${message}); read the whole ledger`,
      );
    }
    const from = read.tailFrom;
    return {
      job: jobView(folded.job),
      timeline: folded.timeline,
      verified: {
        read: 'index',
        job_lines: read.indexed,
        links_checked: read.links,
        lines_after_index: read.tailLines,
        first_line_after_index: from,
        not_verified:
          from > 1
            ? `lines 1–${from - 1} other than this job's: the chain between this job's lines was not walked, ` +
              "nor other jobs' events checked; run `execplane audit` (or `execplane replay`) to prove the whole ledger"
            : 'nothing: every line was read',
      },
    };
  } finally {
    closeSync(fd);
  }
}

/** Every line read and verified, as `replay` does; a plane's home gets a fresh jobs.index. */
function showFromAll(jobId: string, opts: ShowOpts, homeGiven: boolean): Shown {
  const timeline: TimelineEntry[] = [];
  const index = opts.ledger === undefined ? new JobIndexBuilder() : undefined;
  const progress = readProgress('show: reading the ledger', opts.ledger ?? planePaths(opts.home).ledger);
  let plane: Plane;
  try {
    plane = openForRead(
      { ...opts, homeGiven },
      {
        useCheckpoint: false,
        onEvent: (ev, line, state, offset) => {
          index?.add(ev.job_id, offset);
          progress?.at(offset);
          if (ev.job_id === jobId) timeline.push(timelineEntry(ev, line, state));
        },
      },
    );
  } finally {
    progress?.stop();
  }
  try {
    const snap = plane.state.get(jobId);
    if (index) writeJobIndex(index, plane);
    if (!snap) throw unknownJob(jobId);
    return {
      job: jobView(snap),
      timeline,
      verified: { read: 'full', lines: plane.store.position.lines, not_verified: null },
    };
  } finally {
    plane.close();
  }
}

const unknownJob = (jobId: string) =>
  new RefusedError(
    'E_UNKNOWN_JOB',
    `no job ${jobId} in this ledger; list jobs with \`execplane replay\``,
    jobId,
  );

function print(jobId: string, { job, timeline, verified }: Shown, json: boolean): void {
  if (json) return printJson({ job_id: jobId, job, timeline, verified });
  printLines(
    `${jobId}  ${job.job_type}  ${job.state}  attempt ${job.attempt}/${job.max_attempts}  priority ${job.priority}`,
    ...timeline.map(
      (t) =>
        `  ${String(t.seq).padStart(6)}  ${t.ts_utc}  ${t.event.padEnd(9)} → ${t.state.padEnd(9)}` +
        `${t.worker_id ? ` ${t.worker_id}#${t.attempt}` : ''}  ${t.detail}`,
    ),
    verified.read === 'full'
      ? `verified: every line of the ledger (${verified.lines}): chain, schema, job machine`
      : `verified: this job's ${verified.job_lines} line(s) before line ${verified.first_line_after_index} ` +
          `(each its hash, canonical form and schema; ${verified.links_checked} link(s) between adjacent ones) ` +
          `and all ${verified.lines_after_index} line(s) from there on (the chain); not verified: ${verified.not_verified}`,
  );
}
