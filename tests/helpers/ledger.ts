/**
 * Independent readers of a ledger file for assertions: they use node:crypto and
 * fast-json-stable-stringify directly, never the store's own checks, so a bug in the store
 * cannot hide itself.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import stringify from 'fast-json-stable-stringify';
import type { LedgerEvent } from '../../src/schema/types.generated.js';

export const ZEROS = '0'.repeat(64);

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The complete lines of a ledger (a partial last line is not returned). */
export function ledgerLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  lines.pop(); // after the last '\n': '' or a torn tail
  return lines;
}

export function ledgerEvents(path: string): LedgerEvent[] {
  return ledgerLines(path).map((l) => JSON.parse(l) as LedgerEvent);
}

/**
 * Every problem with docs/spec.md §2 / invariant 8 in `lines`: canonical form, seq 1..n, prev chain
 * (64 zeros first), hash = SHA-256 of the canonical event without hash, ts_utc non-decreasing.
 */
export function chainViolations(lines: readonly string[]): string[] {
  const problems: string[] = [];
  let prev = ZEROS;
  let lastTs = '';
  lines.forEach((line, i) => {
    const n = i + 1;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`line ${n}: not JSON`);
      return;
    }
    if (stringify(ev) !== line) problems.push(`line ${n}: not canonical`);
    if (ev.v !== 1) problems.push(`line ${n}: v ${String(ev.v)}`);
    if (ev.seq !== n) problems.push(`line ${n}: seq ${String(ev.seq)}`);
    if (ev.prev !== prev) problems.push(`line ${n}: prev breaks the chain`);
    const { hash, ...rest } = ev;
    if (hash !== sha256(stringify(rest))) problems.push(`line ${n}: hash mismatch`);
    const ts = String(ev.ts_utc);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(ts)) problems.push(`line ${n}: ts_utc ${ts}`);
    if (ts < lastTs) problems.push(`line ${n}: ts_utc goes backwards`);
    lastTs = ts;
    prev = String(hash);
  });
  return problems;
}

/**
 * Ledger text for `events` with seq, prev and hash recomputed: a well-chained file whose content
 * the test chose (e.g. to break a rule the chain cannot see, such as ts_utc order).
 */
export function rechain(events: readonly Record<string, unknown>[]): string {
  let prev = ZEROS;
  return events
    .map((ev, i) => {
      const { hash: _old, ...rest } = ev;
      const body = { ...rest, seq: i + 1, prev };
      prev = sha256(stringify(body));
      return stringify({ ...body, hash: prev }) + '\n';
    })
    .join('');
}
