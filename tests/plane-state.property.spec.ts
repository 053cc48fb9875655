/**
 * PlaneState (src/core/plane-state.ts): only the fold changes it (P1), and a batch is undone
 * whole (P2) — every record, every enqueue offset, every index and the chain position — which
 * is what keeps a refused or failed commit from leaving a trace (S2 of src/ledger/store.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PlaneState } from '../src/core/plane-state.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { Scenario } from './helpers/given.js';
import { observe, walk, walkArb } from './helpers/random-scenario.js';

/** A fresh state that folded `events`, each at the offset a file of them would give it. */
function fold(events: readonly LedgerEvent[], state = new PlaneState(), from = 0): PlaneState {
  let offset = from;
  for (const ev of events) {
    expect(state.evolve(ev, { offset })).toBeUndefined();
    offset += Buffer.byteLength(`${JSON.stringify(ev)}\n`);
  }
  return state;
}

const bytes = (events: readonly LedgerEvent[]) =>
  events.reduce((n, ev) => n + Buffer.byteLength(`${JSON.stringify(ev)}\n`), 0);

describe('PlaneState', () => {
  it('P2: mark → any events → rollback leaves every record, offset, index and the head as at the mark', () => {
    let undone = 0;
    fc.assert(
      fc.property(walkArb, fc.nat(), (ops, cutAt) => {
        const s = new Scenario();
        const end = walk(s, ops);
        const events = s.events;
        const cut = cutAt % (events.length + 1);
        const instants = [end, end + 30_000, end - 30_000];
        const state = fold(events.slice(0, cut));
        const before = observe(state, instants);

        state.mark();
        fold(events.slice(cut), state, bytes(events.slice(0, cut)));
        // Refusals inside the batch change nothing either (P1): replay a folded event again.
        if (events.length > 0) expect(state.evolve(events[0]!)).toBeDefined();
        state.rollback();
        expect(observe(state, instants)).toEqual(before);
        expect(observe(state, instants)).toEqual(observe(fold(events.slice(0, cut)), instants));
        undone += events.length - cut;

        // After a rollback the state folds on as if the batch never happened, and release keeps it.
        state.mark();
        fold(events.slice(cut), state, bytes(events.slice(0, cut)));
        state.release();
        expect(observe(state, instants)).toEqual(observe(fold(events), instants));
      }),
      { numRuns: 200 },
    );
    expect(undone).toBeGreaterThan(0);
  });

  it('P2: a batch cannot be opened twice or closed without being opened', () => {
    const state = new PlaneState();
    expect(() => state.rollback()).toThrow(/no batch is open/);
    expect(() => state.release()).toThrow(/no batch is open/);
    state.mark();
    expect(() => state.mark()).toThrow(/already open/);
  });
});
