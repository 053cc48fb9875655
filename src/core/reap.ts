/**
 * The reaper's decisions (docs/spec.md §6): `expire` for every lease that has lapsed at `tsMs`, then
 * `retry` with exponential backoff for every job that may run again — expired jobs, and failed
 * jobs whose error is retryable — while attempts remain. Pure; the store runs the commands under
 * the lock, so two reapers never both expire or retry the same attempt.
 */
import type { Command } from './commands.js';
import type { PlaneState } from './plane-state.js';

export interface RetryPolicy {
  /** Backoff before attempt n+1 is base × 2^(n−1), capped. */
  readonly backoffBaseSec: number;
  readonly backoffMaxSec: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { backoffBaseSec: 1, backoffMaxSec: 300 };

export function backoffSec(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.backoffBaseSec * 2 ** Math.max(0, attempt - 1), policy.backoffMaxSec);
}

export function reapCommands(
  state: PlaneState,
  tsMs: number,
  policy: RetryPolicy,
  reaper: string,
): Command[] {
  const commands: Command[] = [];
  const retry = (job_id: string, attempt: number) =>
    commands.push({ type: 'retry', job_id, backoff_sec: backoffSec(policy, attempt), by: 'reaper' });
  for (const leased of ['claimed', 'running'] as const) {
    for (const id of state.inState(leased)) {
      const c = state.get(id)!.context;
      if (c.lease && c.lease.expires_unix * 1000 <= tsMs) {
        commands.push({ type: 'expire', job_id: id, reaper });
        if (c.attempt < c.max_attempts) retry(id, c.attempt);
      }
    }
  }
  // Expired jobs, and failed ones with a retryable error, while attempts remain (an index kept
  // by PlaneState: history of jobs failed for good costs nothing here).
  for (const id of state.retryCandidates()) retry(id, state.get(id)!.context.attempt);
  return commands;
}

/** The earliest lease expiry among leased jobs, for the reaper's wake-up timer. */
export function nextLeaseExpiryMs(state: PlaneState): number | undefined {
  let next: number | undefined;
  for (const leased of ['claimed', 'running'] as const) {
    for (const id of state.inState(leased)) {
      const lease = state.get(id)!.context.lease;
      if (lease && (next === undefined || lease.expires_unix * 1000 < next)) next = lease.expires_unix * 1000;
    }
  }
  return next;
}
