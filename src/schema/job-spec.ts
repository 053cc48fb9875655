/**
 * The job spec as TypeScript: generic in its job type and payload, so a job type of the user's
 * own (src/jobs/define.ts) is typed as exactly as a built-in one. schemas/job.schema.json is the
 * authority (docs/job-spec.md documents it field by field); the parts are generated from it
 * (types.generated.ts), and tests/schema.unit.spec.ts holds this envelope to the schema's fields.
 */
import type {
  AgentPayload,
  BudgetFields,
  Budgets,
  DocCompactorPayload,
  Meta,
  RepoIndexPayload,
  TestRunnerPayload,
  ToolPolicy,
  ToolPolicyFields,
} from './types.generated.js';

/** A payload: a JSON object; its job type's schema says which (a job type types it: defineJobType<P>). */
export type JobPayload = object;

/** The payload of each built-in job type (docs/job-spec.md). */
export interface BuiltinPayloads {
  repo_index_task: RepoIndexPayload;
  doc_compactor_task: DocCompactorPayload;
  test_runner_task: TestRunnerPayload;
  agent_task: AgentPayload;
}
export type BuiltinJobType = keyof BuiltinPayloads;

/**
 * A job spec as written by a user: only `job_type` and `payload` are required; the job type's
 * defaults fill in the rest of `budgets` and `tool_policy` (and, where the type sets them,
 * `priority` and `max_attempts`) before it is stored.
 */
export interface JobSpecInput<T extends string = string, P = JobPayload> {
  /** Where an editor finds the schema; accepted and not stored. */
  readonly $schema?: string;
  readonly job_id?: string;
  readonly job_type: T;
  readonly created_at_utc?: string;
  readonly payload: P;
  readonly budgets?: BudgetFields;
  readonly tool_policy?: ToolPolicyFields;
  readonly priority?: number;
  readonly max_attempts?: number;
  readonly meta?: Meta;
}

/** A complete job spec: its budgets and tool policy in full (job_id and created_at_utc may be absent). */
export interface JobSpec<T extends string = string, P = JobPayload> {
  job_id?: string;
  job_type: T;
  created_at_utc?: string;
  payload: P;
  budgets: Budgets;
  tool_policy: ToolPolicy;
  priority?: number;
  max_attempts?: number;
  meta?: Meta;
}

/** A job spec as its enqueue event stores it: complete, with its id and creation time. */
export type StoredJob<T extends string = string, P = JobPayload> = JobSpec<T, P> & {
  job_id: string;
  created_at_utc: string;
};

/** A built-in job's spec, by type. */
export type BuiltinJobSpec<T extends BuiltinJobType = BuiltinJobType> = {
  [K in T]: JobSpec<K, BuiltinPayloads[K]>;
}[T];
