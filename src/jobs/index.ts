/**
 * The job handlers a worker runs by default, by job type, and the sandbox-dependent parts of
 * a worker's options: what each attempt's run header says about the sandbox, and which jobs
 * this worker may claim at all (not allow_network:false ones it cannot enforce).
 */
import { loadPlaneConfig } from '../config/plane-config.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { PlaneConfig } from '../schema/types.generated.js';
import { sandboxFacts, whyCannotRun } from '../sandbox/sandbox.js';
import type { HandlerRegistry } from '../worker/types.js';
import type { WorkerOptions } from '../worker/worker.js';
import { agentHandler, agentModelFacts } from './agent.js';
import { docCompactorHandler } from './doc-compactor.js';
import { repoIndexHandler } from './repo-index.js';
import { testRunnerHandler } from './test-runner.js';

export interface JobRuntimeOptions {
  /** The plane's home. */
  readonly home: string;
  /** From prepareSandbox (sandbox/prepare.ts). */
  readonly sandbox: Sandbox;
  /** config.json (models, MCP servers); read from the home when not given. */
  readonly config?: PlaneConfig;
  /** Where a job this worker will not claim is named, once, with the reason (S1 of sandbox.ts). */
  readonly log?: (message: string) => void;
}

export function defaultHandlers(options: JobRuntimeOptions): HandlerRegistry {
  const config = options.config ?? loadPlaneConfig(options.home).config;
  return {
    repo_index_task: repoIndexHandler({ sandbox: options.sandbox }),
    doc_compactor_task: docCompactorHandler(),
    test_runner_task: testRunnerHandler(options.sandbox),
    agent_task: agentHandler({ config, sandbox: options.sandbox }),
  };
}

/** handlers, runHeaderExtra and canRun for a Worker using the default handlers. */
export function jobRuntime(
  options: JobRuntimeOptions,
): Pick<WorkerOptions, 'handlers' | 'runHeaderExtra' | 'canRun'> {
  const { sandbox } = options;
  const config = options.config ?? loadPlaneConfig(options.home).config;
  const told = new Set<string>();
  return {
    handlers: defaultHandlers({ ...options, config }),
    runHeaderExtra: (job) => ({
      sandbox: sandboxFacts(sandbox, job),
      ...(job.job_type === 'agent_task' ? { model: agentModelFacts(config, job.payload.model) } : {}),
    }),
    canRun: (job) => {
      const why = whyCannotRun(sandbox, job);
      if (why !== undefined && !told.has(job.job_id)) {
        told.add(job.job_id);
        options.log?.(`not claiming ${job.job_id} (${job.job_type}): ${why}`);
      }
      return why === undefined;
    },
  };
}
