/**
 * What a job needs of the worker that runs it, read from its context alone (pure): the sandbox
 * decides with it whether it can run a job (sandbox.ts, S1), and `status` with it why a queued
 * job waits (ops/status.ts).
 */
import type { JobContext } from '../../machines/job.types.js';
import { JOB_TYPES } from '../schema/names.js';

/** Job types whose handlers start processes (and so need the sandbox). */
export const SPAWNING_JOB_TYPES: ReadonlySet<string> = new Set(['test_runner_task']);
const BUILTIN: ReadonlySet<string> = new Set(JOB_TYPES);

/**
 * Whether a job may start processes here: a test_runner_task; an agent_task allowed to call a
 * tool that does (`run_command`, or an MCP server's tool — the server is a process of the job;
 * docs/model-lane.md) with allow_subprocess; a job of a type of the user's own whose policy
 * allows processes (its handler may run commands through the sandbox; docs/library.md).
 */
export function startsProcesses(job: Pick<JobContext, 'job_type' | 'tool_policy'>): boolean {
  if (SPAWNING_JOB_TYPES.has(job.job_type)) return true;
  if (!BUILTIN.has(job.job_type)) return job.tool_policy.allow_subprocess;
  return (
    job.job_type === 'agent_task' &&
    job.tool_policy.allow_subprocess &&
    job.tool_policy.allowed_tools.some((t) => t === 'run_command' || t.startsWith('mcp__'))
  );
}
