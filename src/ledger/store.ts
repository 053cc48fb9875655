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
 *   S7. The store writes to and reads from the file the ledger's path names, or not at all: every
 *       catch-up, every append once it holds the lock, and every append again after its
 *       fdatasync, check that the path still names the file the store holds open (device and
 *       inode). A ledger deleted, replaced or re-pointed under it stops the store with
 *       LedgerReplacedError; an append whose file was replaced before it was acknowledged is not
 *       acknowledged. The lock that orders writers is on the ledger file itself (lock.ts), so a
 *       deleted `jobs.lock` cannot let two of them in.
 *   S8. A writer's clock is the machine's: under the lock, before it stamps anything, a writer
 *       compares its clock with the kernel's (the lock file's mtime, lock.ts) and writes nothing
 *       when they differ by more than MAX_CLOCK_SKEW_MS (ClockSkewError). So one process whose
 *       clock is wrong cannot move the ledger's time, and with it expire live leases, or push
 *       claims and reaping into its future (docs/operations.md, "Time").
 *   S9. A store that started from a checkpoint does not append after lines it did not read:
 *       before its first append it checks that the bytes before the checkpoint are still the
 *       ones that were folded (D2 of prefix.ts), and refuses a ledger changed there.
 */
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import type { MachineEngine } from '../../machines/job.types.js';
import { PlaneState } from '../core/plane-state.js';
import {
  ClockSkewError,
  LedgerCorruptError,
  LedgerReplacedError,
  RefusedError,
  UsageError,
} from '../errors.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { eventSchemaProblems } from '../schema/validate.js';
import { systemClock, toTsUtc, type Clock } from '../time.js';
import type { EventBody } from '../core/commands.js';
import { chainProblem, isTornWrite, MAX_LINE_BYTES, sealEvent } from './line.js';
import type { EndedRegion } from './checkpoint/ended-region.js';
import { AppendLock } from './lock.js';
import type { PlanePaths } from './paths.js';
import { PrefixDigest, type PrefixSegment } from './prefix.js';
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
    /** The digest of the bytes before it, checked before the first append (S9, prefix.ts). */
    readonly prefix?: readonly PrefixSegment[];
  };
  /**
   * How `commit` runs the job machine to decide: XState's own transition unless told
   * otherwise (docs/spec.md §4; `writeEngine`).
   */
  readonly engine?: MachineEngine;
  /** Worker threads checking a long catch-up's lines ahead of it (verify-pool.ts). */
  readonly verify?: VerifyOptions;
  /**
   * The clock `clock` is checked against before each append (S8): by default, with the system
   * clock, the kernel's (lock.ts); none when another clock is injected and this is not (tests).
   */
  readonly referenceClock?: Clock | null;
}

/** How far a writer's clock may be from the machine's before it writes nothing (S8). */
export const MAX_CLOCK_SKEW_MS = 2_000;

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
  private readonly reference: Clock | undefined;
  /** The digest of every byte folded (S9, prefix.ts). */
  private readonly prefix: PrefixDigest;
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
    this.prefix = new PrefixDigest(options.start?.prefix);
    this.lock = new AppendLock(this.paths?.lock ?? `${this.ledgerPath}.lock`);
    const lock = this.lock;
    this.reference =
      options.referenceClock !== undefined
        ? (options.referenceClock ?? undefined)
        : options.clock === undefined || options.clock === systemClock
          ? { nowMs: () => lock.kernelNowMs() }
          : undefined;
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
   * S8: this process's clock, once it is shown to agree with the machine's (ClockSkewError when it
   * does not). Every append asks it under the lock; a worker asks it as it starts and before it
   * claims, so a worker with a wrong clock says so even when its clock finds nothing to claim.
   */
  checkClock(): number {
    const nowMs = this.clock.nowMs();
    const machineMs = this.reference?.nowMs();
    if (machineMs !== undefined && Math.abs(nowMs - machineMs) > MAX_CLOCK_SKEW_MS) {
      throw new ClockSkewError(nowMs, machineMs, MAX_CLOCK_SKEW_MS);
    }
    return nowMs;
  }

  /**
   * S9: checks the bytes before the checkpoint this store started from (once; a no-op for a fold
   * from line 1). Every append does it first; a worker does it at its start. It runs outside the
   * lock: the bytes before the store's position never change in an intact ledger.
   */
  checkPrefix(): void {
    if (!this.prefix.needsCheck) return;
    const fd = this.writeFd ?? this.openRead();
    if (fd === undefined) return;
    this.assertNotShorter(this.assertSameFile(fd).size);
    this.prefix.check(fd, this.position.offset, this.name, this.position.lines);
  }

  /** A file shorter than what was folded from it was truncated or replaced: corrupt. */
  private assertNotShorter(size: number): void {
    if (size < this.position.offset) {
      throw new LedgerCorruptError(
        this.position.lines,
        'the file is shorter than what was already read from it',
        this.name,
      );
    }
  }

  /** The digest of the bytes folded so far, for a checkpoint written at this position (prefix.ts). */
  get prefixSegments(): PrefixSegment[] {
    return this.prefix.at(this.position.offset);
  }
  /**
   * Folds complete lines appended since the last call (no lock needed: readers see a prefix of
   * complete lines). Stops after `untilSeq` when given. Throws LedgerCorruptError.
   */
  catchUp(untilSeq = Infinity, onEvent?: (ev: LedgerEvent, line: number, offset: number) => void): void {
    const fd = this.writeFd ?? this.openRead();
    if (fd === undefined) return;
    const size = this.assertSameFile(fd).size;
    this.assertNotShorter(size);
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
          if (line.oversized || line.end - line.start > MAX_LINE_BYTES) {
            // No writer writes such a line (line.ts), and the scan does not keep one in memory.
            throw new LedgerCorruptError(
              lineNo,
              `the line is ${line.end - line.start} bytes long, over the ${MAX_LINE_BYTES}-byte limit of a ledger line`,
              this.name,
            );
          }
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
          onEvent?.(ev, lineNo, line.start);
          return ev.seq < untilSeq;
        },
        MAX_LINE_BYTES,
        size,
        (bytes) => this.prefix.update(bytes),
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
    this.checkPrefix();
    return this.lock.with(
      () => this.openWrite(),
      () => {
        const fd = this.openWrite();
        this.catchUp(); // S7: checks the ledger's identity, now that the lock is held
        let tornTailMoved: TornTailMoved | null = null;
        const nowMs = this.checkClock(); // S8
        const tsMs = Math.max(nowMs, this.state.head.tsMs);
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
              // write(2) names no path; the operator needs the file's (docs/cli.md, E_IO).
              const e = err as NodeJS.ErrnoException;
              if (e && typeof e === 'object' && e.path === undefined) e.path = this.ledgerPath;
              throw err;
            }
            // S7: durable, and in the file the path names — or not acknowledged at all.
            this.assertSameFile(fd);
            this.prefix.update(buf);
            this.position.offset += buf.length;
            this.position.lines += texts.length;
          }
        } catch (err) {
          this.state.rollback();
          throw err;
        }
        this.state.release();
        return { value, events, tornTailMoved };
      },
    );
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

  /** S7: the path still names the file open as `fd`; its stats. */
  private assertSameFile(fd: number): { size: number } {
    const held = fstatSync(fd);
    let named: ReturnType<typeof statSync>;
    try {
      named = statSync(this.ledgerPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new LedgerReplacedError(this.name, `${this.ledgerPath} was deleted`);
    }
    this.assertHeld(held, named);
    return held;
  }

  /** S7: `named` (what the path names now) is the file `held`; LedgerReplacedError if not. */
  private assertHeld(held: { ino: number; dev: number }, named: { ino: number; dev: number }): void {
    if (named.ino !== held.ino || named.dev !== held.dev) {
      throw new LedgerReplacedError(
        this.name,
        `${this.ledgerPath} now names another file (inode ${named.ino}, not ${held.ino}): it was replaced, or its directory re-pointed`,
      );
    }
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
      this.readFd = openRegular(this.ledgerPath, constants.O_RDONLY);
    }
    return this.readFd;
  }

  private openWrite(): number {
    if (this.writeFd === undefined) {
      const created = !existsSync(this.ledgerPath);
      const fd = openRegular(this.ledgerPath, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
      if (this.readFd !== undefined) {
        // S7: the file folded so far must be the one written to, not whatever the path names now.
        try {
          this.assertHeld(fstatSync(this.readFd), fstatSync(fd));
        } catch (err) {
          closeSync(fd);
          throw err;
        }
      }
      this.writeFd = fd;
      // A new file's directory entry is not made durable by fdatasync of the file itself.
      if (created) fsyncDir(dirname(this.ledgerPath));
    }
    return this.writeFd;
  }
}

/**
 * Opens the ledger, refusing anything but a regular file: a FIFO or a device at the ledger's path
 * would block a reader forever or feed it without end. O_NONBLOCK keeps the open itself from
 * waiting on a FIFO; on a regular file it changes nothing.
 */
function openRegular(path: string, flags: number): number {
  const fd = openSync(path, flags | constants.O_NONBLOCK, 0o666);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new UsageError('E_INPUT', `${path} is not a regular file; a ledger is a plain file (jobs.jsonl)`);
  }
  return fd;
}

let xstate: Promise<MachineEngine> | undefined;

/**
 * The write path's default engine: XState's own transition on the job machine (`xstateEngine`,
 * docs/spec.md §4), loaded on a process's first commit — so `head`, `replay`, `show` and `audit`,
 * which fold with the compiled table and never write, never load XState
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
