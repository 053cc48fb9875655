/**
 * Noticing what other processes append to a plane: fs.watch of the ledger's directory, with a
 * slow poll behind it for filesystems where fs.watch says nothing (network mounts, some
 * containers). Reading what changed is the caller's (Plane.refresh: O(new lines), S6 of store.ts).
 *
 * A1. A change is only a hint to look: a reader that looks and finds nothing new has lost nothing,
 *     so every look is a full catch-up and nothing depends on what fs.watch reported or missed.
 * A2. The lock file is not watched: every commit stamps it to read the kernel's clock (S8 of
 *     store.ts), and a process woken by its own stamps would loop.
 */
import { watch } from 'node:fs';

/** The slow poll behind fs.watch: a change fs.watch missed is seen within this long. */
export const DEFAULT_POLL_MS = 2_000;

export interface DirWatch {
  close(): void;
}

/**
 * Calls `onChange` when anything in `dir` but `lockName` changes (appends to the ledger, the kill
 * switch appearing). Where fs.watch cannot watch, or fails later, it stops quietly and the
 * caller's poll is all there is (A1).
 */
export function watchDir(dir: string, lockName: string, onChange: () => void): DirWatch {
  try {
    const watcher = watch(dir, { persistent: true }, (_event, file) => {
      if (file !== lockName) onChange(); // A2
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return { close: () => {} };
  }
}

/**
 * One directory watch and one poll timer shared by every subscriber of a plane (each waitFor):
 * started by the first, stopped when the last one leaves, so nothing keeps the process alive once
 * nobody waits. Bursts of fs.watch events (several per append) call `onTick` once.
 */
export class LedgerWatch {
  private readonly subscribers = new Set<() => void>();
  private dirWatch: DirWatch | undefined;
  private poll: NodeJS.Timeout | undefined;
  private scheduled = false;

  constructor(
    private readonly dir: string,
    private readonly lockName: string,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {}

  /** Calls `onTick` after each change (and each poll) until the returned function is called. */
  subscribe(onTick: () => void): () => void {
    this.subscribers.add(onTick);
    if (this.subscribers.size === 1) {
      this.dirWatch = watchDir(this.dir, this.lockName, () => this.schedule());
      this.poll = setInterval(() => this.schedule(), this.pollMs);
    }
    return () => {
      if (!this.subscribers.delete(onTick) || this.subscribers.size > 0) return;
      this.stop();
    };
  }

  /** Stops watching at once, whoever still subscribes. */
  stop(): void {
    this.subscribers.clear();
    this.dirWatch?.close();
    this.dirWatch = undefined;
    clearInterval(this.poll);
    this.poll = undefined;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const tick of [...this.subscribers]) tick();
    });
  }
}
