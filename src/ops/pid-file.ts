/**
 * Pid files that cannot lie: `work --daemon --pid-file FILE` and every worker's entry under
 * `<home>/workers/` (registry.ts) are files a live process holds an exclusive OFD lock on
 * (fs-native-extensions, as the append lock), recording its pid and start time (proc.ts).
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
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { RefusedError } from '../errors.js';
import { lockApi } from '../lazy-deps.js';
import { holdsWriteLock, isSameProcess, selfIdentity, type ProcessIdentity } from './proc.js';

/** What a held file records: its holder's identity, when it started, and the holder's own facts. */
export interface PidRecord extends ProcessIdentity {
  readonly started_at_utc: string;
  readonly [key: string]: unknown;
}

export type PidFileStatus =
  | { readonly kind: 'absent' }
  /** Nobody holds it (H1): its holder is gone; `record` is what it left, if readable. */
  | { readonly kind: 'stale'; readonly record?: PidRecord }
  /** Held, and its pid still has its start time (H2). */
  | { readonly kind: 'live'; readonly record: PidRecord }
  /** Held, but the record cannot be trusted (unreadable, or its pid is not the one that wrote it). */
  | { readonly kind: 'unverified'; readonly why: string; readonly record?: PidRecord };

/** A pid file this process holds; `release` on a clean exit (a crash leaves it stale, H1). */
export class HeldPidFile {
  #fd: number | undefined;

  constructor(
    readonly path: string,
    fd: number,
    readonly record: PidRecord,
  ) {
    this.#fd = fd;
  }

  /** Removes the file (if the path still names it, H5), then lets go of it. */
  release(): void {
    if (this.#fd === undefined) return;
    if (namesFile(this.path, this.#fd)) rmSync(this.path, { force: true });
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** Takes `path` for this process, recording `facts` beside its identity (H3). */
export function holdPidFile(path: string, facts: Record<string, unknown> = {}): HeldPidFile {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openLocked(path);
  // The facts first: none of them may overwrite the identity the file vouches for (H2).
  const record: PidRecord = { ...facts, ...selfIdentity(), started_at_utc: new Date().toISOString() };
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

/** What `path` says about its holder (H1, H2); never throws for a missing or garbled file. */
export function inspectPidFile(path: string): PidFileStatus {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'unverified', why: `cannot open it (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const record = parseRecord(readFileSync(fd, 'utf8'));
    const fsx = lockApi();
    if (fsx.tryLock(fd)) {
      fsx.unlock(fd);
      return record ? { kind: 'stale', record } : { kind: 'stale' };
    }
    if (!record) return { kind: 'unverified', why: 'held, but it records no pid and start time' };
    if (!isSameProcess(record))
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
      };
    return { kind: 'live', record };
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes `path` if it is stale (H1), under its lock, so that a holder starting at that moment
 * cannot be left holding an unlinked file (H5); returns whether it removed it.
 */
export function removeStalePidFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR);
  } catch {
    return false;
  }
  try {
    if (!lockApi().tryLock(fd) || !namesFile(path, fd)) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    closeSync(fd); // drops the lock
  }
}

/** Opens `path` and takes its lock (H3), on the file the path names (H5). */
function openLocked(path: string): number {
  for (let tries = 0; ; tries++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    if (!tryLockBriefly(fd)) {
      closeSync(fd);
      const held = inspectPidFile(path);
      const who = held.kind === 'live' ? ` (pid ${held.record.pid})` : '';
      throw new RefusedError(
        'E_PID_FILE_HELD',
        `${path} is held by a live process${who}; stop it first (execplane stop --pid-file ${path}) or use another file`,
      );
    }
    if (namesFile(path, fd)) return fd;
    closeSync(fd); // H5: it was unlinked while we waited for its lock
    if (tries >= 10) throw new RefusedError('E_PID_FILE_HELD', `${path} keeps being replaced; try again`);
  }
}

/** Whether `path` still names the file open as `fd` (H5). */
function namesFile(path: string, fd: number): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * An inspector (`status`, `stop`) tests a file by taking its lock for a moment: a holder starting
 * just then tries a few times over ~50 ms before it calls the file held.
 */
function tryLockBriefly(fd: number): boolean {
  const fsx = lockApi();
  for (let i = 0; i < 5; i++) {
    if (fsx.tryLock(fd)) return true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  return false;
}

function parseRecord(text: string): PidRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<PidRecord> | null;
    if (
      v !== null &&
      typeof v === 'object' &&
      Number.isSafeInteger(v.pid) &&
      Number.isSafeInteger(v.start_ticks) &&
      typeof v.started_at_utc === 'string'
    )
      return v as PidRecord;
  } catch {
    // Not JSON: treated as no record.
  }
  return undefined;
}
