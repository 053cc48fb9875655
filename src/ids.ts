import { ulid } from 'ulid';

/** A new time-sortable job id: `job-` and a lowercase ULID (26 characters). */
export function newJobId(tsMs: number): string {
  return `job-${ulid(tsMs).toLowerCase()}`;
}
