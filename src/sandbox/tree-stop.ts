/**
 * Stopping a launched process tree (exec.ts E2, spawn-piped.ts P3): SIGTERM, then SIGKILL after
 * the grace period. In a sandbox (isolation.ts) that is every process of its PID namespace,
 * whatever session or group it moved to, and then the namespace's first process, which takes the
 * rest; without one (or before bubblewrap reported its namespace), the process group (T1).
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { signalGroup } from './process-tree.js';

/**
 * Starts stopping the tree led by `pgid`: `nsInit` is the PID namespace's first process
 * (readNamespaceInit), or undefined without one. Returns the timer of the SIGKILL step, to clear
 * once the leader has exited.
 */
export function stopTree(pgid: number, nsInit: number | undefined, graceMs: number): NodeJS.Timeout {
  if (nsInit !== undefined) {
    for (const p of descendants(nsInit)) signalPid(p, 'SIGTERM');
    return setTimeout(() => {
      signalPid(nsInit, 'SIGKILL'); // the namespace's first process: the kernel kills the rest
      signalGroup(pgid, 'SIGKILL');
    }, graceMs);
  }
  // bubblewrap itself dies on SIGTERM, and --die-with-parent then kills the namespace at once.
  signalGroup(pgid, 'SIGTERM');
  return setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
}

/**
 * The `child-pid` bubblewrap's `--info-fd` reports: the PID namespace's first process. The pipe
 * is read to its end (bubblewrap writes the rest of its report after the pid, and a closed pipe
 * would kill it with SIGPIPE).
 */
export function readNamespaceInit(stream: Readable | null | undefined, onPid: (pid: number) => void): void {
  if (!stream) return;
  let text = '';
  let found = false;
  stream.on('data', (chunk: Buffer) => {
    if (found || text.length > 4096) return;
    text += chunk.toString('utf8');
    const m = /"child-pid":\s*(\d+)/.exec(text);
    if (m) {
      found = true;
      onPid(Number(m[1]));
    }
  });
  stream.on('error', () => undefined); // bubblewrap is gone, and so is its namespace
}

/** Every process below `pid` (its children, theirs, …), from /proc's task children lists. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length && out.length < 100_000) {
    const p = queue.shift()!;
    let kids: string;
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      continue; // gone already
    }
    for (const k of kids.trim().split(/\s+/)) {
      if (!k) continue;
      out.push(Number(k));
      queue.push(Number(k));
    }
  }
  return out;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
