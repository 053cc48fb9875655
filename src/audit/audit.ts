/**
 * The audit of one ledger, fed line by line (pure: the file is read by audit-file.ts).
 *
 * Each line goes through integrity.ts; while the file is intact, its event also goes through
 * transitions.ts (the job machine) and invariants.ts (the audit's own rules). After the first
 * integrity break the integrity checks go on to the end of the file — resynchronising on each
 * line, so every independent damage is reported — but the semantic checks stop there: past a
 * damaged, missing or reordered line the job states they would judge by are unknown, and what
 * they would report is the damage again, not new facts. `first_break_line` says where they stopped.
 *
 * Memory: O(jobs) for the semantic checks, plus at most `maxFindings` findings kept (the rest
 * are counted), whatever the file's length.
 */
import { isUtf8 } from 'node:buffer';
import { ZERO_HASH } from '../canonical.js';
import { isTornWrite } from '../ledger/line.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { finding, type Finding } from './findings.js';
import { HeadCheck, type HeadAnchor } from './head.js';
import { IntegrityCheck, type RawLine } from './integrity.js';
import { InvariantCheck } from './invariants.js';
import { TransitionCheck } from './transitions.js';

export const DEFAULT_MAX_FINDINGS = 1000;

export interface AuditOptions {
  /** `--expect-head`: the ledger must still carry this hash at this seq. */
  readonly expectHead?: HeadAnchor;
  /** Findings kept in the report; later ones are only counted (`findings_omitted`). */
  readonly maxFindings?: number;
}

export interface AuditReport {
  /** No finding at all. */
  readonly ok: boolean;
  /** Complete lines read. */
  readonly events: number;
  /** seq and hash of the last line that parsed as an object (0 and 64 zeros for none). */
  readonly last_seq: number;
  readonly last_hash: string;
  /** In file order; within a line: integrity, machine, invariants, evidence. */
  readonly findings: readonly Finding[];
  readonly findings_omitted: number;
  /** The first line the chain does not hold through; the semantic checks stopped before it. */
  readonly first_break_line: number | null;
}

export class Auditor {
  private readonly integrity = new IntegrityCheck();
  private readonly transitions = new TransitionCheck();
  private readonly invariants = new InvariantCheck();
  private readonly head: HeadCheck | undefined;
  private readonly maxFindings: number;
  private readonly kept: Finding[] = [];
  private omitted = 0;
  private lines = 0;
  private lastSeq = 0;
  private lastHash = ZERO_HASH;
  private firstBreak: number | null = null;

  constructor(options: AuditOptions = {}) {
    this.head = options.expectHead && new HeadCheck(options.expectHead);
    this.maxFindings = options.maxFindings ?? DEFAULT_MAX_FINDINGS;
  }

  /**
   * Audits the next complete line; returns its event when it is well-formed (for evidence checks).
   * `sound`: see IntegrityCheck.check.
   */
  line(raw: RawLine, sound = false): LedgerEvent | null {
    const r = this.integrity.check(raw, sound);
    this.lines = raw.line;
    this.head?.observe(raw.line, r.ref.seq, r.hash);
    if (r.ref.seq !== null) this.lastSeq = r.ref.seq;
    if (r.hash !== null) this.lastHash = r.hash;
    this.add(r.findings);
    if (!r.intact && this.firstBreak === null) this.firstBreak = raw.line;
    if (this.firstBreak === null && r.event) {
      this.add(this.transitions.check(r.event, r.ref));
      this.add(this.invariants.check(r.event, r.ref));
    }
    return r.event;
  }

  add(findings: readonly Finding[]): void {
    for (const f of findings) {
      if (this.kept.length < this.maxFindings) this.kept.push(f);
      else this.omitted += 1;
    }
  }

  /** Ends the audit; `torn` is what follows the last `\n`, if anything does. */
  finish(torn: { readonly bytes: number; readonly startsWithBrace: boolean } | null): AuditReport {
    const tornBytes = torn?.bytes ?? 0;
    if (torn && !isTornWrite(torn)) {
      const line = this.lines + 1;
      this.add([
        finding(
          { line, seq: null, job_id: null },
          'E_AUDIT_PARSE',
          `the file ends with ${tornBytes} byte(s) without a newline that cannot be an interrupted append ` +
            '(too long for one line, or not starting with "{"): is this a ledger?',
        ),
      ]);
    } else if (tornBytes > 0) {
      const line = this.lines + 1;
      this.add([
        finding(
          { line, seq: null, job_id: null },
          'E_AUDIT_TORN_TAIL',
          `the file ends with ${tornBytes} byte(s) of an unfinished line ${line}: a write was interrupted ` +
            '(a torn tail, not tampering); readers ignore it and the next append moves it aside.',
        ),
      ]);
    }
    if (this.head) this.add(this.head.finish(this.lines));
    return {
      ok: this.kept.length === 0 && this.omitted === 0,
      events: this.lines,
      last_seq: this.lastSeq,
      last_hash: this.lastHash,
      findings: this.kept,
      findings_omitted: this.omitted,
      first_break_line: this.firstBreak,
    };
  }
}

/** Audits a ledger held in memory (tests, small tools), split as the file scanner splits it. */
export function auditBytes(bytes: Uint8Array, options?: AuditOptions): AuditReport {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const auditor = new Auditor(options);
  let start = 0;
  for (let nl = buf.indexOf(10, start), line = 1; nl !== -1; nl = buf.indexOf(10, start), line++) {
    const bytes = buf.subarray(start, nl);
    auditor.line({ line, text: bytes.toString('utf8'), bytes: nl + 1 - start, notUtf8: !isUtf8(bytes) });
    start = nl + 1;
  }
  return auditor.finish(
    start < buf.length ? { bytes: buf.length - start, startsWithBrace: buf[start] === 0x7b } : null,
  );
}
