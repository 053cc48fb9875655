/**
 * The four built-in job types, defined with defineJobType like any user's own: their schema
 * parts (payload schema, defaults, example) from src/schema/builtin-job-types.ts, their handlers
 * from this folder.
 */
import { BUILTIN_JOB_TYPE_SCHEMAS as S } from '../schema/builtin-job-types.js';
import { agentHandler, agentModelFacts } from './agent.js';
import { defineJobType } from './define.js';
import { docCompactorHandler } from './doc-compactor.js';
import { repoIndexHandler } from './repo-index.js';
import { testRunnerHandler } from './test-runner.js';

export const repoIndexJob = defineJobType({
  ...S.repo_index_task,
  createHandler: ({ sandbox }) => repoIndexHandler({ sandbox }),
});

export const docCompactorJob = defineJobType({
  ...S.doc_compactor_task,
  handler: docCompactorHandler(),
});

export const testRunnerJob = defineJobType({
  ...S.test_runner_task,
  createHandler: ({ sandbox }) => testRunnerHandler(sandbox),
});

export const agentJob = defineJobType({
  ...S.agent_task,
  createHandler: ({ config, sandbox }) => agentHandler({ config, sandbox }),
  // docs/spec.md §7: the run header names the model's mode and endpoint.
  runHeader: (job, { config }) => ({ model: agentModelFacts(config, job.payload.model) }),
});

export const BUILTIN_JOB_TYPES = [repoIndexJob, docCompactorJob, testRunnerJob, agentJob] as const;
