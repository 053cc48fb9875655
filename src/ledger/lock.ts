/**
 * The plane's append lock: an exclusive open-file-description lock (fcntl F_OFD_SETLKW on
 * Linux, via fs-native-extensions) on `jobs.lock`. The kernel releases it when the process
 * dies, so a `kill -9` in the middle of an append never leaves a stale lock behind, and a paused
 * holder can never have its lock "broken" by a timeout while it still means to write.
 */
import { closeSync, openSync } from 'node:fs';
import { lockApi } from '../lazy-deps.js';

export class AppendLock {
  private fd: number | undefined;
  /** Serialises appends of this process: OFD locks are per open file, not per caller. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Runs `fn` holding the lock, after this process's earlier holders are done. */
  async with<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.fd ??= openSync(this.path, 'a+');
      // Uncontended, take it synchronously: waitForLock hops through libuv's thread pool, a wake-up
      // every append paid (docs/decisions.md, "The append lock is tried before it is waited for").
      const fsx = lockApi();
      if (!fsx.tryLock(this.fd)) await fsx.waitForLock(this.fd);
      try {
        return await fn();
      } finally {
        fsx.unlock(this.fd);
      }
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
