/**
 * Reads the job machine's transition table from `jobMachine`'s own state nodes (T1 of
 * job.table.ts): for each state and event, the candidate transitions in the machine's order, each
 * with its target, the names of the rules its guard composes (`all(...)`) and of its context updates.
 * `npm run gen:table` writes the result to machines/job.table.json, which is what processes load;
 * `node scripts/gen-table.js --check` (part of `npm run build`, so of `npm test` and CI) fails when
 * that file is not exactly what this function returns for the machine as it is now, so the two
 * cannot drift.
 */
import type { AnyStateMachine } from 'xstate';
import { guardRules, type GuardName } from './job.guards.js';
import { checkAll, jobMachine, type AllGuardParams } from './job.machine.js';
import type { EventType, TableSpec, TransitionSpec } from './job.table.js';
import { JOB_STATES, type JobStateValue } from './job.types.js';
import { contextUpdates, type UpdateName } from './job.updates.js';

function cannot(what: string): never {
  throw new Error(`the compiled job table cannot express ${what}; extend machines/job.compile.ts (T1)`);
}

/**
 * The rules a transition's guard composes. The machine's one guard form is `all(...)`
 * (job.machine.ts): XState's public guard object `{ type: 'all', params: { rules } }`, read as
 * plain data. Anything else — an inline function, `and`/`or`/`not`, another named guard — throws.
 */
function guardList(guard: unknown, where: string): GuardName[] {
  if (guard === undefined) return [];
  const g: { type?: unknown; params?: Partial<AllGuardParams> } | null =
    typeof guard === 'object' ? guard : null;
  const rules = g?.type === 'all' ? g.params?.rules : undefined;
  if (!Array.isArray(rules)) return cannot(`a guard other than all(...) of job.guards.ts rules (${where})`);
  for (const name of rules as unknown[]) {
    if (typeof name !== 'string' || !(name in guardRules))
      cannot(`guard rule ${String(name)} (${where}): it is not in guardRules`);
  }
  return [...(rules as GuardName[])];
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
  // The table runs the rules' own checks: a machine whose `all` is another function would decide
  // differently from its table.
  const ownAll = (machine.implementations.guards as Record<string, unknown>).all === checkAll;
  const rulesOf = (guard: unknown, where: string) => {
    const rules = guardList(guard, where);
    if (guard !== undefined && !ownAll) cannot(`guard all (${where}): it is not job.machine.ts's checkAll`);
    return rules;
  };
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
        return { target, guards: rulesOf(def.guard, where), updates: updateList(def.actions, where) };
      });
    }
    states[from] = row;
  }
  for (const s of JOB_STATES) if (!states[s]) cannot(`a missing state ${s}`);
  return { initial, states };
}
