/**
 * Which queued jobs a worker claims next (docs/spec.md §3): highest priority first, then oldest enqueue
 * (FIFO by seq) — never by id; only jobs past their retry backoff, and only as many as fit the
 * worker's free slots (invariant 6). Pure; runs under the append lock against the current state.
 */
import type { JobContext } from '../../machines/job.types.js';
import type { PlaneState } from './plane-state.js';

interface Candidate {
  readonly id: string;
  readonly slots: number;
}

/**
 * Up to `maxJobs` job ids, in claim order, whose slots fit in `freeSlots` together: the first
 * `min(freeSlots, maxJobs)` eligible jobs in claim order (the state keeps the queue in that order,
 * queued-index.ts), then as many of them as fit, best first.
 */
export function pickClaims(
  state: PlaneState,
  tsMs: number,
  freeSlots: number,
  maxJobs: number,
  canRun: (job: JobContext) => boolean = () => true,
): string[] {
  if (freeSlots <= 0 || maxJobs <= 0) return [];
  const keep = Math.min(freeSlots, maxJobs);
  const best: Candidate[] = [];
  for (const id of state.queuedInClaimOrder()) {
    const c = state.get(id)!.context;
    if (c.not_before_unix * 1000 > tsMs || c.budgets.max_concurrency_slots > freeSlots || !canRun(c))
      continue;
    best.push({ id, slots: c.budgets.max_concurrency_slots });
    if (best.length === keep) break;
  }
  const picked: string[] = [];
  let free = freeSlots;
  for (const c of best) {
    if (c.slots > free) continue;
    picked.push(c.id);
    free -= c.slots;
  }
  return picked;
}

/** The earliest retry backoff among queued jobs still waiting, for the worker's wake-up timer. */
export function nextBackoffEndMs(state: PlaneState, tsMs: number): number | undefined {
  let next: number | undefined;
  for (const id of state.queuedRetried()) {
    const t = state.get(id)!.context.not_before_unix * 1000;
    if (t > tsMs && (next === undefined || t < next)) next = t;
  }
  return next;
}
