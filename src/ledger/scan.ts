/**
 * Streaming, synchronous line scanner over a ledger file from a byte offset. Memory is bounded
 * by the chunk size plus the longest line, whatever the file's size.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK_BYTES = 1 << 20;

export interface ScannedLine {
  /** The line's text without its `\n`. */
  readonly text: string;
  /** Byte offset of the line's first byte. */
  readonly start: number;
  /** Byte offset just past its `\n`. */
  readonly end: number;
}

export interface TornTail {
  /** Offset of the partial line (the end of the last complete line). */
  readonly offset: number;
  readonly bytes: number;
}

/**
 * Calls `onLine` for every complete line starting at `from`, stopping early when it returns
 * false. Returns where it stopped and, if the file ends without `\n`, the torn tail.
 */
export function scanLines(
  fd: number,
  from: number,
  onLine: (line: ScannedLine) => boolean | void,
): { offset: number; torn: TornTail | null; stoppedEarly: boolean } {
  const size = fstatSync(fd).size;
  let pos = from;
  let carry: Buffer = Buffer.alloc(0);
  let carryStart = from;
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK_BYTES, size - pos), pos);
    if (n === 0) break;
    pos += n;
    const chunk: Buffer = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let lineStart = 0;
    for (let nl = chunk.indexOf(10, lineStart); nl !== -1; nl = chunk.indexOf(10, lineStart)) {
      const start = carryStart + lineStart;
      const line = { text: chunk.toString('utf8', lineStart, nl), start, end: carryStart + nl + 1 };
      lineStart = nl + 1;
      if (onLine(line) === false) return { offset: line.end, torn: null, stoppedEarly: true };
    }
    carry = Buffer.from(chunk.subarray(lineStart));
    carryStart += lineStart;
  }
  const torn = carry.length > 0 ? { offset: carryStart, bytes: carry.length } : null;
  return { offset: carryStart, torn, stoppedEarly: false };
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
