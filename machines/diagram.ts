/**
 * The job machine drawn from its own definition (so docs cannot drift from it): the transition
 * table compiled from `jobMachine` (job.compile.ts), with the rules each transition composes.
 */
import { compileJobTable } from './job.compile.js';
import { jobMachine } from './job.machine.js';

export interface TransitionRow {
  readonly from: string;
  readonly event: string;
  /** Same as `from` for transitions that stay in the state (heartbeat, tool_call). */
  readonly to: string;
  readonly guards: readonly string[];
}

export function machineTransitions(): TransitionRow[] {
  const rows: TransitionRow[] = [];
  for (const [from, row] of Object.entries(compileJobTable(jobMachine).states)) {
    for (const [event, transitions] of Object.entries(row)) {
      for (const t of transitions ?? []) rows.push({ from, event, to: t.target, guards: t.guards });
    }
  }
  return rows;
}

export function finalStates(): string[] {
  return Object.entries(jobMachine.root.states)
    .filter(([, node]) => node.type === 'final')
    .map(([key]) => key);
}

/** A Mermaid `stateDiagram-v2` of the job machine. */
export function machineMermaid(): string {
  const lines = ['stateDiagram-v2', `  [*] --> ${compileJobTable(jobMachine).initial} : enqueue`];
  for (const r of machineTransitions()) {
    const label = r.guards.length ? `${r.event} [${r.guards.join(', ')}]` : r.event;
    lines.push(`  ${r.from} --> ${r.to} : ${label}`);
  }
  for (const s of finalStates()) lines.push(`  ${s} --> [*]`);
  return lines.join('\n') + '\n';
}
