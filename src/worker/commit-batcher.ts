/**
 * Coalesces the commands a worker's slots issue at about the same time into one group commit
 * (one write, one fdatasync), each command still accepted or refused on its own. While a commit
 * is in flight, new commands queue for the next one.
 */
import type { Command } from '../core/commands.js';
import type { EachResult, Plane } from '../plane.js';

interface Pending {
  readonly command: Command;
  readonly resolve: (r: EachResult) => void;
  readonly reject: (e: unknown) => void;
}

export class CommitBatcher {
  private pending: Pending[] = [];
  private flushing = false;

  constructor(private readonly plane: Plane) {}

  submit(command: Command): Promise<EachResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ command, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const { results } = await this.plane.submitEach(batch.map((p) => p.command));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = false;
  }
}
