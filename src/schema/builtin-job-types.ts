/**
 * The four built-in job types as the schema layer knows them (src/schema/job-types.ts): their
 * payload schemas (schemas/job.schema.json, compiled ahead of time), their defaults and an example
 * payload each. src/jobs/builtins.ts gives each its handler through defineJobType, the same API
 * a user's own job type goes through (docs/library.md); docs/job-spec.md lists these defaults.
 */
import type { BuiltinJobType, BuiltinPayloads, JobSpec } from './job-spec.js';
import { JobTypeSet, underPayload, type JobTypeSchema } from './job-types.js';
import { builtinPayloadValidators } from './validate.js';

const SCHEMA_ID = 'https://execplane.dev/schemas/job.schema.json';

function builtin<T extends BuiltinJobType>(
  name: T,
  def: string,
  rest: Omit<JobTypeSchema<T, BuiltinPayloads[T]>, 'name' | 'payloadSchema' | 'payloadProblems'>,
): JobTypeSchema<T, BuiltinPayloads[T]> {
  const check = builtinPayloadValidators[name];
  return {
    name,
    payloadSchema: { $ref: `${SCHEMA_ID}#/$defs/${def}` },
    payloadProblems: (payload) => (check(payload) ? [] : underPayload(check.errors)),
    ...rest,
  };
}

export const BUILTIN_JOB_TYPE_SCHEMAS = {
  repo_index_task: builtin('repo_index_task', 'RepoIndexPayload', {
    description: 'indexes the workspace files matching include_globs: sizes, lines, hashes, keyword hits',
    defaults: {
      budgets: { max_wall_time_sec: 300, max_tool_calls: 0, max_output_bytes: 4_194_304 },
    },
    examplePayload: { include_globs: ['**/*.md'], max_files: 1000, max_file_bytes: 65_536 },
  }),
  doc_compactor_task: builtin('doc_compactor_task', 'DocCompactorPayload', {
    description: 'compacts Markdown files into one outline with their headings and first sentences',
    defaults: {
      budgets: { max_wall_time_sec: 120, max_tool_calls: 0, max_output_bytes: 1_048_576 },
    },
    examplePayload: { inputs: ['README.md'], max_input_bytes: 262_144, max_output_bytes: 16_384 },
  }),
  test_runner_task: builtin('test_runner_task', 'TestRunnerPayload', {
    description: 'runs commands (argv lists) in the sandbox, one after another, and reports each exit',
    defaults: {
      budgets: { max_wall_time_sec: 900, max_tool_calls: 32, max_output_bytes: 8_388_608 },
      tool_policy: { allow_subprocess: true },
    },
    examplePayload: { commands: [['node', '--version']], timeout_sec: 60 },
  }),
  agent_task: builtin('agent_task', 'AgentPayload', {
    description: 'a model works through a prompt with the tools its tool_policy allows (docs/model-lane.md)',
    defaults: {
      budgets: { max_wall_time_sec: 600, max_tool_calls: 32, max_output_bytes: 1_048_576 },
      tool_policy: { allowed_tools: ['list_files', 'read_file', 'search_workspace'] },
    },
    examplePayload: { prompt: 'List the Markdown files of the workspace and summarise one.', max_turns: 4 },
  }),
} as const satisfies { [K in BuiltinJobType]: JobTypeSchema<K, BuiltinPayloads[K]> };

/** The built-in job types, as a plane checks specs against them by default. */
export const BUILTIN_JOB_TYPE_SET = new JobTypeSet<JobTypeSchema<string, unknown>>(
  Object.values(BUILTIN_JOB_TYPE_SCHEMAS),
);

/**
 * Checks a job spec as written (docs/job-spec.md) against `jobTypes` (default the built-in ones)
 * and returns it complete, as it would be stored: its job type's defaults filled in (job_id and
 * created_at_utc are chosen when it is enqueued). Throws SchemaError with one line per problem.
 */
export function validateJobSpec(
  spec: unknown,
  options: { readonly jobTypes?: JobTypeSet<JobTypeSchema<string, unknown>>; readonly what?: string } = {},
): JobSpec {
  return (options.jobTypes ?? BUILTIN_JOB_TYPE_SET).resolve(spec, options.what);
}
