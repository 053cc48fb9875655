/**
 * Head anchors: `HASH@SEQ`, the hash of the ledger's line `SEQ` as `execplane head` printed it.
 *
 * Threat model (docs/audit.md): whoever can write the file can rewrite it from any line on and
 * recompute every later hash; the chain then verifies, and nothing in the file alone can tell.
 * An anchor recorded elsewhere (a commit, a ticket, a log) closes that gap: `--expect-head`
 * proves that line SEQ still carries HASH, and since the chain links every line to the one
 * before, that lines 1..SEQ are unchanged — the ledger only grew since.
 */
import { ZERO_HASH } from '../canonical.js';
import { UsageError } from '../errors.js';
import { finding, type Finding } from './findings.js';

export interface HeadAnchor {
  readonly hash: string;
  readonly seq: number;
}

export const formatHead = (head: HeadAnchor): string => `${head.hash}@${head.seq}`;

/** Parses `HASH@SEQ`; a malformed anchor is a usage error (exit 2). */
export function parseHeadAnchor(text: string): HeadAnchor {
  const m = /^([0-9a-f]{64})@(0|[1-9][0-9]*)$/.exec(text.trim());
  if (!m || !Number.isSafeInteger(Number(m[2]))) {
    throw new UsageError(
      'E_USAGE',
      `--expect-head must be HASH@SEQ (64 lowercase hex digits, @, a seq), as \`execplane head\` prints it; got "${text}"`,
    );
  }
  const head = { hash: m[1]!, seq: Number(m[2]) };
  if (head.seq === 0 && head.hash !== ZERO_HASH) {
    throw new UsageError('E_USAGE', `--expect-head at seq 0 can only be ${ZERO_HASH}@0 (the empty ledger)`);
  }
  return head;
}

/** Watches the lines go by and says, at the end, whether line `anchor.seq` carried `anchor.hash`. */
export class HeadCheck {
  private seen: { seq: number | null; hash: string | null } | undefined;

  constructor(private readonly anchor: HeadAnchor) {}

  observe(line: number, seq: number | null, hash: string | null): void {
    if (line === this.anchor.seq) this.seen = { seq, hash };
  }

  finish(completeLines: number): Finding[] {
    const { hash, seq } = this.anchor;
    const at = { line: Math.min(seq, completeLines + 1), seq: null, job_id: null };
    if (seq === 0) return [];
    if (!this.seen) {
      return [
        finding(
          at,
          'E_AUDIT_HEAD_MISMATCH',
          `the ledger has ${completeLines} complete line(s), fewer than the expected head's seq ${seq}: it was truncated or rewritten.`,
        ),
      ];
    }
    if (this.seen.seq === seq && this.seen.hash === hash) return [];
    return [
      finding(
        { line: seq, seq: this.seen.seq, job_id: null },
        'E_AUDIT_HEAD_MISMATCH',
        `line ${seq} carries ${this.seen.hash ?? 'no hash'} at seq ${this.seen.seq ?? '?'}, not the expected head ${formatHead(this.anchor)}: ` +
          'the ledger was rewritten up to there.',
      ),
    ];
  }
}
