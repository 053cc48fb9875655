/**
 * Integrity of a ledger file, line by line (docs/spec.md §2; invariant 8): each line is UTF-8 JSON of an
 * object, at most 64 KiB, in canonical form, matching its schema, with `seq` = previous + 1,
 * `prev` = previous `hash`, `hash` = SHA-256 of the canonical event without `hash`, and a
 * `ts_utc` no earlier than the previous line's.
 *
 * How it continues past damage (docs/audit.md): every link is checked against the line before it
 * *as written* — the last line that parsed as an object — never against what that line should
 * have been. So one damaged line is reported once (plus, at most, the link into the next line),
 * a deleted or duplicated line where the chain breaks, and the check resynchronises after it
 * instead of reporting every later line. A line that is not a JSON object is invisible to the
 * chain: the next line is linked to the one before it.
 */
import { canonicalJson, sha256Hex, ZERO_HASH } from '../canonical.js';
import { canonicalOrNull, DEEP, MAX_LINE_BYTES } from '../ledger/line.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { eventSchemaProblems } from '../schema/validate.js';
import { parseTsUtc } from '../time.js';
import { finding, type Finding, type LineRef } from './findings.js';

/** One complete line of the file, as the scanner delivers it. */
export interface RawLine {
  /** 1-based line number. */
  readonly line: number;
  /** The line's text without its `\n` ('' when `oversized`). */
  readonly text: string;
  /** Bytes in the file, including the `\n`. */
  readonly bytes: number;
  /** The line outgrew the scanner's limit and its bytes were not kept. */
  readonly oversized?: boolean;
  /** Its bytes are not UTF-8 (`text` has U+FFFD in their place). */
  readonly notUtf8?: boolean;
}

export interface IntegrityResult {
  readonly ref: LineRef;
  /** The line's `hash` as written, when it has one. */
  readonly hash: string | null;
  /** The event, when the line parsed and matches its schema (what the semantic checks read). */
  readonly event: LedgerEvent | null;
  readonly findings: Finding[];
  /**
   * The chain holds through this line: no finding but E_AUDIT_NOT_CANONICAL (whose content the
   * hash still vouches for, since the hash is over the canonical form).
   */
  readonly intact: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class IntegrityCheck {
  /** seq of the previous object line; null when it had no integer seq (the next is not checked). */
  private prevSeq: number | null = 0;
  /** hash of the previous object line; null when it had none. */
  private prevHash: string | null = ZERO_HASH;
  private prevTsMs = -Infinity;

  /**
   * The findings of one line. `sound`: a verify thread found the line passes every check it
   * allows on its own (src/ledger/sound.ts), so only its links to the line before are left.
   */
  check(raw: RawLine, sound = false): IntegrityResult {
    if (sound && !raw.notUtf8) return this.checkLinks(raw);
    const findings: Finding[] = [];
    const blind: LineRef = { line: raw.line, seq: null, job_id: null };
    const unreadable = (message: string): IntegrityResult => {
      findings.push(finding(blind, 'E_AUDIT_PARSE', message));
      return { ref: blind, hash: null, event: null, findings, intact: false };
    };
    if (raw.bytes > MAX_LINE_BYTES) {
      findings.push(
        finding(
          blind,
          'E_AUDIT_LINE_TOO_LONG',
          `line ${raw.line} is ${raw.bytes} bytes long, over the ${MAX_LINE_BYTES}-byte limit of a ledger line.`,
        ),
      );
      if (raw.oversized) return { ref: blind, hash: null, event: null, findings, intact: false };
    }
    if (raw.notUtf8 || Buffer.byteLength(raw.text) + 1 !== raw.bytes) {
      return unreadable(`line ${raw.line} is not valid UTF-8.`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.text);
    } catch {
      return unreadable(`line ${raw.line} is not valid JSON.`);
    }
    if (!isObject(parsed)) return unreadable(`line ${raw.line} is JSON but not an object.`);

    const seq = Number.isSafeInteger(parsed.seq) ? (parsed.seq as number) : null;
    const hash = typeof parsed.hash === 'string' ? parsed.hash : null;
    const jobId = typeof parsed.job_id === 'string' ? parsed.job_id : null;
    const ref: LineRef = { line: raw.line, seq, job_id: jobId };
    const add = (code: Parameters<typeof finding>[1], message: string) =>
      findings.push(finding(ref, code, message));

    const canonical = canonicalOrNull(parsed, raw.text);
    if (canonical === null) return unreadable(`line ${raw.line}: ${DEEP}.`);
    if (canonical !== raw.text) {
      add('E_AUDIT_NOT_CANONICAL', `line ${raw.line} is not in canonical form (sorted keys, no whitespace).`);
    }
    this.linkFindings(ref, parsed.prev, findings);
    if (hash !== null && sha256Hex(hashless(parsed, raw.text, canonical, hash)) !== hash) {
      add(
        'E_AUDIT_HASH_MISMATCH',
        `hash does not match the content of line ${raw.line}: the line was altered.`,
      );
    }
    const problems = eventSchemaProblems(parsed);
    if (problems.length) {
      add('E_AUDIT_SCHEMA', `the event does not match its schema: ${problems.join('; ')}.`);
    } else if (parsed.event === 'enqueue' && (parsed.job as { job_id?: unknown }).job_id !== jobId) {
      add('E_AUDIT_SCHEMA', `job.job_id differs from the event's job_id ${jobId}.`);
    }
    const tsMs = typeof parsed.ts_utc === 'string' ? parseTsUtc(parsed.ts_utc) : Number.NaN;
    if (typeof parsed.ts_utc === 'string' && !problems.length && Number.isNaN(tsMs)) {
      add('E_AUDIT_SCHEMA', `ts_utc ${parsed.ts_utc} is not a real date.`);
    }
    this.timeFindings(ref, parsed.ts_utc, tsMs, findings);
    this.advance(seq, hash, tsMs);
    const schemaOk = !findings.some((f) => f.code === 'E_AUDIT_SCHEMA');
    return {
      ref,
      hash,
      event: schemaOk ? (parsed as unknown as LedgerEvent) : null,
      findings,
      intact: findings.every((f) => f.code === 'E_AUDIT_NOT_CANONICAL'),
    };
  }

  /** check() of a sound line: canonical, hashed, schema-valid, with a real ts_utc. */
  private checkLinks(raw: RawLine): IntegrityResult {
    let event: LedgerEvent;
    try {
      event = JSON.parse(raw.text) as LedgerEvent;
    } catch {
      return this.check(raw); // not what was judged: say exactly what it is
    }
    const ref: LineRef = {
      line: raw.line,
      seq: Number.isSafeInteger(event.seq) ? event.seq : null,
      job_id: typeof event.job_id === 'string' ? event.job_id : null,
    };
    const findings: Finding[] = [];
    const tsMs = parseTsUtc(event.ts_utc);
    this.linkFindings(ref, event.prev, findings);
    this.timeFindings(ref, event.ts_utc, tsMs, findings);
    this.advance(ref.seq, event.hash, tsMs);
    return { ref, hash: event.hash, event, findings, intact: findings.length === 0 };
  }

  /** seq and prev against the line before, as written. */
  private linkFindings(ref: LineRef, prev: unknown, findings: Finding[]): void {
    const { seq } = ref;
    if (seq !== null && this.prevSeq !== null && seq !== this.prevSeq + 1) {
      findings.push(
        finding(
          ref,
          'E_AUDIT_SEQ_GAP',
          `seq ${seq} follows seq ${this.prevSeq}; expected ${this.prevSeq + 1}.`,
        ),
      );
    }
    if (this.prevHash !== null && prev !== this.prevHash) {
      findings.push(
        finding(
          ref,
          'E_AUDIT_PREV_MISMATCH',
          `prev does not match the hash of the line before (${this.prevHash.slice(0, 12)}…).`,
        ),
      );
    }
  }

  private timeFindings(ref: LineRef, ts: unknown, tsMs: number, findings: Finding[]): void {
    if (tsMs < this.prevTsMs) {
      findings.push(
        finding(ref, 'E_AUDIT_TS_BACKWARDS', `ts_utc ${String(ts)} is before the previous event's time.`),
      );
    }
  }

  private advance(seq: number | null, hash: string | null, tsMs: number): void {
    this.prevSeq = seq;
    this.prevHash = hash;
    if (!Number.isNaN(tsMs)) this.prevTsMs = tsMs;
  }
}

/**
 * The canonical JSON of the event without `hash`. For a canonical line that is its text minus
 * `,"hash":"…"` ("event" sorts before "hash", so the field is never first): one stringify per
 * line instead of two.
 */
function hashless(parsed: Record<string, unknown>, text: string, canonical: string, hash: string): string {
  const field = `,"hash":${JSON.stringify(hash)}`;
  if (canonical === text && text.includes(field)) return text.replace(field, '');
  return canonicalJson({ ...parsed, hash: undefined });
}
