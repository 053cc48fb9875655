import type { Command as Program } from 'commander';
import { jobsOption, specJobTypes } from '../job-types.js';
import { isExecplaneError, RefusedError, UsageError } from '../../errors.js';
import { assertPlaneExists } from '../../ledger/paths.js';
import { openPlane, type Plane } from '../../plane.js';
import { homeOption, jsonOption } from '../options.js';
import { noteCommitted, printJson, printLines, warn } from '../output.js';

interface Opts {
  home: string;
  reason?: string;
  asNew?: boolean;
  json?: boolean;
  jobs?: string[];
}

/** The retry event's bound on `reason` (schemas/event.schema.json). */
const MAX_REASON = 1000;

/** States a job can still leave on its own: a copy of one would run beside it. */
const ACTIVE = new Set(['queued', 'claimed', 'running']);

export function register(program: Program): void {
  program
    .command('retry')
    .description(
      'redrive a failed or expired job that has attempts left (its next attempt, claimable at once)',
    )
    .argument('<job_id>')
    .addOption(homeOption())
    .option('--reason <text>', 'why, recorded in the retry event')
    .option(
      '--as-new',
      'enqueue a copy of the job’s spec under a new job id instead (for a job whose attempts are used up, or one that ended)',
    )
    .addOption(jobsOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane retry job-01jd8x7q2m4k5n6p7r8s9t0v1w --reason "model server restarted"
  execplane retry job-01jd8x7q2m4k5n6p7r8s9t0v1w --as-new

A retry is the job machine's own \`retry\` event (by: "operator"), refused as every command is
(exit 1 with its code): E_ATTEMPTS_EXHAUSTED when all max_attempts are used — attempts are the
fencing tokens, so a job never gets more — and E_ILLEGAL_TRANSITION for a job that is queued,
running, complete or cancelled. A job that failed with a non-retryable error may be retried: the
operator decides what the reaper may not. --as-new leaves the old job as it is and enqueues its
spec (without job_id and created_at_utc) as a new job; it prints the new id. See docs/operations.md.`,
    )
    .action(async (jobId: string, opts: Opts) => {
      if (opts.asNew && opts.reason !== undefined)
        throw new UsageError(
          'E_USAGE',
          '--reason is recorded in a retry event, and --as-new appends an enqueue, which has no reason: give one of them',
        );
      if (opts.reason !== undefined && opts.reason.length > MAX_REASON)
        throw new UsageError(
          'E_USAGE',
          `--reason is ${opts.reason.length} characters; at most ${MAX_REASON} are kept`,
        );
      assertPlaneExists(opts.home);
      // --as-new checks the copy against its job type, as enqueue would.
      const jobTypes = opts.asNew ? await specJobTypes(opts.home, opts.jobs) : undefined;
      const plane = openPlane(opts.home, jobTypes ? { jobTypes } : {});
      try {
        const row = opts.asNew ? await enqueueCopy(plane, jobId) : await redrive(plane, jobId, opts.reason);
        noteCommitted();
        if (opts.json) printJson(row);
        else if ('new_job_id' in row)
          printLines(`${row.new_job_id}\tqueued\tseq ${row.seq}\t(a copy of ${jobId})`);
        else printLines(`${jobId}\tqueued\tattempt ${row.attempt}\tseq ${row.seq}`);
      } finally {
        plane.close();
      }
    });
}

async function redrive(plane: Plane, jobId: string, reason: string | undefined) {
  try {
    const { events, tornTailMoved } = await plane.submit([
      {
        type: 'retry',
        job_id: jobId,
        backoff_sec: 0,
        by: 'operator',
        ...(reason !== undefined ? { reason } : {}),
      },
    ]);
    if (tornTailMoved)
      warn(`a torn tail of ${tornTailMoved.bytes} byte(s) was moved aside to ${tornTailMoved.path}`);
    const ev = events[0]!;
    return { job_id: jobId, status: 'queued', seq: ev.seq, attempt: ev.event === 'retry' ? ev.attempt : 0 };
  } catch (err) {
    if (isExecplaneError(err) && err.code === 'E_ATTEMPTS_EXHAUSTED')
      throw new RefusedError(
        err.code,
        `${err.message}; a job never gets more attempts than its max_attempts (they fence its workers): ` +
          `\`execplane retry ${jobId} --as-new\` enqueues a copy of its spec under a new id`,
        jobId,
      );
    throw err;
  }
}

async function enqueueCopy(plane: Plane, jobId: string) {
  const state = plane.state.jobState(jobId);
  if (state === undefined) throw new RefusedError('E_UNKNOWN_JOB', `no job ${jobId} in this plane`, jobId);
  if (ACTIVE.has(state))
    throw new RefusedError(
      'E_JOB_ACTIVE',
      `${jobId} is ${state}: a copy would run beside it; wait for it to end, or cancel it first`,
      jobId,
      state,
    );
  const { job_id: _id, created_at_utc: _created, ...spec } = plane.jobSpec(jobId);
  const { outcomes, tornTailMoved } = await plane.submit([{ type: 'enqueue', spec }]);
  if (tornTailMoved)
    warn(`a torn tail of ${tornTailMoved.bytes} byte(s) was moved aside to ${tornTailMoved.path}`);
  const o = outcomes[0]!;
  return { job_id: jobId, new_job_id: o.job_id, status: 'queued', seq: o.seq };
}
