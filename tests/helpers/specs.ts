/** Job specs and commands for tests, with defaults small enough to hit every budget. */
import type { Command } from '../../src/core/commands.js';
import type { ToolCallEvent, Usage } from '../../src/schema/types.generated.js';
import type { BuiltinJobSpec, JobSpec } from '../../src/schema/job-spec.js';

type AgentSpec = BuiltinJobSpec<'agent_task'>;

export interface SpecOptions {
  readonly job_id?: string;
  readonly created_at_utc?: string;
  readonly budgets?: Partial<JobSpec['budgets']>;
  readonly tool_policy?: Partial<JobSpec['tool_policy']>;
  readonly max_attempts?: number;
  readonly priority?: number;
  readonly prompt?: string;
}

/** An agent_task spec: wall 60 s, 2 tool calls, 4 KiB output, 1 slot, only `read_file` allowed. */
export function agentSpec(o: SpecOptions = {}): AgentSpec {
  return {
    ...(o.job_id !== undefined ? { job_id: o.job_id } : {}),
    ...(o.created_at_utc !== undefined ? { created_at_utc: o.created_at_utc } : {}),
    job_type: 'agent_task',
    budgets: {
      max_wall_time_sec: 60,
      max_tool_calls: 2,
      max_output_bytes: 4096,
      max_concurrency_slots: 1,
      ...o.budgets,
    },
    tool_policy: {
      allow_network: false,
      allow_subprocess: false,
      allowed_tools: ['read_file'],
      ...o.tool_policy,
    },
    payload: { prompt: o.prompt ?? 'summarise the ledger', max_turns: 2 },
    ...(o.max_attempts !== undefined ? { max_attempts: o.max_attempts } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
  };
}

export const SHA_A = 'a'.repeat(64);

const noUsage: Usage = { tool_calls: 0, output_bytes: 0, wall_ms: 0 };

/** Command builders, so a test reads as "claim job J as worker W". */
export const cmd = {
  enqueue: (spec: unknown): Command => ({ type: 'enqueue', spec }),
  claim: (job_id: string, worker_id = 'w1', o: { slots?: number; lease_sec?: number } = {}): Command => ({
    type: 'claim',
    job_id,
    worker_id,
    worker_slots: o.slots ?? 1,
    lease_sec: o.lease_sec ?? 60,
  }),
  start: (job_id: string, worker_id = 'w1', attempt = 1): Command => ({
    type: 'start',
    job_id,
    worker_id,
    attempt,
    run_header_sha256: SHA_A,
  }),
  heartbeat: (job_id: string, worker_id = 'w1', attempt = 1, lease_sec = 60): Command => ({
    type: 'heartbeat',
    job_id,
    worker_id,
    attempt,
    lease_sec,
  }),
  toolCall: (
    job_id: string,
    worker_id = 'w1',
    attempt = 1,
    o: { tool?: string; requested_by?: ToolCallEvent['requested_by']; needs?: ToolCallEvent['needs'] } = {},
  ): Command => ({
    type: 'tool_call',
    job_id,
    worker_id,
    attempt,
    tool: o.tool ?? 'read_file',
    args_sha256: SHA_A,
    requested_by: o.requested_by ?? 'handler',
    needs: o.needs ?? [],
  }),
  complete: (job_id: string, worker_id = 'w1', attempt = 1, usage: Partial<Usage> = {}): Command => ({
    type: 'complete',
    job_id,
    worker_id,
    attempt,
    result: { ok: true },
    usage: { ...noUsage, ...usage },
  }),
  fail: (job_id: string, worker_id = 'w1', attempt = 1, usage: Partial<Usage> = {}): Command => ({
    type: 'fail',
    job_id,
    worker_id,
    attempt,
    error: { code: 'handler_error', message: 'it broke', retryable: true },
    usage: { ...noUsage, ...usage },
  }),
  expire: (job_id: string): Command => ({ type: 'expire', job_id, reaper: 'test' }),
  retry: (job_id: string, backoff_sec = 0): Command => ({ type: 'retry', job_id, backoff_sec, by: 'reaper' }),
  cancel: (job_id: string, reason = 'not needed'): Command => ({ type: 'cancel', job_id, reason }),
};
