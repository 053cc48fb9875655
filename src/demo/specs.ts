/**
 * The embedded default: sample jobs `execplane enqueue --demo` and `npm run demo` use. They
 * work on the sample project src/demo/workspace.ts writes (every file they read is there, none
 * of the execplane checkout's), need no network, and finish in seconds.
 */
import type { JobSpec } from '../schema/job-spec.js';

const budgets = (over: Partial<JobSpec['budgets']> = {}): JobSpec['budgets'] => ({
  max_wall_time_sec: 60,
  max_tool_calls: 8,
  max_output_bytes: 262_144,
  max_concurrency_slots: 1,
  ...over,
});

const noTools: JobSpec['tool_policy'] = { allow_network: false, allow_subprocess: false, allowed_tools: [] };

export function demoSpecs(): JobSpec[] {
  return [
    {
      job_type: 'repo_index_task',
      priority: 10,
      budgets: budgets(),
      tool_policy: noTools,
      payload: {
        include_globs: ['src/**/*.ts', 'docs/**/*.md', '*.md'],
        exclude_globs: ['**/*.generated.ts'],
        max_files: 500,
        max_file_bytes: 65_536,
        keywords: ['lease', 'fencing', 'checkpoint', 'torn tail'],
      },
      meta: { source: 'demo' },
    },
    {
      job_type: 'doc_compactor_task',
      priority: 5,
      budgets: budgets(),
      tool_policy: noTools,
      payload: {
        inputs: ['README.md', 'docs/design.md'],
        max_input_bytes: 262_144,
        max_output_bytes: 16_384,
        title: 'notes-sync in brief',
      },
      meta: { source: 'demo' },
    },
    {
      job_type: 'test_runner_task',
      budgets: budgets({ max_tool_calls: 4 }),
      tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: [] },
      payload: {
        commands: [
          ['node', '--version'],
          ['node', 'check.mjs'],
        ],
        timeout_sec: 30,
      },
      meta: { source: 'demo' },
    },
    {
      job_type: 'agent_task',
      budgets: budgets({ max_tool_calls: 4, max_concurrency_slots: 2, max_model_tokens: 50_000 }),
      tool_policy: {
        allow_network: false,
        allow_subprocess: false,
        allowed_tools: ['list_files', 'read_file', 'search_workspace'],
      },
      // The offline `stub` model (docs/model-lane.md) lists the workspace, reads its README, answers.
      payload: {
        prompt: 'Summarise what the log of this project guarantees in two sentences.',
        max_turns: 4,
      },
      meta: { source: 'demo' },
    },
  ];
}
