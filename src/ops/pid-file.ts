/**
 * Pid files that cannot lie: `work --daemon --pid-file FILE` and every worker's entry under
 * `<home>/workers/` (registry.ts) are files a live process holds an exclusive OFD lock on
 * (fs-native-extensions, as the append lock), recording its pid and start time (proc.ts). The
 * paths a user names (`--pid-file`, `--log-file`) are checked first by `checkOwnFilePath`.
 *
 * H1. A file is live only while its holder lives: the kernel drops the lock when the process
 *     dies, `kill -9` included, so a file nobody holds is stale whatever it says.
 * H2. A live file's record is trusted only if its pid still has its start time (I1 of proc.ts)
 *     and that process is the one holding the lock (its /proc/PID/fdinfo lists it): `stop`
 *     signals nothing on a stale file, a mismatch, another holder, or a file it cannot read.
 * H3. One holder at a time: holding a file that another live process holds is refused
 *     (E_PID_FILE_HELD), before anything in it changes.
 * H4. The lock's descriptor is never inherited (Node opens files O_CLOEXEC), so a job's
 *     process cannot keep a dead worker's file alive.
 * H5. A lock counts only on the file the path names: a holder that got its lock on a file since
 *     unlinked (a stale file removed by `stop`, a holder's release, an operator's `rm`) drops it
 *     and opens the path again, and nobody removes a path that no longer names the file it locked.
 * H6. Only a pid file is ever changed or removed: a regular file, reached without following a
 *     symbolic link, that is empty or holds a pid record (pid, start_ticks, started_at_utc).
 *     Anything else — a ledger, a config, garbage, a FIFO, a device — is `unverified` to an
 *     inspector (never `stale`, never removed) and refused by a holder (E_PID_FILE, exit 2).
 *     Nothing here blocks on what a path names: files are opened O_NONBLOCK and fstat'ed first.
 * H7. Inspecting needs only read access: whether anyone holds a file is tested with a shared lock
 *     on a read-only descriptor, which can be taken exactly while nobody holds the exclusive one
 *     (a monitoring user, a read-only mount). Only removing a stale file needs write access.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { constants } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { RefusedError, UsageError } from '../errors.js';
import { planePaths, realPathSoFar } from '../ledger/paths.js';
import { lockApi } from '../lazy-deps.js';
import { hasEnded, holdsWriteLock, selfIdentity, type ProcessIdentity } from './proc.js';

/** What a held file records: its holder's identity, when it started, and the holder's own facts. */
export interface PidRecord extends ProcessIdentity {
  readonly started_at_utc: string;
  readonly [key: string]: unknown;
}

export type PidFileStatus =
  | { readonly kind: 'absent' }
  /** Nobody holds it (H1) and it holds a pid record (H6): its holder is gone. */
  | { readonly kind: 'stale'; readonly record: PidRecord }
  /** Held, and its pid still has its start time (H2). */
  | { readonly kind: 'live'; readonly record: PidRecord }
  /** Not a pid file (H6), or held but its record cannot be trusted (H2). */
  | {
      readonly kind: 'unverified';
      readonly why: string;
      readonly record?: PidRecord;
      /**
       * Held, its pid alive with its start time, but whether that pid is the holder cannot be
       * seen (another user's /proc/PID/fd): live as far as a reader without privilege can tell.
       */
      readonly holderUnseen?: true;
    };

/** The fields a record vouches for; a holder's facts never override them (H2). */
const IDENTITY_KEYS: ReadonlySet<string> = new Set(['pid', 'start_ticks', 'started_at_utc']);
/** A pid record is a line of JSON; anything longer is not one (and is not read to its end). */
const MAX_RECORD_BYTES = 64 * 1024;
/** Node's fs constants; O_NOFOLLOW and O_NONBLOCK exist on Linux, the only platform ops runs on. */
const { O_RDONLY, O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;

/** A pid file this process holds; `release` on a clean exit (a crash leaves it stale, H1). */
export class HeldPidFile {
  #fd: number | undefined;
  #record: PidRecord;

  constructor(
    readonly path: string,
    fd: number,
    record: PidRecord,
  ) {
    this.#fd = fd;
    this.#record = record;
  }

  get record(): PidRecord {
    return this.#record;
  }

  /**
   * Rewrites the record in place with `facts` in place of the holder's facts, the identity kept
   * (H2); the lock is not let go meanwhile. Not fsynced: a crash leaves the file stale whatever it
   * says (H1). After `release`, does nothing.
   */
  update(facts: Record<string, unknown>): void {
    if (this.#fd === undefined) return;
    const record = pidRecord(this.#record, facts);
    ftruncateSync(this.#fd, 0);
    writeSync(this.#fd, `${JSON.stringify(record)}\n`, 0);
    this.#record = record;
  }

  /** Removes the file (if the path still names it, H5), then lets go of it. */
  release(): void {
    if (this.#fd === undefined) return;
    if (namesFile(this.path, this.#fd)) rmSync(this.path, { force: true });
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * Takes `path` for this process, recording `facts` after its identity (H3). Refused (E_PID_FILE,
 * exit 2) when `path` is not a pid file (H6) or lies on a kernel filesystem (checkOwnFilePath).
 */
export function holdPidFile(path: string, facts: Record<string, unknown> = {}): HeldPidFile {
  refuseKernelFs(path, 'the pid file', 'E_PID_FILE');
  mkdirSync(dirname(path), { recursive: true });
  const fd = openLocked(path);
  const record = pidRecord({ ...selfIdentity(), started_at_utc: new Date().toISOString() }, facts);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(record)}\n`, 0);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return new HeldPidFile(path, fd, record);
}

/** What `path` says about its holder (H1, H2, H6, H7); never throws, never blocks. */
export function inspectPidFile(path: string): PidFileStatus {
  const opened = openChecked(path, O_RDONLY);
  if (typeof opened !== 'number') return opened;
  const fd = opened;
  try {
    let record = readRecord(fd);
    const held = isHeld(fd);
    if (typeof held === 'string') return { kind: 'unverified', why: held, ...(record ? { record } : {}) };
    if (!held)
      return record
        ? { kind: 'stale', record }
        : { kind: 'unverified', why: 'nobody holds it and it records no pid and start time: not a pid file' };
    // A holder rewriting its record (HeldPidFile.update) leaves it empty for a moment.
    for (let i = 0; !record && i < 3; i++) {
      pause(5);
      record = readRecord(fd);
    }
    if (!record) return { kind: 'unverified', why: 'held, but it records no pid and start time' };
    if (hasEnded(record))
      return {
        kind: 'unverified',
        why: `held, but pid ${record.pid} is not the process that wrote it`,
        record,
      };
    const holds = holdsWriteLock(record.pid, fstatSync(fd));
    if (holds !== true)
      return {
        kind: 'unverified',
        why:
          holds === false
            ? `held by another process, not by pid ${record.pid} that it records`
            : `held, but whether pid ${record.pid} is its holder cannot be seen (its /proc entry is not readable)`,
        record,
        ...(holds === undefined ? { holderUnseen: true as const } : {}),
      };
    return { kind: 'live', record };
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes `path` if it is stale (H1, H6), under its lock, so that a holder starting at that
 * moment cannot be left holding an unlinked file (H5); returns whether it removed it.
 */
export function removeStalePidFile(path: string): boolean {
  const fd = openChecked(path, O_RDWR);
  if (typeof fd !== 'number') return false;
  try {
    if (!lockApi().tryLock(fd) || !namesFile(path, fd) || !readRecord(fd)) return false;
    rmSync(path, { force: true });
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd); // drops the lock
  }
}

/**
 * `--pid-file` and `--log-file` as given by a user (`flag`), resolved, or a UsageError (exit 2,
 * `code`) when they name what they must never change (H6): a file of the plane at `home`
 * (jobs.jsonl, jobs.lock, checkpoint.json, config.json, KILL_SWITCH, anything under evidence/),
 * a symbolic link, a file with other names (hard links), something that is not a regular file, or
 * a path under /proc, /sys or /dev.
 */
export function checkOwnFilePath(path: string, o: { flag: string; code: string; home: string }): string {
  const abs = resolve(path);
  const what = `${o.flag} ${abs}`;
  refuseKernelFs(abs, what, o.code);
  const p = planePaths(o.home);
  const real = realPathSoFar(abs);
  const planeFiles = [p.ledger, p.lock, p.checkpoint, p.config, p.killSwitch].map(realPathSoFar);
  const evidence = realPathSoFar(p.evidence);
  let st: Stats | undefined;
  try {
    st = lstatSync(abs);
  } catch {
    // Not there (yet): the plane-file and kernel checks are all there is to do.
  }
  const sameFile = (f: string) => {
    try {
      const other = statSync(f);
      return st !== undefined && other.ino === st.ino && other.dev === st.dev;
    } catch {
      return false;
    }
  };
  if (
    planeFiles.includes(real) ||
    real === evidence ||
    real.startsWith(evidence + sep) ||
    planeFiles.some(sameFile)
  )
    throw new UsageError(
      o.code,
      `${what} is a file of the plane at ${p.home}, not ${o.flag === '--log-file' ? 'a log' : 'a pid file'}; give a path of its own`,
    );
  if (st?.isSymbolicLink())
    throw new UsageError(o.code, `${what} is a symbolic link; give the path of the file itself`);
  if (st && !st.isFile())
    throw new UsageError(o.code, `${what} is not a regular file; give the path of a file`);
  if (st && st.nlink > 1)
    throw new UsageError(
      o.code,
      `${what} has ${st.nlink} names (hard links): it may be another file's; give a file of its own`,
    );
  return abs;
}

/**
 * Refuses (E_PID_FILE, exit 2) a `path` that exists, is not empty and holds no pid record: what a
 * holder would refuse at once (H6), said before a worker prepares anything.
 */
export function assertPidFileOrAbsent(path: string): void {
  const fd = openChecked(path, O_RDONLY);
  if (typeof fd !== 'number') {
    if (fd.kind === 'unverified' && !fd.why.startsWith('cannot open'))
      throw new UsageError('E_PID_FILE', `${path}: ${fd.why}`);
    return;
  }
  try {
    if (fstatSync(fd).size > 0 && !readRecord(fd)) throw notAPidFile(path);
  } finally {
    closeSync(fd);
  }
}

const notAPidFile = (path: string) =>
  new UsageError(
    'E_PID_FILE',
    `${path} exists and is not a pid file (it records no pid, start_ticks and started_at_utc); give a path of its own, or remove the file if it is yours`,
  );

/** /proc, /sys and /dev hold no pid files or logs (and mkdir there can spin forever in Node). */
function refuseKernelFs(path: string, what: string, code: string): void {
  const real = realPathSoFar(path);
  for (const root of ['/proc', '/sys', '/dev'])
    if (real === root || real.startsWith(root + sep))
      throw new UsageError(code, `${what} lies under ${root}; give a path on a real filesystem`);
}

/**
 * Opens `path` without following a symlink or blocking (H6), and only if it is a regular file;
 * otherwise the status to report.
 */
function openChecked(
  path: string,
  flags: number,
): number | Exclude<PidFileStatus, { kind: 'live' | 'stale' }> {
  let fd: number;
  try {
    fd = openSync(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'ELOOP') return { kind: 'unverified', why: 'a symbolic link, which a pid file never is' };
    return { kind: 'unverified', why: `cannot open it (${code})` };
  }
  let regular = false;
  try {
    regular = fstatSync(fd).isFile();
  } catch {
    // unreadable metadata: treated as not a pid file
  }
  if (regular) return fd;
  closeSync(fd);
  return { kind: 'unverified', why: 'not a regular file, which a pid file always is' };
}

/** Whether anyone holds the exclusive lock (H7), or why that cannot be tested. */
function isHeld(fd: number): boolean | string {
  const fsx = lockApi();
  try {
    if (!fsx.tryLock(fd, { shared: true })) return true;
    fsx.unlock(fd);
    return false;
  } catch (err) {
    return `whether anyone holds it cannot be tested (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** Opens `path` (creating it) and takes its lock (H3), on the file the path names (H5), if it is a pid file (H6). */
function openLocked(path: string): number {
  for (let tries = 0; ; tries++) {
    let fd: number;
    try {
      fd = openSync(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP')
        throw new UsageError('E_PID_FILE', `${path} is a symbolic link; give the path of a pid file itself`);
      throw err;
    }
    const refusal = fstatSync(fd).isFile()
      ? undefined
      : `${path} is not a regular file; give the path of a pid file`;
    if (refusal) {
      closeSync(fd);
      throw new UsageError('E_PID_FILE', refusal);
    }
    if (!tryLockBriefly(fd)) {
      closeSync(fd);
      const held = inspectPidFile(path);
      const who = held.kind === 'live' ? ` (pid ${held.record.pid})` : '';
      throw new RefusedError(
        'E_PID_FILE_HELD',
        `${path} is held by a live process${who}; stop it first (execplane stop --pid-file ${path}) or use another file`,
      );
    }
    if (!namesFile(path, fd)) {
      closeSync(fd); // H5: it was unlinked while we waited for its lock
      if (tries >= 10) throw new RefusedError('E_PID_FILE_HELD', `${path} keeps being replaced; try again`);
      continue;
    }
    if (fstatSync(fd).size > 0 && !readRecord(fd)) {
      closeSync(fd);
      throw notAPidFile(path);
    }
    return fd;
  }
}

/** Whether `path` still names the file open as `fd` (H5). */
function namesFile(path: string, fd: number): boolean {
  try {
    const a = fstatSync(fd);
    const b = lstatSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * An inspector (`status`, `stop`) tests a file by taking a lock on it for a moment (H7): a holder
 * starting just then tries a few times over ~50 ms before it calls the file held.
 */
function tryLockBriefly(fd: number): boolean {
  const fsx = lockApi();
  for (let i = 0; i < 5; i++) {
    if (fsx.tryLock(fd)) return true;
    pause(10);
  }
  return false;
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The identity, then the holder's facts without any key that would override it (H2). */
function pidRecord(identity: PidRecord, facts: Record<string, unknown>): PidRecord {
  const record: Record<string, unknown> = {
    pid: identity.pid,
    start_ticks: identity.start_ticks,
    started_at_utc: identity.started_at_utc,
  };
  for (const [k, v] of Object.entries(facts)) if (!IDENTITY_KEYS.has(k)) record[k] = v;
  return record as PidRecord;
}

/** The record `fd` holds from its start, or undefined when it holds none (H6). */
function readRecord(fd: number): PidRecord | undefined {
  const buf = Buffer.alloc(MAX_RECORD_BYTES + 1);
  let n = 0;
  try {
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0;) n += r;
  } catch {
    return undefined;
  }
  return n > MAX_RECORD_BYTES ? undefined : parseRecord(buf.toString('utf8', 0, n));
}

function parseRecord(text: string): PidRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<PidRecord> | null;
    if (
      v !== null &&
      typeof v === 'object' &&
      Number.isSafeInteger(v.pid) &&
      (v.pid ?? 0) > 0 &&
      Number.isSafeInteger(v.start_ticks) &&
      typeof v.started_at_utc === 'string'
    )
      return v as PidRecord;
  } catch {
    // Not JSON: no record.
  }
  return undefined;
}
