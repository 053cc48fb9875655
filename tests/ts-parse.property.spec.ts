/**
 * parseTsUtc remembers the last second it parsed and reads only the milliseconds of a ts_utc in
 * the same second: in any order of any strings, it must answer exactly as the format check,
 * Date.parse and a round trip do (the round trip refuses impossible dates such as Feb 30, which
 * Date.parse would roll over into March).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTsUtc } from '../src/time.js';
import { T0 } from './helpers/clock.js';

const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const reference = (ts: string) => {
  const ms = TS_RE.test(ts) ? Date.parse(ts) : Number.NaN;
  return !Number.isNaN(ms) && new Date(ms).toISOString() === ts ? ms : Number.NaN;
};

const tsArb = fc.oneof(
  fc.integer({ min: 0, max: 5_000 }).map((ms) => new Date(T0 + ms).toISOString()),
  fc
    .tuple(
      fc.integer({ min: 0, max: 3_000 }),
      fc.integer({ min: 20, max: 23 }),
      fc.constantFrom('x', '9', 'Z', '/', ':'),
    )
    .map(([ms, i, c]) => {
      const s = new Date(T0 + ms).toISOString();
      return s.slice(0, i) + c + s.slice(i + 1);
    }),
  fc.constantFrom('2030-02-30T00:00:00.000Z', '2030-01-01T00:00:00.000', '2030-01-01T00:00:00.0000Z', ''),
);

describe('parseTsUtc', () => {
  it('equals the format check plus Date.parse and a round trip, whatever came before', () => {
    fc.assert(
      fc.property(fc.array(tsArb, { minLength: 1, maxLength: 30 }), (all) => {
        for (const ts of all) expect(parseTsUtc(ts)).toBe(reference(ts));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses an impossible date rather than rolling it over', () => {
    expect(parseTsUtc('2030-02-30T00:00:00.000Z')).toBeNaN();
    expect(parseTsUtc('2030-03-02T00:00:00.000Z')).toBe(Date.parse('2030-03-02T00:00:00.000Z'));
  });
});
