/**
 * `run_command`: one argv through the `exec` tool (sandbox/exec-tool.ts) — the same program
 * policy, environment, OS boundary, resource limits and evidence as a test_runner_task command —
 * announced as the model's `run_command` call instead of an `exec` one.
 *
 * What ends how:
 *   - a JobError execTool throws BEFORE it announces (the argv policy: E_PROGRAM_NOT_ALLOWED,
 *     E_INLINE_CODE, E_SHELL_STRING; the cwd: path_rejected:…; E_PROGRAM_NOT_FOUND,
 *     E_ENV_NOT_ALLOWED, E_SANDBOX_UNAVAILABLE) is a refusal: ok false, nothing ran, nothing in
 *     the ledger;
 *   - what the announce itself throws (max_tool_calls, the plane's policy, the lease) and
 *     everything AFTER it (E_SANDBOX_SETUP, a resource limit — E_BUDGET_MEMORY, _PROCESSES, _CPU,
 *     _FILE_SIZE —, the job's abort) propagates and fails the job, as it does a test_runner_task;
 *   - a command that exits non-zero or times out is a result (ok true), as for the test runner.
 * The model reads the exit, the signal, whether it timed out, and the last RUN_COMMAND_TAIL_BYTES
 * of stdout and stderr, read back from the evidence files execTool wrote.
 */
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { execTool, type ExecResult } from '../../sandbox/exec-tool.js';
import type { Sandbox } from '../../sandbox/sandbox.js';
import { JobError } from '../../worker/errors.js';
import type { JobHandlerContext } from '../../worker/types.js';
import type { ModelTool } from '../types.js';
import { intArg, refuse } from './shared.js';

export const RUN_COMMAND_TAIL_BYTES = 4096;
export const RUN_COMMAND_MAX_TIMEOUT_SEC = 600;
const DEFAULT_TIMEOUT_SEC = 60;

export function runCommandTool(sandbox: Sandbox): ModelTool {
  return {
    name: 'run_command',
    description:
      'Run one program in the workspace, inside the sandbox, and get its exit code and the end of its ' +
      'output. `argv` is the program and its arguments, e.g. ["npm", "test"] or ["python3", ' +
      '"-m", "pytest", "-q"]: no shell, so no pipes, redirections or globs. Only allowlisted programs ' +
      'run, and not with code on the command line (no `sh -c`, `python3 -c`, `node -e`): write a ' +
      'script file and run it. The network is available only if the job allows it.',
    parameters: {
      type: 'object',
      properties: {
        argv: {
          type: 'array',
          minItems: 1,
          maxItems: 64,
          items: { type: 'string', minLength: 1, maxLength: 4096 },
          description: 'The program (a bare name, e.g. "npm") and its arguments.',
        },
        cwd: {
          type: 'string',
          minLength: 1,
          maxLength: 4096,
          description: 'Directory relative to the workspace root to run in; default the root.',
        },
        timeout_sec: {
          type: 'integer',
          minimum: 1,
          maximum: RUN_COMMAND_MAX_TIMEOUT_SEC,
          description: `Stop the command after this many seconds; default ${DEFAULT_TIMEOUT_SEC}.`,
        },
      },
      required: ['argv'],
      additionalProperties: false,
    },
    needs: ['subprocess'],
    async run(args, scope) {
      const { ctx } = scope;
      const argv = Array.isArray(args.argv) ? (args.argv as unknown[]) : [];
      if (argv.length === 0 || !argv.every((a): a is string => typeof a === 'string' && !a.includes('\0'))) {
        return refuse('E_TOOL_ARGS_INVALID', 'argv must be a non-empty array of strings without NUL bytes');
      }
      const cwd = typeof args.cwd === 'string' ? args.cwd : undefined;
      const timeoutSec = intArg(args, 'timeout_sec', DEFAULT_TIMEOUT_SEC, 1, RUN_COMMAND_MAX_TIMEOUT_SEC);
      let announcing = false;
      let result: ExecResult;
      try {
        result = await execTool(ctx, sandbox, {
          argv,
          ...(cwd !== undefined ? { cwd } : {}),
          timeoutSec,
          index: scope.index,
          announce: () => {
            announcing = true;
            return scope.announce();
          },
        });
      } catch (err) {
        if (!announcing && err instanceof JobError) return refuse(err.code, err.message);
        throw err;
      }
      if (result.aborted) throw ctx.signal.reason;
      const [stdout, stderr] = await Promise.all([
        tail(ctx, result.evidence.stdout),
        tail(ctx, result.evidence.stderr),
      ]);
      const lines = [
        `exit_code: ${result.exit_code ?? 'none'}; signal: ${result.signal ?? 'none'}; timed_out: ${result.timed_out}; ` +
          `duration_ms: ${result.duration_ms}; network: ${result.network}`,
        ...(result.spawn_error !== undefined ? [`spawn_error: ${result.spawn_error}`] : []),
        stream('stdout', result.stdout_bytes, result.stdout_truncated, stdout),
        stream('stderr', result.stderr_bytes, result.stderr_truncated, stderr),
      ];
      const evidence = [result.evidence.call, result.evidence.stdout, result.evidence.stderr];
      return { ok: true, content: lines.join('\n'), evidence };
    },
  };
}

function stream(name: string, seen: number, truncated: boolean, shown: string): string {
  const shownBytes = Buffer.byteLength(shown);
  const what =
    seen === 0
      ? `${name}: empty`
      : shownBytes < seen
        ? `${name}: ${seen} bytes, the last ${shownBytes}${truncated ? ' kept (output budget)' : ''} shown:`
        : `${name}: ${seen} bytes:`;
  return seen === 0 ? what : `${what}\n${shown}`;
}

/** The last RUN_COMMAND_TAIL_BYTES of an evidence file (a path relative to evidence/<job_id>/), as text. */
async function tail(ctx: JobHandlerContext<unknown>, evidencePath: string): Promise<string> {
  const file = await open(join(ctx.evidenceDir, posix.basename(evidencePath)), 'r');
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - RUN_COMMAND_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await file.read(buf, 0, buf.length, start);
    let from = 0;
    // Starting inside a character: skip its continuation bytes rather than show U+FFFD for them.
    while (start > 0 && from < 3 && from < buf.length && (buf[from]! & 0xc0) === 0x80) from++;
    return buf.subarray(from).toString('utf8');
  } finally {
    await file.close();
  }
}
