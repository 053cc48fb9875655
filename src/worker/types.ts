/**
 * The contract between the worker runtime and job handlers. A handler gets the job, an
 * AbortSignal and a few capabilities; everything it does that the ledger must know about
 * (tool calls, output) goes through them so budgets and policy are enforced in one place.
 */
import type { EvidenceFile, ToolCallEvent } from '../schema/types.generated.js';
import type { JobPayload, StoredJob } from '../schema/job-spec.js';
import type { Clock } from '../time.js';

export interface ToolCallRequest {
  /** Tool name, e.g. `exec`, `read_file`, or a model-requested tool. */
  readonly tool: string;
  /** Hashed into the event's args_sha256 (canonical JSON); the args themselves go to evidence. */
  readonly args: unknown;
  readonly requested_by?: ToolCallEvent['requested_by'];
  readonly needs?: ToolCallEvent['needs'];
}

/** What a handler is given for one attempt of a job whose payload is a `P`. */
export interface JobHandlerContext<P = JobPayload> {
  readonly job: StoredJob<string, P>;
  readonly attempt: number;
  readonly workerId: string;
  /** The workspace's real path: every path a job names is resolved inside it. */
  readonly workspace: string;
  /** evidence/<job_id>/attempt-<n>/ (exists); record what you write there with `evidence`. */
  readonly evidenceDir: string;
  /** Path prefix of evidenceDir relative to evidence/<job_id>/, e.g. `attempt-1`. */
  readonly evidencePrefix: string;
  /**
   * Fires when the job must stop now: lease lost or job cancelled (E_LEASE_LOST), kill switch,
   * shutdown, wall-time or output budget. Its `reason` is a JobAbort.
   */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /**
   * Appends a `tool_call` event before the call runs. Throws a JobError (E_BUDGET_TOOL_CALLS,
   * E_POLICY_DENIED) when the plane refuses it, or a JobAbort when the lease is gone.
   */
  toolCall(call: ToolCallRequest): Promise<void>;
  /** Counts bytes against max_output_bytes; past it, aborts the job with E_BUDGET_OUTPUT. */
  addOutputBytes(n: number): void;
  /**
   * Counts model tokens (prompt + completion, as the server reported them) for the attempt's
   * usage.model_tokens; a job that never calls it reports none.
   */
  addModelTokens(n: number): void;
  /** Output bytes still allowed before max_output_bytes. */
  remainingOutputBytes(): number;
  /** Adds a file (already written under evidenceDir, e.g. a streamed capture) to the evidence the ledger records. */
  addEvidence(file: EvidenceFile): void;
  /** Writes `<evidenceDir>/<name>` atomically and adds it to the evidence the ledger records. */
  writeEvidence(name: string, data: string | Buffer): Promise<EvidenceFile>;
  /** Extra facts for the run header, set before start (e.g. sandbox mode). */
  readonly runHeader: Readonly<Record<string, unknown>>;
}

export interface JobOutcome {
  /** A small summary for the ledger's complete event. */
  readonly result: Record<string, unknown>;
}

export type JobHandler<P = JobPayload> = (ctx: JobHandlerContext<P>) => Promise<JobOutcome>;

/** The handler of each job type a worker runs, by name (built from job types: src/jobs/define.ts). */
export type HandlerRegistry = Readonly<Record<string, JobHandler | undefined>>;
