/**
 * What a worker runs jobs with: the handler of each job type it knows (the built-in ones and
 * any of the user's own, src/jobs/define.ts), what each attempt's run header says about the
 * sandbox and the job type, and which jobs this worker may claim at all — not allow_network:false
 * ones it cannot enforce, and not jobs of a type it has no handler for (another worker may).
 */
import { loadPlaneConfig } from '../config/plane-config.js';
import { JobTypeSet } from '../schema/job-types.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { PlaneConfig } from '../schema/types.generated.js';
import { sandboxFacts, whyCannotRun } from '../sandbox/sandbox.js';
import type { HandlerRegistry } from '../worker/types.js';
import { execTool } from '../sandbox/exec-tool.js';
import { prepareSandbox, type PrepareSandboxOptions } from '../sandbox/prepare.js';
import { Worker, type WorkerOptions } from '../worker/worker.js';
import { BUILTIN_JOB_TYPES } from './builtins.js';
import type { AnyJobType, JobRuntime } from './define.js';

export interface JobRuntimeOptions {
  /** The plane's home. */
  readonly home: string;
  /** From prepareSandbox (sandbox/prepare.ts). */
  readonly sandbox: Sandbox;
  /** config.json (models, MCP servers); read from the home when not given. */
  readonly config?: PlaneConfig;
  /** The job types this worker runs (default: the built-in ones; see jobTypeSet). */
  readonly jobTypes?: JobTypeSet<AnyJobType>;
  /** Where a job this worker will not claim is named, once, with the reason (S1 of sandbox.ts). */
  readonly log?: (message: string) => void;
}

/** The built-in job types and `more` of the user's own, as one set (a name used twice is refused). */
export function jobTypeSet(more: Iterable<AnyJobType> = []): JobTypeSet<AnyJobType> {
  return new JobTypeSet<AnyJobType>([...BUILTIN_JOB_TYPES, ...more]);
}

export function defaultHandlers(options: JobRuntimeOptions): HandlerRegistry {
  const runtime = runtimeOf(options);
  const types = options.jobTypes ?? jobTypeSet();
  return Object.fromEntries([...types].map((t) => [t.name, t.handlerFor(runtime)]));
}

/** handlers, runHeaderExtra and canRun for a Worker running `jobTypes` (default: the built-in ones). */
export function jobRuntime(
  options: JobRuntimeOptions,
): Pick<WorkerOptions, 'handlers' | 'runHeaderExtra' | 'canRun'> {
  const { sandbox } = options;
  const runtime = runtimeOf(options);
  const types = options.jobTypes ?? jobTypeSet();
  const handlers = defaultHandlers({ ...options, config: runtime.config, jobTypes: types });
  const told = new Set<string>();
  return {
    handlers,
    runHeaderExtra: (job) => ({
      sandbox: sandboxFacts(sandbox, job),
      ...types.get(job.job_type)?.runHeaderFor(job, runtime),
    }),
    canRun: (job) => {
      const why =
        handlers[job.job_type] === undefined
          ? `no job type ${job.job_type} here (load its definition with --jobs FILE or config.json "jobs": docs/library.md)`
          : whyCannotRun(sandbox, job);
      if (why !== undefined && !told.has(job.job_id)) {
        told.add(job.job_id);
        options.log?.(`not claiming ${job.job_id} (${job.job_type}): ${why}`);
      }
      return why === undefined;
    },
  };
}

function runtimeOf(options: JobRuntimeOptions): JobRuntime {
  // Each attempt numbers its commands for their evidence files (exec-tool.ts).
  const calls = new WeakMap<object, number>();
  return {
    home: options.home,
    sandbox: options.sandbox,
    config: options.config ?? loadPlaneConfig(options.home).config,
    ...(options.log ? { log: options.log } : {}),
    runCommand: (ctx, request) => {
      const index = (calls.get(ctx) ?? 0) + 1;
      calls.set(ctx, index);
      return execTool(ctx, options.sandbox, { ...request, index });
    },
  };
}

export interface CreateWorkerOptions
  extends
    Omit<WorkerOptions, 'handlers' | 'runHeaderExtra' | 'canRun'>,
    Pick<PrepareSandboxOptions, 'unsandboxedOk' | 'unenforcedNetworkOk'> {
  /** Job types of your own this worker runs besides the built-in ones (defineJobType). */
  readonly jobTypes?: Iterable<AnyJobType>;
}

/**
 * A Worker for the plane in `home` running the built-in job types and `jobTypes`, with the
 * sandbox probed as `execplane work` probes it (docs/library.md). Start it with `run()`.
 */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const { jobTypes, unsandboxedOk, unenforcedNetworkOk, ...rest } = options;
  const sandbox = await prepareSandbox({
    home: options.home,
    ...(unsandboxedOk !== undefined ? { unsandboxedOk } : {}),
    ...(unenforcedNetworkOk !== undefined ? { unenforcedNetworkOk } : {}),
  });
  const log = options.log ? (m: string) => options.log!(m) : undefined;
  return new Worker({
    ...rest,
    ...jobRuntime({ home: options.home, sandbox, jobTypes: jobTypeSet(jobTypes), ...(log ? { log } : {}) }),
  });
}
