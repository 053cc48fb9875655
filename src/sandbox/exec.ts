/**
 * Runs one program as a process tree we can always take down (process-tree.ts), with its
 * output streamed into capped evidence files (capture.ts). Through execa, argv only: no shell
 * ever parses job input.
 *
 * E1. The child gets exactly the environment it is given (extendEnv: false) and no stdin.
 * E2. Its timeout, and the job's AbortSignal (lost lease, kill switch, shutdown, wall-time or
 *     output budget), stop the whole tree: SIGTERM, then SIGKILL after the grace period. In a
 *     sandbox (isolation.ts) that is every process of its PID namespace, whatever session or
 *     group it moved to; then the namespace's first process is killed, which takes the rest.
 * E3. When the leader exits, its group is SIGKILLed (T2) and the output pipes are read to their
 *     end; a pipe held open by an escaped descendant is cut DRAIN_AFTER_EXIT_MS after the exit.
 *     (In a sandbox nothing escapes: the namespace ends with its command.)
 */
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { CaptureResult, CappedCapture } from './capture.js';
import { signalGroup, trackGroup } from './process-tree.js';
import { readNamespaceInit, stopTree } from './tree-stop.js';

export interface CommandSpec {
  /** The program's absolute path (program-lookup.ts). */
  readonly program: string;
  /** The job's argv; argv[0] is replaced by `program`. */
  readonly argv: readonly string[];
  /** Runs the program inside an isolation wrapper (isolation.ts, network.ts), or [] for none. */
  readonly prefix: readonly string[];
  /**
   * The wrapper is bubblewrap with `--info-fd 3`: it reports the PID namespace's first process
   * there, and stopping the command signals that namespace (E2).
   */
  readonly namespaced?: boolean;
  /** Start the wrapper as this user (a root worker's sandbox.uid/gid: isolation.ts, B1). */
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly termGraceMs: number;
  readonly signal: AbortSignal;
  readonly stdout: CappedCapture;
  readonly stderr: CappedCapture;
}

export interface CommandOutcome {
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly timed_out: boolean;
  /** Stopped by the job's AbortSignal. */
  readonly aborted: boolean;
  readonly duration_ms: number;
  readonly stdout: CaptureResult;
  readonly stderr: CaptureResult;
  /** Set when the process could not be started at all. */
  readonly spawn_error?: string;
}

const DRAIN_AFTER_EXIT_MS = 2_000;

export async function runCommand(spec: CommandSpec): Promise<CommandOutcome> {
  const started = performance.now();
  const [file, ...args] = [...spec.prefix, spec.program, ...spec.argv.slice(1)] as [string, ...string[]];
  const child = execa(file, args, {
    cwd: spec.cwd,
    env: { ...spec.env },
    extendEnv: false,
    detached: true, // T1: its own process group
    ...(spec.runAs ? { uid: spec.runAs.uid, gid: spec.runAs.gid } : {}),
    // fd 3: where bubblewrap reports its namespace (--info-fd 3).
    stdio: spec.namespaced ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    buffer: false,
    encoding: 'buffer',
    reject: false,
    cleanup: false, // process-tree.ts kills the whole group on exit instead
  });
  const settled = Promise.resolve(child).catch((e: unknown) => e);
  const pid = child.pid;
  if (pid === undefined) {
    const r = (await settled) as { message?: string; shortMessage?: string };
    return {
      exit_code: null,
      signal: null,
      timed_out: false,
      aborted: false,
      duration_ms: Math.round(performance.now() - started),
      stdout: await spec.stdout.finish(),
      stderr: await spec.stderr.finish(),
      spawn_error: String(r.shortMessage ?? r.message ?? 'the process could not be started').slice(0, 500),
    };
  }
  const untrack = trackGroup(pid);
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, sig) => {
      signalGroup(pid, 'SIGKILL'); // T2: nothing it started outlives it
      resolve({ code, sig });
    }),
  );

  // The namespace's first process, once bubblewrap has reported it (E2).
  let nsInit: number | undefined;
  if (spec.namespaced) readNamespaceInit(child.stdio[3], (p) => (nsInit = p));

  let stopped: 'timeout' | 'abort' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'abort') => {
    if (stopped) return;
    stopped = why;
    killTimer = stopTree(pid, spec.namespaced ? nsInit : undefined, spec.termGraceMs);
  };
  const timeoutTimer = setTimeout(() => stop('timeout'), spec.timeoutMs);
  const onAbort = () => stop('abort');
  spec.signal.addEventListener('abort', onAbort, { once: true });
  if (spec.signal.aborted) onAbort();

  // An evidence file that cannot be written (disk full) must not leave the child blocked on a
  // full pipe: the tree is killed and the error reported once it is gone.
  let captureError: Error | undefined;
  const drained = Promise.all([spec.stdout.drain(child.stdout), spec.stderr.drain(child.stderr)]).catch(
    (err: unknown) => {
      captureError = err instanceof Error ? err : new Error(`capturing the output failed: ${String(err)}`);
      signalGroup(pid, 'SIGKILL');
    },
  );
  const { code, sig } = await exited;
  const durationMs = Math.round(performance.now() - started);
  clearTimeout(timeoutTimer);
  clearTimeout(killTimer);
  spec.signal.removeEventListener('abort', onAbort);
  const cut = setTimeout(() => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }, DRAIN_AFTER_EXIT_MS);
  await drained;
  clearTimeout(cut);
  await settled;
  untrack();
  if (captureError !== undefined) throw captureError;
  return {
    exit_code: code,
    signal: sig,
    timed_out: stopped === 'timeout',
    aborted: stopped === 'abort',
    duration_ms: durationMs,
    stdout: await spec.stdout.finish(),
    stderr: await spec.stderr.finish(),
  };
}
