/**
 * The queued jobs in claim order (docs/spec.md §3: highest priority first, then oldest enqueue
 * seq), kept up to date as jobs enter and leave `queued`, so choosing a claim looks at the few
 * best candidates instead of scanning the whole queue on every worker wake-up (docs/decisions.md,
 * "Claim order kept as an index").
 *
 * Q1. `inClaimOrder()` yields every queued job exactly once, by priority descending, then
 *     enqueued_seq ascending (docs/spec.md §3's claim order; never by id).
 * Q2. `retried()` holds every queued job whose not_before_unix is set (only a retry sets it), so
 *     the jobs that may be backing off are found without the rest.
 */
import type { JobContext } from '../../machines/job.types.js';

interface Bucket {
  /** Job ids in insertion order; in enqueued_seq order while `sorted`. */
  ids: Set<string>;
  lastSeq: number;
  sorted: boolean;
}

export class QueuedIndex {
  private readonly buckets = new Map<number, Bucket>();
  private priorities: number[] | null = null;
  private readonly backoff = new Set<string>();

  add(ctx: JobContext): void {
    let b = this.buckets.get(ctx.priority);
    if (!b) {
      this.buckets.set(ctx.priority, (b = { ids: new Set(), lastSeq: 0, sorted: true }));
      this.priorities = null;
    }
    // A retried job re-enters behind newer ones: the bucket is re-sorted when next read.
    if (ctx.enqueued_seq < b.lastSeq) b.sorted = false;
    else b.lastSeq = ctx.enqueued_seq;
    b.ids.add(ctx.job_id);
    if (ctx.not_before_unix > 0) this.backoff.add(ctx.job_id);
  }

  remove(ctx: JobContext): void {
    const b = this.buckets.get(ctx.priority);
    if (b?.ids.delete(ctx.job_id) && b.ids.size === 0) {
      this.buckets.delete(ctx.priority);
      this.priorities = null;
    }
    this.backoff.delete(ctx.job_id);
  }

  /** Q1; `seqOf` gives a queued job's enqueued_seq (to re-sort a bucket after a retry). */
  *inClaimOrder(seqOf: (jobId: string) => number): Generator<string> {
    this.priorities ??= [...this.buckets.keys()].sort((a, b) => b - a);
    for (const p of this.priorities) {
      const b = this.buckets.get(p)!;
      if (!b.sorted) {
        b.ids = new Set([...b.ids].sort((x, y) => seqOf(x) - seqOf(y)));
        b.lastSeq = seqOf([...b.ids].at(-1)!);
        b.sorted = true;
      }
      yield* b.ids;
    }
  }

  /** Q2: queued jobs with a not_before_unix (live view: do not mutate). */
  retried(): ReadonlySet<string> {
    return this.backoff;
  }
}
