/**
 * Mutation properties of `audit` (issue 3, point 5), on random ledgers the engine itself wrote:
 *   - any ledger the engine wrote audits clean;
 *   - any single changed byte, deleted, duplicated or swapped line, and any truncation is found,
 *     with a finding at or before the first damaged line; a cut inside a line is a torn tail;
 *   - a ledger cut exactly at a line boundary is clean by itself (nothing in the file can tell)
 *     and fails against the head recorded before the cut (docs/audit.md, head anchors).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditBytes } from '../src/audit/audit.js';
import type { HeadAnchor } from '../src/audit/head.js';
import { linesOf, mutate, mutationArb } from './helpers/mutations.js';
import { engineLedger, programArb } from './helpers/random-ledger.js';

/** The 1-based line of `mutated` holding its first byte that differs from `original`. */
function firstDamagedLine(original: Buffer, mutated: Buffer): number {
  let i = 0;
  while (i < mutated.length && i < original.length && mutated[i] === original[i]) i++;
  let line = 1;
  for (let k = 0; k < i; k++) if (mutated[k] === 10) line++;
  return line;
}

function headOf(bytes: Buffer): HeadAnchor {
  const lines = linesOf(bytes);
  const last = JSON.parse(lines[lines.length - 1]!.toString()) as { hash: string; seq: number };
  return { hash: last.hash, seq: last.seq };
}

describe('audit under mutation', () => {
  /** Ledgers the first property made, reused as the originals the second one damages. */
  const pool: Buffer[] = [];
  const keep = (bytes: Buffer) => {
    if (linesOf(bytes).length >= 3) pool.push(bytes);
  };

  it('any ledger the engine wrote audits clean', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (program) => {
        const bytes = await engineLedger(program);
        const report = auditBytes(bytes);
        expect(report.findings).toEqual([]);
        expect(report.ok).toBe(true);
        keep(bytes);
      }),
      { numRuns: 12 },
    );
  });

  it('a changed byte, a deleted, duplicated or swapped line, or a truncation is found at or before the damage', async () => {
    for (const program of pool.length < 8 ? fc.sample(programArb, 12) : []) keep(await engineLedger(program));
    expect(pool.length).toBeGreaterThanOrEqual(8);
    fc.assert(
      fc.property(fc.nat(), mutationArb, (pick, m) => {
        const original = pool[pick % pool.length]!;
        const mutated = mutate(original, m);
        fc.pre(!mutated.equals(original));
        const damaged = firstDamagedLine(original, mutated);
        const isPrefix =
          mutated.length < original.length && original.subarray(0, mutated.length).equals(mutated);
        const atBoundary = mutated.length === 0 || mutated[mutated.length - 1] === 10;

        if (isPrefix && atBoundary) {
          // Whole lines cut from the end: the file alone cannot tell; the recorded head can.
          expect(auditBytes(mutated).ok).toBe(true);
          const anchored = auditBytes(mutated, { expectHead: headOf(original) });
          expect(anchored.findings.map((f) => [f.code, f.line])).toEqual([
            ['E_AUDIT_HEAD_MISMATCH', damaged],
          ]);
          return;
        }
        const report = auditBytes(mutated);
        expect(report.ok).toBe(false);
        expect(Math.min(...report.findings.map((f) => f.line))).toBeLessThanOrEqual(damaged);
        if (isPrefix) {
          // A cut inside a line: an interrupted write, reported as a torn tail at that line.
          expect(report.findings.map((f) => [f.code, f.line])).toEqual([['E_AUDIT_TORN_TAIL', damaged]]);
        }
      }),
      { numRuns: 800 },
    );
  });
});
