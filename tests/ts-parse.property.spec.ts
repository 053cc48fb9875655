/**
 * parseTsUtc remembers the last second it parsed and reads only the milliseconds of a ts_utc in
 * the same second: in any order of any strings, it must answer exactly as the format check and
 * Date.parse do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTsUtc } from '../src/time.js';
import { T0 } from './helpers/clock.js';

const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const reference = (ts: string) => (TS_RE.test(ts) ? Date.parse(ts) : Number.NaN);

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
  it('equals the format check plus Date.parse, whatever came before', () => {
    fc.assert(
      fc.property(fc.array(tsArb, { minLength: 1, maxLength: 30 }), (all) => {
        for (const ts of all) expect(parseTsUtc(ts)).toBe(reference(ts));
      }),
      { numRuns: 1000 },
    );
  });
});
