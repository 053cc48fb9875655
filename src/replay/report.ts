/**
 * The replayed state as users and tests see it, and its `state_digest`: SHA-256 of the canonical
 * JSON of {last_seq, last_hash, counts, jobs}. It depends on the ledger's bytes only — not on
 * paths, clocks, locale or Node version — so the same file gives the same digest anywhere.
 */
import { createHash } from 'node:crypto';
import { JOB_STATES, type JobStateValue } from '../../machines/job.types.js';
import { canonicalJson } from '../canonical.js';
import { stateOf, type JobSnapshot, type PlaneState } from '../core/plane-state.js';
import type { TornTail } from '../ledger/scan.js';

export interface JobView {
  readonly state: JobStateValue;
  readonly job_type: string;
  readonly attempt: number;
  readonly max_attempts: number;
  readonly priority: number;
  readonly lease: { readonly worker_id: string; readonly expires_unix: number } | null;
  readonly not_before_unix: number;
  readonly tool_calls: number;
  readonly usage: JobSnapshot['context']['usage'];
  readonly result: JobSnapshot['context']['result'];
  readonly error: JobSnapshot['context']['error'];
  readonly cancel_reason: string | null;
  readonly enqueued_seq: number;
  readonly enqueued_at_utc: string;
  readonly updated_seq: number;
  readonly updated_at_utc: string;
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

export function jobView(snap: JobSnapshot): JobView {
  const c = snap.context;
  return {
    state: stateOf(snap),
    job_type: c.job_type,
    attempt: c.attempt,
    max_attempts: c.max_attempts,
    priority: c.priority,
    lease: c.lease,
    not_before_unix: c.not_before_unix,
    tool_calls: c.tool_calls,
    usage: c.usage,
    result: c.result,
    error: c.error,
    cancel_reason: c.cancel_reason,
    enqueued_seq: c.enqueued_seq,
    enqueued_at_utc: c.enqueued_at_utc,
    updated_seq: c.updated_seq,
    updated_at_utc: c.updated_at_utc,
  };
}

export function emptyCounts(): Record<JobStateValue, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStateValue, number>;
}

export function buildReport(state: PlaneState, torn: TornTail | null, linesFolded: number): ReplayReport {
  const counts = emptyCounts();
  const jobs: Record<string, JobView> = {};
  const ids = [...state.jobs.keys()].sort();
  for (const id of ids) {
    const snap = state.jobs.get(id)!;
    counts[stateOf(snap)] += 1;
    jobs[id] = jobView(snap);
  }
  // state_digest = SHA-256 of canonicalJson({counts, jobs, last_hash, last_seq}) — keys in that
  // sorted order — fed to the hash member by member: the whole text of a 100,000-job state would
  // be ≈ 55 MB held at once (docs/decisions.md, "Replay memory").
  const digest = createHash('sha256').update(`{"counts":${canonicalJson(counts)},"jobs":{`);
  ids.forEach((id, i) => digest.update(`${i ? ',' : ''}${JSON.stringify(id)}:${canonicalJson(jobs[id])}`));
  digest.update(
    `},"last_hash":${JSON.stringify(state.lastHash)},"last_seq":${canonicalJson(state.lastSeq)}}`,
  );
  return {
    last_seq: state.lastSeq,
    last_hash: state.lastHash,
    counts,
    jobs,
    state_digest: digest.digest('hex'),
    torn_tail: torn ? { line: linesFolded + 1, offset: torn.offset, bytes: torn.bytes } : null,
  };
}
