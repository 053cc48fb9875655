/**
 * The digest of the ledger bytes a store has folded, so a writer that starts from a checkpoint
 * can show that the lines before it are still the lines that were folded (docs/ledger-format.md,
 * "Durability and concurrency").
 *
 * D1. A store keeps the SHA-256 of every byte it folds or appends from where its fold began: its
 *     prefix is the checkpoint's segments (each the end offset and SHA-256 of the bytes after
 *     the one before it), then that running digest. A checkpoint records the prefix at its
 *     offset, so its segments cover bytes [0, offset) exactly.
 * D2. Before a store that started from a checkpoint appends for the first time, it reads the
 *     bytes before the checkpoint again and checks every segment; a segment whose bytes changed
 *     stops it with LedgerCorruptError naming the lines it spans, and nothing is written. One
 *     sequential read of the prefix (no parsing): a writer's start stays far cheaper than a fold
 *     from line 1. Once checked, the segments are merged into one running digest, so a
 *     checkpoint written later has a single segment again.
 */
import { createHash, type Hash } from 'node:crypto';
import { LedgerCorruptError } from '../errors.js';
import { readAt } from './scan.js';

/** One checked stretch of the ledger: the offset it ends at, and the SHA-256 of its bytes. */
export type PrefixSegment = readonly [end: number, sha256: string];

const CHUNK_BYTES = 4 << 20;

export class PrefixDigest {
  private segments: readonly PrefixSegment[];
  private start: number;
  private hash: Hash = createHash('sha256');
  private checked: boolean;

  /** From line 1 (`segments` empty), or from a checkpoint's segments, which end at its offset. */
  constructor(segments: readonly PrefixSegment[] = []) {
    this.segments = segments;
    this.start = segments.at(-1)?.[0] ?? 0;
    this.checked = segments.length === 0;
  }

  /** Whether `segments` are a well-formed prefix ending at `offset` (checkpoint.ts checks it). */
  static wellFormed(segments: unknown, offset: number): segments is PrefixSegment[] {
    if (!Array.isArray(segments)) return false;
    let at = 0;
    for (const seg of segments as unknown[]) {
      if (!Array.isArray(seg) || seg.length !== 2) return false;
      const [end, sha] = seg as unknown[];
      if (typeof end !== 'number' || !Number.isSafeInteger(end) || end <= at) return false;
      if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) return false;
      at = end;
    }
    return at === offset;
  }

  /** D1: bytes folded or appended, in ledger order, from where the running digest began. */
  update(bytes: Buffer): void {
    this.hash.update(bytes);
  }

  /** D1: the prefix at `offset`, the store's position: what a checkpoint written now records. */
  at(offset: number): PrefixSegment[] {
    const out = [...this.segments];
    if (offset > this.start) out.push([offset, this.hash.copy().digest('hex')]);
    return out;
  }

  /** Whether D2 still has to run before this store's first append. */
  get needsCheck(): boolean {
    return !this.checked;
  }

  /**
   * D2: checks the segments against the bytes of `fd` now, then merges them with the running
   * digest (which covers [start, offset)). Throws LedgerCorruptError when one differs.
   */
  check(fd: number, offset: number, file: string, lines: number): void {
    if (this.checked) return;
    try {
      this.checkSegments(fd, offset, file);
    } catch (err) {
      if (!(err instanceof ShortFile)) throw err;
      throw new LedgerCorruptError(lines, 'the file became shorter than what was read from it', file);
    }
  }

  private checkSegments(fd: number, offset: number, file: string): void {
    const whole = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let from = 0;
    for (const [end, sha] of this.segments) {
      const seg = createHash('sha256');
      hashRange(fd, buf, from, end, (b) => (seg.update(b), whole.update(b)));
      if (seg.digest('hex') !== sha) {
        const first = linesBefore(fd, buf, from) + 1;
        const last = first + linesBefore(fd, buf, end, from) - 1;
        throw new LedgerCorruptError(
          first,
          `lines ${first}–${last} are not the bytes checkpoint.json was folded from (their SHA-256 ` +
            'differs): they were changed after they were written',
          file,
        );
      }
      from = end;
    }
    // The bytes folded since the checkpoint, read again: the same as when they were folded, or
    // they changed under the store (and a checkpoint it writes must not vouch for them).
    const since = createHash('sha256');
    hashRange(fd, buf, this.start, offset, (b) => (since.update(b), whole.update(b)));
    if (since.digest('hex') !== this.hash.copy().digest('hex')) {
      const first = linesBefore(fd, buf, this.start) + 1;
      throw new LedgerCorruptError(
        first,
        'the lines after checkpoint.json changed after this process read them',
        file,
      );
    }
    this.segments = [];
    this.start = 0;
    this.hash = whole;
    this.checked = true;
  }
}

/** The file ended before a range hashRange was asked for: it shrank under the reader. */
class ShortFile extends Error {}

function hashRange(fd: number, buf: Buffer, from: number, to: number, take: (b: Buffer) => void): void {
  for (let pos = from; pos < to;) {
    const n = readAt(fd, buf, Math.min(buf.length, to - pos), pos);
    if (n === 0) throw new ShortFile();
    take(buf.subarray(0, n));
    pos += n;
  }
}

/** The number of `\n` in [from, to) of `fd`: the lines that end before `to`. */
function linesBefore(fd: number, buf: Buffer, to: number, from = 0): number {
  let count = 0;
  hashRange(fd, buf, from, to, (b) => {
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) count++;
  });
  return count;
}
