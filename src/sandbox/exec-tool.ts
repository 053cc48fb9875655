/**
 * The `exec` tool: one job command under every rule of the sandbox, in this order —
 *   1. the argv policy (program-policy.ts), the cwd (paths.ts) and the environment it asks for
 *      (sandbox.ts, S2): refusals end the job;
 *   2. how its processes run on this worker: inside the OS boundary (isolation.ts), or where an
 *      operator gave it up, without it (sandbox.ts, S1);
 *   3. a `tool_call` event (tool `exec`, args = the argv, needs subprocess [+ network]) appended
 *      BEFORE the program starts; the plane refuses it past max_tool_calls or without
 *      allow_subprocess (a caller's `announce`, when given, appends its own event here instead);
 *   4. the run (exec.ts), under the job's resource limits (limits.ts), with stdout/stderr counted
 *      against max_output_bytes;
 *   5. evidence: call-NN.json (the call, its result, the limits and any limit it hit) and
 *      call-NN.stdout / .stderr, all registered so the `complete`/`fail` event records their
 *      SHA-256 and size; a limit that stopped the command then fails the job with its code (L2).
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import { JobError } from '../worker/errors.js';
import type { JobHandlerContext } from '../worker/types.js';
import { CappedCapture } from './capture.js';
import { runCommand, type CommandOutcome } from './exec.js';
import { newScratch, removeScratch, sandboxArgv } from './isolation.js';
import { createJobCgroup, effectiveLimits, ulimitScript, type JobCgroup, type JobLimits } from './limits.js';
import { resolveDirInWorkspace } from './paths.js';
import { checkArgv } from './program-policy.js';
import { findProgram } from './program-lookup.js';
import { processModeFor, whyCannotRun, type NetworkMode, type ProcessMode, type Sandbox } from './sandbox.js';

export interface ExecRequest {
  readonly argv: readonly string[];
  /** Relative to the workspace; default the workspace itself. */
  readonly cwd?: string;
  readonly envAllow?: readonly string[];
  readonly timeoutSec: number;
  /** 1-based number of this call within the attempt, for evidence file names. */
  readonly index: number;
  /**
   * Called instead of appending the `exec` tool_call (step 3), at the same point: after every
   * check, before anything starts. For a caller that records the call under its own name (the
   * model's run_command, whose announce appends it). A JobError thrown before it is a refusal:
   * nothing of the command ran.
   */
  readonly announce?: () => Promise<void>;
}

export interface ExecResult {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly network: NetworkMode;
  /** inside the OS boundary, or without it (--unsandboxed-ok). */
  readonly isolation: ProcessMode['kind'];
  /** The limit that stopped the command (L2), if one did. */
  readonly limit_exceeded?: LimitCode;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly timed_out: boolean;
  readonly aborted: boolean;
  readonly duration_ms: number;
  readonly stdout_bytes: number;
  readonly stderr_bytes: number;
  readonly stdout_truncated: boolean;
  readonly stderr_truncated: boolean;
  readonly spawn_error?: string;
  /** Evidence paths, relative to evidence/<job_id>/. */
  readonly evidence: { readonly call: string; readonly stdout: string; readonly stderr: string };
}

/**
 * The child's environment: PATH plus the job's env_allow names that the worker has set (E1) —
 * each of which must be on the worker's own list (S2).
 */
export function childEnv(sandbox: Sandbox, envAllow: readonly string[] = []): Record<string, string> {
  const refused = envAllow.filter((n) => !sandbox.envAllow.includes(n));
  if (refused.length) {
    throw new JobError(
      'E_ENV_NOT_ALLOWED',
      `env_allow names ${refused.join(', ')}, which this worker does not pass to jobs; it passes only ` +
        `[${sandbox.envAllow.join(', ')}] (config.json sandbox.env_allow)`,
    );
  }
  const env: Record<string, string> = {};
  for (const name of ['PATH', ...envAllow]) {
    const value = sandbox.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export type LimitCode = 'E_BUDGET_MEMORY' | 'E_BUDGET_PROCESSES' | 'E_BUDGET_CPU' | 'E_BUDGET_FILE_SIZE';

/** How one command is started: the launcher, bubblewrap or not, and what to undo afterwards. */
export interface Launch {
  readonly prefix: readonly string[];
  readonly namespaced: boolean;
  /** The user the launcher starts as (a root worker's sandbox.uid/gid), if not the worker's. */
  readonly runAs: { readonly uid: number; readonly gid: number } | undefined;
  readonly cgroup: JobCgroup | undefined;
  readonly scratch: string | undefined;
}

/**
 * The launcher: our own fixed script, never job input. It joins the command's cgroups (the files
 * before `--`), sets the rlimits (only integers of ours in it), drops the shell's own variables so
 * the program gets exactly PATH + env_allow, and execs what follows `--` (bubblewrap, or the
 * program). Exit 125: it could not join a cgroup.
 */
function launcherScript(limits: JobLimits, cgroup: boolean): string {
  return (
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; ' +
    `${ulimitScript(limits, cgroup)}; unset PWD OLDPWD SHLVL _; exec "$@"`
  );
}

/** Sets up one command's launch: its scratch /tmp and cgroup, and the argv before the program. */
export async function prepareLaunch(
  sandbox: Sandbox,
  mode: ProcessMode,
  where: {
    readonly workspace: string;
    readonly cwd: string;
    readonly writeWorkspace: boolean;
    /** Shown read-only for this command alone (isolation.ts SandboxRun.extraReadOnly). */
    readonly extraReadOnly?: readonly string[];
  },
  limits: JobLimits,
): Promise<Launch> {
  const launcher = (cgroup: boolean) => [
    sandbox.shell,
    '-c',
    launcherScript(limits, cgroup),
    'execplane-launch',
  ];
  if (mode.kind === 'unsandboxed') {
    const net = mode.network === 'netns' && sandbox.network.kind === 'netns' ? sandbox.network.prefix : [];
    return {
      prefix: [...launcher(false), '--', ...net],
      namespaced: false,
      runAs: undefined,
      cgroup: undefined,
      scratch: undefined,
    };
  }
  if (!sandbox.isolation.ok) throw new Error('prepareLaunch: no isolation');
  const iso = sandbox.isolation.isolation;
  let scratch: string | undefined;
  let cgroup: JobCgroup | undefined;
  try {
    scratch = await newScratch(iso);
    cgroup = createJobCgroup(sandbox.cgroups, limits, iso.runAs);
  } catch (err) {
    if (scratch) await removeScratch(scratch);
    throw new JobError('E_SANDBOX_SETUP', `the sandbox could not be set up: ${(err as Error).message}`, true);
  }
  const bwrap = sandboxArgv(iso, { ...where, network: mode.network === 'host', scratch, infoFd: 3 });
  return {
    prefix: [...launcher(cgroup !== undefined), ...(cgroup?.procsFiles ?? []), '--', ...bwrap],
    namespaced: true,
    runAs: iso.runAs,
    cgroup,
    scratch,
  };
}

/** Undoes what prepareLaunch set up (the command has ended). */
export async function finishLaunch(launch: Launch): Promise<void> {
  launch.cgroup?.remove();
  if (launch.scratch) await removeScratch(launch.scratch);
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGXCPU: 24, SIGXFSZ: 25 };

/** Which limit stopped the command (L2), from the cgroup's counters and how the command died. */
function limitHit(outcome: CommandOutcome, launch: Launch): LimitCode | undefined {
  const verdict = launch.cgroup?.verdict();
  if (verdict?.memoryExceeded) return 'E_BUDGET_MEMORY';
  if (verdict?.processesExceeded) return 'E_BUDGET_PROCESSES';
  // bubblewrap reports a command killed by signal N as exit 128 + N.
  const died = (name: string) =>
    outcome.signal === name || (launch.namespaced && outcome.exit_code === 128 + SIGNAL_NUMBERS[name]!);
  if (died('SIGXCPU')) return 'E_BUDGET_CPU';
  if (died('SIGXFSZ')) return 'E_BUDGET_FILE_SIZE';
  return undefined;
}

const LIMIT_MESSAGES: Record<LimitCode, (l: JobLimits) => string> = {
  E_BUDGET_MEMORY: (l) =>
    `the command's processes used more than max_memory_bytes (${l.max_memory_bytes}) together`,
  E_BUDGET_PROCESSES: (l) =>
    `the command tried to have more than max_processes (${l.max_processes}) processes at once`,
  E_BUDGET_CPU: (l) =>
    `a process of the command used more than max_cpu_sec (${l.max_cpu_sec}) seconds of CPU`,
  E_BUDGET_FILE_SIZE: (l) =>
    `a process of the command wrote a file larger than max_file_size_bytes (${l.max_file_size_bytes})`,
};

export async function execTool(
  ctx: JobHandlerContext<unknown>,
  sandbox: Sandbox,
  req: ExecRequest,
): Promise<ExecResult> {
  const refusal = checkArgv(req.argv, sandbox.policy);
  if (refusal) throw new JobError(refusal.code, refusal.message);
  const cwdPath = req.cwd ?? '.';
  const cwd = await resolveDirInWorkspace(ctx.workspace, cwdPath);
  const allowNetwork = ctx.job.tool_policy.allow_network;
  const mode = processModeFor(sandbox, allowNetwork);
  if (mode === undefined) {
    // A worker claims no such job (canRun); a handler asked to run one refuses rather than run it
    // unconfined.
    throw new JobError(
      'E_SANDBOX_UNAVAILABLE',
      `this worker does not run this command: ${whyCannotRun(sandbox, ctx.job)}`,
    );
  }
  const env = childEnv(sandbox, req.envAllow);
  const program = await findProgram(req.argv[0] as string, env.PATH);
  if (!program) {
    throw new JobError(
      'E_PROGRAM_NOT_FOUND',
      `program ${JSON.stringify(req.argv[0])} is allowed but not found on the worker's PATH`,
    );
  }

  if (req.announce) await req.announce();
  else
    await ctx.toolCall({
      tool: 'exec',
      args: req.argv,
      needs: allowNetwork ? ['subprocess', 'network'] : ['subprocess'],
    });

  const name = `call-${String(req.index).padStart(2, '0')}`;
  const allow = (n: number) => {
    const remaining = ctx.remainingOutputBytes();
    ctx.addOutputBytes(n); // past the budget this aborts the job (E_BUDGET_OUTPUT), which stops the tree
    return remaining;
  };
  const stdout = new CappedCapture(ctx.evidenceDir, ctx.evidencePrefix, `${name}.stdout`, allow);
  const stderr = new CappedCapture(ctx.evidenceDir, ctx.evidencePrefix, `${name}.stderr`, allow);
  const limits = effectiveLimits(ctx.job.budgets, sandbox.limitDefaults);
  const where = {
    workspace: ctx.workspace,
    cwd,
    writeWorkspace: ctx.job.tool_policy.write_workspace ?? true,
  };
  const launch = await prepareLaunch(sandbox, mode, where, limits);
  let outcome: CommandOutcome;
  let limit: LimitCode | undefined;
  try {
    outcome = await runCommand({
      program,
      argv: req.argv,
      prefix: launch.prefix,
      namespaced: launch.namespaced,
      runAs: launch.runAs,
      cwd,
      env,
      timeoutMs: req.timeoutSec * 1000,
      termGraceMs: sandbox.policy.termGraceMs,
      signal: ctx.signal,
      stdout,
      stderr,
    });
    limit = limitHit(outcome, launch);
  } finally {
    await finishLaunch(launch);
  }
  if (outcome.exit_code === 125 && !outcome.aborted && outcome.stderr.seen === 0 && launch.cgroup) {
    // The launcher could not join the command's cgroup: nothing of the job ran.
    throw new JobError('E_SANDBOX_SETUP', 'the command could not be placed in its cgroup', true);
  }
  const callFile = `${name}.json`;
  const result: ExecResult = {
    argv: req.argv,
    cwd: cwdPath,
    network: mode.network,
    isolation: mode.kind,
    ...(limit ? { limit_exceeded: limit } : {}),
    exit_code: outcome.exit_code,
    signal: outcome.signal,
    timed_out: outcome.timed_out,
    aborted: outcome.aborted,
    duration_ms: outcome.duration_ms,
    stdout_bytes: outcome.stdout.seen,
    stderr_bytes: outcome.stderr.seen,
    stdout_truncated: outcome.stdout.truncated,
    stderr_truncated: outcome.stderr.truncated,
    ...(outcome.spawn_error !== undefined ? { spawn_error: outcome.spawn_error } : {}),
    evidence: {
      call: `${ctx.evidencePrefix}/${callFile}`,
      stdout: outcome.stdout.file.path,
      stderr: outcome.stderr.file.path,
    },
  };
  const record = {
    tool: 'exec',
    args: req.argv,
    args_sha256: sha256Hex(canonicalJson(req.argv)),
    program,
    env_names: Object.keys(env).sort(),
    limits,
    result,
  };
  ctx.addEvidence(outcome.stdout.file);
  ctx.addEvidence(outcome.stderr.file);
  await ctx.writeEvidence(callFile, JSON.stringify(record, null, 2) + '\n');
  if (limit && !outcome.aborted) throw new JobError(limit, LIMIT_MESSAGES[limit](limits));
  return result;
}
