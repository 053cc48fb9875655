/**
 * The plane's append lock: exclusive open-file-description locks (fcntl F_OFD_SETLKW on Linux,
 * via fs-native-extensions) on `jobs.lock` and then on the ledger file itself. The kernel releases
 * them when the process dies, so a `kill -9` in the middle of an append never leaves a stale lock
 * behind, and a paused holder can never have its lock "broken" by a timeout while it still means
 * to write.
 *
 * The lock that excludes writers is the one on the ledger: a `jobs.lock` someone deleted (a
 * "stale lock file", to a tidy operator) makes new processes lock a new inode while an older one
 * still holds the old, and both would append. `jobs.lock` is still taken first, so that a writer
 * of an earlier version, which locks only it, is excluded too.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { lockApi } from '../lazy-deps.js';

/** The byte kernelNowMs writes: what the lock file holds means nothing. */
const STAMP = Buffer.from('\n');

export class AppendLock {
  private fd: number | undefined;
  /** Serialises appends of this process: OFD locks are per open file, not per caller. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /**
   * Runs `fn` holding the lock — `jobs.lock`, then the ledger, open as `ledgerFd` — after this
   * process's earlier holders are done.
   */
  async with<T>(ledgerFd: () => number, fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const fd = this.open();
      const fsx = lockApi();
      await take(fsx, fd);
      try {
        const ledger = ledgerFd();
        await take(fsx, ledger);
        try {
          return await fn();
        } finally {
          fsx.unlock(ledger);
        }
      } finally {
        fsx.unlock(fd);
      }
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * The machine's clock as the kernel keeps it, read without asking this process's own clock:
   * one byte written to the lock file (its content means nothing) stamps the file's mtime with
   * the kernel's time. A process whose `Date.now` is wrong (a fake, a
   * library that patched it) cannot change what this returns.
   */
  kernelNowMs(): number {
    const fd = this.open();
    writeSync(fd, STAMP, 0, 1, 0);
    return fstatSync(fd).mtimeMs;
  }

  private open(): number {
    // Not O_APPEND: kernelNowMs rewrites byte 0, and Linux appends every pwrite to an O_APPEND file.
    return (this.fd ??= openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o666));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Uncontended, a lock is taken synchronously: waitForLock hops through libuv's thread pool, a
 * wake-up every append paid (docs/decisions.md, "The append lock is tried before it is waited for").
 */
async function take(fsx: ReturnType<typeof lockApi>, fd: number): Promise<void> {
  if (!fsx.tryLock(fd)) await fsx.waitForLock(fd);
}
