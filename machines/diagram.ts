/**
 * The job machine drawn from its own definition (so docs cannot drift from it): every state node
 * and transition of `jobMachine`, with the guards each transition composes.
 */
import { jobMachine } from './job.machine.js';

export interface TransitionRow {
  readonly from: string;
  readonly event: string;
  /** Same as `from` for transitions that stay in the state (heartbeat, tool_call). */
  readonly to: string;
  readonly guards: readonly string[];
}

function guardNames(guard: unknown): string[] {
  if (typeof guard === 'string') return [guard];
  const g = guard as { guards?: unknown[] } | undefined;
  return g?.guards ? g.guards.flatMap(guardNames) : [];
}

export function machineTransitions(): TransitionRow[] {
  const rows: TransitionRow[] = [];
  for (const [from, node] of Object.entries(jobMachine.root.states)) {
    for (const [event, defs] of node.transitions) {
      for (const def of defs) {
        rows.push({ from, event, to: def.target?.[0]?.key ?? from, guards: guardNames(def.guard) });
      }
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
  const lines = ['stateDiagram-v2', `  [*] --> ${String(jobMachine.root.config.initial)} : enqueue`];
  for (const r of machineTransitions()) {
    const label = r.guards.length ? `${r.event} [${r.guards.join(', ')}]` : r.event;
    lines.push(`  ${r.from} --> ${r.to} : ${label}`);
  }
  for (const s of finalStates()) lines.push(`  ${s} --> [*]`);
  return lines.join('\n') + '\n';
}
