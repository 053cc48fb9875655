/**
 * The claim-order index (src/core/queued-index.ts): whatever jobs enter and leave `queued` through
 * the job machine, in whatever order (retries re-enter behind newer jobs), the state yields the
 * queue in docs/spec.md §3's claim order (Q1), knows which queued jobs may be backing off (Q2),
 * and pickClaims chooses exactly what a full scan of the queue would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextBackoffEndMs, pickClaims } from '../src/core/claim-order.js';
import type { PlaneState } from '../src/core/plane-state.js';
import { Scenario } from './helpers/given.js';
import { T0 } from './helpers/clock.js';
import { type WalkOp, walkArb, walkCommand } from './helpers/random-scenario.js';

/**
 * A walk that reaches both cases the counters below demand, so the property never runs vacuously
 * whatever the seed (random walks alone miss retries in ~1 of 15 runs of 300): a high-priority
 * job queued ahead of an older one, and a failed job retried with a backoff.
 */
const op = (o: Partial<WalkOp>): WalkOp => ({
  job: 0,
  pick: 0,
  priority: 0,
  slots: 1,
  worker: 0,
  advanceSec: 0,
  backoffSec: 30,
  ...o,
});
const RETRY_AND_REORDER: WalkOp[] = [
  op({ job: 0 }), // enqueue job 0, priority 0
  op({ job: 1, priority: 2 }), // enqueue job 1 ahead of it
  op({ job: 0, advanceSec: 1 }), // claim job 0
  op({ job: 0, pick: 2, advanceSec: 1 }), // fail it
  op({ job: 0, advanceSec: 1 }), // retry it with a 30 s backoff
];

/** The claim order by definition: a full scan, sorted. */
function fullScan(state: PlaneState): string[] {
  return [...state.inState('queued')].sort((a, b) => {
    const x = state.get(a)!.context;
    const y = state.get(b)!.context;
    return y.priority - x.priority || x.enqueued_seq - y.enqueued_seq;
  });
}

describe('the claim-order index', () => {
  it('Q1/Q2: yields the queue in claim order and knows its retried jobs, through any changes', () => {
    let retriedSeen = 0;
    let reordered = 0;
    fc.assert(
      fc.property(
        walkArb,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        (ops, freeSlots, maxJobs) => {
          const s = new Scenario();
          const state = s.state;
          let now = T0;
          for (const op of ops) {
            now += op.advanceSec * 1000;
            s.apply({ atMs: now, what: walkCommand(s, op) });
            const tsMs = now + 10_000;

            const order = fullScan(state);
            expect([...state.queuedInClaimOrder()]).toEqual(order);
            const retried = order.filter((q) => state.get(q)!.context.not_before_unix > 0);
            expect([...state.queuedRetried()].sort()).toEqual([...retried].sort());
            retriedSeen += retried.length;
            if (
              order.some(
                (q, i) =>
                  i > 0 &&
                  state.get(q)!.context.enqueued_seq < state.get(order[i - 1]!)!.context.enqueued_seq,
              )
            )
              reordered++;

            // pickClaims: the first eligible jobs of the full scan, then what fits.
            const eligible = order.filter((q) => {
              const c = state.get(q)!.context;
              return c.not_before_unix * 1000 <= tsMs && c.budgets.max_concurrency_slots <= freeSlots;
            });
            let free = freeSlots;
            const expected = eligible.slice(0, Math.max(0, Math.min(freeSlots, maxJobs))).filter((q) => {
              const slots = state.get(q)!.context.budgets.max_concurrency_slots;
              if (slots > free) return false;
              free -= slots;
              return true;
            });
            expect(pickClaims(state, tsMs, freeSlots, maxJobs)).toEqual(expected);
            const ends = order
              .map((q) => state.get(q)!.context.not_before_unix * 1000)
              .filter((t) => t > tsMs);
            expect(nextBackoffEndMs(state, tsMs)).toBe(ends.length ? Math.min(...ends) : undefined);
          }
        },
      ),
      { numRuns: 300, examples: [[RETRY_AND_REORDER, 3, 2]] },
    );
    // Not vacuous: retried jobs were queued, and some queues held jobs out of enqueue order.
    expect(retriedSeen).toBeGreaterThan(0);
    expect(reordered).toBeGreaterThan(0);
  });
});
