import { monotonicFactory } from 'ulid';

// Monotonic: ids minted in the same millisecond still sort in minting order.
const nextUlid = monotonicFactory();

/** A new time-sortable job id: `job-` and a lowercase ULID (26 characters). */
export function newJobId(tsMs: number): string {
  return `job-${nextUlid(tsMs).toLowerCase()}`;
}
