/**
 * A long-lived process of a job that talks over pipes — an MCP server (docs/model-lane.md) —
 * started exactly as a job command is (exec-tool.ts prepareLaunch: the same launcher, the job's
 * process mode and network policy, its resource limits, the workspace as cwd, read-only where
 * the policy says so), but kept running with its stdin and stdout open for the caller.
 *
 * P1. The child gets exactly the environment it is given (nothing of the worker's is added) and
 *     the pipes: stdin and stdout are the caller's; stderr is streamed into a capped evidence
 *     file (capture.ts), registered with the job once the process is gone, and its last bytes
 *     are kept for messages. The stderr file is not counted against max_output_bytes: it is
 *     the server's log, and a chatty server must not end the job.
 * P2. As every command (process-tree.ts): its own process group (T1), SIGKILLed when its leader
 *     exits (T2) and when the worker process exits (T3).
 * P3. `stop()` and the job's AbortSignal take the whole tree down (tree-stop.ts): SIGTERM to
 *     every process of its PID namespace (or its group, without one), SIGKILL after the grace
 *     period; then the namespace's first process, which takes the rest. `stop()` is idempotent
 *     and resolves when the tree is gone; it never throws.
 * P4. A write to a process that is gone never raises an unhandled error (EPIPE is swallowed
 *     here; the caller sees the pipe end), and a pipe an escaped descendant holds open is cut
 *     DRAIN_AFTER_EXIT_MS after the leader's exit (in a sandbox nothing escapes).
 * P5. What the launch set up (scratch /tmp, cgroup) is undone once the tree is gone, before
 *     `exited` resolves.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import type { JobHandlerContext } from '../worker/types.js';
import { CappedCapture, type CaptureResult } from './capture.js';
import { finishLaunch, prepareLaunch } from './exec-tool.js';
import { effectiveLimits } from './limits.js';
import { signalGroup, trackGroup } from './process-tree.js';
import type { ProcessMode, Sandbox } from './sandbox.js';
import { readNamespaceInit, stopTree } from './tree-stop.js';

export interface PipedRequest {
  /** The program's absolute path (program-lookup.ts). */
  readonly program: string;
  /** argv[0] is replaced by `program`. */
  readonly argv: readonly string[];
  /** Exactly what it gets (exec-tool.ts childEnv). */
  readonly env: Readonly<Record<string, string>>;
  /** Shown read-only in its sandbox besides the shared mounts (isolation.ts SandboxRun.extraReadOnly). */
  readonly extraReadOnly?: readonly string[];
  /** The evidence file its stderr goes to, e.g. `mcp-files.stderr`. */
  readonly stderrName: string;
  /** Bytes of stderr kept in that file (P1). */
  readonly stderrCapBytes: number;
}

export interface PipedExit {
  readonly exit_code: number | null;
  readonly signal: string | null;
  /** Why we stopped it, if we did: `stop()` or the job's AbortSignal. */
  readonly stopped: 'stop' | 'abort' | null;
  readonly duration_ms: number;
  /** The cgroup saw a limit hit (limits.ts, L2), where there was one. */
  readonly limit_exceeded?: 'E_BUDGET_MEMORY' | 'E_BUDGET_PROCESSES';
  /** Undefined when the stderr file could not be written. */
  readonly stderr: CaptureResult | undefined;
  readonly spawn_error?: string;
}

export interface PipedProcess {
  /** The leader's host pid (the launcher, which becomes bubblewrap); undefined if it never started. */
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Set once the tree is gone. */
  readonly exit: PipedExit | undefined;
  /** Resolves once the tree is gone and the launch is undone (P5); never rejects. */
  readonly exited: Promise<PipedExit>;
  /** The last bytes it wrote to stderr (P1), as text. */
  stderrTail(): string;
  /** Stops the whole tree (P3). */
  stop(): Promise<PipedExit>;
}

const DRAIN_AFTER_EXIT_MS = 2_000;
const TAIL_BYTES = 2_048;

/** Starts `req` as a process of the job `ctx`, in the job's process mode (sandbox.ts processModeFor). */
export async function startJobProcess(
  ctx: JobHandlerContext<unknown>,
  sandbox: Sandbox,
  mode: ProcessMode,
  req: PipedRequest,
): Promise<PipedProcess> {
  const limits = effectiveLimits(ctx.job.budgets, sandbox.limitDefaults);
  const where = {
    workspace: ctx.workspace,
    cwd: ctx.workspace,
    writeWorkspace: ctx.job.tool_policy.write_workspace ?? true,
    ...(req.extraReadOnly ? { extraReadOnly: req.extraReadOnly } : {}),
  };
  const launch = await prepareLaunch(sandbox, mode, where, limits); // throws E_SANDBOX_SETUP
  let room = req.stderrCapBytes;
  const stderr = new CappedCapture(ctx.evidenceDir, ctx.evidencePrefix, req.stderrName, (n) => {
    const left = room;
    room = Math.max(0, room - n);
    return left;
  });
  const started = performance.now();
  const [file, ...args] = [...launch.prefix, req.program, ...req.argv.slice(1)] as [string, ...string[]];
  const child = spawn(file, args, {
    cwd: ctx.workspace,
    env: { ...req.env },
    detached: true, // T1: its own process group
    ...(launch.runAs ? { uid: launch.runAs.uid, gid: launch.runAs.gid } : {}),
    // fd 3: where bubblewrap reports its namespace (--info-fd 3).
    stdio: launch.namespaced ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  child.stdin.on('error', () => undefined); // P4: EPIPE once it is gone; the caller sees stdout end
  const untrack = pid !== undefined ? trackGroup(pid) : () => false;

  let tail = Buffer.alloc(0);
  let captureFailed = false;
  const drained = (async () => {
    try {
      for await (const chunk of child.stderr) {
        tail = Buffer.concat([tail, chunk as Buffer]).subarray(-TAIL_BYTES);
        // An evidence file that cannot be written (disk full) loses the log, not the server:
        // the pipe is still read, so it never blocks on a full stderr.
        if (!captureFailed) await stderr.write(chunk as Buffer).catch(() => (captureFailed = true));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') captureFailed = true;
    }
  })();

  let leaderExited = false;
  const leaderGone = new Promise<{ code: number | null; sig: NodeJS.Signals | null; error?: string }>(
    (resolve) => {
      child.once('exit', (code, sig) => {
        leaderExited = true;
        if (pid !== undefined) signalGroup(pid, 'SIGKILL'); // T2
        resolve({ code, sig });
      });
      child.once('error', (err) => {
        if (pid === undefined) resolve({ code: null, sig: null, error: err.message.slice(0, 500) });
      });
    },
  );

  // The namespace's first process, once bubblewrap has reported it (P3).
  let nsInit: number | undefined;
  if (launch.namespaced) readNamespaceInit(child.stdio[3] as Readable | null, (p) => (nsInit = p));

  let exit: PipedExit | undefined;
  let stopped: PipedExit['stopped'] = null;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = (why: 'stop' | 'abort') => {
    if (stopped || leaderExited || pid === undefined) return;
    stopped = why;
    try {
      killTimer = stopTree(pid, launch.namespaced ? nsInit : undefined, sandbox.policy.termGraceMs);
    } catch {
      // P3: stop() never throws; a group we may not signal is not ours to stop
    }
  };
  const onAbort = () => kill('abort');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal.aborted) onAbort();

  const exited = (async (): Promise<PipedExit> => {
    const gone = await leaderGone;
    const durationMs = Math.round(performance.now() - started);
    clearTimeout(killTimer);
    ctx.signal.removeEventListener('abort', onAbort);
    const cut = setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, DRAIN_AFTER_EXIT_MS);
    await drained;
    clearTimeout(cut);
    untrack();
    const verdict = launch.cgroup?.verdict();
    let captured: CaptureResult | undefined;
    try {
      await finishLaunch(launch);
      captured = captureFailed ? undefined : await stderr.finish();
      if (captured) ctx.addEvidence(captured.file);
    } catch {
      captured = undefined; // the log is lost; the process is gone all the same
    }
    exit = {
      exit_code: gone.code,
      signal: gone.sig,
      stopped,
      duration_ms: durationMs,
      ...(verdict?.memoryExceeded
        ? { limit_exceeded: 'E_BUDGET_MEMORY' as const }
        : verdict?.processesExceeded
          ? { limit_exceeded: 'E_BUDGET_PROCESSES' as const }
          : {}),
      stderr: captured,
      ...(gone.error !== undefined ? { spawn_error: gone.error } : {}),
    };
    return exit;
  })();

  return {
    pid,
    stdin: child.stdin,
    stdout: child.stdout,
    get exit() {
      return exit;
    },
    exited,
    stderrTail: () => tail.toString('utf8'),
    stop: () => {
      kill('stop');
      return exited;
    },
  };
}
