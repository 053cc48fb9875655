/**
 * Coalesces the commands a worker's slots issue at about the same time into one group commit
 * (one write, one fdatasync), each command still accepted or refused on its own. While a commit
 * is in flight, new commands queue for the next one.
 *
 * B1. A commit that ends attempts (a `complete` or `fail`) also claims, in the same commit, what
 *     the worker's claim hook asks for (Plane.submitAndClaim): the slots those ends free are filled
 *     without a commit of their own. `claim()` asks for a claim with whatever is queued.
 * B2. The hook hears of every attempt claimed before any command of that commit is resolved, so
 *     the worker counts the new attempts' slots before it sees the old ones end.
 */
import type { Command } from '../core/commands.js';
import type { ClaimedAttempt, EachResult, Plane, StartRequest } from '../plane.js';

interface Pending {
  readonly command: Command;
  readonly resolve: (r: EachResult) => void;
  readonly reject: (e: unknown) => void;
}

/** How a batcher claims for its worker (B1, B2). */
export interface ClaimHook {
  /**
   * The claim to make with this commit, or undefined for none; `finishing`: the jobs whose
   * terminal command is in it (their slots are free once it commits).
   */
  request(finishing: ReadonlySet<string>): StartRequest | undefined;
  /** What the commit claimed (never empty). */
  claimed(attempts: readonly ClaimedAttempt[]): void;
}

export class CommitBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  /** Callers of claim() waiting for the next commit. */
  private claimWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly plane: Plane,
    private readonly hook?: ClaimHook,
  ) {}

  submit(command: Command): Promise<EachResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ command, resolve, reject });
      this.schedule();
    });
  }

  /** A claim with the next commit (B1); resolves once that commit is done (and the hook told). */
  claim(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.claimWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 || this.claimWaiters.length > 0) {
      const batch = this.pending;
      const waiters = this.claimWaiters;
      this.pending = [];
      this.claimWaiters = [];
      const finishing = new Set<string>();
      for (const { command } of batch)
        if (command.type === 'complete' || command.type === 'fail') finishing.add(command.job_id);
      let committed: Awaited<ReturnType<Plane['submitAndClaim']>> | undefined;
      try {
        const request =
          this.hook && (waiters.length > 0 || finishing.size > 0) ? this.hook.request(finishing) : undefined;
        if (batch.length > 0 || request)
          committed = await this.plane.submitAndClaim(
            batch.map((p) => p.command),
            request,
          );
      } catch (err) {
        for (const p of batch) p.reject(err);
        for (const w of waiters) w.reject(err);
        continue;
      }
      let told: unknown;
      try {
        if (committed && committed.attempts.length > 0) this.hook!.claimed(committed.attempts); // B2
      } catch (err) {
        told = err; // the commands were written all the same: only the claim's callers hear of it
      }
      batch.forEach((p, i) => p.resolve(committed!.results[i]!));
      for (const w of waiters)
        if (told === undefined) w.resolve();
        else w.reject(told);
    }
    this.flushing = false;
  }
}
