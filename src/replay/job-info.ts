/**
 * A job as the library reports it (Plane.getJob, Plane.waitFor): a stable, documented shape
 * (docs/library.md, "Waiting for jobs and worker events") built from the fold's JobContext, so a
 * user never reads the machine's context, whose members may change with the machine.
 */
import type { JobRecord, JobStateValue } from '../../machines/job.types.js';
import type { ErrorInfo, EvidenceFile, Usage } from '../schema/types.generated.js';

export interface JobInfo {
  readonly job_id: string;
  readonly job_type: string;
  readonly state: JobStateValue;
  /**
   * Whether the job has ended for good (`isFinal`, src/core/final.ts): complete, cancelled, or failed with no retry
   * to come. What `waitFor` waits for.
   */
  readonly final: boolean;
  /** The latest claimed attempt (1 on the first claim); 0 before any. */
  readonly attempt: number;
  readonly max_attempts: number;
  readonly priority: number;
  /** When the job was created (its spec's created_at_utc). */
  readonly created_at_utc: string;
  /** The seq and time of its enqueue event. */
  readonly enqueued_seq: number;
  readonly enqueued_at_utc: string;
  /** The seq and time of the last event of the job. */
  readonly updated_seq: number;
  readonly updated_at_utc: string;
  /** The lease of the current attempt while the job is claimed or running; otherwise null. */
  readonly lease: { readonly worker_id: string; readonly expires_unix: number } | null;
  /** Set by a retry: the job is not claimed before this Unix time (seconds); 0 if never retried. */
  readonly not_before_unix: number;
  /** tool_call events accepted in the current attempt. */
  readonly tool_calls: number;
  /** The `result` of the complete event, when the job is complete; otherwise null. */
  readonly result: Readonly<Record<string, unknown>> | null;
  /**
   * The error of the latest attempt that failed or expired (kept while a retry runs, cleared by a
   * complete); null if none did.
   */
  readonly error: ErrorInfo | null;
  /** The usage the latest complete or fail event reported; null before one. */
  readonly usage: Usage | null;
  /**
   * The evidence files the complete or fail event that ended the job lists (paths relative to
   * `evidence/<job_id>/`), when the job is complete or failed; otherwise empty.
   */
  readonly evidence: readonly EvidenceFile[];
  /** The reason of the cancel event, when the job is cancelled; otherwise null. */
  readonly cancel_reason: string | null;
}

export function jobInfo(job: JobRecord, final: boolean, evidence: readonly EvidenceFile[]): JobInfo {
  const c = job.context;
  return {
    job_id: c.job_id,
    job_type: c.job_type,
    state: job.value,
    final,
    attempt: c.attempt,
    max_attempts: c.max_attempts,
    priority: c.priority,
    created_at_utc: c.created_at_utc,
    enqueued_seq: c.enqueued_seq,
    enqueued_at_utc: c.enqueued_at_utc,
    updated_seq: c.updated_seq,
    updated_at_utc: c.updated_at_utc,
    lease: c.lease && { worker_id: c.lease.worker_id, expires_unix: c.lease.expires_unix },
    not_before_unix: c.not_before_unix,
    tool_calls: c.tool_calls,
    result: c.result,
    error: c.error,
    usage: c.usage,
    evidence,
    cancel_reason: c.cancel_reason,
  };
}
