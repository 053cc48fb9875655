/**
 * The job handlers a worker runs by default, by job type, and the sandbox-dependent parts of
 * a worker's options: what each attempt's run header says about the sandbox, and which jobs
 * this worker may claim at all (not allow_network:false ones it cannot enforce).
 */
import type { Sandbox } from '../sandbox/sandbox.js';
import { canRunJob, sandboxFacts } from '../sandbox/sandbox.js';
import type { HandlerRegistry } from '../worker/types.js';
import type { WorkerOptions } from '../worker/worker.js';
import { agentHandler, STUB_MODEL_FACTS } from './agent.js';
import { docCompactorHandler } from './doc-compactor.js';
import { repoIndexHandler } from './repo-index.js';
import { testRunnerHandler } from './test-runner.js';

export interface JobRuntimeOptions {
  /** The plane's home: kept out of repo_index_task listings when it lies inside the workspace. */
  readonly home: string;
  /** From prepareSandbox (sandbox/prepare.ts). */
  readonly sandbox: Sandbox;
}

export function defaultHandlers(options: JobRuntimeOptions): HandlerRegistry {
  return {
    repo_index_task: repoIndexHandler({ home: options.home, pathVar: options.sandbox.env.PATH }),
    doc_compactor_task: docCompactorHandler(),
    test_runner_task: testRunnerHandler(options.sandbox),
    agent_task: agentHandler(),
  };
}

/** handlers, runHeaderExtra and canRun for a Worker using the default handlers. */
export function jobRuntime(
  options: JobRuntimeOptions,
): Pick<WorkerOptions, 'handlers' | 'runHeaderExtra' | 'canRun'> {
  const { sandbox } = options;
  return {
    handlers: defaultHandlers(options),
    runHeaderExtra: (job) => ({
      sandbox: sandboxFacts(sandbox, job),
      ...(job.job_type === 'agent_task' ? { model: STUB_MODEL_FACTS } : {}),
    }),
    canRun: (job) => canRunJob(sandbox, job),
  };
}
