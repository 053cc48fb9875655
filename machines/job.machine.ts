/**
 * The job machine: the single definition of what may happen to a job (SPEC §4).
 *
 * Both the write path (decide a command before appending its event) and replay (fold the
 * ledger) run events through this machine with XState's pure `initialTransition` /
 * `transition`, so nothing can be written that replay would reject. It reads no clock, no file,
 * no environment: time is the event's `ts_ms`, and cross-job facts (slots a worker holds) arrive
 * in the event envelope, computed from the ledger prefix.
 *
 * `queued → claimed → running → complete | failed | expired`, plus `cancelled`, and `retry`
 * from `failed`/`expired` back to `queued` while attempts remain. An `expire` of the last
 * attempt goes straight to `failed` (E_ATTEMPTS_EXHAUSTED): a job that keeps killing its
 * workers ends failed, it never loops. Guards: see job.guards.ts (invariants 1–7).
 */
import { produce } from 'immer';
import { and, assign, setup } from 'xstate';
import type { Draft } from 'immer';
import { guardRules, guardsByEvent, type GuardName } from './job.guards.js';
import type { JobContext, JobMachineEvent, JobMachineInput } from './job.types.js';

export const DEFAULT_PRIORITY = 0;
export const DEFAULT_MAX_ATTEMPTS = 3;

const guardImpls = Object.fromEntries(
  Object.entries(guardRules).map(([name, rule]) => [
    name,
    ({ context, event }: { context: JobContext; event: JobMachineEvent }) => rule.check(context, event),
  ]),
) as Record<GuardName, (args: { context: JobContext; event: JobMachineEvent }) => boolean>;

const all = (names: readonly GuardName[]) => and([...names]);

/** Every accepted event stamps the job with its seq and time, then applies `recipe`. */
const update = (recipe: (draft: Draft<JobContext>, event: JobMachineEvent) => void) =>
  assign<JobContext, JobMachineEvent, undefined, JobMachineEvent, never>(({ context, event }) =>
    produce(context, (draft) => {
      draft.updated_seq = event.ev.seq;
      draft.updated_at_utc = event.ev.ts_utc;
      recipe(draft, event);
    }),
  );

const endLease = (d: Draft<JobContext>) => {
  d.lease = null;
};

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    events: {} as JobMachineEvent,
    input: {} as JobMachineInput,
  },
  guards: guardImpls,
  actions: {
    recordClaim: update((d, e) => {
      if (e.type !== 'claim') return;
      d.attempt = e.ev.attempt;
      d.lease = { worker_id: e.ev.worker_id, expires_unix: e.ev.lease_expires_unix };
      d.started_at_ms = null;
      d.tool_calls = 0;
    }),
    recordStart: update((d, e) => {
      d.started_at_ms = e.ts_ms;
    }),
    recordHeartbeat: update((d, e) => {
      if (e.type === 'heartbeat' && d.lease) d.lease.expires_unix = e.ev.lease_expires_unix;
    }),
    recordToolCall: update((d) => {
      d.tool_calls += 1;
    }),
    recordComplete: update((d, e) => {
      if (e.type !== 'complete') return;
      endLease(d);
      d.usage = e.ev.usage;
      d.result = e.ev.result;
      d.error = null;
    }),
    recordFail: update((d, e) => {
      if (e.type !== 'fail') return;
      endLease(d);
      d.usage = e.ev.usage;
      d.error = e.ev.error;
    }),
    recordExpire: update((d, e) => {
      endLease(d);
      d.error = {
        code: 'E_LEASE_EXPIRED',
        message: `the lease of ${'worker_id' in e.ev ? e.ev.worker_id : '?'} on attempt ${d.attempt} lapsed`,
        retryable: true,
      };
    }),
    recordExhausted: update((d, e) => {
      endLease(d);
      d.error = {
        code: 'E_ATTEMPTS_EXHAUSTED',
        message: `the lease of ${'worker_id' in e.ev ? e.ev.worker_id : '?'} on the last attempt (${d.attempt} of ${d.max_attempts}) lapsed`,
        retryable: false,
      };
    }),
    recordRetry: update((d, e) => {
      if (e.type !== 'retry') return;
      d.not_before_unix = e.ev.not_before_unix;
      d.started_at_ms = null;
    }),
    recordCancel: update((d, e) => {
      if (e.type !== 'cancel') return;
      endLease(d);
      d.cancel_reason = e.ev.reason;
    }),
  },
}).createMachine({
  id: 'job',
  initial: 'queued',
  context: ({ input }) => {
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
  },
  states: {
    queued: {
      on: {
        claim: { guard: all(guardsByEvent.claim), target: 'claimed', actions: 'recordClaim' },
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    claimed: {
      on: {
        start: { guard: all(guardsByEvent.start), target: 'running', actions: 'recordStart' },
        heartbeat: { guard: all(guardsByEvent.heartbeat), actions: 'recordHeartbeat' },
        fail: { guard: all(guardsByEvent.fail), target: 'failed', actions: 'recordFail' },
        expire: [
          {
            guard: all([...guardsByEvent.expire, 'attemptsLeft']),
            target: 'expired',
            actions: 'recordExpire',
          },
          { guard: all(guardsByEvent.expire), target: 'failed', actions: 'recordExhausted' },
        ],
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    running: {
      on: {
        heartbeat: { guard: all(guardsByEvent.heartbeat), actions: 'recordHeartbeat' },
        tool_call: { guard: all(guardsByEvent.tool_call), actions: 'recordToolCall' },
        complete: { guard: all(guardsByEvent.complete), target: 'complete', actions: 'recordComplete' },
        fail: { guard: all(guardsByEvent.fail), target: 'failed', actions: 'recordFail' },
        expire: [
          {
            guard: all([...guardsByEvent.expire, 'attemptsLeft']),
            target: 'expired',
            actions: 'recordExpire',
          },
          { guard: all(guardsByEvent.expire), target: 'failed', actions: 'recordExhausted' },
        ],
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    complete: { type: 'final' },
    failed: {
      on: {
        retry: { guard: all(guardsByEvent.retry), target: 'queued', actions: 'recordRetry' },
        cancel: { guard: 'attemptsLeft', target: 'cancelled', actions: 'recordCancel' },
      },
    },
    expired: {
      on: {
        retry: { guard: all(guardsByEvent.retry), target: 'queued', actions: 'recordRetry' },
        cancel: { guard: 'attemptsLeft', target: 'cancelled', actions: 'recordCancel' },
      },
    },
    cancelled: { type: 'final' },
  },
});

export type JobMachine = typeof jobMachine;
