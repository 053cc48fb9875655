/**
 * The claim-order index (src/core/queued-index.ts): whatever jobs enter and leave `queued`, in
 * whatever order (retries re-enter behind newer jobs), the state yields the queue in SPEC §3's
 * claim order (Q1), knows which queued jobs may be backing off (Q2), and pickClaims chooses
 * exactly what a full scan of the queue would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialJob } from '../machines/job.table.js';
import type { JobStateValue } from '../machines/job.types.js';
import { nextBackoffEndMs, pickClaims } from '../src/core/claim-order.js';
import { PlaneState, type JobSnapshot } from '../src/core/plane-state.js';
import type { EnqueueEvent } from '../src/schema/types.generated.js';
import { T0 } from './helpers/clock.js';
import { agentSpec, SHA_A } from './helpers/specs.js';

const ids = Array.from({ length: 12 }, (_, i) => `job-queued${String(i).padStart(4, '0')}`);

interface Facts {
  readonly priority: number;
  readonly seq: number;
  readonly slots: number;
  readonly notBeforeUnix: number;
}

function snapshot(id: string, f: Facts, value: JobStateValue): JobSnapshot {
  const job = {
    ...agentSpec({ job_id: id, priority: f.priority, budgets: { max_concurrency_slots: f.slots } }),
  };
  const ev = {
    v: 1,
    seq: f.seq,
    ts_utc: new Date(T0).toISOString(),
    event: 'enqueue',
    prev: SHA_A,
    hash: SHA_A,
    job_id: id,
    job: { ...job, created_at_utc: new Date(T0).toISOString() },
  } as EnqueueEvent;
  const { context } = initialJob({ ev, spec_sha256: SHA_A });
  return { value, context: { ...context, not_before_unix: f.notBeforeUnix } };
}

const opArb = fc.record({
  job: fc.integer({ min: 0, max: ids.length - 1 }),
  to: fc.constantFrom<JobStateValue | 'gone'>(
    'queued',
    'queued',
    'claimed',
    'running',
    'failed',
    'cancelled',
    'gone',
  ),
  priority: fc.integer({ min: -1, max: 2 }),
  seq: fc.integer({ min: 1, max: 40 }),
  slots: fc.integer({ min: 1, max: 3 }),
  retried: fc.boolean(),
});

/** The claim order by definition: a full scan, sorted. */
function fullScan(state: PlaneState): string[] {
  return [...state.inState('queued')].sort((a, b) => {
    const x = state.jobs.get(a)!.context;
    const y = state.jobs.get(b)!.context;
    return y.priority - x.priority || x.enqueued_seq - y.enqueued_seq;
  });
}

describe('the claim-order index', () => {
  it('Q1/Q2: yields the queue in claim order and knows its retried jobs, through any changes', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        (ops, freeSlots, maxJobs) => {
          const state = new PlaneState();
          const facts = new Map<string, Facts>();
          const tsMs = T0 + 30_000;
          for (const op of ops) {
            const id = ids[op.job]!;
            // A job keeps its priority and its (unique) enqueue seq for life; a retry sets
            // not_before_unix.
            const f = facts.get(id) ?? {
              priority: op.priority,
              seq: op.seq * ids.length + op.job,
              slots: op.slots,
              notBeforeUnix: 0,
            };
            const g = op.retried ? { ...f, notBeforeUnix: T0 / 1000 + op.seq } : f;
            facts.set(id, g);
            state.setJob(id, op.to === 'gone' ? undefined : snapshot(id, g, op.to));

            const order = fullScan(state);
            expect([...state.queuedInClaimOrder()]).toEqual(order);
            const retried = order.filter((q) => state.jobs.get(q)!.context.not_before_unix > 0);
            expect([...state.queuedRetried()].sort()).toEqual(retried.sort());

            // pickClaims: the first eligible jobs of the full scan, then what fits.
            const eligible = order.filter((q) => {
              const c = state.jobs.get(q)!.context;
              return c.not_before_unix * 1000 <= tsMs && c.budgets.max_concurrency_slots <= freeSlots;
            });
            let free = freeSlots;
            const expected = eligible.slice(0, Math.max(0, Math.min(freeSlots, maxJobs))).filter((q) => {
              const s = state.jobs.get(q)!.context.budgets.max_concurrency_slots;
              if (s > free) return false;
              free -= s;
              return true;
            });
            expect(pickClaims(state, tsMs, freeSlots, maxJobs)).toEqual(expected);
            const ends = order
              .map((q) => state.jobs.get(q)!.context.not_before_unix * 1000)
              .filter((t) => t > tsMs);
            expect(nextBackoffEndMs(state, tsMs)).toBe(ends.length ? Math.min(...ends) : undefined);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
