/**
 * Reads the job machine's transition table from `jobMachine`'s own state nodes (T1 of
 * job.table.ts): for each state and event, the candidate transitions in the machine's order, each
 * with its target, the names of its guards (flattened `and([...])`) and of its context updates.
 * `npm run gen:table` writes the result to machines/job.table.json, which is what processes load;
 * `node bin/gen-table.js --check` (part of `npm run build`, so of `npm test` and CI) fails when
 * that file is not exactly what this function returns for the machine as it is now, so the two
 * cannot drift.
 */
import type { AnyStateMachine } from 'xstate';
import { guardRules, type GuardName } from './job.guards.js';
import { jobMachine } from './job.machine.js';
import type { EventType, TableSpec, TransitionSpec } from './job.table.js';
import { JOB_STATES, type JobStateValue } from './job.types.js';
import { contextUpdates, type UpdateName } from './job.updates.js';

interface GuardLike {
  readonly name?: string;
  readonly guards?: readonly unknown[];
}

function cannot(what: string): never {
  throw new Error(`the compiled job table cannot express ${what}; extend machines/job.compile.ts (T1)`);
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

/** The table of `machine` (T1); anything it cannot express throws. */
export function compileJobTable(machine: AnyStateMachine = jobMachine): TableSpec {
  const root = machine.root;
  if (root.transitions.size > 0 || root.entry.length > 0 || root.exit.length > 0 || root.always?.length) {
    cannot('transitions or actions on the root node');
  }
  const initial = root.config.initial as JobStateValue;
  if (!JOB_STATES.includes(initial)) cannot(`initial state ${String(initial)}: it is not in JOB_STATES`);
  const states = {} as Record<JobStateValue, Partial<Record<EventType, TransitionSpec[]>>>;
  for (const [key, node] of Object.entries(root.states)) {
    const from = key as JobStateValue;
    if (!JOB_STATES.includes(from)) cannot(`state ${key}: it is not in JOB_STATES`);
    if (Object.keys(node.states).length > 0) cannot(`nested states (in ${key})`);
    if (node.entry.length > 0 || node.exit.length > 0) cannot(`entry/exit actions (in ${key})`);
    if (node.always?.length || node.after.length > 0 || node.invoke.length > 0) {
      cannot(`eventless, delayed or invoked transitions (in ${key})`);
    }
    const row: Partial<Record<EventType, TransitionSpec[]>> = {};
    for (const [eventType, defs] of node.transitions) {
      if (eventType.includes('*')) cannot(`wildcard event ${eventType} (in ${key})`);
      row[eventType as EventType] = defs.map((def) => {
        const where = `${key} on ${eventType}`;
        if (def.target && def.target.length !== 1) cannot(`a transition with several targets (${where})`);
        const target = (def.target?.[0]?.key ?? from) as JobStateValue;
        if (def.target?.[0] && def.target[0].parent !== root)
          cannot(`a target outside the top level (${where})`);
        if (def.reenter) cannot(`a re-entering transition (${where})`);
        return { target, guards: guardList(def.guard, where), updates: updateList(def.actions, where) };
      });
    }
    states[from] = row;
  }
  for (const s of JOB_STATES) if (!states[s]) cannot(`a missing state ${s}`);
  return { initial, states };
}
