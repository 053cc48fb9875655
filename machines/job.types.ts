import type {
  Budgets,
  CancelEvent,
  ClaimEvent,
  CompleteEvent,
  EnqueueEvent,
  ErrorInfo,
  ExpireEvent,
  FailEvent,
  HeartbeatEvent,
  RetryEvent,
  StartEvent,
  ToolCallEvent,
  ToolPolicy,
  Usage,
} from '../src/schema/types.generated.js';

export type JobStateValue =
  'queued' | 'claimed' | 'running' | 'complete' | 'failed' | 'expired' | 'cancelled';

export const JOB_STATES: readonly JobStateValue[] = [
  'queued',
  'claimed',
  'running',
  'complete',
  'failed',
  'expired',
  'cancelled',
];

export interface Lease {
  readonly worker_id: string;
  readonly expires_unix: number;
}

/** Everything the machine knows about one job: the fold of its events, nothing else. */
export interface JobContext {
  readonly job_id: string;
  readonly job_type: string;
  readonly priority: number;
  readonly max_attempts: number;
  readonly budgets: Budgets;
  readonly tool_policy: ToolPolicy;
  readonly enqueued_seq: number;
  readonly enqueued_at_utc: string;
  readonly created_at_utc: string;
  /** SHA-256 of the canonical spec without created_at_utc: what an idempotent re-enqueue must match. */
  readonly spec_sha256: string;
  /** The latest claimed attempt (the fencing token); 0 before the first claim. */
  readonly attempt: number;
  /** The lease of the current attempt while claimed or running. */
  readonly lease: Lease | null;
  /** Set by a retry: no claim before this time. */
  readonly not_before_unix: number;
  /** ts of the current attempt's start, for the wall-time budget. */
  readonly started_at_ms: number | null;
  /** tool_call events accepted in the current attempt. */
  readonly tool_calls: number;
  readonly usage: Usage | null;
  readonly result: CompleteEvent['result'] | null;
  readonly error: ErrorInfo | null;
  readonly cancel_reason: string | null;
  readonly updated_seq: number;
  readonly updated_at_utc: string;
}

/**
 * What the machine receives: the ledger event plus facts derived purely from the ledger prefix
 * before it — its time in ms, and for a claim the slots the worker already holds (invariant 6
 * spans jobs, so the fold supplies it).
 */
export interface Envelope<E> {
  readonly ev: E;
  readonly ts_ms: number;
  readonly held_slots: number;
}
export type JobMachineEvent =
  | ({ readonly type: 'claim' } & Envelope<ClaimEvent>)
  | ({ readonly type: 'start' } & Envelope<StartEvent>)
  | ({ readonly type: 'heartbeat' } & Envelope<HeartbeatEvent>)
  | ({ readonly type: 'tool_call' } & Envelope<ToolCallEvent>)
  | ({ readonly type: 'complete' } & Envelope<CompleteEvent>)
  | ({ readonly type: 'fail' } & Envelope<FailEvent>)
  | ({ readonly type: 'expire' } & Envelope<ExpireEvent>)
  | ({ readonly type: 'retry' } & Envelope<RetryEvent>)
  | ({ readonly type: 'cancel' } & Envelope<CancelEvent>);

export interface JobMachineInput {
  readonly ev: EnqueueEvent;
  /** See JobContext.spec_sha256; hashed by the fold so the machine stays free of I/O. */
  readonly spec_sha256: string;
}

/** A job as the fold keeps it: the machine's state value and context (an XState snapshot's two facts). */
export interface JobRecord {
  readonly value: JobStateValue;
  readonly context: JobContext;
}

/** Why the machine refused an event: the stable code of the rule that refused it, and a sentence. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly jobState?: JobStateValue;
}

/**
 * How a job's events are run through the job machine: the compiled table (`tableEngine` in
 * job.table.ts, what folding uses) or XState's own transition (`xstateEngine` in
 * job.machine.ts, what the write path uses) — the same decisions (T3 of job.table.ts).
 */
export interface MachineEngine {
  readonly name: string;
  /** The job an enqueue creates. */
  initial(input: JobMachineInput): JobRecord;
  /** The job after `event`, or undefined when the machine does not accept it in the job's state. */
  step(job: JobRecord, event: JobMachineEvent): JobRecord | undefined;
  /**
   * Why `step` refused `event` in state `value`: read from the machine's own candidate
   * transitions (job.table.ts, `explainRefusal`). `context` may be absent only for a state with no
   * transitions at all.
   */
  explain(value: JobStateValue, context: JobContext | undefined, event: JobMachineEvent): Refusal;
}
