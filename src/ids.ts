/**
 * Job ids at the edge: `job-` and a lowercase ULID (26 characters), time-sortable. `decide` gets
 * its ids from an injected `IdSource`, so the core stays a pure function of its inputs.
 */
import { monotonicFactory } from 'ulid';
import type { IdSource } from './core/decide.js';

/**
 * A new source of job ids, monotonic: ids minted in the same millisecond still sort in minting
 * order. Each plane has its own.
 */
export function monotonicJobIds(): IdSource {
  const nextUlid = monotonicFactory();
  return { jobId: (tsMs) => `job-${nextUlid(tsMs).toLowerCase()}` };
}
