/**
 * The `exec` tool: one job command under every rule of the sandbox, in this order —
 *   1. the argv policy (program-policy.ts) and the cwd (paths.ts): refusals end the job;
 *   2. the network mode the job's policy needs on this worker (sandbox.ts);
 *   3. a `tool_call` event (tool `exec`, args = the argv, needs subprocess [+ network]) appended
 *      BEFORE the program starts; the plane refuses it past max_tool_calls or without
 *      allow_subprocess;
 *   4. the run (exec.ts), with stdout/stderr counted against max_output_bytes;
 *   5. evidence: call-NN.json (the call and its result) and call-NN.stdout / .stderr, all
 *      registered so the `complete`/`fail` event records their SHA-256 and size.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import { JobError } from '../worker/errors.js';
import type { JobHandlerContext } from '../worker/types.js';
import { CappedCapture } from './capture.js';
import { runCommand } from './exec.js';
import { resolveDirInWorkspace } from './paths.js';
import { checkArgv } from './program-policy.js';
import { findProgram } from './program-lookup.js';
import { networkModeFor, type NetworkMode, type Sandbox } from './sandbox.js';

export interface ExecRequest {
  readonly argv: readonly string[];
  /** Relative to the workspace; default the workspace itself. */
  readonly cwd?: string;
  readonly envAllow?: readonly string[];
  readonly timeoutSec: number;
  /** 1-based number of this call within the attempt, for evidence file names. */
  readonly index: number;
}

export interface ExecResult {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly network: NetworkMode;
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

/** The child's environment: PATH plus the job's env_allow names that the worker has set (E1). */
export function childEnv(sandbox: Sandbox, envAllow: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', ...envAllow]) {
    const value = sandbox.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export async function execTool(
  ctx: JobHandlerContext,
  sandbox: Sandbox,
  req: ExecRequest,
): Promise<ExecResult> {
  const refusal = checkArgv(req.argv, sandbox.policy);
  if (refusal) throw new JobError(refusal.code, refusal.message);
  const cwdPath = req.cwd ?? '.';
  const cwd = await resolveDirInWorkspace(ctx.workspace, cwdPath);
  const allowNetwork = ctx.job.tool_policy.allow_network;
  const network = networkModeFor(sandbox, allowNetwork);
  if (network === undefined) {
    throw new JobError(
      'E_NETWORK_UNENFORCED',
      `allow_network is false but this worker cannot cut the network (${
        sandbox.network.kind === 'none' ? sandbox.network.reason : '?'
      }); run the job on a worker that can, or start this one with --unenforced-network-ok`,
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
  const outcome = await runCommand({
    program,
    argv: req.argv,
    prefix: network === 'netns' && sandbox.network.kind === 'netns' ? sandbox.network.prefix : [],
    cwd,
    env,
    timeoutMs: req.timeoutSec * 1000,
    termGraceMs: sandbox.policy.termGraceMs,
    signal: ctx.signal,
    stdout,
    stderr,
  });
  const callFile = `${name}.json`;
  const result: ExecResult = {
    argv: req.argv,
    cwd: cwdPath,
    network,
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
    result,
  };
  ctx.addEvidence(outcome.stdout.file);
  ctx.addEvidence(outcome.stderr.file);
  await ctx.writeEvidence(callFile, JSON.stringify(record, null, 2) + '\n');
  return result;
}
