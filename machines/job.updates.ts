/**
 * How an accepted event changes a job's context: one recipe per machine action, assigning the
 * fields it changes on a draft. Each update has exactly one definition, applied two ways: the
 * machine's `assign` actions (job.machine.ts) run it as an immer recipe inside `produce`, so
 * XState's contexts are frozen; the compiled table the fold runs (job.table.ts) runs it on a
 * fresh shallow copy through `applyUpdate`, because the fold applies one per ledger line and
 * `produce` with its auto-freeze costs several times more there (docs/decisions.md, "Replay speed").
 */
import type { JobContext, JobMachineEvent, JobMachineInput } from './job.types.js';

export const DEFAULT_PRIORITY = 0;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** A context under update: its own fields may be reassigned, nested values only replaced. */
export type ContextDraft = { -readonly [K in keyof JobContext]: JobContext[K] };

/**
 * What an accepted event changes, written into a fresh shallow copy of the context (`applyUpdate`
 * makes it). Assign whole values; never mutate a nested object in place — the previous context
 * shares them, and the write path rolls back to it when a batch is refused.
 */
export type ContextUpdate = (draft: ContextDraft, event: JobMachineEvent) => void;

const holderOf = (e: JobMachineEvent) => ('worker_id' in e.ev ? e.ev.worker_id : '?');

export const contextUpdates = {
  recordClaim: (d, e) => {
    if (e.type !== 'claim') return;
    d.attempt = e.ev.attempt;
    // Keys in canonical order, so the report's digest hashes it without re-sorting.
    d.lease = { expires_unix: e.ev.lease_expires_unix, worker_id: e.ev.worker_id };
    d.started_at_ms = null;
    d.tool_calls = 0;
  },
  recordStart: (d, e) => {
    d.started_at_ms = e.ts_ms;
  },
  recordHeartbeat: (d, e) => {
    if (e.type === 'heartbeat' && d.lease) d.lease = { ...d.lease, expires_unix: e.ev.lease_expires_unix };
  },
  recordToolCall: (d) => {
    d.tool_calls += 1;
  },
  recordComplete: (d, e) => {
    if (e.type !== 'complete') return;
    d.lease = null;
    d.usage = e.ev.usage;
    d.result = e.ev.result;
    d.error = null;
  },
  recordFail: (d, e) => {
    if (e.type !== 'fail') return;
    d.lease = null;
    d.usage = e.ev.usage;
    d.error = e.ev.error;
  },
  recordExpire: (d, e) => {
    d.lease = null;
    d.error = {
      code: 'E_LEASE_EXPIRED',
      message: `the lease of ${holderOf(e)} on attempt ${d.attempt} lapsed`,
      retryable: true,
    };
  },
  recordExhausted: (d, e) => {
    d.lease = null;
    d.error = {
      code: 'E_ATTEMPTS_EXHAUSTED',
      message: `the lease of ${holderOf(e)} on the last attempt (${d.attempt} of ${d.max_attempts}) lapsed`,
      retryable: false,
    };
  },
  recordRetry: (d, e) => {
    if (e.type !== 'retry') return;
    d.not_before_unix = e.ev.not_before_unix;
    d.started_at_ms = null;
  },
  recordCancel: (d, e) => {
    if (e.type !== 'cancel') return;
    d.lease = null;
    d.cancel_reason = e.ev.reason;
  },
} satisfies Record<string, ContextUpdate>;

export type UpdateName = keyof typeof contextUpdates;

/** The context after `update`: every accepted event also stamps the job with its seq and time. */
export function applyUpdate(context: JobContext, event: JobMachineEvent, update: ContextUpdate): JobContext {
  const draft = copyContext(context);
  draft.updated_seq = event.ev.seq;
  draft.updated_at_utc = event.ev.ts_utc;
  update(draft, event);
  return draft;
}

/**
 * A shallow copy with every field named, so every context of the fold has the one object shape
 * V8 optimises for (a spread copy showed up in the replay profile: docs/decisions.md, "Replay
 * speed"). The return type makes the compiler insist that no field of JobContext is missing here.
 */
function copyContext(c: JobContext): ContextDraft {
  return {
    job_id: c.job_id,
    job_type: c.job_type,
    priority: c.priority,
    max_attempts: c.max_attempts,
    budgets: c.budgets,
    tool_policy: c.tool_policy,
    enqueued_seq: c.enqueued_seq,
    enqueued_at_utc: c.enqueued_at_utc,
    created_at_utc: c.created_at_utc,
    spec_sha256: c.spec_sha256,
    attempt: c.attempt,
    lease: c.lease,
    not_before_unix: c.not_before_unix,
    started_at_ms: c.started_at_ms,
    tool_calls: c.tool_calls,
    usage: c.usage,
    result: c.result,
    error: c.error,
    cancel_reason: c.cancel_reason,
    updated_seq: c.updated_seq,
    updated_at_utc: c.updated_at_utc,
  };
}

/** A job's context as its enqueue creates it. */
export function initialContext(input: JobMachineInput): JobContext {
  const job = input.ev.job;
  return {
    job_id: input.ev.job_id,
    job_type: job.job_type,
    priority: job.priority ?? DEFAULT_PRIORITY,
    max_attempts: job.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    budgets: job.budgets,
    tool_policy: job.tool_policy,
    enqueued_seq: input.ev.seq,
    enqueued_at_utc: input.ev.ts_utc,
    created_at_utc: job.created_at_utc ?? input.ev.ts_utc,
    spec_sha256: input.spec_sha256,
    attempt: 0,
    lease: null,
    not_before_unix: 0,
    started_at_ms: null,
    tool_calls: 0,
    usage: null,
    result: null,
    error: null,
    cancel_reason: null,
    updated_seq: input.ev.seq,
    updated_at_utc: input.ev.ts_utc,
  };
}

/**
 * Every declaration of this module, for the checkpoint's code fingerprint (C1 of
 * src/ledger/checkpoint/format.ts); `tests/fold-code.unit.spec.ts` fails when one is missing here.
 */
export const UPDATE_CODE = {
  DEFAULT_PRIORITY,
  DEFAULT_MAX_ATTEMPTS,
  holderOf,
  contextUpdates,
  applyUpdate,
  copyContext,
  initialContext,
};
