/**
 * Ledger format v1, one line (docs/spec.md §2): the canonical JSON of an event, `\n`-terminated, whose
 * `hash` is the SHA-256 of the canonical JSON of the event without `hash`, and whose `prev` is
 * the previous line's `hash`.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import { LineTooLargeError } from '../errors.js';
import type { EventBody } from '../core/commands.js';
import type { LedgerEvent } from '../schema/types.generated.js';

export const LEDGER_VERSION = 1;
/** No line may exceed this many bytes (including its `\n`): outputs belong in evidence files. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface SealedLine {
  readonly event: LedgerEvent;
  /** The line's text including its trailing `\n`. */
  readonly text: string;
}

/** Stamps a body with its position in the chain and computes its hash. */
export function sealEvent(body: EventBody, seq: number, tsUtc: string, prev: string): SealedLine {
  const unhashed: Record<string, unknown> = { ...body, v: LEDGER_VERSION, seq, ts_utc: tsUtc, prev };
  // The canonical JSON of an object is its sorted `"key":value` members joined (what
  // fast-json-stable-stringify does at every level), so each member is serialised once and the
  // text with and without `hash` are both joined from them.
  const keys = Object.keys(unhashed).sort();
  const members = keys.map((k) => {
    const value = canonicalJson(unhashed[k]) as string | undefined;
    return value === undefined ? undefined : `${JSON.stringify(k)}:${value}`;
  });
  const hash = sha256Hex(`{${members.filter((m) => m !== undefined).join(',')}}`);
  const at = keys.findIndex((k) => k > 'hash');
  members.splice(at < 0 ? members.length : at, 0, `"hash":${JSON.stringify(hash)}`);
  const event = { ...unhashed, hash } as LedgerEvent;
  const text = `{${members.filter((m) => m !== undefined).join(',')}}\n`;
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_LINE_BYTES) throw new LineTooLargeError(bytes, MAX_LINE_BYTES);
  return { event, text };
}

/**
 * Why a complete line cannot be part of the chain at this position, or undefined when it can.
 * Checks what every reader must: JSON object, version, contiguous seq, prev link, canonical form,
 * and the hash. (A canonical line minus `,"hash":"…"` is the canonical JSON of the event without
 * hash, because "event" sorts before "hash" in every event, so no re-serialisation is needed for
 * the hash.) The schema is checked by the fold.
 */
export function chainProblem(
  text: string,
  parsed: unknown,
  expectedSeq: number,
  expectedPrev: string,
): string | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const ev = parsed as Partial<Record<keyof LedgerEvent, unknown>>;
  if (ev.v !== LEDGER_VERSION) return `unknown format version ${JSON.stringify(ev.v)} (expected 1)`;
  if (ev.seq !== expectedSeq) return `seq ${JSON.stringify(ev.seq)} where ${expectedSeq} was expected`;
  if (ev.prev !== expectedPrev) return `prev does not match the hash of the line before`;
  if (typeof ev.hash !== 'string') return 'missing hash';
  // The hash is defined over the canonical form: a line that is not canonical cannot vouch for
  // itself by hashing its own bytes (and `audit` judges it the same way).
  if (canonicalJson(parsed) !== text) return 'not the canonical JSON of its event (sorted keys, no spaces)';
  const body = text.replace(`,"hash":"${ev.hash}"`, '');
  if (body === text || sha256Hex(body) !== ev.hash) return 'hash does not match the line';
  return undefined;
}

/**
 * Whether the bytes after the last `\n` can be an interrupted append: a prefix of one line,
 * i.e. shorter than a line may be and starting like one. Anything else at the end of the file
 * (a long run of garbage, a file that is not a ledger) is corruption, not a torn tail.
 */
export function isTornWrite(torn: { readonly bytes: number; readonly startsWithBrace: boolean }): boolean {
  return torn.startsWithBrace && torn.bytes < MAX_LINE_BYTES;
}
