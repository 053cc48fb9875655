/**
 * Streaming, synchronous line scanner over a ledger file from a byte offset. Memory is bounded
 * by the chunk size plus the longest line, whatever the file's size.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK_BYTES = 1 << 20;
const EMPTY = Buffer.alloc(0);

export interface ScannedLine {
  /** The line's text without its `\n` ('' when `oversized`). */
  readonly text: string;
  /** Byte offset of the line's first byte. */
  readonly start: number;
  /** Byte offset just past its `\n`. */
  readonly end: number;
  /** The line outgrew `maxLineBytes`; its bytes were skipped, not kept. */
  readonly oversized?: true;
}

export interface TornTail {
  /** Offset of the partial line (the end of the last complete line). */
  readonly offset: number;
  readonly bytes: number;
  /** Its first byte is `{`, as every ledger line's is (false also when it was too long to keep). */
  readonly startsWithBrace: boolean;
}

/**
 * Calls `onLine` for every complete line starting at `from`, stopping early when it returns
 * false. Returns where it stopped and, if the file ends without `\n`, the torn tail. A line longer
 * than `maxLineBytes` is not buffered: it is delivered as `oversized` with empty text, so memory
 * stays bounded even on a file that is not a ledger at all.
 */
export function scanLines(
  fd: number,
  from: number,
  onLine: (line: ScannedLine) => boolean | void,
  maxLineBytes = Infinity,
  /** The file's size, when the caller just read it (a catch-up does): saves an fstat. */
  size = fstatSync(fd).size,
): { offset: number; torn: TornTail | null; stoppedEarly: boolean } {
  let pos = from;
  let carry: Buffer = EMPTY;
  let lineStart = from;
  let oversized = false;
  // No bigger than what is there to read: a catch-up that finds nothing new (every append
  // starts with one) must not allocate a 1 MiB buffer — that external memory drove GC.
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(0, size - from)));
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK_BYTES, size - pos), pos);
    if (n === 0) break;
    const chunkStart = pos - carry.length;
    pos += n;
    const chunk: Buffer = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let i = 0;
    for (let nl = chunk.indexOf(10, i); nl !== -1; nl = chunk.indexOf(10, i)) {
      const end = chunkStart + nl + 1;
      const line: ScannedLine = oversized
        ? { text: '', start: lineStart, end, oversized: true }
        : { text: chunk.toString('utf8', i, nl), start: lineStart, end };
      i = nl + 1;
      lineStart = end;
      oversized = false;
      if (onLine(line) === false) return { offset: end, torn: null, stoppedEarly: true };
    }
    if (chunk.length - i > maxLineBytes) oversized = true;
    // The rest of the chunk is the start of a line the next read completes; copied, since the
    // next read reuses `buf` (nothing to copy in the usual case, a chunk of whole lines).
    carry = oversized || i === chunk.length ? EMPTY : Buffer.from(chunk.subarray(i));
  }
  const torn =
    pos > lineStart
      ? { offset: lineStart, bytes: pos - lineStart, startsWithBrace: carry[0] === 0x7b }
      : null;
  return { offset: lineStart, torn, stoppedEarly: false };
}

/** Opens `path` read-only, runs `fn`, closes. */
export function withReadFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}
