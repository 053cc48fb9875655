/**
 * The built-in job types and every event type, once. The compiler checks both lists against the
 * types (src/schema/job-spec.ts, the generated ones), so a type added there and not here (or the
 * reverse) does not compile.
 */
import type { LedgerEvent } from './types.generated.js';
import type { BuiltinJobType } from './job-spec.js';

export const JOB_TYPES = [
  'repo_index_task',
  'doc_compactor_task',
  'test_runner_task',
  'agent_task',
] as const satisfies readonly BuiltinJobType[];

export const EVENT_TYPES = [
  'enqueue',
  'claim',
  'start',
  'heartbeat',
  'tool_call',
  'complete',
  'fail',
  'expire',
  'retry',
  'cancel',
] as const satisfies readonly LedgerEvent['event'][];

/** `true` only when `Left` is empty: a name the schema has and a list here lacks fails to compile. */
type NoneLeft<Left> = [Left] extends [never] ? true : Left;
const everyJobType: NoneLeft<Exclude<BuiltinJobType, (typeof JOB_TYPES)[number]>> = true;
const everyEventType: NoneLeft<Exclude<LedgerEvent['event'], (typeof EVENT_TYPES)[number]>> = true;
void [everyJobType, everyEventType];
