/**
 * The kernel's file caches before a timed drain (docs/benchmarks.md, "Drains after mass
 * deletions").
 *
 * Every attempt creates inodes (its evidence directories and files). On ext4, after many files
 * were deleted — a test suite, an earlier bench run, any `rm -rf` of a plane — creating an inode
 * scans the block cache for recently deleted inodes of its group (`recently_deleted` under
 * `ext4_create` / `ext4_mkdir` in `perf`), and that scan took 40% of the machine and cut a 4 × 8
 * drain from ≈ 1,400 to ≈ 400 jobs/s here, more with each deleted run. BullMQ creates no files, so
 * a ratio beside it would measure the machine's history, not the engines. Before each timed drain
 * the bench therefore writes back dirty pages (`sync`) and drops the clean caches
 * (`/proc/sys/vm/drop_caches`), where it may (root on Linux), and says so in its report when it
 * may not.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** 'dropped', or why the first attempt could not drop them. */
let state: string | undefined;

/** Drops the file caches; returns what the report says about it (the first failure's reason). */
export function dropFileCaches(log: (m: string) => void): string {
  if (state !== undefined && state !== 'dropped') return state;
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    state = 'dropped';
  } catch (err) {
    state = `not dropped (${(err as NodeJS.ErrnoException).code ?? String(err)}): drains after mass deletions may be slower (docs/benchmarks.md)`;
    log(`the kernel's file caches could not be dropped before the drains: ${state}`);
  }
  return state;
}

/** What the report's machine section says about the file caches, or undefined when no drain ran. */
export function fileCachesState(): string | undefined {
  return state === 'dropped' ? 'dropped before each timed drain' : state;
}
