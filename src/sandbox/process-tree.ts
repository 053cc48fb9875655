/**
 * Process trees, killed whole (docs/spec.md §9: the predecessor's grandchildren survived timeouts).
 *
 * T1. Every command starts detached, in a process group of its own whose id is its pid; the
 *     group is signalled, never just the child, so grandchildren go with it.
 * T2. A group is signalled SIGKILL as soon as its leader exits: nothing a command started in
 *     the background outlives it (and holds its output pipes open).
 * T3. If the worker process exits while groups are live, they are SIGKILLed on the way out.
 *
 * Not covered: a descendant that leaves the group on purpose (setsid/setpgid, as daemons do).
 * A PID namespace would catch those too; see docs/sandbox.md.
 */

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Sends `signal` to the whole group `pgid`; false when the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Remembers a live group so the worker's exit takes it down too (T3). */
export function trackGroup(pgid: number): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of liveGroups) signalGroup(g, 'SIGKILL');
    });
  }
  liveGroups.add(pgid);
  return () => liveGroups.delete(pgid);
}
