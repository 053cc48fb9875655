/**
 * What a job needs of the worker that runs it, read from its context alone (pure): the sandbox
 * decides with it whether it can run a job (sandbox.ts, S1), and `status` with it why a queued
 * job waits (ops/status.ts).
 */
import type { JobContext } from '../../machines/job.types.js';
import type { JobSpec } from '../schema/types.generated.js';

/** Job types whose handlers start processes (and so need the sandbox). */
export const SPAWNING_JOB_TYPES: ReadonlySet<JobSpec['job_type']> = new Set(['test_runner_task']);

/**
 * Whether a job may start processes here: a test_runner_task, or an agent_task allowed to call a
 * tool that does (`run_command`, or an MCP server's tool — the server is a process of the job;
 * docs/model-lane.md) with allow_subprocess.
 */
export function startsProcesses(job: Pick<JobContext, 'job_type' | 'tool_policy'>): boolean {
  if (SPAWNING_JOB_TYPES.has(job.job_type)) return true;
  return (
    job.job_type === 'agent_task' &&
    job.tool_policy.allow_subprocess &&
    job.tool_policy.allowed_tools.some((t) => t === 'run_command' || t.startsWith('mcp__'))
  );
}
