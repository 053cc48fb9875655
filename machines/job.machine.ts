/**
 * The job machine: the single definition of what may happen to a job (docs/spec.md §4).
 *
 * Both the write path (decide a command before appending its event) and replay (fold the
 * ledger) run events through this machine, so nothing can be written that replay would reject.
 * The write path runs it with XState's own `getInitialSnapshot` / `transition` — what its pure
 * `initialTransition` / `transition` helpers run — in one shared actor scope (`xstateEngine`
 * below). Folding what is written — replay, catch-up, audit — runs the
 * transition table compiled from this definition (job.compile.ts → job.table.json →
 * job.table.ts; what each costs: docs/benchmarks.md). The two are held equal by a differential
 * property test, and by the plane and worker property tests, whose writers decide with both
 * engines on one ledger that replay then folds (docs/decisions.md, "The job machine decides and
 * replays").
 *
 * Each transition names the rules it composes — `all(...)` below, one parameterised guard whose
 * rules are the checks of job.guards.ts — and the context updates of job.updates.ts it applies.
 * Those names are all the compiled table and a refusal's explanation ever read, so a rule added
 * here is enforced and explained without a second list. The machine reads no clock, no file, no
 * environment: time is the event's `ts_ms`, and cross-job facts (slots a worker holds) arrive in
 * the event envelope, computed from the ledger prefix.
 *
 * `queued → claimed → running → complete | failed | expired`, plus `cancelled`, and `retry`
 * from `failed`/`expired` back to `queued` while attempts remain. An `expire` of the last
 * attempt goes straight to `failed` (E_ATTEMPTS_EXHAUSTED): a job that keeps killing its
 * workers ends failed, it never loops. Guards: see job.guards.ts (invariants 1–7).
 */
import { produce } from 'immer';
import { assign, createActor, setup, type AnyStateMachine } from 'xstate';
import { guardRules, type GuardName } from './job.guards.js';
import { tableEngine } from './job.table.js';
import type { JobContext, JobMachineEvent, JobMachineInput, JobRecord, MachineEngine } from './job.types.js';
import { contextUpdates, initialContext, type UpdateName } from './job.updates.js';

export { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY } from './job.updates.js';

/** The params of the one guard the machine uses: the rules a transition composes, in order. */
export interface AllGuardParams {
  readonly rules: readonly GuardName[];
}

/**
 * A transition's guard: every rule must pass. A parameterised guard (`{ type, params }`, XState's
 * public guard-object form) rather than `and([...])`, so the compiler reads the rule names from
 * plain data instead of from the internals of XState's `and`.
 */
const all = (...rules: GuardName[]) => ({ type: 'all', params: { rules } }) as const;

export const checkAll = (
  { context, event }: { context: JobContext; event: JobMachineEvent },
  params: AllGuardParams,
): boolean => {
  for (const name of params.rules) if (!guardRules[name].check(context, event)) return false;
  return true;
};

// The rules of the worker's fenced events, and of the reaper's expire (job.guards.ts).
const fenced = ['isLeaseHolder', 'isCurrentAttempt', 'leaseLive'] as const;
const finish = [
  ...fenced,
  'usageMatchesToolCalls',
  'outputWithinBudget',
  'modelTokensWithinBudget',
  'wallTimeWithinBudget',
] as const;
const lapsed = ['isCurrentAttempt', 'isLeaseHolder', 'isRecordedLease', 'leaseLapsed'] as const;

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
        update(draft, event);
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
  guards: { all: checkAll },
  actions: actionImpls,
}).createMachine({
  id: 'job',
  initial: 'queued',
  // `input` is absent only in the inert actor that XState's pure `transition()` builds as its scope
  // on every call and never steps; a constant here instead of letting initialContext throw (XState
  // catches that into an error snapshot, stack trace and all) halves the cost of a step
  // (docs/decisions.md, "The job machine decides and replays").
  context: ({ input }) => (input === undefined ? INERT_CONTEXT : initialContext(input)),
  states: {
    queued: {
      on: {
        claim: {
          guard: all(
            'isNextAttempt',
            'withinMaxAttempts',
            'notBeforeReached',
            'leaseInFuture',
            'slotsAvailable',
          ),
          target: 'claimed',
          actions: 'recordClaim',
        },
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    claimed: {
      on: {
        start: { guard: all(...fenced), target: 'running', actions: 'recordStart' },
        heartbeat: { guard: all(...fenced, 'leaseInFuture'), actions: 'recordHeartbeat' },
        fail: { guard: all(...finish), target: 'failed', actions: 'recordFail' },
        expire: [
          { guard: all(...lapsed, 'attemptsLeft'), target: 'expired', actions: 'recordExpire' },
          { guard: all(...lapsed), target: 'failed', actions: 'recordExhausted' },
        ],
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    running: {
      on: {
        heartbeat: { guard: all(...fenced, 'leaseInFuture'), actions: 'recordHeartbeat' },
        tool_call: { guard: all(...fenced, 'toolCallsLeft', 'policyAllows'), actions: 'recordToolCall' },
        complete: { guard: all(...finish), target: 'complete', actions: 'recordComplete' },
        fail: { guard: all(...finish), target: 'failed', actions: 'recordFail' },
        expire: [
          { guard: all(...lapsed, 'attemptsLeft'), target: 'expired', actions: 'recordExpire' },
          { guard: all(...lapsed), target: 'failed', actions: 'recordExhausted' },
        ],
        cancel: { target: 'cancelled', actions: 'recordCancel' },
      },
    },
    complete: { type: 'final' },
    failed: {
      on: {
        retry: { guard: all('isNextAttempt', 'attemptsLeft'), target: 'queued', actions: 'recordRetry' },
        cancel: { guard: all('attemptsLeft'), target: 'cancelled', actions: 'recordCancel' },
      },
    },
    expired: {
      on: {
        retry: { guard: all('isNextAttempt', 'attemptsLeft'), target: 'queued', actions: 'recordRetry' },
        cancel: { guard: all('attemptsLeft'), target: 'cancelled', actions: 'recordCancel' },
      },
    },
    cancelled: { type: 'final' },
  },
});

export type JobMachine = typeof jobMachine;

/**
 * The actor scope every step runs in: the one XState's pure `transition()` / `initialTransition()`
 * build for each call (an unstarted actor, a system of its own, no-op `defer`, `emit` and action
 * executor), built once. Building it is most of what a step cost (an actor, a system and the
 * machine's initial snapshot per call; docs/decisions.md, "The job machine decides and
 * replays"); sharing it is safe because the machine has no children, invokes, delays or
 * emitted events — nothing a step could leave in the scope — and job.compile.ts refuses a machine
 * that grows any. The actions a step resolves are its `assign`s, which XState applies to the
 * snapshot it returns; like our callers of the pure helpers, nothing here executes others.
 */
let stepScope: Parameters<JobMachine['transition']>[2] | undefined;
function scope(): Parameters<JobMachine['transition']>[2] {
  if (stepScope) return stepScope;
  // Without input, as XState's inert scope is made: its initial context is INERT_CONTEXT (above).
  const self = createActor(jobMachine as AnyStateMachine);
  return (stepScope = {
    self,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    system: self.system,
    stopChild: () => {},
    actionExecutor: () => {},
  });
}

/**
 * XState's own step (the machine's `transition`, what the pure `transition()` helper runs): the
 * job after `event`, or undefined when the machine does not accept it in the job's state. XState
 * returns the snapshot it was given when no transition is taken; the differential test (T3 of
 * job.table.ts) would catch an upgrade that stopped doing so.
 */
export function machineStep(job: JobRecord, event: JobMachineEvent): JobRecord | undefined {
  const snapshot = jobMachine.resolveState({ value: job.value, context: job.context });
  const next = jobMachine.transition(snapshot, event, scope());
  return next === snapshot ? undefined : { value: next.value, context: next.context };
}

/** XState's own initial step for an enqueue (what `initialTransition` runs). */
export function machineInitial(input: JobMachineInput): JobRecord {
  const snapshot = jobMachine.getInitialSnapshot(scope(), input);
  return { value: snapshot.value, context: snapshot.context };
}

/**
 * The job machine run by XState itself: how the write path decides (docs/spec.md §4). A refusal
 * is explained from the machine's own candidate transitions, as the table stores them (T1, T4 of
 * job.table.ts).
 */
export const xstateEngine: MachineEngine = {
  name: 'xstate',
  initial: machineInitial,
  step: machineStep,
  explain: (value, context, event) => tableEngine.explain(value, context, event),
};
