/**
 * decide(command, state, time, ids) → the event body to append, or a refusal. Pure: the time is
 * the commit time the store chose under the lock, new job ids come from the injected `IdSource`
 * (src/ids.ts at the edge, a fixed list in tests), and every body still goes through the job
 * machine (`PlaneState.evolve`) before it is written.
 */
import { canonicalOrder } from '../canonical.js';
import { RefusedError } from '../errors.js';
import type { JobSpec } from '../schema/job-spec.js';
import { validateStoredJob } from '../schema/validate.js';
import { toTsUtc } from '../time.js';
import type { Command, EventBody } from './commands.js';
import { specDigest, type PlaneState } from './plane-state.js';

/** Where new job ids come from (docs/spec.md §3: `job-` + a time-sortable id). */
export interface IdSource {
  /** A fresh job id for a spec submitted at `tsMs` without one. */
  jobId(tsMs: number): string;
}

export type Decision =
  | { readonly kind: 'append'; readonly body: EventBody }
  | { readonly kind: 'exists'; readonly job_id: string; readonly seq: number };

/** Existing jobs are compared by the canonical JSON of their spec (docs/spec.md §3 duplicate rule). */
export function decide(command: Command, state: PlaneState, tsMs: number, ids: IdSource): Decision {
  switch (command.type) {
    case 'enqueue':
      return decideEnqueue(command.spec, state, tsMs, ids);
    case 'claim': {
      const ctx = jobContext(state, command.job_id);
      return append({
        event: 'claim',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: ctx.attempt + 1,
        lease_expires_unix: leaseExpiry(tsMs, command.lease_sec),
        worker_slots: command.worker_slots,
      });
    }
    case 'start':
      return append({
        event: 'start',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: command.attempt,
        run_header_sha256: command.run_header_sha256,
      });
    case 'heartbeat':
      return append({
        event: 'heartbeat',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: command.attempt,
        lease_expires_unix: leaseExpiry(tsMs, command.lease_sec),
      });
    case 'tool_call':
      return append({
        event: 'tool_call',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: command.attempt,
        tool: command.tool,
        args_sha256: command.args_sha256,
        requested_by: command.requested_by,
        needs: command.needs,
      });
    case 'complete':
      return append({
        event: 'complete',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: command.attempt,
        result: command.result,
        usage: command.usage,
        ...(command.evidence ? { evidence: command.evidence } : {}),
      });
    case 'fail':
      return append({
        event: 'fail',
        job_id: command.job_id,
        worker_id: command.worker_id,
        attempt: command.attempt,
        error: command.error,
        usage: command.usage,
        ...(command.evidence ? { evidence: command.evidence } : {}),
      });
    case 'expire': {
      const ctx = jobContext(state, command.job_id);
      if (!ctx.lease) {
        const jobState = state.jobState(command.job_id);
        throw new RefusedError(
          'E_ILLEGAL_TRANSITION',
          `expire is not accepted for job ${command.job_id}: it holds no lease (state ${jobState})`,
          command.job_id,
          jobState,
        );
      }
      return append({
        event: 'expire',
        job_id: command.job_id,
        attempt: ctx.attempt,
        worker_id: ctx.lease.worker_id,
        lease_expires_unix: ctx.lease.expires_unix,
        ...(command.reaper ? { reaper: command.reaper } : {}),
      });
    }
    case 'retry': {
      const ctx = jobContext(state, command.job_id);
      return append({
        event: 'retry',
        job_id: command.job_id,
        attempt: ctx.attempt + 1,
        not_before_unix: leaseExpiry(tsMs, command.backoff_sec),
        by: command.by,
        ...(command.reason !== undefined ? { reason: command.reason } : {}),
      });
    }
    case 'cancel':
      if (!state.has(command.job_id)) throw unknownJob(command.job_id);
      return append({ event: 'cancel', job_id: command.job_id, reason: command.reason });
  }
}

const append = (body: EventBody): Decision => ({ kind: 'append', body });

/** Seconds with millisecond precision, so the value survives JSON and float comparison exactly. */
function leaseExpiry(tsMs: number, seconds: number): number {
  return Math.round(tsMs + seconds * 1000) / 1000;
}

const unknownJob = (jobId: string) =>
  new RefusedError('E_UNKNOWN_JOB', `no job ${jobId} in this plane`, jobId);

function jobContext(state: PlaneState, jobId: string) {
  const job = state.get(jobId);
  if (!job) throw unknownJob(jobId);
  return job.context;
}

/**
 * Completes a spec (job_id and created_at_utc when absent) and checks it as stored: `spec` is
 * already complete otherwise — the job type's defaults were filled in before the lock (Plane,
 * src/schema/job-types.ts), so deciding needs no job type's definition. A repeat of an
 * existing id is idempotent only when the spec is byte-identical in canonical form; a
 * submission without created_at_utc is compared without it, so re-running the same file is a
 * no-op. A finished job is never re-queued by an enqueue (docs/spec.md §9).
 */
function decideEnqueue(spec: unknown, state: PlaneState, tsMs: number, ids: IdSource): Decision {
  const submitted = spec as JobSpec;
  const complete =
    typeof spec === 'object' && spec !== null && !Array.isArray(spec)
      ? {
          ...submitted,
          job_id: submitted.job_id ?? ids.jobId(tsMs),
          created_at_utc: submitted.created_at_utc ?? toTsUtc(tsMs),
        }
      : spec;
  // In canonical key order once, so sealing it and hashing it (specDigest) both take the fast path.
  const job = canonicalOrder(validateStoredJob(complete));
  const jobId = job.job_id;
  const existing = state.get(jobId);
  if (existing) {
    const ctx = existing.context;
    const sameCreated =
      submitted.created_at_utc === undefined || submitted.created_at_utc === ctx.created_at_utc;
    if (sameCreated && specDigest({ ...submitted, job_id: jobId }) === ctx.spec_sha256) {
      return { kind: 'exists', job_id: jobId, seq: existing.context.enqueued_seq };
    }
    throw new RefusedError(
      'E_JOB_EXISTS',
      `job ${jobId} already exists in state ${existing.value} with a different spec; ` +
        'choose another job_id, or omit job_id to have one generated',
      jobId,
      existing.value,
    );
  }
  return append({ event: 'enqueue', job_id: jobId, job });
}
