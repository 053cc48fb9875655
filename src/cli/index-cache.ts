/**
 * jobs.index (src/ledger/job-index.ts) as the read commands keep it: built during a full read
 * and written when the one on disk is missing or covers other lines — a cache, written when it
 * can be: a read never fails for it, nor says anything about it (a read-only home stays quiet).
 */
import { JobIndexBuilder, jobIndexEnd, jobIndexPath } from '../ledger/job-index.js';
import type { Plane } from '../plane.js';

export { JobIndexBuilder };

export function writeJobIndex(index: JobIndexBuilder, plane: Plane): void {
  if (!plane.paths) return;
  const path = jobIndexPath(plane.paths.home);
  const { offset, lines } = plane.store.position;
  const end = jobIndexEnd(path);
  if (lines === 0 || (end?.lines === lines && end.hash === plane.state.head.hash)) return;
  try {
    index.write(path, { offset, lines, seq: plane.state.head.seq, hash: plane.state.head.hash });
  } catch (err) {
    if (!(err as NodeJS.ErrnoException).code) throw err;
  }
}
