/**
 * What can be checked of a ledger line without the lines before it — and so in parallel, by
 * verify-pool.ts's worker threads, while the main thread folds. A *sound* line passes every
 * check of its own that any reader makes: the store's (chainProblem less seq and prev, and the
 * schema) and the audit's (integrity.ts less the links). What only the chain can tell — seq,
 * prev, ts_utc order — and the machine stay with the reader, which folds in order.
 *
 * Soundness is only ever a shortcut: a line found sound skips checks it is known to pass; a line
 * that is not (or a chunk not yet judged) takes the reader's full, sequential path, which names
 * the problem exactly as it would have without threads. So threads change how fast a ledger is
 * read, never what is reported about it.
 */
import { isUtf8 } from 'node:buffer';
import { isSchemaValidEvent } from '../schema/validate.js';
import { parseTsUtc } from '../time.js';
import { chainProblem, MAX_LINE_BYTES } from './line.js';
import { readAt } from './scan.js';

/**
 * Whether a line (its bytes without the `\n`) passes every context-free check: at most
 * MAX_LINE_BYTES, UTF-8, a JSON object, chainProblem's own checks (version, hash present,
 * canonical form, the hash of its content) with its seq and prev taken as given, a safe-integer
 * seq, the schema, an enqueue's job.job_id, a real ts_utc.
 */
export function lineIsSound(bytes: Buffer): boolean {
  if (bytes.length + 1 > MAX_LINE_BYTES || !isUtf8(bytes)) return false;
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const ev = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(ev.seq) || typeof ev.prev !== 'string' || typeof ev.ts_utc !== 'string')
    return false;
  if (chainProblem(text, parsed, ev.seq as number, ev.prev) !== undefined) return false;
  if (!isSchemaValidEvent(parsed)) return false;
  if (ev.event === 'enqueue' && (ev.job as { job_id?: unknown }).job_id !== ev.job_id) return false;
  return !Number.isNaN(parseTsUtc(ev.ts_utc));
}

/**
 * The byte range [from, to) of a ledger cut into chunks of `chunkBytes`: chunk k holds the lines
 * that *start* in [from + k·chunkBytes, from + (k+1)·chunkBytes). Every reader of the range can
 * tell a line's chunk from its start offset alone (`chunkOf`), with no coordination.
 */
export interface ChunkPlan {
  readonly from: number;
  readonly to: number;
  readonly chunkBytes: number;
}

export const chunkCount = (p: ChunkPlan): number => Math.ceil((p.to - p.from) / p.chunkBytes);
export const chunkOf = (p: ChunkPlan, lineStart: number): number =>
  Math.floor((lineStart - p.from) / p.chunkBytes);

/**
 * Calls `onLine` for each complete line of chunk `k` (its bytes without `\n` — a view into
 * `scratch.buf`, which the next call reuses — and its start offset), until it returns false. A
 * line starting in the chunk is read to its end even past the chunk. Returns false when a line
 * starting in the chunk runs past MAX_LINE_BYTES without a `\n` (it cannot be sound); a partial
 * line at `to` is the reader's torn tail, not the chunk's. `scratch.buf` grows to chunkBytes +
 * MAX_LINE_BYTES + 1.
 */
export function forEachChunkLine(
  fd: number,
  plan: ChunkPlan,
  k: number,
  onLine: (bytes: Buffer, start: number) => boolean,
  scratch: { buf: Buffer },
): boolean {
  const a = plan.from + k * plan.chunkBytes;
  const b = Math.min(plan.to, a + plan.chunkBytes);
  if (a >= b) return true;
  // One byte before the chunk tells whether a line starts right at it.
  const regionStart = a === plan.from ? a : a - 1;
  const regionEnd = Math.min(plan.to, b + MAX_LINE_BYTES + 1);
  const length = regionEnd - regionStart;
  if (scratch.buf.length < length) scratch.buf = Buffer.allocUnsafe(length);
  const got = readAt(fd, scratch.buf, length, regionStart);
  const buf = scratch.buf.subarray(0, got);
  let i = 0; // index in buf of the next line's start
  if (regionStart !== a) {
    const nl = buf.indexOf(10, 0);
    if (nl === -1) return true; // no line starts in this chunk
    i = nl + 1;
  }
  while (regionStart + i < b) {
    const nl = buf.indexOf(10, i);
    if (nl === -1) return regionStart + got === plan.to; // a torn tail; else an overlong line
    if (!onLine(buf.subarray(i, nl), regionStart + i)) return true;
    i = nl + 1;
  }
  return true;
}

/**
 * The shared control block of a verify pool (an Int32Array over a SharedArrayBuffer):
 * [NEXT] the next unclaimed chunk, [STOP] set when the reader is done, then per chunk its
 * verdict at STATUS + k and, at STATUS + chunks + k, how many bytes from the chunk's start its
 * judged lines reach (the reader trusts a verdict only for lines that end within them).
 */
export const CONTROL = { NEXT: 0, STOP: 1, STATUS: 2 } as const;
export const VERDICT = { PENDING: 0, SOUND: 1, UNSOUND: 2 } as const;

/**
 * Judges chunk k (claimed by the caller: a verify thread, or the reader while it waits) and
 * publishes the verdict: first how far its lines are sound, then the status the reader waits on.
 */
export function judgeChunk(
  fd: number,
  plan: ChunkPlan,
  control: Int32Array,
  k: number,
  scratch: { buf: Buffer },
) {
  const chunks = chunkCount(plan);
  const chunkStart = plan.from + k * plan.chunkBytes;
  let judgedEnd = 0;
  let sound = true;
  try {
    const complete = forEachChunkLine(
      fd,
      plan,
      k,
      (bytes, start) => {
        sound = lineIsSound(bytes);
        if (sound) judgedEnd = start + bytes.length + 1 - chunkStart;
        return sound;
      },
      scratch,
    );
    sound &&= complete;
  } catch {
    sound = false; // a read error: the reader's own path will meet it and say what it is
  }
  Atomics.store(control, CONTROL.STATUS + chunks + k, judgedEnd);
  Atomics.store(control, CONTROL.STATUS + k, sound ? VERDICT.SOUND : VERDICT.UNSOUND);
  Atomics.notify(control, CONTROL.STATUS + k);
}
