/**
 * Ledger format v1, one line (docs/spec.md §2): the canonical JSON of an event, `\n`-terminated, whose
 * `hash` is the SHA-256 of the canonical JSON of the event without `hash`, and whose `prev` is
 * the previous line's `hash`.
 */
import { canonicalJson, sha256Hex, ZERO_HASH } from '../canonical.js';
import { LineTooLargeError, SchemaError } from '../errors.js';
import type { EventBody } from '../core/commands.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { MAX_SPEC_DEPTH, tooDeep } from '../schema/validate.js';
import { toTsUtc } from '../time.js';

export const LEDGER_VERSION = 1;
/** No line may exceed this many bytes (including its `\n`): outputs belong in evidence files. */
export const MAX_LINE_BYTES = 64 * 1024;
/**
 * No event may nest deeper than this many levels (the event itself is level 1). An enqueue
 * event holds its spec one level down (MAX_SPEC_DEPTH + 1 levels at most); this is twice that.
 * The writer refuses a deeper event and every reader calls a deeper line corrupt, by this count
 * rather than by how much stack a reader has left: a bound that depended on the stack would let
 * `audit`, called from a shallower one, pass a line `replay` refuses.
 */
export const MAX_EVENT_DEPTH = 2 * (MAX_SPEC_DEPTH + 1);

export interface SealedLine {
  readonly event: LedgerEvent;
  /** The line's text including its trailing `\n`. */
  readonly text: string;
}

/** Stamps a body with its position in the chain and computes its hash. */
export function sealEvent(body: EventBody, seq: number, tsUtc: string, prev: string): SealedLine {
  const sealed = sealOrUndefined(body, seq, tsUtc, prev);
  // What every reader refuses (canonicalOrNull), the writer does not write.
  if (!sealed || !fewContainers(sealed.text)) {
    const deep = tooDeep(body, MAX_EVENT_DEPTH);
    if (deep !== undefined || !sealed)
      throw new SchemaError(
        [`${deep ?? '/'}: nests deeper than ${MAX_EVENT_DEPTH} levels`],
        `the ${body.event} event`,
      );
  }
  const bytes = Buffer.byteLength(sealed.text);
  if (bytes > MAX_LINE_BYTES) throw new LineTooLargeError(bytes, MAX_LINE_BYTES);
  return sealed;
}

/** seal(), or undefined when the body nests too deeply for the serialiser's recursion. */
function sealOrUndefined(body: EventBody, seq: number, tsUtc: string, prev: string): SealedLine | undefined {
  try {
    return seal(body, seq, tsUtc, prev);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function seal(body: EventBody, seq: number, tsUtc: string, prev: string): SealedLine {
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
  return { event, text };
}

/**
 * The fewest bytes the enqueue line of `spec` can take (any object: the schema judges it apart):
 * its line with the job_id and created_at_utc the plane fills in when absent, at seq 1 (a later
 * seq adds at most 15 digits). Over MAX_LINE_BYTES, no append of the spec can succeed, so `enqueue`
 * refuses it before it opens the ledger, naming which spec of a batch it is.
 */
export function enqueueLineBytes(spec: Record<string, unknown>): number {
  const ts = toTsUtc(0);
  const jobId = typeof spec.job_id === 'string' ? spec.job_id : `job-${'0'.repeat(26)}`;
  const job = { ...spec, job_id: jobId, created_at_utc: spec.created_at_utc ?? ts };
  const body = { event: 'enqueue', job_id: jobId, job } as EventBody;
  return Buffer.byteLength(seal(body, 1, ts, ZERO_HASH).text);
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
  const canonical = canonicalOrNull(parsed, text);
  if (canonical === null) return DEEP;
  if (canonical !== text) return 'not the canonical JSON of its event (sorted keys, no spaces)';
  const body = text.replace(`,"hash":"${ev.hash}"`, '');
  if (body === text || sha256Hex(body) !== ev.hash) return 'hash does not match the line';
  return undefined;
}

/** What a reader says of a line nested deeper than MAX_EVENT_DEPTH (no writer writes one). */
export const DEEP = `nested deeper than ${MAX_EVENT_DEPTH} levels, which no writer writes`;

/**
 * The canonical JSON of a parsed line, or null when it nests deeper than MAX_EVENT_DEPTH: a
 * 64 KiB line can hold thousands of levels, more than the serialiser's recursion can take, and a
 * reader must say so, not crash. `text` (the line) makes the common case cheap: a line with no
 * more `{` and `[` than the limit cannot nest deeper than it.
 */
export function canonicalOrNull(value: unknown, text?: string): string | null {
  if ((text === undefined || !fewContainers(text)) && tooDeep(value, MAX_EVENT_DEPTH) !== undefined)
    return null;
  try {
    return canonicalJson(value);
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** Whether `text` holds at most MAX_EVENT_DEPTH brackets that open a container (or a string). */
function fewContainers(text: string): boolean {
  let n = 0;
  for (const c of ['{', '[']) {
    for (let i = text.indexOf(c); i !== -1; i = text.indexOf(c, i + 1))
      if (++n > MAX_EVENT_DEPTH) return false;
  }
  return true;
}

/**
 * Whether the bytes after the last `\n` can be an interrupted append: a prefix of one line,
 * i.e. shorter than a line may be and starting like one. Anything else at the end of the file
 * (a long run of garbage, a file that is not a ledger) is corruption, not a torn tail.
 */
export function isTornWrite(torn: { readonly bytes: number; readonly startsWithBrace: boolean }): boolean {
  return torn.startsWithBrace && torn.bytes < MAX_LINE_BYTES;
}
