/**
 * The built-in tools a model may call (docs/model-lane.md, "Built-in tools"): each a capability of the
 * sandbox with a JSON Schema for its arguments, one module each.
 *
 * T1. A tool's schema is the only validation of its arguments (the loop checks them with Ajv
 *     before `run`); `run` still takes any input safely, since the arguments are the model's.
 * T2. A tool announces its call (the `tool_call` event) exactly once, after its own checks and
 *     before it reads, writes or starts anything; a refusal (ok false) before that is not in the
 *     ledger. Path rejections come back as `path_rejected:<reason>`.
 * T3. Results are compact, deterministic plain text; the loop caps their size.
 */
import type { Sandbox } from '../../sandbox/sandbox.js';
import type { ModelTool } from '../types.js';
import { listFilesTool } from './list-files.js';
import { readFileTool } from './read-file.js';
import { runCommandTool } from './run-command.js';
import { searchWorkspaceTool } from './search-workspace.js';
import { writeFileTool } from './write-file.js';

export const BUILTIN_TOOL_NAMES = [
  'list_files',
  'read_file',
  'search_workspace',
  'run_command',
  'write_file',
] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number];

export interface BuiltinToolsOptions {
  /** The worker's sandbox: run_command runs in it, and list/search run `git ls-files` in it. */
  readonly sandbox: Sandbox;
}

/** Every built-in tool, in BUILTIN_TOOL_NAMES order; the loop offers the job's allowed ones. */
export function builtinTools(options: BuiltinToolsOptions): ModelTool[] {
  const { sandbox } = options;
  return [
    listFilesTool(sandbox),
    readFileTool(),
    searchWorkspaceTool(sandbox),
    runCommandTool(sandbox),
    writeFileTool(),
  ];
}
