/**
 * The compiled transition table (machines/job.table.ts) against XState itself (T3): random
 * event sequences go through `initialTransition`/`transition` on `jobMachine` and through
 * `initialJob`/`transitionJob`; after every event both must agree on whether it was accepted,
 * on the state value and on the whole context. Event fields are drawn near the job's current
 * facts (its attempt, its lease, its budgets) so that every guard both passes and fails often.
 */
import fc from 'fast-check';
import { EVENT_TYPES } from '../src/schema/names.js';
import { describe, expect, it } from 'vitest';
import { and, assign, setup, type AnyStateMachine } from 'xstate';
import { initialTransition, transition } from 'xstate';
import { checkAll, jobMachine, xstateEngine } from '../machines/job.machine.js';
import { compileJobTable } from '../machines/job.compile.js';
import { initialJob, TABLE_SPEC, tableEngineFor, transitionJob } from '../machines/job.table.js';
import type { JobContext, JobMachineEvent, JobRecord } from '../machines/job.types.js';
import { PlaneState, specDigest } from '../src/core/plane-state.js';
import type { EnqueueEvent, LedgerEvent } from '../src/schema/types.generated.js';
import type { StoredJob } from '../src/schema/job-spec.js';
import { T0 } from './helpers/clock.js';
import { agentSpec, SHA_A } from './helpers/specs.js';

const J = 'job-table00001';
const WORKERS = ['w1', 'w2'] as const;
const TYPES = EVENT_TYPES.filter((t) => t !== 'enqueue');

const specArb = fc.record({
  max_wall_time_sec: fc.integer({ min: 1, max: 30 }),
  max_tool_calls: fc.integer({ min: 0, max: 3 }),
  max_output_bytes: fc.constantFrom(1024, 2048),
  max_concurrency_slots: fc.integer({ min: 1, max: 3 }),
  allow_network: fc.boolean(),
  allow_subprocess: fc.boolean(),
  allowed_tools: fc.subarray(['read_file', 'search']),
  max_attempts: fc.integer({ min: 1, max: 3 }),
});

/** One event, as offsets from what the job knows now; resolved against the current context. */
const stepArb = fc.record({
  /** An honest step is what the lease holder (or a reaper, at the right time) would write. */
  honest: fc.constantFrom(true, true, true, false),
  // Cancel ends the job for good, so it comes rarely; claims and retries keep the job moving.
  type: fc.oneof(
    ...TYPES.map((t) => ({
      arbitrary: fc.constant(t),
      weight: {
        claim: 6,
        start: 5,
        heartbeat: 3,
        tool_call: 4,
        complete: 3,
        fail: 3,
        expire: 3,
        retry: 5,
        cancel: 1,
      }[t],
    })),
  ),
  worker: fc.constantFrom(...WORKERS),
  /** Added to the current attempt (claims and retries add one more). */
  attemptDelta: fc.constantFrom(0, 0, 0, -1, 1),
  /** Time passing before the event, in ms: mostly small, sometimes past a lease or budget. */
  advanceMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 90_000 })),
  leaseSec: fc.constantFrom(0, 1, 30, 60),
  useRecordedLease: fc.boolean(),
  heldSlots: fc.integer({ min: 0, max: 3 }),
  workerSlots: fc.integer({ min: 1, max: 4 }),
  tool: fc.constantFrom('read_file', 'search', 'exec'),
  requestedBy: fc.constantFrom('handler' as const, 'model' as const),
  needs: fc.subarray(['subprocess', 'network'] as const),
  usageToolCallsDelta: fc.constantFrom(0, 0, 0, 1),
  outputBytes: fc.constantFrom(0, 1000, 1500, 3000),
  backoffMs: fc.constantFrom(0, 500, 5_000),
});
type Step = ReturnType<typeof stepArb.generate>['value'];

const envelope = { v: 1 as const, prev: SHA_A, hash: SHA_A };
const unix = (ms: number) => Math.round(ms) / 1000;

const allowedByPolicy = (c: JobContext, need: 'subprocess' | 'network') =>
  need === 'subprocess' ? c.tool_policy.allow_subprocess : c.tool_policy.allow_network;

/** The time of the step and its event: honest steps come from the holder within its lease. */
function machineEvent(step: Step, c: JobContext, seq: number, prevMs: number): JobMachineEvent {
  const honest = step.honest;
  let tsMs = prevMs + (honest ? step.advanceMs % 1_000 : step.advanceMs);
  if (honest && step.type === 'expire' && c.lease) tsMs = Math.max(tsMs, c.lease.expires_unix * 1000);
  if (honest && step.type === 'claim') tsMs = Math.max(tsMs, c.not_before_unix * 1000);
  const common = { ...envelope, seq, ts_utc: new Date(tsMs).toISOString(), job_id: J };
  const worker_id = honest && c.lease ? c.lease.worker_id : step.worker;
  const delta = honest ? 0 : step.attemptDelta;
  const attempt = Math.max(1, c.attempt + delta);
  const nextAttempt = Math.max(1, c.attempt + 1 + delta);
  const lease_expires_unix = unix(tsMs + (honest ? 60 : step.leaseSec) * 1000);
  const usage = {
    tool_calls: c.tool_calls + (honest ? 0 : step.usageToolCallsDelta),
    output_bytes: honest ? Math.min(step.outputBytes, c.budgets.max_output_bytes) : step.outputBytes,
    wall_ms: 5,
  };
  const recorded = (honest || step.useRecordedLease) && c.lease;
  const ev = ((): Exclude<LedgerEvent, EnqueueEvent> => {
    switch (step.type) {
      case 'claim':
        return {
          ...common,
          event: 'claim',
          worker_id,
          attempt: nextAttempt,
          lease_expires_unix,
          worker_slots: honest ? 8 : step.workerSlots,
        };
      case 'start':
        return { ...common, event: 'start', worker_id, attempt, run_header_sha256: SHA_A };
      case 'heartbeat':
        return { ...common, event: 'heartbeat', worker_id, attempt, lease_expires_unix };
      case 'tool_call':
        return {
          ...common,
          event: 'tool_call',
          worker_id,
          attempt,
          tool: step.tool,
          args_sha256: SHA_A,
          // An honest worker asks only for what the job's policy allows (the plane still checks).
          requested_by: honest ? 'handler' : step.requestedBy,
          needs: honest ? step.needs.filter((n) => allowedByPolicy(c, n)) : step.needs,
        };
      case 'complete':
        return { ...common, event: 'complete', worker_id, attempt, result: { ok: true }, usage };
      case 'fail':
        return { ...common, event: 'fail', worker_id, attempt, error: { code: 'E_X', message: 'x' }, usage };
      case 'expire':
        return {
          ...common,
          event: 'expire',
          attempt,
          worker_id: recorded ? recorded.worker_id : worker_id,
          lease_expires_unix: recorded ? recorded.expires_unix : lease_expires_unix,
        };
      case 'retry':
        return {
          ...common,
          event: 'retry',
          attempt: nextAttempt,
          not_before_unix: unix(tsMs + step.backoffMs),
        };
      case 'cancel':
        return { ...common, event: 'cancel', reason: 'operator' };
    }
  })();
  return { type: step.type, ev, ts_ms: tsMs, held_slots: honest ? 0 : step.heldSlots } as JobMachineEvent;
}

describe('the compiled job table (T3)', () => {
  it('accepts, refuses and updates exactly as XState’s transition() on jobMachine, as does the write path’s xstateEngine (one shared actor scope)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(specArb, fc.array(stepArb, { minLength: 1, maxLength: 40 }), (s, steps) => {
        const job = {
          ...agentSpec({
            job_id: J,
            created_at_utc: new Date(T0).toISOString(),
            max_attempts: s.max_attempts,
            budgets: {
              max_wall_time_sec: s.max_wall_time_sec,
              max_tool_calls: s.max_tool_calls,
              max_output_bytes: s.max_output_bytes,
              max_concurrency_slots: s.max_concurrency_slots,
            },
            tool_policy: {
              allow_network: s.allow_network,
              allow_subprocess: s.allow_subprocess,
              allowed_tools: s.allowed_tools,
            },
          }),
        };
        const enqueue: EnqueueEvent = {
          ...envelope,
          seq: 1,
          ts_utc: new Date(T0).toISOString(),
          event: 'enqueue',
          job_id: J,
          job: job as StoredJob,
        };
        const input = { ev: enqueue, spec_sha256: specDigest(job) };
        let [snap] = initialTransition(jobMachine, input);
        let record: JobRecord = initialJob(input);
        let written: JobRecord = xstateEngine.initial(input);
        expect(record.value).toBe(snap.value);
        expect(record.context).toStrictEqual(snap.context);
        expect(written).toStrictEqual({ value: snap.value, context: snap.context });

        let tsMs = T0;
        steps.forEach((step, i) => {
          const mev = machineEvent(step, record.context, i + 2, tsMs);
          tsMs = mev.ts_ms;
          const [next] = transition(jobMachine, snap, mev);
          const compiled = transitionJob(record, mev);
          const stepped = xstateEngine.step(written, mev);
          const xstateAccepted = next !== snap;
          expect(compiled !== undefined, `${step.type} in ${record.value}`).toBe(xstateAccepted);
          expect(stepped !== undefined, `write path: ${step.type} in ${record.value}`).toBe(xstateAccepted);
          seen.add(`${record.value}:${step.type}:${xstateAccepted ? 'accepted' : 'refused'}`);
          if (compiled) {
            expect(compiled.value).toBe(next.value);
            expect(compiled.context).toStrictEqual(next.context);
            expect(stepped).toStrictEqual({ value: next.value, context: next.context });
            snap = next;
            record = compiled;
            written = stepped!;
          }
        });
      }),
      { numRuns: 500 },
    );
    // The property is only as good as its reach: each state's transitions were both taken and refused.
    for (const s of ['queued', 'claimed', 'running', 'failed', 'expired'] as const) {
      expect(
        [...seen].some((k) => k.startsWith(`${s}:`) && k.endsWith(':accepted')),
        s,
      ).toBe(true);
      expect(
        [...seen].some((k) => k.startsWith(`${s}:`) && k.endsWith(':refused')),
        s,
      ).toBe(true);
    }
    for (const t of TYPES)
      expect(
        [...seen].some((k) => k.includes(`:${t}:accepted`)),
        t,
      ).toBe(true);
  });
});

describe('compiling the table (T1)', () => {
  const states = {
    queued: { on: { cancel: { target: 'cancelled' } } },
    claimed: {},
    running: {},
    complete: { type: 'final' as const },
    failed: {},
    expired: {},
    cancelled: { type: 'final' as const },
  };

  it('machines/job.table.json, what processes load, is exactly the table of jobMachine as it is now', () => {
    expect(TABLE_SPEC).toEqual(compileJobTable(jobMachine));
  });

  it('reads every state and transition of jobMachine, guards and updates included', () => {
    const table = compileJobTable().states;
    expect(table.running.expire?.map((t) => [t.target, t.updates])).toEqual([
      ['expired', ['recordExpire']],
      ['failed', ['recordExhausted']],
    ]);
    expect(table.running.expire?.[0]?.guards).toContain('attemptsLeft');
    expect(table.complete).toEqual({});
  });

  it('refuses a machine with entry actions instead of ignoring them', () => {
    const m = setup({ actions: { note: assign({}) } }).createMachine({
      initial: 'queued',
      states: { ...states, claimed: { entry: 'note' } },
    });
    expect(() => compileJobTable(m)).toThrow(/entry\/exit actions \(in claimed\)/);
  });

  it('refuses an and/or/not/inline guard, an unknown rule, a foreign `all`, and an action that is not a context update', () => {
    const withGuard = (guard: unknown, guards: Record<string, unknown> = { all: checkAll }) =>
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- any guard map, on purpose
      setup({ guards: guards as never }).createMachine({
        initial: 'queued',
        states: { ...states, queued: { on: { cancel: { target: 'cancelled', guard: guard as never } } } },
      });
    expect(() => compileJobTable(withGuard(() => true))).toThrow(/a guard other than all\(\.\.\.\)/);
    expect(() => compileJobTable(withGuard(and(['all'])))).toThrow(/a guard other than all\(\.\.\.\)/);
    expect(() => compileJobTable(withGuard('all'))).toThrow(/a guard other than all\(\.\.\.\)/);
    expect(() => compileJobTable(withGuard({ type: 'all', params: { rules: ['noSuchRule'] } }))).toThrow(
      /guard rule noSuchRule/,
    );
    expect(() =>
      compileJobTable(withGuard({ type: 'all', params: { rules: ['attemptsLeft'] } }, { all: () => true })),
    ).toThrow(/not job.machine.ts's checkAll/);
    const unknownAction = setup({ actions: { shout: () => undefined } }).createMachine({
      initial: 'queued',
      states: { ...states, queued: { on: { cancel: { target: 'cancelled', actions: 'shout' } } } },
    });
    expect(() => compileJobTable(unknownAction)).toThrow(/action shout/);
    expect(
      compileJobTable(withGuard({ type: 'all', params: { rules: ['attemptsLeft', 'isNextAttempt'] } })).states
        .queued.cancel?.[0]?.guards,
    ).toEqual(['attemptsLeft', 'isNextAttempt']);
  });
});

describe('refusals are explained by the machine (T4)', () => {
  /** jobMachine with one more rule on `start` in `claimed`: a tool call must be left to start. */
  function variantMachine() {
    const config = jobMachine.config as { states: Record<string, { on?: Record<string, unknown> }> };
    const claimed = config.states.claimed!;
    /* eslint-disable @typescript-eslint/no-unnecessary-type-assertion -- XState's typings of a copied config */
    return setup({
      types: {} as { context: JobContext; events: JobMachineEvent },
      guards: { all: checkAll },
      actions: jobMachine.implementations.actions as never,
    }).createMachine({
      ...(jobMachine.config as object),
      context: jobMachine.config.context as never,
      states: {
        ...config.states,
        claimed: {
          ...claimed,
          on: {
            ...claimed.on,
            start: {
              guard: {
                type: 'all',
                params: { rules: ['isLeaseHolder', 'isCurrentAttempt', 'leaseLive', 'toolCallsLeft'] },
              },
              target: 'running',
              actions: 'recordStart',
            },
          },
        },
      } as never,
    });
  }

  it('a rule added to a transition of the machine refuses and explains itself, with no other list to edit', () => {
    const spec = compileJobTable(variantMachine() as unknown as AnyStateMachine);
    expect(spec.states.claimed.start?.[0]?.guards).toContain('toolCallsLeft');
    const engine = tableEngineFor(spec, 'variant');
    const state = new PlaneState();
    const at = (s: number) => new Date(T0 + s * 1000).toISOString();
    const base = { v: 1 as const, prev: SHA_A, hash: SHA_A, job_id: J };
    const job = { ...agentSpec({ job_id: J, budgets: { max_tool_calls: 0 } }), created_at_utc: at(0) };
    expect(
      state.evolve({ ...base, seq: 1, ts_utc: at(0), event: 'enqueue', job: job as StoredJob }, { engine }),
    ).toBeUndefined();
    const claim = {
      ...base,
      seq: 2,
      ts_utc: at(1),
      event: 'claim',
      worker_id: 'w1',
      attempt: 1,
      lease_expires_unix: T0 / 1000 + 60,
      worker_slots: 1,
    };
    expect(state.evolve(claim as LedgerEvent, { engine })).toBeUndefined();
    const start = {
      ...base,
      seq: 3,
      ts_utc: at(2),
      event: 'start',
      worker_id: 'w1',
      attempt: 1,
      run_header_sha256: SHA_A,
    };
    expect(state.evolve(start as LedgerEvent, { engine })).toEqual({
      code: 'E_BUDGET_TOOL_CALLS',
      message: 'start refused: max_tool_calls (0) is reached',
      jobState: 'claimed',
    });
    // The machine as it is accepts that start: the rule, not the event, made the difference.
    expect(state.evolve(start as LedgerEvent)).toBeUndefined();
  });
});
