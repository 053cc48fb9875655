import { Option, type Command as Program } from 'commander';
import { UsageError } from '../../errors.js';
import { healthOf } from '../../ops/health.js';
import { prometheusText } from '../../ops/prometheus.js';
import type { PlaneStatus } from '../../ops/status.js';
import { ago } from '../../time.js';
import { homeOption, jsonOption } from '../options.js';
import { printJson, printLines } from '../output.js';
import { gatherStatus, noProbeOption, probeTimeoutOption } from '../plane-status.js';

interface Opts {
  home: string;
  json?: boolean;
  format?: 'text' | 'json' | 'prometheus';
  timeoutMs: number;
  probe: boolean;
}

export function register(program: Program): void {
  program
    .command('status')
    .description(
      'the plane at a glance: head, kill switch, jobs by state, leases, workers, why jobs wait, model endpoints',
    )
    .addOption(homeOption())
    .addOption(jsonOption())
    .addOption(
      new Option(
        '--format <format>',
        'text, json (as --json) or prometheus (text exposition, no server)',
      ).choices(['text', 'json', 'prometheus']),
    )
    .addOption(probeTimeoutOption())
    .addOption(noProbeOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane status
  execplane status --json | jq .waiting
  execplane status --format prometheus > /var/lib/node_exporter/textfile/execplane.prom

Read from checkpoint.json plus the lines after it and the ledger's last MiB, so it is quick on any
ledger (it is not a proof: \`audit\` is). Workers are listed from <home>/workers/ (each running
worker holds its file) and from the ledger. Exit 0 (also when the plane is degraded: \`health\`
judges); 1 the ledger is corrupt; 2 usage, no plane, or a malformed config.json.
See docs/operations.md, "Status and health".`,
    )
    .action(async (opts: Opts) => {
      if (opts.json && opts.format && opts.format !== 'json')
        throw new UsageError('E_USAGE', `--json and --format ${opts.format} contradict each other; give one`);
      const format = opts.json ? 'json' : (opts.format ?? 'text');
      const status = await gatherStatus(opts);
      if (format === 'json') printJson(status);
      else if (format === 'prometheus') process.stdout.write(prometheusText(status, healthOf(status)));
      else printLines(...statusLines(status));
    });
}

/** The readable summary. */
export function statusLines(s: PlaneStatus): string[] {
  const out: string[] = [];
  const counts = Object.entries(s.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  out.push(`ledger      ${s.ledger}`);
  out.push(`head        ${s.head}  (${s.events} events)`);
  if (s.last_event)
    out.push(`last event  ${s.last_event.event} ${s.last_event.job_id}, ${ago(s.last_event.age_sec)}`);
  if (s.checkpoint_rejected) out.push(`checkpoint  not used (${s.checkpoint_rejected}); folded from line 1`);
  if (s.torn_tail) out.push(`torn tail   ${s.torn_tail.bytes} byte(s) at offset ${s.torn_tail.offset}`);
  if (s.ledger_ahead_sec !== null)
    out.push(`clock       the ledger's time is ${s.ledger_ahead_sec} s ahead of this machine's`);
  out.push(
    `kill switch ${s.kill_switch.on ? `ON${s.kill_switch.reason ? ` (${s.kill_switch.reason})` : ''}` : 'off'}`,
  );
  out.push(`jobs        ${s.jobs}${counts ? `: ${counts}` : ''}`);
  if (s.oldest_queued)
    out.push(
      `oldest queued ${s.oldest_queued.job_id} (${s.oldest_queued.job_type}), ${ago(s.oldest_queued.age_sec)}: ${s.oldest_queued.waiting.reason}`,
    );
  const r = s.retries_waiting;
  if (r.count)
    out.push(`retries     ${r.count} backing off; next ${r.next_job_id} in ${r.next_due_in_sec} s`);
  if (s.retry_candidates)
    out.push(`retryable   ${s.retry_candidates} failed/expired job(s) the reaper may retry`);
  out.push(
    `leases      ${s.leases.length}${s.unreaped_leases ? ` (${s.unreaped_leases} lapsed, not reaped)` : ''}`,
  );
  for (const l of s.leases.slice(0, 20))
    out.push(
      `  ${l.job_id}  ${l.state}  ${l.worker_id}  attempt ${l.attempt}  ${l.expires_in_sec >= 0 ? `expires in ${l.expires_in_sec} s` : `LAPSED ${-l.expires_in_sec} s ago`}`,
    );
  if (s.leases.length > 20) out.push(`  … ${s.leases.length - 20} more (--json lists all)`);
  out.push(`workers     ${s.workers.filter((w) => w.alive === true).length} running`);
  for (const w of s.workers) {
    const life = w.alive === true ? `pid ${w.pid}` : w.alive === false ? 'GONE' : 'not running here';
    const seen = w.last_event_age_sec === null ? '' : `, last event ${ago(w.last_event_age_sec)}`;
    const idle = w.not_claiming ? `  NOT CLAIMING: ${w.not_claiming}` : '';
    out.push(`  ${w.worker_id}  ${life}  slots ${w.slots ?? '?'}  holds ${w.jobs_held} job(s)${seen}${idle}`);
  }
  if (s.waiting.length) out.push('waiting');
  for (const w of s.waiting) out.push(`  ${w.count} job(s): ${w.reason} (e.g. ${w.examples.join(', ')})`);
  out.push(
    `recent      ${s.recent.events} events in the last ${s.recent.window_sec} s: ${s.recent.completed} complete, ${s.recent.failed} failed`,
  );
  for (const m of s.models) {
    const state =
      m.ok === null
        ? 'not probed'
        : m.ok
          ? `ok ${m.latency_ms} ms${m.model_served === false ? ` (the server does not list ${m.model})` : ''}`
          : `DOWN ${m.error_code ?? '?'}: ${m.message ?? ''}`;
    out.push(`model       ${m.name}  ${m.endpoint ?? ''}  ${state}`);
    if (m.hint) out.push(`  ${m.hint}`);
  }
  return out;
}
