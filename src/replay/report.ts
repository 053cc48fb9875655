/**
 * The replayed state as users and tests see it, and its `state_digest`: SHA-256 of the canonical
 * JSON of {last_seq, last_hash, counts, jobs}. It depends on the ledger's bytes only — not on
 * paths, clocks, locale or Node version — so the same file gives the same digest anywhere.
 */
import { createHash } from 'node:crypto';
import { JOB_STATES, type JobContext, type JobRecord, type JobStateValue } from '../../machines/job.types.js';
import { canonicalJson, canonicalOrder } from '../canonical.js';
import type { PlaneState } from '../core/plane-state.js';
import type { TornTail } from '../ledger/scan.js';

/**
 * A job as `replay` and `show` report it. Its members are listed — and built — in canonical
 * (sorted) order, so the view's canonical JSON, which `replay --json` prints for it and
 * `state_digest` hashes, costs one native JSON.stringify (canonical.ts).
 */
export interface JobView {
  readonly attempt: number;
  readonly cancel_reason: string | null;
  readonly enqueued_at_utc: string;
  readonly enqueued_seq: number;
  readonly error: JobContext['error'];
  readonly job_type: string;
  readonly lease: { readonly expires_unix: number; readonly worker_id: string } | null;
  readonly max_attempts: number;
  readonly not_before_unix: number;
  readonly priority: number;
  readonly result: JobContext['result'];
  readonly state: JobStateValue;
  readonly tool_calls: number;
  readonly updated_at_utc: string;
  readonly updated_seq: number;
  readonly usage: JobContext['usage'];
}

export interface ReplayReport {
  readonly last_seq: number;
  readonly last_hash: string;
  readonly counts: Record<JobStateValue, number>;
  readonly jobs: Record<string, JobView>;
  readonly state_digest: string;
  /** A partial last line that was ignored (not part of the state or its digest). */
  readonly torn_tail: { readonly line: number; readonly offset: number; readonly bytes: number } | null;
}

export function jobView(job: JobRecord): JobView {
  const c = job.context;
  // canonicalOrder returns the view itself when every nested value is already in canonical
  // order (as parsed ledger values are), and sorts a copy of what is not.
  return canonicalOrder({
    attempt: c.attempt,
    cancel_reason: c.cancel_reason,
    enqueued_at_utc: c.enqueued_at_utc,
    enqueued_seq: c.enqueued_seq,
    error: c.error,
    job_type: c.job_type,
    lease: c.lease && { expires_unix: c.lease.expires_unix, worker_id: c.lease.worker_id },
    max_attempts: c.max_attempts,
    not_before_unix: c.not_before_unix,
    priority: c.priority,
    result: c.result,
    state: job.value,
    tool_calls: c.tool_calls,
    updated_at_utc: c.updated_at_utc,
    updated_seq: c.updated_seq,
    usage: c.usage,
  });
}

export function emptyCounts(): Record<JobStateValue, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStateValue, number>;
}

export function buildReport(state: PlaneState, torn: TornTail | null, linesFolded: number): ReplayReport {
  const counts = emptyCounts();
  const jobs: Record<string, JobView> = {};
  const ids = [...state.ids()].sort();
  for (const id of ids) {
    const job = state.get(id)!;
    counts[job.value] += 1;
    jobs[id] = jobView(job);
  }
  // state_digest = SHA-256 of canonicalJson({counts, jobs, last_hash, last_seq}) — keys in that
  // sorted order — fed to the hash member by member, never the whole text of a big state at once
  // (docs/decisions.md, "Replay memory").
  const digest = createHash('sha256').update(`{"counts":${canonicalJson(counts)},"jobs":{`);
  ids.forEach((id, i) => digest.update(`${i ? ',' : ''}${JSON.stringify(id)}:${canonicalJson(jobs[id])}`));
  const { seq, hash } = state.head;
  digest.update(`},"last_hash":${JSON.stringify(hash)},"last_seq":${canonicalJson(seq)}}`);
  return {
    last_seq: seq,
    last_hash: hash,
    counts,
    jobs,
    state_digest: digest.digest('hex'),
    torn_tail: torn ? { line: linesFolded + 1, offset: torn.offset, bytes: torn.bytes } : null,
  };
}
