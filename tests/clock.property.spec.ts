/**
 * The clock model of docs/operations.md ("Time"; S8 of src/ledger/store.ts), for any mix of
 * writers with skewed clocks and any steps of the machine's clock: writers on one real plane
 * (real files, real locks), each with its own injected clock, all checked against one injected
 * machine clock.
 *
 *   1. A writer whose clock is off by more than MAX_CLOCK_SKEW_MS appends nothing, ever.
 *   2. No event is stamped more than the bound ahead of the machine's latest time.
 *   3. With no step of the machine's clock in between, no lease expires earlier than its holder's
 *      last claim or heartbeat plus the lease, less twice the bound, on the machine's clock.
 *   4. With no step in between, a job whose backoff ended twice the bound ago is claimed by the
 *      first writer within the bound that asks.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ClockSkewError } from '../src/errors.js';
import { MAX_CLOCK_SKEW_MS } from '../src/ledger/store.js';
import { Plane } from '../src/plane.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { T0 } from './helpers/clock.js';
import { ledgerEvents } from './helpers/ledger.js';
import { agentSpec, cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-clock-');
const LEASE_SEC = 5;
const BOUND = MAX_CLOCK_SKEW_MS;

const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('step' as const), ms: fc.integer({ min: -8000, max: 8000 }) }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'enqueue' as const,
        'claim' as const,
        'beat' as const,
        'fail' as const,
        'reap' as const,
      ),
      writer: fc.nat({ max: 3 }),
    }),
  },
);

/** Writers' skews: two within the bound, two anywhere up to twice it either way. */
const within = fc.integer({ min: -BOUND, max: BOUND });
const anywhere = fc.integer({ min: -2 * BOUND, max: 2 * BOUND });
const skewsArb = fc.tuple(within, within, anywhere, anywhere);

/** What all runs wrote and refused: the property is only as strong as what it exercised. */
const seen: Record<string, number> = {};
const tally = (key: string) => (seen[key] = (seen[key] ?? 0) + 1);

describe('clock model (S8 of src/ledger/store.ts)', () => {
  test('skewed writers and stepped clocks: nothing written by a bad clock, no early expiry, no late claim', async () => {
    await fc.assert(
      fc.asyncProperty(skewsArb, fc.array(opArb, { minLength: 40, maxLength: 160 }), async (skews, ops) => {
        const home = tmp();
        const machine = { ms: T0, latest: T0, lastStepAt: -1 };
        const machineClock = { nowMs: () => machine.ms };
        const writers = skews.map((skew) =>
          Plane.open(home, { clock: { nowMs: () => machine.ms + skew }, referenceClock: machineClock }),
        );
        const good = (i: number) => Math.abs(skews[i]!) <= BOUND;
        /** Machine time (and the step count) at which each seq was written. */
        const writtenAt = new Map<number, { ms: number; latest: number; steps: number }>();
        /** The seq of the event that last set each job's not_before (its enqueue or retry). */
        const notBeforeSet = new Map<string, number>();
        let steps = 0;
        let n = 0;
        const ledger = join(home, 'jobs.jsonl');
        const size = () => {
          try {
            return readFileSync(ledger).length;
          } catch {
            return 0;
          }
        };
        /** Runs one writer's action; checks property 1 on a bad clock. */
        const as = async (i: number, act: (p: Plane) => Promise<unknown>): Promise<boolean> => {
          const p = writers[i]!;
          p.refresh();
          const before = size();
          const seqBefore = p.state.head.seq;
          try {
            await act(p);
          } catch (err) {
            if (err instanceof ClockSkewError) {
              tally('clock refusal');
              expect(good(i)).toBe(false);
              expect(size()).toBe(before); // 1
              return false;
            }
            if ((err as { code?: string }).code?.startsWith('E_')) return false; // a refusal of the machine
            throw err;
          }
          expect(good(i), `writer ${i} (skew ${skews[i]}) wrote`).toBe(true); // 1
          for (let seq = seqBefore + 1; seq <= p.state.head.seq; seq++)
            writtenAt.set(seq, { ms: machine.ms, latest: machine.latest, steps });
          return true;
        };
        try {
          for (const op of ops) {
            if (op.kind === 'tick') {
              machine.ms += op.ms;
              machine.latest = Math.max(machine.latest, machine.ms);
              continue;
            }
            if (op.kind === 'step') {
              machine.ms += op.ms;
              machine.latest = Math.max(machine.latest, machine.ms);
              steps++;
              continue;
            }
            const w = op.writer;
            const worker = `w${w}`;
            if (op.kind === 'enqueue') {
              await as(w, (p) =>
                p.submit([
                  cmd.enqueue(
                    agentSpec({ job_id: `job-clock${String(n++).padStart(4, '0')}`, max_attempts: 5 }),
                  ),
                ]),
              );
            } else if (op.kind === 'claim') {
              // Property 4: a job whose backoff ended 2 × BOUND ago (no step since) is claimable now.
              const plane = writers[w]!;
              plane.refresh();
              for (const ev of size() > 0 ? ledgerEvents(ledger) : [])
                if (ev.event === 'enqueue' || ev.event === 'retry') notBeforeSet.set(ev.job_id, ev.seq);
              const state = plane.state;
              const held = [...state.ids()].filter(
                (id) => state.get(id)?.context.lease?.worker_id === worker,
              ).length;
              const due = [...state.ids()].filter((id) => {
                const j = state.get(id);
                return (
                  j?.value === 'queued' &&
                  j.context.not_before_unix * 1000 <= machine.ms - 2 * BOUND &&
                  writtenAt.get(notBeforeSet.get(id)!)?.steps === steps
                );
              });
              const claimed: string[] = [];
              const ok = await as(w, async (p) => {
                const events = await p.claimNext({
                  worker_id: worker,
                  worker_slots: 8,
                  lease_sec: LEASE_SEC,
                  max_jobs: 8,
                });
                claimed.push(...events.map((e) => e.job_id));
              });
              if (ok && held < 8 && due.length > 0) {
                tally('due claim checked');
                expect(claimed.length, 'a due job was not claimed').toBeGreaterThan(0);
              }
            } else if (op.kind === 'beat' || op.kind === 'fail') {
              writers[w]!.refresh();
              const state = writers[w]!.state;
              const held = [...state.ids()].find((id) => state.get(id)?.context.lease?.worker_id === worker);
              if (held === undefined) continue;
              const attempt = state.get(held)!.context.attempt;
              await as(w, (p) =>
                p.submit([
                  op.kind === 'beat'
                    ? cmd.heartbeat(held, worker, attempt, LEASE_SEC)
                    : cmd.fail(held, worker, attempt),
                ]),
              );
            } else {
              await as(w, (p) => p.reap({ backoffBaseSec: 1, backoffMaxSec: 4 }, worker));
            }
          }
          const events = size() > 0 ? ledgerEvents(ledger) : [];
          for (const ev of events) tally(ev.event);
          for (const ev of events) {
            // Property 2: never stamped more than the bound ahead of the machine's latest time.
            const at = writtenAt.get(ev.seq)!;
            expect(Date.parse(ev.ts_utc)).toBeLessThanOrEqual(at.latest + BOUND);
          }
          // Property 3: no lease expires early, on the machine's clock, when it did not step.
          const lastBeat = new Map<string, number>();
          for (const ev of events) {
            const key = `${ev.job_id}#${(ev as { attempt?: number }).attempt}`;
            if (ev.event === 'claim' || ev.event === 'heartbeat') lastBeat.set(key, ev.seq);
            if (ev.event === 'expire') {
              const beat = writtenAt.get(lastBeat.get(key)!)!;
              const reap = writtenAt.get(ev.seq)!;
              if (beat.steps === reap.steps) {
                tally('expiry checked');
                expect(reap.ms - beat.ms, `${key} expired early`).toBeGreaterThanOrEqual(
                  LEASE_SEC * 1000 - 2 * BOUND,
                );
              }
            }
          }
          checkEventsHaveAttempts(events);
        } finally {
          for (const p of writers) p.close();
        }
      }),
      { numRuns: 60 },
    );
    // Each property above was put to the test: leases expired, due jobs claimed, bad clocks refused.
    for (const key of [
      'enqueue',
      'claim',
      'heartbeat',
      'expire',
      'retry',
      'clock refusal',
      'due claim checked',
      'expiry checked',
    ])
      expect(seen[key] ?? 0, `no run exercised ${key}: ${JSON.stringify(seen)}`).toBeGreaterThan(0);
  });
});

/** Expire events name the attempt whose lease lapsed (the keying above relies on it). */
function checkEventsHaveAttempts(events: LedgerEvent[]): void {
  for (const ev of events) if (ev.event === 'expire') expect(typeof ev.attempt).toBe('number');
}
