/**
 * What the built-in tools share: reading their (model-controlled) arguments without trusting
 * them, turning a refusal into a ToolResult, and matching a model's glob off the event loop
 * with a deadline of its own.
 */
import { matchGlobs } from '../../sandbox/glob-match.js';
import { PathRejectedError } from '../../sandbox/paths.js';
import { JobError } from '../../worker/errors.js';
import { TOOL_RESULT_MAX_BYTES } from '../loop.js';
import type { ToolResult } from '../types.js';

/**
 * What the loop sends the model of a result at most (loop.ts): the tools fit their results in it,
 * so what they say about the rest (a next offset, `truncated`) is never cut off by the loop.
 */
export const RESULT_MAX_BYTES = TOOL_RESULT_MAX_BYTES;

/** The JSON Schema of a tool's workspace-relative `path` argument. */
export const pathParameter = (description: string) =>
  ({ type: 'string', minLength: 1, maxLength: 4096, description }) as const;

/** How many of `lines` fit in `budget` bytes, joined by newlines (each counted with its newline). */
export function linesThatFit(lines: readonly string[], budget: number): number {
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    used += Buffer.byteLength(lines[i]!) + 1;
    if (used > budget) return i;
  }
  return lines.length;
}

/** A string argument, or `fallback` when it is absent or not a string. */
export function stringArg(args: Record<string, unknown>, key: string, fallback: string): string {
  const v = args[key];
  return typeof v === 'string' ? v : fallback;
}

/** An integer argument clamped to [min, max], or `fallback` when it is absent or not a number. */
export function intArg(
  args: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = args[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(v)));
}

export function refuse(code: string, message: string): ToolResult {
  return { ok: false, code, message };
}

/** A path rejection (path_rejected:<reason>) as the model's result; anything else is rethrown. */
export function pathRefusal(err: unknown): ToolResult {
  if (err instanceof PathRejectedError) return refuse(err.code, err.message);
  throw err;
}

/**
 * How long a model's glob may take over the whole listing. picomatch compiles a glob to a
 * regular expression, and a short one can backtrack for minutes (glob-match.ts, G1): for a
 * job's own globs the wall-time budget ends that, for a model's the call does.
 */
export const GLOB_MATCH_TIMEOUT_MS = 10_000;

/** The paths matching `glob`, or the refusal the model gets for a glob that is invalid or too slow. */
export async function filterByGlob(
  paths: readonly string[],
  glob: string,
  signal: AbortSignal,
): Promise<{ readonly paths: string[] } | { readonly refused: ToolResult }> {
  const deadline = AbortSignal.timeout(GLOB_MATCH_TIMEOUT_MS);
  try {
    return { paths: await matchGlobs(paths, [glob], [], AbortSignal.any([signal, deadline])) };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (deadline.aborted) {
      return {
        refused: refuse(
          'E_GLOB_TIMEOUT',
          `glob ${JSON.stringify(glob.slice(0, 200))} took longer than ${GLOB_MATCH_TIMEOUT_MS / 1000} s ` +
            `to match; use a simpler one (e.g. "src/**/*.ts")`,
        ),
      };
    }
    if (err instanceof JobError) throw err;
    return {
      refused: refuse(
        'E_GLOB_INVALID',
        `glob ${JSON.stringify(glob.slice(0, 200))}: ${(err as Error).message}`,
      ),
    };
  }
}

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
