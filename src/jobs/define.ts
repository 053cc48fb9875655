/**
 * defineJobType: a job type of the user's own — its name, a JSON Schema for its payload, its
 * defaults and its handler — made known to `enqueue` (library and CLI) and to `work`. The four
 * built-in types are defined with it too (builtins.ts): they are just its first users.
 *
 * D1. A definition is checked when it is made (name, handler); its payload schema is compiled on
 *     first use (the first spec of that type checked), so loading a module of types costs nothing
 *     for a command that never checks one.
 * D2. Replay and audit never need a definition: the stored spec is complete (src/schema/job-types.ts,
 *     T2), so a ledger with jobs of the user's types replays and audits anywhere.
 * D3. A definition made by another copy of this package (a user's module resolving its own
 *     `execplane`) is recognised by its `kind` and `api` fields, not by object identity.
 */
import { UsageError } from '../errors.js';
import type { JobPayload, StoredJob } from '../schema/job-spec.js';
import { JOB_TYPE_NAME, type JobTypeSchema } from '../schema/job-types.js';
import type { PlaneConfig } from '../schema/types.generated.js';
import type { ExecResult } from '../sandbox/exec-tool.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { JobHandler, JobHandlerContext } from '../worker/types.js';

/** One command a handler runs (JobRuntime.runCommand). */
export interface CommandRequest {
  /** The program and its arguments (no shell); which programs may run: docs/sandbox.md. */
  readonly argv: readonly string[];
  /** Relative to the workspace; default the workspace itself. */
  readonly cwd?: string;
  /** Seconds before the command is stopped (a finding in its result: timed_out). */
  readonly timeoutSec: number;
  /** Environment variables passed through (those config.json's sandbox.env_allow permits). */
  readonly envAllow?: readonly string[];
}

/** What a worker gives a job type's handler factory: its plane, sandbox and settings. */
export interface JobRuntime {
  /** The plane's home. */
  readonly home: string;
  /** The worker's sandbox (src/sandbox/prepare.ts): run a job's commands through it (runCommand). */
  readonly sandbox: Sandbox;
  /** The plane's config.json. */
  readonly config: PlaneConfig;
  readonly log?: (message: string) => void;
  /**
   * Runs a command for the job as test_runner_task does: one `exec` tool call in the ledger
   * first (max_tool_calls, allow_subprocess), then the process in the OS sandbox under the job's
   * budgets, its output captured to evidence. A refused call throws a JobError; a command that
   * exits non-zero or times out is a result, not an error.
   */
  runCommand(ctx: JobHandlerContext<unknown>, request: CommandRequest): Promise<ExecResult>;
}

/** A job type as its author writes it. */
export interface JobTypeDefinition<T extends string = string, P = JobPayload> extends Omit<
  JobTypeSchema<T, P>,
  'description' | 'examplePayload'
> {
  readonly description?: string;
  readonly examplePayload?: P;
  /** Runs one attempt of a job of this type. */
  readonly handler?: JobHandler<P>;
  /** Or: makes the handler once per worker, from what the worker has (its sandbox, config.json). */
  readonly createHandler?: (runtime: JobRuntime) => JobHandler<P>;
  /** Facts this type adds to each attempt's run header (besides the sandbox's). */
  readonly runHeader?: (job: StoredJob<T, P>, runtime: JobRuntime) => Record<string, unknown>;
}

/** A defined job type (D3: `kind` and `api` mark it). */
export interface JobType<T extends string = string, P = JobPayload> extends JobTypeSchema<T, P> {
  readonly kind: typeof JOB_TYPE_KIND;
  readonly api: typeof JOB_TYPE_API;
  /** The handler a worker with `runtime` runs jobs of this type with. */
  handlerFor(runtime: JobRuntime): JobHandler;
  /** The type's run-header facts for one job. */
  runHeaderFor(job: StoredJob, runtime: JobRuntime): Record<string, unknown>;
}

export const JOB_TYPE_KIND = 'execplane.job-type';
/** Raised if the shape of JobType ever changes incompatibly. */
export const JOB_TYPE_API = 1;

/** Defines a job type (docs/library.md). Throws UsageError on a definition that cannot work. */
export function defineJobType<T extends string, P = JobPayload>(def: JobTypeDefinition<T, P>): JobType<T, P> {
  const where = `job type ${JSON.stringify(def.name)}`;
  if (typeof def.name !== 'string' || !JOB_TYPE_NAME.test(def.name))
    throw new UsageError(
      'E_JOB_TYPE',
      `${where}: the name must be lowercase letters, digits and _ (at most 64), starting with a letter`,
    );
  if ((def.handler === undefined) === (def.createHandler === undefined))
    throw new UsageError('E_JOB_TYPE', `${where}: give exactly one of handler or createHandler`);
  const schema = def.payloadSchema as unknown;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new UsageError('E_JOB_TYPE', `${where}: payloadSchema must be a JSON Schema object`);
  const { handler, createHandler, runHeader, ...rest } = def;
  return {
    ...rest,
    description: def.description ?? '',
    examplePayload: (def.examplePayload ?? {}) as P,
    kind: JOB_TYPE_KIND,
    api: JOB_TYPE_API,
    handlerFor: (runtime) => (handler ?? createHandler!(runtime)) as unknown as JobHandler,
    runHeaderFor: (job, runtime) => runHeader?.(job as StoredJob<T, P>, runtime) ?? {},
  };
}

/** Whether `value` is a job type made by defineJobType (of any copy of this package: D3). */
export function isJobType(value: unknown): value is AnyJobType {
  const v = value as Partial<AnyJobType> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === JOB_TYPE_KIND &&
    v.api === JOB_TYPE_API &&
    typeof v.name === 'string' &&
    typeof v.handlerFor === 'function'
  );
}

/** Any job type, whatever its payload (what a set of them holds). */
export type AnyJobType = JobType<string, unknown>;
