/**
 * The job machine: the single definition of what may happen to a job (SPEC §4).
 *
 * Both the write path (decide a command before appending its event) and replay (fold the
 * ledger) run events through this machine, so nothing can be written that replay would reject.
 * The write path runs it with XState's own pure `initialTransition` / `transition`
 * (`xstateEngine` below, SPEC §4). Folding what is written — replay, catch-up, audit — runs the
 * transition table compiled from this definition (job.compile.ts → job.table.json →
 * job.table.ts), ≈ 1–2 µs an event against ≈ 20–50 µs through XState. The two are held equal by a
 * differential property test, and by the plane and worker property tests, whose writers decide
 * with both engines on one ledger that replay then folds (docs/decisions.md, "The job machine
 * decides and replays"). Guards are the rules of job.guards.ts and context updates the functions
 * of job.updates.ts, each defined once. It reads no clock, no file, no
 * environment: time is the event's `ts_ms`, and cross-job facts (slots a worker holds) arrive
 * in the event envelope, computed from the ledger prefix.
 *
 * `queued → claimed → running → complete | failed | expired`, plus `cancelled`, and `retry`
 * from `failed`/`expired` back to `queued` while attempts remain. An `expire` of the last
 * attempt goes straight to `failed` (E_ATTEMPTS_EXHAUSTED): a job that keeps killing its
 * workers ends failed, it never loops. Guards: see job.guards.ts (invariants 1–7).
 */
import { produce } from 'immer';
import { and, assign, initialTransition, setup, transition } from 'xstate';
import { guardRules, guardsByEvent, type GuardName } from './job.guards.js';
import type { JobRecord, MachineEngine } from './job.table.js';
import type { JobContext, JobMachineEvent, JobMachineInput, JobStateValue } from './job.types.js';
import { contextUpdates, initialContext, type ContextDraft, type UpdateName } from './job.updates.js';

export { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY } from './job.updates.js';

const guardImpls = Object.fromEntries(
  Object.entries(guardRules).map(([name, rule]) => [
    name,
    ({ context, event }: { context: JobContext; event: JobMachineEvent }) => rule.check(context, event),
  ]),
) as Record<GuardName, (args: { context: JobContext; event: JobMachineEvent }) => boolean>;

const all = (names: readonly GuardName[]) => and([...names]);

/**
 * Each action stamps the job with the event's seq and time and applies its update
 * (job.updates.ts) as an immer recipe: the contexts XState produces are immutable (frozen), so
 * nothing downstream can change a job behind the machine's back. (The table's contexts, folded
 * lines, are shallow copies; job.updates.ts's rule — assign whole values, never mutate nested
 * ones — is what keeps those from being changed in place.)
 */
const actionImpls = Object.fromEntries(
  Object.entries(contextUpdates).map(([name, update]) => [
    name,
    assign<JobContext, JobMachineEvent, undefined, JobMachineEvent, never>(({ context, event }) =>
      produce(context, (draft) => {
        draft.updated_seq = event.ev.seq;
        draft.updated_at_utc = event.ev.ts_utc;
        update(draft as ContextDraft, event);
      }),
    ),
  ]),
) as Record<
  UpdateName,
  ReturnType<typeof assign<JobContext, JobMachineEvent, undefined, JobMachineEvent, never>>
>;

/** The context of an actor started without input: no job (see `context` below). */
const INERT_CONTEXT: JobContext = Object.freeze(
  initialContext({
    ev: { seq: 0, ts_utc: '1970-01-01T00:00:00.000Z', job_id: '', job: {} },
    spec_sha256: '',
  } as unknown as JobMachineInput),
);

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    events: {} as JobMachineEvent,
    input: {} as JobMachineInput,
  },
  guards: guardImpls,
  actions: actionImpls,
}).createMachine({
  id: 'job',
  initial: 'queued',
  // `input` is absent only in the inert actor that XState's pure `transition()` builds as its scope
  // on every call and never steps; giving it a constant instead of letting initialContext throw
  // (XState catches that into an error snapshot, stack trace and all) took ≈ 20 µs off each step.
  context: ({ input }) => (input === undefined ? INERT_CONTEXT : initialContext(input)),
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

/**
 * XState's own pure step: the job after `event`, or undefined when the machine does not accept
 * it in the job's state.
 */
export function machineStep(job: JobRecord, event: JobMachineEvent): JobRecord | undefined {
  const snapshot = jobMachine.resolveState({ value: job.value, context: job.context });
  const [next] = transition(jobMachine, snapshot, event);
  return next === snapshot ? undefined : { value: next.value as JobStateValue, context: next.context };
}

/** XState's own initial step for an enqueue (`initialTransition`). */
export function machineInitial(input: JobMachineInput): JobRecord {
  const [snapshot] = initialTransition(jobMachine, input);
  return { value: snapshot.value as JobStateValue, context: snapshot.context };
}

/**
 * The job machine run by XState itself: how the write path decides (SPEC §4) unless a plane is
 * opened with `engine: tableEngine` — the same decisions as the table, ≈ 10–20× its CPU per event.
 */
export const xstateEngine: MachineEngine = { name: 'xstate', initial: machineInitial, step: machineStep };
