/**
 * Streaming, synchronous line scanner over a ledger file from a byte offset. Memory is bounded
 * by the chunk size plus the longest line, whatever the file's size.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MAX_LINE_BYTES } from './line.js';

const CHUNK_BYTES = 1 << 20;
/** A torn tail is shorter than a line may be; one byte more shows the `\n` before it. */
const TAIL_LOOKBACK = MAX_LINE_BYTES + 1;
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
  /**
   * Its bytes are not UTF-8 (docs/spec.md §2). `text` then holds U+FFFD where they were — which a hash
   * over the text cannot tell from a real U+FFFD, so readers must check this instead.
   */
  readonly notUtf8: boolean;
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
 *
 * Lines are read only up to the end of the complete lines the file has when the scan starts
 * (`endOfCompleteLines`): the bytes after the last `\n` are the one part of a ledger that changes
 * under a reader — the next appender moves a torn tail aside and appends in its place — so they
 * are taken in one read at the end (`tailAt`), never stitched from reads on both sides of such a
 * change into a line that was never written.
 */
export function scanLines(
  fd: number,
  from: number,
  onLine: (line: ScannedLine) => boolean | void,
  maxLineBytes = Infinity,
  /** The file's size, when the caller just read it (a catch-up does): saves an fstat. The file
   * may have changed since: the scan goes by what it reads. */
  size = fstatSync(fd).size,
  /**
   * Given, in order, the bytes of every line `onLine` took (returned without throwing): a line
   * it threw on, and every byte after it, is not given. An oversized line's bytes were not kept,
   * so a caller that hashes lines must refuse those (the store does).
   */
  onBytes?: (bytes: Buffer) => void,
): { offset: number; torn: TornTail | null; stoppedEarly: boolean } {
  const complete = endOfCompleteLines(fd, from, size);
  let pos = from;
  let carry: Buffer = EMPTY;
  let lineStart = from;
  let oversized = false;
  // No bigger than what is there to read: a catch-up that finds nothing new (every append
  // starts with one) must not allocate a 1 MiB buffer — that external memory drove GC.
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(0, complete - from)));
  while (pos < complete) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK_BYTES, complete - pos), pos);
    if (n === 0) break;
    const chunkStart = pos - carry.length;
    pos += n;
    const chunk: Buffer = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let i = 0;
    // One check for all the chunk's complete lines (a `\n` is never inside a UTF-8 sequence, so
    // valid bytes cut at `\n`s are valid lines); line by line only when it fails.
    const lastNl = chunk.lastIndexOf(10);
    const allUtf8 = lastNl !== -1 && isUtf8(chunk.subarray(0, lastNl));
    let taken = 0; // the chunk's bytes up to here belong to lines onLine took
    try {
      for (let nl = chunk.indexOf(10, i); nl !== -1; nl = chunk.indexOf(10, i)) {
        const end = chunkStart + nl + 1;
        const line: ScannedLine = oversized
          ? { text: '', start: lineStart, end, oversized: true, notUtf8: false }
          : {
              text: chunk.toString('utf8', i, nl),
              start: lineStart,
              end,
              notUtf8: !allUtf8 && !isUtf8(chunk.subarray(i, nl)),
            };
        i = nl + 1;
        lineStart = end;
        oversized = false;
        const more = onLine(line);
        taken = i;
        if (more === false) return { offset: end, torn: null, stoppedEarly: true };
      }
    } finally {
      if (onBytes && taken > 0) onBytes(chunk.subarray(0, taken));
    }
    if (chunk.length - i > maxLineBytes) oversized = true;
    // The rest of the chunk is the start of a line the next read completes; copied, since the
    // next read reuses `buf` (nothing to copy in the usual case, a chunk of whole lines).
    carry = oversized || i === chunk.length ? EMPTY : Buffer.from(chunk.subarray(i));
  }
  if (complete < size && pos === complete)
    return { offset: complete, torn: tailAt(fd, complete, size), stoppedEarly: false };
  const torn =
    pos > lineStart
      ? { offset: lineStart, bytes: pos - lineStart, startsWithBrace: carry[0] === 0x7b }
      : null;
  return { offset: lineStart, torn, stoppedEarly: false };
}

/**
 * The bytes after the last complete line, read in one look (at most TAIL_LOOKBACK of them): the
 * torn tail as it is now. None when they are gone — the next appender moved them aside — or now
 * hold a `\n` (it appended complete lines in their place, which the next read will fold).
 */
function tailAt(fd: number, offset: number, size: number): TornTail | null {
  const buf = Buffer.allocUnsafe(Math.min(size - offset, TAIL_LOOKBACK));
  const got = readAt(fd, buf, buf.length, offset);
  if (got === 0 || buf.subarray(0, got).includes(10)) return null;
  return { offset, bytes: got, startsWithBrace: buf[0] === 0x7b };
}

/**
 * The offset just past the last `\n` in [from, size) of `fd` — the end of the complete lines,
 * bytes an append-only ledger does not change (but for a writer taking back its own failed,
 * unacknowledged write) — looking back at most TAIL_LOOKBACK bytes: `from`
 * when that many hold no `\n` and are all there is (the whole range can be an unfinished line),
 * `size` when there are more (no tail that long can be an interrupted append: the scan reads on
 * and reports what it finds).
 */
export function endOfCompleteLines(fd: number, from: number, size: number): number {
  const span = Math.min(size - from, TAIL_LOOKBACK);
  if (span <= 0) return from;
  // The usual case, a file that ends on a line: one byte tells.
  const last = Buffer.allocUnsafe(1);
  if (readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 10) return size;
  const buf = Buffer.allocUnsafe(span);
  const got = readAt(fd, buf, span, size - span);
  const nl = buf.subarray(0, got).lastIndexOf(10);
  if (nl !== -1) return size - span + nl + 1;
  return size - from <= MAX_LINE_BYTES ? from : size;
}

/** Reads up to `length` bytes at `position` into `buf` (from 0), as many as the file has there. */
export function readAt(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
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
