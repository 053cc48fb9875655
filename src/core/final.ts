/**
 * When a job has ended for good: what Plane.waitFor waits for, JobInfo.final and a Worker's
 * `failed` event say. Pure: a question about the folded state.
 */
import { ENDED_STATES } from '../../machines/job.table.js';
import type { PlaneState } from './plane-state.js';

/**
 * Whether `jobId` has ended for good: complete or cancelled (nothing leaves those states), or
 * failed where the reaper will not retry it (no attempts left, or its error is not retryable —
 * the same rule the reaper's candidates follow, PlaneState.retryCandidates). An expired job is
 * never final: the reaper retries it, or fails it once its attempts are spent. (An operator's
 * `execplane retry` can still send a failed job round again; `waitFor` has resolved by then.)
 */
export function isFinal(state: PlaneState, jobId: string): boolean {
  const value = state.jobState(jobId);
  if (value === undefined) return false;
  return ENDED_STATES.has(value) || (value === 'failed' && !state.retryCandidates().has(jobId));
}
