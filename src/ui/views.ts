/**
 * The web view's pages as HTML text: pure functions of what the server read (no file, no clock of
 * their own), so they are unit-tested on fixture ledgers. Every value is escaped by html.ts (H1):
 * specs, errors, tool output and ids are user data.
 *
 * W1. Each page is whole without JavaScript: links and GET forms carry every filter in the URL;
 *     the script (assets.ts) only keeps `#live` current and never builds markup of its own.
 * W2. Forms that change the plane (cancel, retry, kill switch) are rendered only when the server
 *     allows actions, and each carries the server's CSRF token.
 * W3. Nothing is fetched from anywhere but this server: one stylesheet, one script, inline SVG.
 */
import { JOB_STATES, type JobRecord, type JobStateValue } from '../../machines/job.types.js';
import type { TransitionRow } from '../../machines/diagram.js';
import type { PlaneStatus } from '../ops/status.js';
import type { TimelineEntry } from '../replay/timeline.js';
import type { EvidenceFile } from '../schema/types.generated.js';
import type { StoredJob } from '../schema/job-spec.js';
import { ago } from '../time.js';
import { html, raw, type Html, type HtmlValue } from './html.js';
import { machineSvg } from './machine-svg.js';
import type { HistoryLine } from './history.js';
import type { JobPage, JobQuery, LiveEvent } from './model.js';
import { timelineSvg, type ModelTurn } from './timeline-svg.js';

export interface PageContext {
  /** The plane's home, shown in the header. */
  readonly home: string;
  /** The head seq the page was rendered at: the live stream starts after it. */
  readonly seq: number;
  /** The CSRF token forms carry (W2). */
  readonly token: string;
  readonly actions: boolean;
  /** Why the ledger no longer reads past some line, when it does not (the pages show the state before it). */
  readonly problem: string | null;
}

export type PageName = 'overview' | 'jobs' | 'job' | 'audit';

/** A whole page: the header, the navigation, and `live`, the part the script refreshes (W1). */
export function layout(
  ctx: PageContext,
  page: PageName,
  title: string,
  live: Html,
  options: { readonly before?: Html; readonly jobId?: string } = {},
): Html {
  const nav = (name: PageName, href: string, label: string) =>
    html`<a href="${href}" ${name === page ? raw(' aria-current="page"') : ''}>${label}</a>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · execplane</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body
        data-page="${page}"
        data-seq="${ctx.seq}"
        ${options.jobId !== undefined ? html` data-job-id="${options.jobId}"` : ''}
      >
        <header>
          <strong>execplane</strong>
          <nav>
            ${nav('overview', '/', 'Overview')} ${nav('jobs', '/jobs', 'Jobs')}
            ${nav('audit', '/audit', 'Audit')}
          </nav>
          <span class="home" title="the plane's home">${ctx.home}</span>
          <span class="mode">${ctx.actions ? 'actions allowed' : 'read-only'}</span>
          <span id="live-state" class="live-state" data-state="connecting">live</span>
        </header>
        <main>
          ${
            ctx.problem
              ? html`<p id="problem" class="bad banner">
                  ${ctx.problem} — these pages show the plane as it was before that line;
                  <a href="/audit">run an audit</a>.
                </p>`
              : ''
          }
          ${options.before ?? ''}
          <div id="live">${live}</div>
        </main>
      </body>
    </html> `;
}

/** The overview's live part. */
export function overviewLive(
  ctx: PageContext,
  status: PlaneStatus,
  tail: readonly LiveEvent[],
  throughput: readonly { complete: number; failed: number }[],
): Html {
  const ks = status.kill_switch;
  return html`<section class="counts" aria-label="jobs by state">
      ${JOB_STATES.map(
        (s) =>
          html`<a class="count ${s}" href="/jobs?state=${s}"
            ><span class="n" data-count="${s}">${status.counts[s] ?? 0}</span>
            <span class="label">${s}</span></a
          >`,
      )}
    </section>
    <section class="facts">
      <dl>
        <dt>head</dt>
        <dd><code id="head">${status.head}</code> (${status.events} events)</dd>
        <dt>last event</dt>
        <dd>
          ${status.last_event ? html`${status.last_event.event} <a href="${jobHref(status.last_event.job_id)}">${status.last_event.job_id}</a>, ${ago(status.last_event.age_sec)}` : 'none'}
        </dd>
        <dt>kill switch</dt>
        <dd id="kill-switch" data-on="${String(ks.on)}">
          ${ks.on ? html`<strong class="bad">ON</strong>${ks.reason ? html` — ${ks.reason}` : ''}` : 'off'}${ctx.actions ? killSwitchForm(ctx, ks.on) : ''}
        </dd>
        <dt>oldest queued</dt>
        <dd id="oldest-queued">
          ${
            status.oldest_queued
              ? html`<a href="${jobHref(status.oldest_queued.job_id)}">${status.oldest_queued.job_id}</a>
                  (${status.oldest_queued.job_type}), ${ago(status.oldest_queued.age_sec)}:
                  ${status.oldest_queued.waiting.reason}`
              : 'none'
          }
        </dd>
        ${
          status.torn_tail
            ? html`<dt>torn tail</dt>
                <dd class="bad">${status.torn_tail.bytes} byte(s) at offset ${status.torn_tail.offset}</dd>`
            : ''
        }
        ${
          status.checkpoint_rejected
            ? html`<dt>checkpoint</dt>
                <dd class="bad">not used: ${status.checkpoint_rejected}</dd>`
            : ''
        }
      </dl>
      <figure id="throughput">
        <figcaption>
          ended per minute, last ${throughput.length} min (complete / failed or expired)
        </figcaption>
        ${throughputSvg(throughput)}
      </figure>
    </section>
    <section>
      <h2>Workers</h2>
      ${table(
        'workers',
        ['worker', 'process', 'slots', 'holds', 'last event', 'not claiming'],
        status.workers.map(
          (w) =>
            html`<tr data-worker-id="${w.worker_id}">
              <td>${w.worker_id}</td>
              <td>
                ${w.alive === true ? `pid ${w.pid} on ${w.host ?? '?'}` : w.alive === false ? 'gone' : 'not running here'}
              </td>
              <td>${w.slots_held}/${w.slots ?? '?'}</td>
              <td>${w.jobs_held}</td>
              <td>${w.last_event_age_sec === null ? '' : ago(w.last_event_age_sec)}</td>
              <td>${w.not_claiming ?? ''}</td>
            </tr>`,
        ),
        'no worker has been seen',
      )}
      <h2>Leases</h2>
      ${table(
        'leases',
        ['job', 'state', 'worker', 'attempt', 'expires'],
        status.leases.slice(0, 50).map(
          (l) =>
            html`<tr>
              <td><a href="${jobHref(l.job_id)}">${l.job_id}</a></td>
              <td>${l.state}</td>
              <td>${l.worker_id}</td>
              <td>${l.attempt}</td>
              <td class="${l.expires_in_sec < 0 ? 'bad' : ''}">
                ${l.expires_in_sec >= 0 ? `in ${l.expires_in_sec} s` : `lapsed ${-l.expires_in_sec} s ago`}
              </td>
            </tr>`,
        ),
        'no job holds a lease',
      )}
      ${
        status.waiting.length
          ? html`<h2>Why jobs wait</h2>
              <ul id="waiting">
                ${status.waiting.map((w) => html`<li>${w.count} job(s): ${w.reason} (e.g. ${w.examples.map((id, i) => html`${i ? ', ' : ''}<a href="${jobHref(id)}">${id}</a>`)})</li>`)}
              </ul>`
          : ''
      }
    </section>
    <section>
      <h2>Latest events</h2>
      <ol id="tail" class="tail">
        ${tail.map(tailItem)}
      </ol>
    </section>`;
}

function tailItem(e: LiveEvent): Html {
  return html`<li data-seq="${e.seq}">
    <code>${e.seq}</code> <time>${e.ts_utc}</time> <span class="ev ${e.event}">${e.event}</span>
    <a href="${jobHref(e.job_id)}">${e.job_id}</a
    >${e.state ? html` → <span class="st ${e.state}">${e.state}</span>` : ''}${e.worker_id ? html` <span class="worker">${e.worker_id}</span>` : ''}
  </li>`;
}

function killSwitchForm(ctx: PageContext, on: boolean): Html {
  return html` <form method="post" action="/kill-switch" data-action="kill-switch" class="inline">
    ${tokenField(ctx)}<input
      type="hidden"
      name="on"
      value="${on ? 'off' : 'on'}"
    />${on ? '' : html`<input name="reason" placeholder="reason" maxlength="1000" />`}<button type="submit">
      ${on ? 'turn off' : 'turn on'}
    </button>
  </form>`;
}

/** Bars of ended jobs per minute (complete above, failed below), drawn as inline SVG (W3). */
export function throughputSvg(buckets: readonly { complete: number; failed: number }[]): Html {
  const w = 300;
  const h = 60;
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.complete, b.failed)));
  const bw = w / Math.max(1, buckets.length);
  const mid = h * 0.7;
  const bars = buckets.map((b, i) => {
    const ch = (b.complete / max) * (mid - 2);
    const fh = (b.failed / max) * (h - mid - 2);
    return html`<g
      ><title>${buckets.length - i} min ago: ${b.complete} complete, ${b.failed} failed or expired</title
      ><rect
        class="bar complete"
        x="${(i * bw + 1).toFixed(1)}"
        y="${(mid - ch).toFixed(1)}"
        width="${Math.max(1, bw - 2).toFixed(1)}"
        height="${ch.toFixed(1)}"
      ></rect
      ><rect
        class="bar failed"
        x="${(i * bw + 1).toFixed(1)}"
        y="${mid.toFixed(1)}"
        width="${Math.max(1, bw - 2).toFixed(1)}"
        height="${fh.toFixed(1)}"
      ></rect
    ></g>`;
  });
  const total = buckets.reduce((n, b) => n + b.complete, 0);
  return html`<svg
    class="throughput"
    role="img"
    aria-label="${total} complete in the last ${buckets.length} minutes"
    xmlns="http://www.w3.org/2000/svg"
    viewBox="0 0 ${w} ${h}"
  >
    <line class="axis" x1="0" x2="${w}" y1="${mid}" y2="${mid}"></line>
    ${bars}
  </svg>`;
}

/** The jobs list: the filter form (outside `#live`, W1) and the table. */
export function jobsFilters(query: JobQuery, types: readonly string[]): Html {
  const option = (value: string, selected: boolean, label = value) =>
    html`<option value="${value}" ${selected ? raw(' selected') : ''}>${label}</option>`;
  return html`<form id="filters" method="get" action="/jobs" class="filters">
    <label
      >state
      <select name="state">
        ${option('', !query.state, 'any')}${JOB_STATES.map((s) => option(s, query.state === s))}
      </select></label
    >
    <label
      >type
      <select name="type">
        ${option('', !query.type, 'any')}${types.map((t) => option(t, query.type === t))}
      </select></label
    >
    <label
      >id <input name="q" value="${query.q ?? ''}" placeholder="part of a job id" maxlength="200"
    /></label>
    <button type="submit">filter</button>
  </form>`;
}

export function jobsLive(query: JobQuery, page: JobPage): Html {
  const link = (p: number) => jobsHref({ ...query, page: p });
  return html`<p class="summary">
      ${page.total}
      job(s)${query.state ? html` ${query.state}` : ''}${query.type ? html` of type ${query.type}` : ''}${query.q ? html` matching “${query.q}”` : ''};
      page ${page.page} of ${page.pages}, newest first
    </p>
    ${table(
      'jobs',
      ['job', 'type', 'state', 'attempt', 'priority', 'enqueued', 'updated', 'error'],
      page.rows.map((j) => jobRow(j)),
      'no job matches',
    )}
    <nav id="pager" class="pager">
      ${page.page > 1 ? html`<a rel="prev" href="${link(page.page - 1)}">← newer</a>` : ''}
      ${page.page < page.pages ? html`<a rel="next" href="${link(page.page + 1)}">older →</a>` : ''}
    </nav>`;
}

function jobRow(j: JobRecord): Html {
  const c = j.context;
  return html`<tr data-job-id="${c.job_id}" data-state="${j.value}">
    <td><a href="${jobHref(c.job_id)}">${c.job_id}</a></td>
    <td>${c.job_type}</td>
    <td><span class="st ${j.value}">${j.value}</span></td>
    <td>${c.attempt}/${c.max_attempts}</td>
    <td>${c.priority}</td>
    <td><time>${c.enqueued_at_utc}</time></td>
    <td><time>${c.updated_at_utc}</time></td>
    <td>${c.error ? c.error.code : ''}</td>
  </tr>`;
}

/** What the job page shows of one evidence file. */
export interface EvidenceRow {
  /** Relative to evidence/<job_id>/, e.g. attempt-1/stdout.txt. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** What the ledger recorded for it, when it did. */
  readonly recorded: EvidenceFile | null;
}

export interface JobPageData {
  readonly job: JobRecord;
  readonly spec: StoredJob;
  readonly lines: readonly HistoryLine[];
  readonly timeline: readonly TimelineEntry[];
  readonly verified: string;
  readonly evidence: readonly EvidenceRow[];
  /** Evidence the ledger recorded that is not on disk. */
  readonly missing: readonly EvidenceFile[];
  readonly turns: readonly ModelTurn[];
  readonly nowMs: number;
}

const ACTIVE: ReadonlySet<JobStateValue> = new Set(['queued', 'claimed', 'running']);
const RETRYABLE: ReadonlySet<JobStateValue> = new Set(['failed', 'expired']);

export function jobLive(ctx: PageContext, d: JobPageData): Html {
  const c = d.job.context;
  const id = c.job_id;
  return html`<h1><code>${id}</code> <span class="st ${d.job.value}" id="job-state">${d.job.value}</span></h1>
    <p>
      ${c.job_type} · attempt ${c.attempt}/${c.max_attempts} · priority ${c.priority} · enqueued
      <time>${c.enqueued_at_utc}</time> · updated <time>${c.updated_at_utc}</time>
    </p>
    ${ctx.actions ? jobActions(ctx, id, d.job.value) : ''}
    ${c.error ? html`<p class="bad" id="job-error"><strong>${c.error.code}</strong>: ${c.error.message}</p>` : ''}
    ${c.cancel_reason ? html`<p id="cancel-reason">cancelled: ${c.cancel_reason}</p>` : ''}
    <section id="timeline">
      <h2>Timeline</h2>
      ${timelineSvg(d.timeline, { nowMs: d.nowMs, turns: d.turns })}
      <p class="legend">
        <span class="key claimed">claimed</span> <span class="key running">running</span>
        <span class="key complete">complete</span> <span class="key failed">failed</span>
        <span class="key expired">expired</span> · ticks: heartbeats · dots: tool
        calls${d.turns.length ? ', model turns' : ''}
      </p>
    </section>
    ${
      c.result !== null
        ? html`<section id="result">
            <h2>Result</h2>
            <pre>${JSON.stringify(c.result, null, 2)}</pre>
          </section>`
        : ''
    }
    <section id="spec">
      <h2>Spec</h2>
      <pre>${JSON.stringify(d.spec, null, 2)}</pre>
    </section>
    <section id="evidence">
      <h2>Evidence</h2>
      ${table(
        'evidence-files',
        ['file', 'bytes', 'SHA-256', 'ledger'],
        d.evidence.map(
          (e) =>
            html`<tr>
              <td><a href="${evidenceHref(id, e.path)}">${e.path}</a></td>
              <td>${e.bytes}</td>
              <td><code title="${e.sha256}">${e.sha256.slice(0, 16)}…</code></td>
              <td>
                ${e.recorded === null ? 'not recorded' : e.recorded.sha256 === e.sha256 && e.recorded.bytes === e.bytes ? html`<span class="good">matches</span>` : html`<span class="bad">differs from the ledger</span>`}
              </td>
            </tr>`,
        ),
        'no evidence files',
      )}
      ${d.missing.length ? html`<p class="bad">recorded in the ledger but not on disk: ${d.missing.map((m, i) => html`${i ? ', ' : ''}<code>${m.path}</code>`)}</p>` : ''}
    </section>
    <section id="events">
      <h2>Events</h2>
      <p class="verified">read: ${d.verified}</p>
      ${table(
        'events-table',
        ['seq', 'time', 'event', 'state after', 'worker', 'detail'],
        d.lines.map((l, i) => {
          const t = d.timeline[i]!;
          return html`<tr data-seq="${l.ev.seq}">
            <td>${l.ev.seq}</td>
            <td><time>${l.ev.ts_utc}</time></td>
            <td><span class="ev ${l.ev.event}">${l.ev.event}</span></td>
            <td><span class="st ${t.state}">${t.state}</span></td>
            <td>${t.worker_id ? `${t.worker_id}#${t.attempt}` : ''}</td>
            <td>
              ${t.detail}
              <details>
                <summary>
                  line ${l.line} · hash <code>${l.ev.hash.slice(0, 12)}</code> → prev
                  <code>${l.ev.prev.slice(0, 12)}</code>
                </summary>
                <pre class="line">${l.text}</pre>
              </details>
            </td>
          </tr>`;
        }),
        'no events',
      )}
    </section>`;
}

function jobActions(ctx: PageContext, id: string, state: JobStateValue): Html {
  const form = (action: 'cancel' | 'retry') =>
    html`<form method="post" action="${jobHref(id)}/${action}" data-action="${action}" class="inline">
      ${tokenField(ctx)}<input name="reason" placeholder="reason" maxlength="1000" /><button type="submit">
        ${action}
      </button>
    </form>`;
  const forms: Html[] = [];
  if (ACTIVE.has(state)) forms.push(form('cancel'));
  if (RETRYABLE.has(state)) forms.push(form('retry'));
  return forms.length ? html`<div class="actions">${forms}</div>` : html``;
}

/** What the audit page shows of the last run. */
export type AuditRun =
  | { readonly state: 'none' }
  | { readonly state: 'running'; readonly started_utc: string }
  | {
      readonly state: 'done';
      readonly started_utc: string;
      readonly ms: number;
      readonly ok: boolean;
      readonly events: number;
      readonly findings: readonly {
        code: string;
        line: number;
        seq: number | null;
        job_id: string | null;
        message: string;
      }[];
      readonly omitted: number;
      /** The audit did not run to a report (its stderr line). */
      readonly error?: string;
    };

export function auditLive(
  ctx: PageContext,
  run: AuditRun,
  machine: { rows: readonly TransitionRow[]; initial: string; finals: readonly string[] },
): Html {
  return html`<section>
      <h2>Audit</h2>
      <p>
        Checks every line (chain, canonical form, schema, the job machine, the lease and budget invariants)
        and the evidence files' SHA-256, as <code>execplane audit --evidence</code> does, in a process of its
        own.
      </p>
      <form id="run-audit" method="post" action="/audit">
        ${tokenField(ctx)}<button type="submit" ${run.state === 'running' ? raw(' disabled') : ''}>
          run audit
        </button>
      </form>
      <div
        id="audit-result"
        data-audit-state="${run.state}"
        ${run.state === 'done' ? html` data-audit-ok="${String(run.ok)}"` : ''}
      >
        ${auditResult(run)}
      </div>
    </section>
    <section id="machine">
      <h2>The job machine</h2>
      <p>Drawn from the machine's own definition (the transitions <code>execplane machine</code> prints).</p>
      ${machineSvg(machine.rows, machine.initial, machine.finals)}
    </section>`;
}

function auditResult(run: AuditRun): HtmlValue {
  if (run.state === 'none') return html`<p>Not run yet.</p>`;
  if (run.state === 'running') return html`<p>Running since <time>${run.started_utc}</time>…</p>`;
  if (run.error) return html`<p class="bad">The audit did not finish: ${run.error}</p>`;
  return html`<p class="${run.ok ? 'good' : 'bad'}">
      ${run.ok ? 'intact' : 'findings'}: ${run.events} event(s), ${run.findings.length + run.omitted}
      finding(s), in ${run.ms} ms (started <time>${run.started_utc}</time>)
    </p>
    ${
      run.findings.length
        ? html`<ol id="findings">
            ${run.findings.map((f) => html`<li><code>${f.code}</code> line ${f.line}${f.job_id ? html` (<a href="${jobHref(f.job_id)}">${f.job_id}</a>)` : ''}: ${f.message}</li>`)}
          </ol>`
        : ''
    }
    ${run.omitted ? html`<p>${run.omitted} more not listed.</p>` : ''}`;
}

/** A one-message page (not found, refused, bad input). */
export function messagePage(ctx: PageContext, title: string, message: string): Html {
  return layout(
    ctx,
    'overview',
    title,
    html`<h1>${title}</h1>
      <p class="message">${message}</p>
      <p><a href="/">back to the overview</a></p>`,
  );
}

function table(id: string, heads: readonly string[], rows: readonly Html[], empty: string): Html {
  return html`<table id="${id}">
    <thead>
      <tr>
        ${heads.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${
        rows.length
          ? rows
          : html`<tr class="empty">
              <td colspan="${heads.length}">${empty}</td>
            </tr>`
      }
    </tbody>
  </table>`;
}

function tokenField(ctx: PageContext): Html {
  return html`<input type="hidden" name="token" value="${ctx.token}" />`;
}

export const jobHref = (id: string) => `/jobs/${encodeURIComponent(id)}`;
const evidenceHref = (id: string, path: string) =>
  `${jobHref(id)}/evidence/${path.split('/').map(encodeURIComponent).join('/')}`;

export function jobsHref(q: JobQuery): string {
  const p = new URLSearchParams();
  if (q.state) p.set('state', q.state);
  if (q.type) p.set('type', q.type);
  if (q.q) p.set('q', q.q);
  if (q.page > 1) p.set('page', String(q.page));
  const s = p.toString();
  return s ? `/jobs?${s}` : '/jobs';
}
