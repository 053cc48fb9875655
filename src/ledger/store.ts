/**
 * The file ledger store: `jobs.jsonl` and the PlaneState folded from it.
 *
 * Guarantees (docs/spec.md §2), each relied on elsewhere:
 *   S1. Every append runs under the plane's exclusive lock, after catching up on lines other
 *       processes appended, so commands are decided against the current state.
 *   S2. A batch is all-or-nothing as far as decisions go: every event is sealed, schema-checked
 *       and accepted by the job machine before one write; a refusal leaves the file
 *       byte-identical and the state as it was. (A crash during the write itself can leave a
 *       prefix of the batch on disk — complete lines, never acknowledged — plus a torn tail.)
 *   S3. `fdatasync` before an append is reported: an acknowledged event survives a crash.
 *   S4. A torn tail (bytes after the last `\n` that can be an interrupted append: shorter than
 *       a line may be, starting with `{`) is reported by readers and, by the next append, moved
 *       to `jobs.jsonl.torn-<offset>` before the file is truncated back — never silently dropped.
 *       Other bytes after the last `\n` are corruption (S5).
 *   S5. Any complete line that fails parse, seq, prev, hash, schema or the machine is corruption:
 *       reading stops there naming the line, and nothing is ever appended after it.
 *   S6. Catching up costs O(new lines): the store remembers the offset it has folded up to.
 *       A long catch-up (a replay from line 1) has worker threads check the lines' own content
 *       ahead of the fold (verify-pool.ts); what is reported stays the same as without them.
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import type { MachineEngine } from '../../machines/job.types.js';
import { PlaneState } from '../core/plane-state.js';
import { LedgerCorruptError, RefusedError } from '../errors.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { eventSchemaProblems } from '../schema/validate.js';
import { systemClock, toTsUtc, type Clock } from '../time.js';
import type { EventBody } from '../core/commands.js';
import { chainProblem, isTornWrite, MAX_LINE_BYTES, sealEvent } from './line.js';
import type { EndedRegion } from './checkpoint/ended-region.js';
import { AppendLock } from './lock.js';
import type { PlanePaths } from './paths.js';
import { scanLines, type TornTail } from './scan.js';
import { VerifyPool, verifyThreads, type VerifyOptions } from './verify-pool.js';

export interface TornTailMoved {
  readonly path: string;
  readonly bytes: number;
}

export interface CommitReport<T> {
  readonly value: T;
  readonly events: readonly LedgerEvent[];
  readonly tornTailMoved: TornTailMoved | null;
}

/** Seals one body into the batch being decided; throws RefusedError if the machine refuses it. */
export type Sealer = (body: EventBody) => LedgerEvent;

export interface FoldPosition {
  /** Bytes of complete lines folded. */
  offset: number;
  /** Complete lines folded (the 1-based number of the last one). */
  lines: number;
}

export interface LedgerStoreOptions {
  /** The ledger file. */
  readonly ledgerPath: string;
  /** The plane's files; absent, the store is read-only (`--ledger FILE`). */
  readonly paths?: PlanePaths;
  readonly clock?: Clock;
  /** Where to start instead of line 1: a verified checkpoint (checkpoint/checkpoint.ts). */
  readonly start?: {
    readonly state: PlaneState;
    readonly position: FoldPosition;
    /** The contexts of the ended jobs it restored by their state alone; the store closes it. */
    readonly ended?: EndedRegion | undefined;
  };
  /**
   * How `commit` runs the job machine to decide: XState's own pure transition unless told
   * otherwise (docs/spec.md §4; `writeEngine`).
   */
  readonly engine?: MachineEngine;
  /** Worker threads checking a long catch-up's lines ahead of it (verify-pool.ts). */
  readonly verify?: VerifyOptions;
}

export class LedgerStore {
  readonly ledgerPath: string;
  readonly paths: PlanePaths | undefined;
  readonly state: PlaneState;
  readonly position: FoldPosition;
  /** The partial last line seen by the latest read, if any. */
  torn: TornTail | null = null;
  /** Lines folded whose own checks a verify thread made (verify-pool.ts): for tests and diagnostics. */
  linesVerifiedAhead = 0;
  private readonly lock: AppendLock;
  private writeFd: number | undefined;
  private readFd: number | undefined;
  /** Reused by readEventAt (a worker reads one enqueue line per job it runs). */
  private readBuf = Buffer.alloc(0);
  /** How long catch-ups use worker threads (threads resolved at construction: a bad setting fails the open). */
  private readonly verify: VerifyOptions;
  private readonly clock: Clock;
  private readonly engine: MachineEngine | undefined;
  /** The checkpoint's ended region while some of its jobs are not loaded (C2 of checkpoint.ts). */
  private ended: EndedRegion | undefined;

  constructor(options: LedgerStoreOptions) {
    this.ledgerPath = options.ledgerPath;
    this.paths = options.paths;
    this.clock = options.clock ?? systemClock;
    this.engine = options.engine;
    this.verify = { ...options.verify, threads: verifyThreads(options.verify?.threads) };
    this.state = options.start?.state ?? new PlaneState();
    this.position = options.start?.position ?? { offset: 0, lines: 0 };
    this.ended = options.start?.ended;
    this.lock = new AppendLock(this.paths?.lock ?? `${this.ledgerPath}.lock`);
  }

  /**
   * Reads the contexts of the ended jobs `ids` names that the checkpoint restored by their state
   * alone (all of them when `ids` is absent), and hands them to the state (P4 of
   * src/core/plane-state.ts). Throws CheckpointDamagedError when the ended region fails its check.
   */
  loadEnded(ids?: Iterable<string>): void {
    const unloaded = this.state.unloaded();
    if (unloaded.size === 0 || !this.ended) return;
    for (const id of ids ?? [...unloaded.keys()]) {
      const stub = unloaded.get(id);
      if (!stub) continue;
      const { job, enqueueOffset } = this.ended.job(stub.ref, stub.value);
      this.state.loadEnded(id, job, enqueueOffset);
    }
    if (unloaded.size === 0) this.dropEnded();
  }

  /** The ended region, for a checkpoint written from this state (checkpoint.ts). */
  get endedRegion(): EndedRegion | undefined {
    return this.ended;
  }
  /**
   * Folds complete lines appended since the last call (no lock needed: readers see a prefix of
   * complete lines). Stops after `untilSeq` when given. Throws LedgerCorruptError.
   */
  catchUp(untilSeq = Infinity, onEvent?: (ev: LedgerEvent, line: number) => void): void {
    const fd = this.writeFd ?? this.openRead();
    if (fd === undefined) return;
    const size = fstatSync(fd).size;
    if (size < this.position.offset) {
      throw new LedgerCorruptError(
        this.position.lines,
        'the file is shorter than what was already read from it',
        this.name,
      );
    }
    if (this.state.head.seq >= untilSeq) return;
    if (size === this.position.offset) {
      this.torn = null; // nothing new: the usual case for a writer that just took the lock
      return;
    }
    const pool = VerifyPool.start(fd, this.position.offset, size, this.verify);
    let scanned: ReturnType<typeof scanLines>;
    try {
      scanned = scanLines(
        fd,
        this.position.offset,
        (line) => {
          const lineNo = this.position.lines + 1;
          const ev = pool?.isSound(line.start, line.end)
            ? this.soundLine(line.text, lineNo, line.notUtf8)
            : this.verifyLine(line.text, lineNo, line.notUtf8);
          const refusal = this.state.evolve(ev, { offset: line.start });
          if (refusal)
            throw new LedgerCorruptError(
              lineNo,
              `illegal transition (${refusal.code}): ${refusal.message}`,
              this.name,
            );
          this.position.offset = line.end;
          this.position.lines = lineNo;
          onEvent?.(ev, lineNo);
          return ev.seq < untilSeq;
        },
        Infinity,
        size,
      );
    } finally {
      pool?.close();
    }
    const { torn, stoppedEarly } = scanned;
    if (torn && !stoppedEarly && !isTornWrite(torn)) {
      throw new LedgerCorruptError(
        this.position.lines + 1,
        `the file ends with ${torn.bytes} byte(s) without a newline that cannot be an interrupted append ` +
          '(too long for one line, or not starting with "{")',
        this.name,
      );
    }
    this.torn = stoppedEarly ? null : torn;
  }

  /**
   * S1–S4: under the lock, catch up, let `decideBatch` seal events at one commit time, then
   * move a torn tail aside and write them with one write and one fdatasync.
   */
  async commit<T>(decideBatch: (tsMs: number, seal: Sealer) => T): Promise<CommitReport<T>> {
    if (!this.paths) throw new Error('this ledger was opened read-only (--ledger); writes need --home');
    const paths = this.paths;
    if (this.writeFd === undefined) mkdirSync(paths.home, { recursive: true });
    const engine = this.engine ?? (await writeEngine());
    return this.lock.with(() => {
      const fd = this.openWrite();
      this.catchUp();
      let tornTailMoved: TornTailMoved | null = null;
      const tsMs = Math.max(this.clock.nowMs(), this.state.head.tsMs);
      const tsUtc = toTsUtc(tsMs);
      const events: LedgerEvent[] = [];
      const texts: string[] = [];
      let batchBytes = 0;
      const seal: Sealer = (body) => {
        const { seq, hash } = this.state.head;
        const { event, text } = sealEvent(body, seq + 1, tsUtc, hash);
        const problems = eventSchemaProblems(event);
        if (problems.length) {
          throw new RefusedError(
            'E_EVENT_SCHEMA',
            `${body.event} event is invalid: ${problems.join('; ')}`,
            body.job_id,
          );
        }
        const refusal = this.state.evolve(event, { engine, offset: this.position.offset + batchBytes });
        if (refusal) throw new RefusedError(refusal.code, refusal.message, body.job_id, refusal.jobState);
        events.push(event);
        texts.push(text);
        batchBytes += Buffer.byteLength(text);
        return event;
      };
      let value: T;
      // S2: everything the batch folds is undone whole if it is refused or its write fails.
      this.state.mark();
      try {
        value = decideBatch(tsMs, seal);
        if (texts.length > 0) {
          // Only an append moves a torn tail aside: a refusal or a no-op leaves the file as it was (S2).
          if (this.torn) tornTailMoved = this.moveTornTailAside(fd, this.torn);
          const buf = Buffer.from(texts.join(''));
          try {
            writeAll(fd, buf);
            fdatasyncSync(fd);
          } catch (err) {
            // Our own unacknowledged partial write: take it back so the file ends on a line.
            ftruncateSync(fd, this.position.offset);
            throw err;
          }
          this.position.offset += buf.length;
          this.position.lines += texts.length;
        }
      } catch (err) {
        this.state.rollback();
        throw err;
      }
      this.state.release();
      return { value, events, tornTailMoved };
    });
  }

  /** The event on the complete line that starts at `offset` (e.g. a job's enqueue line). */
  readEventAt(offset: number): LedgerEvent {
    const fd = this.writeFd ?? this.openRead();
    if (fd === undefined) throw new Error(`${this.name} does not exist`);
    // Most lines are under 4 KiB: read that much first, the whole line limit only if needed.
    for (const len of [Math.min(4096, MAX_LINE_BYTES), MAX_LINE_BYTES]) {
      if (this.readBuf.length < len) this.readBuf = Buffer.allocUnsafe(len);
      const n = readSync(fd, this.readBuf, 0, len, offset);
      const nl = this.readBuf.subarray(0, n).indexOf(10);
      if (nl >= 0) return JSON.parse(this.readBuf.toString('utf8', 0, nl)) as LedgerEvent;
      if (n < len) break;
    }
    throw new LedgerCorruptError(0, `no complete line at byte offset ${offset}`, this.name);
  }

  close(): void {
    this.dropEnded();
    for (const fd of [this.writeFd, this.readFd]) if (fd !== undefined) closeSync(fd);
    this.writeFd = this.readFd = undefined;
    this.lock.close();
  }

  private dropEnded(): void {
    this.ended?.close();
    this.ended = undefined;
  }

  private get name(): string {
    return basename(this.ledgerPath);
  }

  /** A line a verify thread found sound: what is left to check is its link to the line before. */
  private soundLine(text: string, lineNo: number, notUtf8: boolean): LedgerEvent {
    // Bytes that are not what was judged (only a writer taking back its own failed write can do
    // that): the full checks say exactly what they are.
    if (notUtf8) return this.verifyLine(text, lineNo, notUtf8);
    let ev: LedgerEvent;
    try {
      ev = JSON.parse(text) as LedgerEvent;
    } catch {
      return this.verifyLine(text, lineNo);
    }
    const head = this.state.head;
    if (ev.seq !== head.seq + 1 || ev.prev !== head.hash) return this.verifyLine(text, lineNo);
    this.linesVerifiedAhead += 1;
    return ev;
  }

  private verifyLine(text: string, lineNo: number, notUtf8 = false): LedgerEvent {
    if (notUtf8) throw new LedgerCorruptError(lineNo, 'not valid UTF-8', this.name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new LedgerCorruptError(lineNo, 'not valid JSON', this.name);
    }
    const head = this.state.head;
    const problem = chainProblem(text, parsed, head.seq + 1, head.hash);
    if (problem) throw new LedgerCorruptError(lineNo, problem, this.name);
    const schema = eventSchemaProblems(parsed);
    if (schema.length)
      throw new LedgerCorruptError(lineNo, `does not match its schema: ${schema.join('; ')}`, this.name);
    return parsed as LedgerEvent;
  }

  private moveTornTailAside(fd: number, torn: TornTail): TornTailMoved {
    const bytes = Buffer.alloc(torn.bytes);
    readSync(fd, bytes, 0, torn.bytes, torn.offset);
    let path = `${this.ledgerPath}.torn-${torn.offset}`;
    for (let n = 2; existsSync(path); n++) path = `${this.ledgerPath}.torn-${torn.offset}-${n}`;
    writeFileSync(path, bytes, { flush: true });
    fsyncDir(dirname(path)); // the copy's name is durable before the original bytes go
    ftruncateSync(fd, torn.offset);
    fdatasyncSync(fd);
    this.torn = null;
    return { path, bytes: torn.bytes };
  }

  private openRead(): number | undefined {
    if (this.readFd === undefined) {
      if (!existsSync(this.ledgerPath)) return undefined;
      this.readFd = openSync(this.ledgerPath, 'r');
    }
    return this.readFd;
  }

  private openWrite(): number {
    if (this.writeFd === undefined) {
      const created = !existsSync(this.ledgerPath);
      this.writeFd = openSync(this.ledgerPath, 'a+');
      // A new file's directory entry is not made durable by fdatasync of the file itself.
      if (created) fsyncDir(dirname(this.ledgerPath));
    }
    return this.writeFd;
  }
}

let xstate: Promise<MachineEngine> | undefined;

/**
 * The write path's default engine: XState's own pure `initialTransition` / `transition` on the job
 * machine (docs/spec.md §4), loaded on a process's first commit — so `head`, `replay`, `show` and
 * `audit`, which fold with the compiled table and never write, never load XState
 * (docs/decisions.md, "Startup").
 */
function writeEngine(): Promise<MachineEngine> {
  return (xstate ??= import('../../machines/job.machine.js').then((m) => m.xstateEngine));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
}
