/** A job's timeline: its events in ledger order, each with the state it left the job in. */
import type { JobRecord, JobStateValue, Refusal } from '../../machines/job.types.js';
import { PlaneState } from '../core/plane-state.js';
import type { LedgerEvent } from '../schema/types.generated.js';

export interface TimelineEntry {
  readonly seq: number;
  readonly line: number;
  readonly ts_utc: string;
  readonly event: LedgerEvent['event'];
  readonly worker_id: string | null;
  readonly attempt: number | null;
  readonly state: JobStateValue;
  readonly detail: string;
}

export function timelineEntry(ev: LedgerEvent, line: number, state: PlaneState): TimelineEntry {
  return {
    seq: ev.seq,
    line,
    ts_utc: ev.ts_utc,
    event: ev.event,
    worker_id: 'worker_id' in ev ? ev.worker_id : null,
    attempt: 'attempt' in ev ? ev.attempt : null,
    state: state.jobState(ev.job_id)!,
    detail: describe(ev),
  };
}

const iso = (unix: number) => new Date(unix * 1000).toISOString();

function describe(ev: LedgerEvent): string {
  switch (ev.event) {
    case 'enqueue':
      return `${ev.job.job_type}, priority ${ev.job.priority ?? 0}, max_attempts ${ev.job.max_attempts ?? 3}`;
    case 'claim':
      return `lease until ${iso(ev.lease_expires_unix)}, worker_slots ${ev.worker_slots}`;
    case 'start':
      return `run header ${ev.run_header_sha256.slice(0, 12)}`;
    case 'heartbeat':
      return `lease until ${iso(ev.lease_expires_unix)}`;
    case 'tool_call':
      return `${ev.tool} (${ev.requested_by}${ev.needs.length ? `; ${ev.needs.join(', ')}` : ''})`;
    case 'complete':
      return `${ev.usage.tool_calls} tool call(s), ${ev.usage.output_bytes} output bytes, ${ev.usage.wall_ms} ms`;
    case 'fail':
      return `${ev.error.code}: ${ev.error.message}`;
    case 'expire':
      return `lease of ${ev.worker_id} lapsed at ${iso(ev.lease_expires_unix)}`;
    case 'retry':
      return `attempt ${ev.attempt} not before ${iso(ev.not_before_unix)}${ev.by ? ` (by ${ev.by})` : ''}${ev.reason !== undefined ? `: ${ev.reason}` : ''}`;
    case 'cancel':
      return ev.reason;
  }
}

/**
 * One job's timeline folded from its own events alone (what `show` reads through jobs.index): a
 * job's state and context follow from its own events only, so this is the state the whole fold
 * gives it. A refusal means the events are not the job's whole history in order.
 */
export function foldJobEvents(
  jobId: string,
  lines: readonly { readonly ev: LedgerEvent; readonly line: number }[],
): { job: JobRecord; timeline: TimelineEntry[] } | { refusal: Refusal } {
  const state = new PlaneState();
  const timeline: TimelineEntry[] = [];
  for (const { ev, line } of lines) {
    const refusal = state.evolve(ev);
    if (refusal) return { refusal };
    timeline.push(timelineEntry(ev, line, state));
  }
  const job = state.get(jobId);
  return job ? { job, timeline } : { refusal: { code: 'E_UNKNOWN_JOB', message: `no job ${jobId}` } };
}
