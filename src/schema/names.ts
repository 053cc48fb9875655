/**
 * The values of the schemas' discriminators, once: every job type and every event type. The
 * compiler checks both lists against the generated types, so a type added to a schema and not
 * here (or the reverse) does not compile.
 */
import type { JobSpec, LedgerEvent } from './types.generated.js';

export const JOB_TYPES = [
  'repo_index_task',
  'doc_compactor_task',
  'test_runner_task',
  'agent_task',
] as const satisfies readonly JobSpec['job_type'][];

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
const everyJobType: NoneLeft<Exclude<JobSpec['job_type'], (typeof JOB_TYPES)[number]>> = true;
const everyEventType: NoneLeft<Exclude<LedgerEvent['event'], (typeof EVENT_TYPES)[number]>> = true;
void [everyJobType, everyEventType];
