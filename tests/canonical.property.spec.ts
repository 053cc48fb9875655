/**
 * Canonical JSON (docs/spec.md §2): src/canonical.ts takes a native JSON.stringify path when it can, but
 * the definition stays fast-json-stable-stringify — for any value the two give the same text, and
 * sealEvent's line is exactly the canonical JSON of its event.
 */
import stringify from 'fast-json-stable-stringify';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalOrder, sha256Hex } from '../src/canonical.js';
import type { EventBody } from '../src/core/commands.js';
import { sealEvent } from '../src/ledger/line.js';
import { SHA_A } from './helpers/specs.js';

/** Keys that trip ordering shortcuts: digit-led (JS puts them first), __proto__, prefixes, non-ASCII. */
const keyArb = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('__proto__', '10', '9', '-1', '1a', 'a', 'aa', 'A', '', 'é', 'hash', 'job', 'job_id'),
);
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom(undefined, -0, Number.NaN, Infinity, new Date(0)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('canonical JSON', () => {
  it('canonicalJson(v) is fast-json-stable-stringify(v), for any value', () => {
    fc.assert(
      fc.property(valueArb, (v) => {
        expect(canonicalJson(v)).toBe(stringify(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('canonicalOrder(v) has the same canonical text and the same content', () => {
    fc.assert(
      fc.property(valueArb, (v) => {
        const ordered = canonicalOrder(v);
        expect(stringify(ordered)).toBe(stringify(v));
        expect(ordered).toEqual(v);
      }),
      { numRuns: 1000 },
    );
  });

  it('sealEvent writes the canonical JSON of the event, hashed without its hash', () => {
    fc.assert(
      fc.property(fc.dictionary(keyArb, valueArb, { maxKeys: 6 }), fc.integer({ min: 1 }), (extra, seq) => {
        const fields = Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'hash'));
        const body = {
          ...fields,
          event: 'cancel',
          job_id: 'job-canon0001',
          reason: 'r',
        } as unknown as EventBody;
        const { event, text } = sealEvent(body, seq, '2030-01-01T00:00:00.000Z', SHA_A);
        const { hash, ...unhashed } = event as unknown as Record<string, unknown>;
        expect(text).toBe(`${stringify(event)}\n`);
        expect(hash).toBe(sha256Hex(stringify(unhashed)));
      }),
      { numRuns: 500 },
    );
  });
});
