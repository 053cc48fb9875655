/**
 * The job machine compiled once into a transition table: state × event → candidate transitions,
 * each with its guards (the same `guardRules[name].check` functions), its target and its context
 * update (the same `contextUpdates` the machine's actions apply). The fold (replay, the write path,
 * audit) runs events through this table instead of XState's `transition()`, which costs ≈ 50 µs per
 * event and would cap replay near 20k events/s; the table costs well under 1 µs
 * (docs/decisions.md, "Replay speed").
 *
 * The machine stays the single definition of what may happen:
 *   T1. The table is read from `jobMachine`'s own state nodes at load time, never written by hand;
 *       anything in the machine the table cannot express (nested states, entry/exit actions,
 *       eventless or delayed transitions, inline guards or actions, `or`/`not` guards) makes
 *       loading throw, so the machine cannot grow a feature the fold would silently ignore.
 *   T2. Transitions are tried in the machine's order and the first whose guards all pass is taken,
 *       as XState does; no candidate means the event is refused and the job is unchanged.
 *   T3. A differential property test (tests/job-table.property.spec.ts) runs random event
 *       sequences through this table and through XState's `initialTransition`/`transition`, and
 *       requires the same acceptance, state value and context after every event.
 */
import type { AnyStateMachine } from 'xstate';
import { guardRules, type GuardName } from './job.guards.js';
import { jobMachine } from './job.machine.js';
import {
  JOB_STATES,
  type JobContext,
  type JobMachineEvent,
  type JobMachineInput,
  type JobStateValue,
} from './job.types.js';
import {
  applyUpdate,
  contextUpdates,
  initialContext,
  type ContextUpdate,
  type UpdateName,
} from './job.updates.js';

/** A job as the fold keeps it: the machine's state value and context (an XState snapshot's two facts). */
export interface JobRecord {
  readonly value: JobStateValue;
  readonly context: JobContext;
}

export interface CompiledTransition {
  readonly target: JobStateValue;
  readonly guards: readonly GuardName[];
  readonly updates: readonly UpdateName[];
  /** The guards' checks and the updates' functions, resolved once. */
  readonly checks: readonly ((context: JobContext, event: JobMachineEvent) => boolean)[];
  readonly apply: readonly ContextUpdate[];
}

export type EventType = JobMachineEvent['type'];
export type JobTable = Readonly<
  Record<JobStateValue, Readonly<Partial<Record<EventType, readonly CompiledTransition[]>>>>
>;

interface GuardLike {
  readonly name?: string;
  readonly guards?: readonly unknown[];
}

function cannot(what: string): never {
  throw new Error(`the compiled job table cannot express ${what}; extend machines/job.table.ts (T1)`);
}

function guardList(guard: unknown, where: string): GuardName[] {
  if (guard === undefined) return [];
  if (typeof guard === 'string') {
    if (!(guard in guardRules)) cannot(`guard ${guard} (${where}): it is not in guardRules`);
    return [guard as GuardName];
  }
  const g = guard as GuardLike;
  if (typeof guard === 'function' && g.name === 'and' && Array.isArray(g.guards)) {
    return g.guards.flatMap((inner) => guardList(inner, where));
  }
  return cannot(`a guard other than a named rule or and([...]) (${where})`);
}

function updateList(actions: readonly unknown[], where: string): UpdateName[] {
  return actions.map((a) => {
    if (typeof a !== 'string' || !(a in contextUpdates)) cannot(`action ${String(a)} (${where})`);
    return a as UpdateName;
  });
}

/** Reads the table from the machine's state nodes (T1). */
export function compileJobTable(machine: AnyStateMachine = jobMachine): JobTable {
  const root = machine.root;
  if (root.transitions.size > 0 || root.entry.length > 0 || root.exit.length > 0 || root.always?.length) {
    cannot('transitions or actions on the root node');
  }
  const table = {} as Record<JobStateValue, Partial<Record<EventType, CompiledTransition[]>>>;
  for (const [key, node] of Object.entries(root.states)) {
    const from = key as JobStateValue;
    if (!JOB_STATES.includes(from)) cannot(`state ${key}: it is not in JOB_STATES`);
    if (Object.keys(node.states).length > 0) cannot(`nested states (in ${key})`);
    if (node.entry.length > 0 || node.exit.length > 0) cannot(`entry/exit actions (in ${key})`);
    if (node.always?.length || node.after.length > 0 || node.invoke.length > 0) {
      cannot(`eventless, delayed or invoked transitions (in ${key})`);
    }
    const row: Partial<Record<EventType, CompiledTransition[]>> = {};
    for (const [eventType, defs] of node.transitions) {
      if (eventType.includes('*')) cannot(`wildcard event ${eventType} (in ${key})`);
      row[eventType as EventType] = defs.map((def) => {
        const where = `${key} on ${eventType}`;
        if (def.target && def.target.length !== 1) cannot(`a transition with several targets (${where})`);
        const target = (def.target?.[0]?.key ?? from) as JobStateValue;
        if (def.target?.[0] && def.target[0].parent !== root)
          cannot(`a target outside the top level (${where})`);
        if (def.reenter) cannot(`a re-entering transition (${where})`);
        const guards = guardList(def.guard, where);
        const updates = updateList(def.actions, where);
        return {
          target,
          guards,
          updates,
          checks: guards.map((g) => guardRules[g].check),
          apply: updates.map((u) => contextUpdates[u]),
        };
      });
    }
    table[from] = row;
  }
  for (const s of JOB_STATES) if (!table[s]) cannot(`a missing state ${s}`);
  return table;
}

export const jobTable: JobTable = compileJobTable();

const INITIAL = jobMachine.root.config.initial as JobStateValue;

/** The job an enqueue creates (the machine's initial state and context). */
export function initialJob(input: JobMachineInput): JobRecord {
  return { value: INITIAL, context: initialContext(input) };
}

/** The job after `event`, or undefined when the machine does not accept it (T2). */
export function transitionJob(job: JobRecord, event: JobMachineEvent): JobRecord | undefined {
  const candidates = jobTable[job.value][event.type];
  if (candidates === undefined) return undefined;
  const context = job.context;
  next: for (const t of candidates) {
    for (const check of t.checks) if (!check(context, event)) continue next;
    let updated = context;
    for (const update of t.apply) updated = applyUpdate(updated, event, update);
    return { value: t.target, context: updated };
  }
  return undefined;
}

/** Whether state `value` has any transition for `type` (guards aside). */
export function acceptsEvent(value: JobStateValue, type: EventType): boolean {
  return jobTable[value][type] !== undefined;
}
