/**
 * `status --format prometheus`: the status and health as Prometheus text exposition (format
 * 0.0.4), for node_exporter's textfile collector or any scraper that reads a file — no server.
 * Metric names are stable; a label value is escaped as the format says (\\, \", \n).
 */
import type { Health } from './health.js';
import type { PlaneStatus } from './status.js';

type Labels = Readonly<Record<string, string>>;

export function prometheusText(status: PlaneStatus, health: Health): string {
  const out: string[] = [];
  const metric = (
    name: string,
    help: string,
    samples: ReadonlyArray<readonly [Labels, number]>,
    type = 'gauge',
  ) => {
    out.push(`# HELP execplane_${name} ${help}`, `# TYPE execplane_${name} ${type}`);
    for (const [labels, value] of samples) out.push(`execplane_${name}${labelText(labels)} ${value}`);
  };
  const one = (v: number): ReadonlyArray<readonly [Labels, number]> => [[{}, v]];

  // When this file is not rewritten (status failed), its timestamp says how old it is.
  metric(
    'status_timestamp_seconds',
    'When this status was read (Unix time).',
    one(Date.parse(status.checked_utc) / 1000),
  );
  metric('healthy', '1 when `execplane health` would exit 0.', one(health.healthy ? 1 : 0));
  const byCode = new Map<string, number>();
  for (const r of health.degraded) byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
  metric(
    'degraded',
    'Reasons `execplane health` reports, counted by code (one series per code).',
    [...byCode].map(([code, n]) => [{ code }, n] as const),
  );
  metric('ledger_events', 'Events in the ledger (its head seq).', one(status.events));
  metric(
    'ledger_last_event_age_seconds',
    'Seconds since the last event.',
    status.last_event ? one(status.last_event.age_sec) : [],
  );
  metric('ledger_torn_tail', '1 when the ledger ends in a torn tail.', one(status.torn_tail ? 1 : 0));
  metric('kill_switch', '1 when the kill switch is on.', one(status.kill_switch.on ? 1 : 0));
  metric(
    'jobs',
    'Jobs by state.',
    Object.entries(status.counts).map(([state, n]) => [{ state }, n] as const),
  );
  metric(
    'oldest_queued_age_seconds',
    'Age of the oldest queued job (0 when none is queued).',
    one(status.oldest_queued?.age_sec ?? 0),
  );
  metric(
    'retries_waiting',
    'Queued jobs backing off before their next attempt.',
    one(status.retries_waiting.count),
  );
  metric('leases', 'Live leases (claimed or running jobs).', one(status.leases.length));
  metric('leases_unreaped', 'Leases lapsed and not reaped.', one(status.unreaped_leases));
  metric(
    'workers_alive',
    'Workers whose process lives.',
    one(status.workers.filter((w) => w.alive === true).length),
  );
  metric(
    'worker_jobs_held',
    'Jobs each worker holds a lease on.',
    status.workers.map((w) => [{ worker_id: w.worker_id }, w.jobs_held] as const),
  );
  metric(
    'model_up',
    'Whether each configured model endpoint answered its probe (not written for --no-probe).',
    status.models.filter((m) => m.ok !== null).map((m) => [{ model: m.name }, m.ok ? 1 : 0] as const),
  );
  metric(
    'model_probe_seconds',
    'How long each model probe took.',
    status.models.filter((m) => m.ok !== null).map((m) => [{ model: m.name }, m.latency_ms / 1000] as const),
  );
  return out.join('\n') + '\n';
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
}
