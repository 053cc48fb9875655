/**
 * Random walks of a few jobs through the job machine, as commands a scenario (given.ts) decides:
 * each step picks a job and a command that suits its state (mostly lawful, sometimes not), so a
 * short program reaches every state, retries that re-enter the queue behind newer jobs, backoffs,
 * leases held and lapsed, and refusals.
 */
import fc from 'fast-check';
import type { Command } from '../../src/core/commands.js';
import type { PlaneState } from '../../src/core/plane-state.js';
import type { Scenario } from './given.js';
import { T0 } from './clock.js';
import { agentSpec, cmd } from './specs.js';

export const WALK_JOBS = Array.from({ length: 8 }, (_, i) => `job-walk${String(i).padStart(4, '0')}`);
export const WALK_WORKERS = ['w1', 'w2', 'w3'] as const;

export const walkOpArb = fc.record({
  job: fc.integer({ min: 0, max: WALK_JOBS.length - 1 }),
  pick: fc.nat({ max: 11 }),
  priority: fc.integer({ min: -1, max: 2 }),
  slots: fc.integer({ min: 1, max: 3 }),
  worker: fc.integer({ min: 0, max: WALK_WORKERS.length - 1 }),
  advanceSec: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 90 })),
  backoffSec: fc.constantFrom(0, 5, 30),
});
export type WalkOp = ReturnType<typeof walkOpArb.generate>['value'];

export const walkArb = fc.array(walkOpArb, { minLength: 1, maxLength: 60 });

/** The command `op` stands for, given the job's state in `s`. */
export function walkCommand(s: Scenario, op: WalkOp): Command {
  const id = WALK_JOBS[op.job]!;
  const st = s.jobState(id);
  const spec = () =>
    agentSpec({
      job_id: id,
      priority: op.priority,
      max_attempts: 3,
      budgets: { max_concurrency_slots: op.slots },
    });
  if (!st) return cmd.enqueue(spec());
  const c = s.context(id);
  const holder = c.lease?.worker_id ?? WALK_WORKERS[op.worker]!;
  const worker = WALK_WORKERS[op.worker]!;
  const choose = (options: Command[]) => options[op.pick % options.length]!;
  switch (st) {
    case 'queued':
      return choose([
        cmd.claim(id, worker, { slots: 4, lease_sec: 30 }),
        cmd.claim(id, worker, { slots: 2 }),
        cmd.cancel(id),
      ]);
    case 'claimed':
      return choose([
        cmd.start(id, holder, c.attempt),
        cmd.heartbeat(id, holder, c.attempt, 30),
        cmd.fail(id, holder, c.attempt, { tool_calls: c.tool_calls }),
        cmd.expire(id),
        cmd.cancel(id),
      ]);
    case 'running':
      return choose([
        cmd.complete(id, holder, c.attempt, { tool_calls: c.tool_calls }),
        cmd.toolCall(id, holder, c.attempt),
        cmd.fail(id, holder, c.attempt, { tool_calls: c.tool_calls }),
        cmd.expire(id),
        cmd.heartbeat(id, holder, c.attempt, 30),
        cmd.cancel(id),
      ]);
    case 'failed':
    case 'expired':
      return choose([cmd.retry(id, op.backoffSec), cmd.retry(id, 0), cmd.cancel(id)]);
    case 'complete':
    case 'cancelled':
      return choose([cmd.enqueue(spec()), cmd.cancel(id)]);
  }
}

/** Runs `ops` in `s`, time moving by each op's advance; returns the time reached. */
export function walk(s: Scenario, ops: readonly WalkOp[], from = T0): number {
  let now = from;
  for (const op of ops) {
    now += op.advanceSec * 1000;
    s.apply({ atMs: now, what: walkCommand(s, op) });
  }
  return now;
}

/**
 * Everything a reader can learn of a state through its read methods: the chain position, every
 * job (record and enqueue offset) and every index (by state, claim order, backoffs, retry
 * candidates, slots held per worker at a few instants).
 */
export function observe(state: PlaneState, at: readonly number[] = []): unknown {
  const ids = [...state.ids()].sort();
  return {
    head: state.head,
    size: state.size,
    jobs: ids.map((id) => [id, state.jobState(id), state.get(id), state.enqueueOffset(id)]),
    byState: (['queued', 'claimed', 'running', 'failed', 'expired'] as const).map((s) => [
      s,
      [...state.inState(s)].sort(),
    ]),
    claimOrder: [...state.queuedInClaimOrder()],
    retried: [...state.queuedRetried()].sort(),
    retryable: [...state.retryCandidates()].sort(),
    held: WALK_WORKERS.map((w) => [w, ...[state.head.tsMs, ...at].map((t) => state.heldSlots(w, t))]),
  };
}
