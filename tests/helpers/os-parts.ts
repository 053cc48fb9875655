/**
 * What a test file does when the machine lacks an OS part it needs (root to mount, a
 * pseudo-terminal): it says so on stderr and skips those tests — except under `.ci/run`, which
 * sets EXECPLANE_REQUIRE_OS_PARTS=1 (CI runs as root on a machine that has them all), where the
 * absence is a failure: a skip there would count as passing.
 */
export function osPart(available: boolean, why: string): boolean {
  if (available) return true;
  if (process.env.EXECPLANE_REQUIRE_OS_PARTS === '1')
    throw new Error(`${why}, and EXECPLANE_REQUIRE_OS_PARTS=1 (.ci/run) requires these tests to run`);
  console.warn(`\n*** skipping: ${why} ***\n`);
  return false;
}
