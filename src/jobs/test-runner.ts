/**
 * test_runner_task: runs each argv, in order, through the `exec` tool (sandbox/exec-tool.ts),
 * in payload.cwd, with payload.timeout_sec per command.
 *
 * A command that exits non-zero or times out is a *finding*, not a failure of the job: the job
 * completes and its result counts passed and failed commands (a test runner reports failing
 * tests; it does not itself fail). The job fails when the plane or the sandbox refuses to run a
 * command (argv policy, path, allow_subprocess, max_tool_calls) or a budget runs out (wall time,
 * output): then the commands already run are still in the fail event's evidence.
 */
import { execTool, type ExecResult } from '../sandbox/exec-tool.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { TestRunnerPayload } from '../schema/types.generated.js';
import type { JobHandler } from '../worker/types.js';

/** Keeps the ledger line small: the full argv is in the evidence. */
function shortArgv(argv: readonly string[]): string[] {
  const shown = argv.slice(0, 8).map((a) => (a.length > 80 ? `${a.slice(0, 79)}…` : a));
  return argv.length > 8 ? [...shown, `…(+${argv.length - 8})`] : shown;
}

const passed = (r: ExecResult) => r.exit_code === 0 && !r.timed_out;

export function testRunnerHandler(sandbox: Sandbox): JobHandler<TestRunnerPayload> {
  return async (ctx) => {
    const job = ctx.job;
    const { commands, cwd, env_allow: envAllow, timeout_sec: timeoutSec } = job.payload;
    const results: ExecResult[] = [];
    for (const [i, argv] of commands.entries()) {
      ctx.signal.throwIfAborted();
      const r = await execTool(ctx, sandbox, { argv, cwd, envAllow, timeoutSec, index: i + 1 });
      if (r.aborted) throw ctx.signal.reason;
      results.push(r);
    }
    const ok = results.filter(passed).length;
    return {
      result: {
        commands: results.length,
        passed: ok,
        failed: results.length - ok,
        timed_out: results.filter((r) => r.timed_out).length,
        results: results.map((r) => ({
          argv: shortArgv(r.argv),
          exit_code: r.exit_code,
          signal: r.signal,
          timed_out: r.timed_out,
          duration_ms: r.duration_ms,
          stdout_bytes: r.stdout_bytes,
          stderr_bytes: r.stderr_bytes,
          stdout_truncated: r.stdout_truncated,
          stderr_truncated: r.stderr_truncated,
          network: r.network,
          evidence: r.evidence.call,
        })),
      },
    };
  };
}
