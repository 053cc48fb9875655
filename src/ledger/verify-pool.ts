/**
 * Parallel verification of a long range of the ledger: worker threads judge chunks of it ahead
 * of the reader (sound.ts: parse, UTF-8, canonical form, hash, schema — every check a line allows
 * on its own), while the reader folds in order and makes only the checks that need the lines
 * before (seq, prev, ts_utc order) and the machine (docs/decisions.md, "Parallel verification").
 *
 * The reader claims a chunk nobody has claimed yet when it gets there, and reads it with its full
 * sequential checks; while a chunk it needs is still being judged, it judges later ones itself,
 * and waits only when none is left. A line it takes as sound was judged so by a thread through
 * the reader's own file descriptor, at the same offset and to the same end, and lies wholly in
 * the complete lines the file had when the read began — bytes an append-only ledger does not
 * change (a torn tail, which the next writer truncates, is never judged; a writer taking back
 * its own failed write is the one exception, and it troubles a reader without threads alike). Any other line —
 * unsound, unjudged, past what was judged — goes through the full path, which names a problem
 * exactly as a reader without threads would.
 *
 * Worker threads run the compiled JavaScript (dist/): when this module runs from TypeScript
 * sources (vitest), there is no pool and reading is sequential.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../errors.js';
import { endOfCompleteLines } from './scan.js';
import { chunkCount, chunkOf, CONTROL, judgeChunk, VERDICT, type ChunkPlan } from './sound.js';

export interface VerifyOptions {
  /**
   * Worker threads judging ahead of the reader; 0: none. Default: EXECPLANE_VERIFY_THREADS when
   * set, else one fewer than the CPUs this process may use, at most MAX_DEFAULT_THREADS.
   */
  readonly threads?: number;
  /** A shorter range is read without threads (DEFAULT_MIN_BYTES). */
  readonly minBytes?: number;
  readonly chunkBytes?: number;
  /**
   * For tests: the reader waits for the threads' verdict on every chunk instead of claiming and
   * judging chunks itself, so the threads' verdicts are what every line is read by.
   */
  readonly readerWaits?: boolean;
}

/**
 * A shorter range is read on one thread: below about this size, starting a thread costs more
 * than it saves on 2 vCPUs (docs/decisions.md, "Parallel verification").
 */
export const DEFAULT_MIN_BYTES = 32 << 20;
export const DEFAULT_CHUNK_BYTES = 1 << 20;
const MAX_DEFAULT_THREADS = 3;
const MAX_THREADS = 64;
/** A chunk a thread claimed but has not judged after this long is read by the reader itself. */
const STALL_MS = 5_000;
const WAIT_SLICE_MS = 50;

const workerUrl = new URL('./verify-worker.js', import.meta.url);
let workerScriptExists: boolean | undefined;

/** The worker threads to use: the option, else EXECPLANE_VERIFY_THREADS, else CPUs − 1 (≤ 3). */
export function verifyThreads(option?: number): number {
  if (option !== undefined) return option;
  const env = process.env.EXECPLANE_VERIFY_THREADS;
  if (env !== undefined && env !== '') {
    const n = /^[0-9]{1,2}$/.test(env) ? Number(env) : Number.NaN;
    if (!(n <= MAX_THREADS))
      throw new UsageError(
        'E_USAGE',
        `EXECPLANE_VERIFY_THREADS must be a whole number from 0 to ${MAX_THREADS} (got ${JSON.stringify(env)}); 0 reads without threads`,
      );
    return n;
  }
  return Math.min(MAX_DEFAULT_THREADS, availableParallelism() - 1);
}

export class VerifyPool {
  private readonly control: Int32Array;
  private readonly chunks: number;
  private readonly scratch = { buf: Buffer.alloc(0) };
  private current = -1;
  /** The end offset up to which the current chunk's lines were judged sound (-1: none). */
  private trustedEnd = -1;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly plan: ChunkPlan,
    private readonly workers: readonly Worker[],
    control: SharedArrayBuffer,
    private readonly readerWaits: boolean,
  ) {
    this.control = new Int32Array(control);
    this.chunks = chunkCount(plan);
  }

  /**
   * A pool judging the complete lines of [from, size) of the file open as `fd` (the reader's own
   * descriptor: threads read through it, so they judge the very file the reader folds), or null
   * when the range is too short, no thread is wanted, or the worker script is not there.
   */
  static start(fd: number, from: number, size: number, options: VerifyOptions = {}): VerifyPool | null {
    const threads = verifyThreads(options.threads);
    if (threads <= 0 || size - from < (options.minBytes ?? DEFAULT_MIN_BYTES)) return null;
    workerScriptExists ??= existsSync(fileURLToPath(workerUrl));
    if (!workerScriptExists) return null;
    const to = endOfCompleteLines(fd, from, size);
    if (to <= from) return null;
    const plan: ChunkPlan = { from, to, chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES };
    const chunks = chunkCount(plan);
    const control = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (CONTROL.STATUS + 2 * chunks));
    const workers: Worker[] = [];
    for (let i = 0; i < Math.min(threads, chunks); i++) {
      let worker: Worker;
      try {
        worker = new Worker(workerUrl, { workerData: { fd, plan, control } });
      } catch {
        break; // no thread to be had (resources): the reader judges what no thread takes
      }
      // A thread that fails never blocks the reader for good: it judges what is left itself, after
      // STALL_MS for a chunk the failed thread had claimed. The error is not the reader's to report.
      worker.on('error', () => {});
      worker.unref();
      workers.push(worker);
    }
    return new VerifyPool(fd, plan, workers, control, options.readerWaits === true);
  }

  /**
   * Whether the complete line at [start, end) was judged sound — blocking, if its chunk is being
   * judged, until it is. Lines must be asked about in file order.
   */
  isSound(start: number, end: number): boolean {
    const k = chunkOf(this.plan, start);
    if (k !== this.current) {
      this.current = k;
      this.trustedEnd = this.settle(k);
    }
    return end <= this.trustedEnd;
  }

  /** Chunks judged so far, of how many (for tests and diagnostics). */
  progress(): { judged: number; chunks: number } {
    let judged = 0;
    for (let k = 0; k < this.chunks; k++)
      if (Atomics.load(this.control, CONTROL.STATUS + k) !== VERDICT.PENDING) judged += 1;
    return { judged, chunks: this.chunks };
  }

  /**
   * Stops the threads: they claim nothing more and are terminated. Call it before the reader's
   * descriptor is closed (a thread still reading gets an error or stale bytes, never used).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, CONTROL.STOP, 1);
    for (const w of this.workers) void w.terminate();
  }

  /** How far chunk k's lines were judged sound, as an end offset; -1 when the reader reads it itself. */
  private settle(k: number): number {
    const c = this.control;
    // Nobody has claimed k yet: the reader takes it, and reads it with its full checks.
    if (k >= this.chunks) return -1;
    if (!this.readerWaits && Atomics.compareExchange(c, CONTROL.NEXT, k, k + 1) === k) return -1;
    let waited = 0;
    for (;;) {
      // Judged: the lines before the first unsound one (all of them, if none is) are sound.
      if (Atomics.load(c, CONTROL.STATUS + k) !== VERDICT.PENDING)
        return this.plan.from + k * this.plan.chunkBytes + Atomics.load(c, CONTROL.STATUS + this.chunks + k);
      // While a thread judges k, judge a later chunk rather than wait.
      const next = this.readerWaits ? this.chunks : Atomics.add(c, CONTROL.NEXT, 1);
      if (next < this.chunks) {
        judgeChunk(this.fd, this.plan, c, next, this.scratch);
        continue;
      }
      if (Atomics.wait(c, CONTROL.STATUS + k, VERDICT.PENDING, WAIT_SLICE_MS) === 'timed-out') {
        waited += WAIT_SLICE_MS;
        if (waited >= STALL_MS) return -1;
      }
    }
  }
}
