/**
 * `execplane ui`: a local dashboard of one plane over node:http (docs/ui.md). Read-only unless
 * started with `--allow-actions`; live through Server-Sent Events driven by the same directory
 * watch and O(new lines) catch-up a worker uses (model.ts, M1).
 *
 * U1. Bound to 127.0.0.1 unless told otherwise, and every request's Host must name this server
 *     (127.0.0.1, localhost or [::1] with its port, or the --host given): a DNS-rebound name gets
 *     421 and nothing else.
 * U2. Every response carries a strict Content-Security-Policy (scripts, styles and connections
 *     from this origin only, no inline script, no framing) and nosniff; every asset is served by
 *     the process (assets.ts), so the page works with no internet.
 * U3. A POST is accepted only with the page's CSRF token (a random value of this process, in the
 *     form), a same-origin Origin when the browser sends one, and Sec-Fetch-Site not cross-site;
 *     actions (cancel, retry, kill switch) also need --allow-actions, else 403. They run through
 *     the commands the CLI runs (a plane opened for the action, as `execplane cancel` opens one),
 *     with the same refusals; the view then folds their lines like anyone else's.
 * U4. No request reads the whole ledger: pages read the fold in memory, a job's own lines
 *     (history.ts), the checkpoint-backed status (ops/status.ts). `audit` runs on demand in a child
 *     process (`execplane audit --json --evidence`), off the request thread, one at a time.
 * U5. An SSE client that reconnects sends its last seq (Last-Event-ID) and gets the events after it
 *     from the ring (model.ts, M3), or `reset` (reload) when the ring no longer holds them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finalStates, machineTransitions } from '../../machines/diagram.js';
import { JOB_STATES, type JobStateValue } from '../../machines/job.types.js';
import { isExecplaneError } from '../errors.js';
import { LedgerWatch } from '../ledger/watch.js';
import { setKillSwitch } from '../ops/kill-switch.js';
import { planeStatus } from '../ops/status.js';
import { Plane } from '../plane.js';
import type { EvidenceFile } from '../schema/types.generated.js';
import { toTsUtc } from '../time.js';
import { APP_CSS, APP_JS } from './assets.js';
import type { Html } from './html.js';
import { HistoryUnreadable, type HistoryLine } from './history.js';
import { UiModel, type JobQuery, type LiveEvent } from './model.js';
import type { ModelTurn } from './timeline-svg.js';
import {
  auditLive,
  jobLive,
  jobsFilters,
  jobsLive,
  layout,
  messagePage,
  overviewLive,
  type AuditRun,
  type EvidenceRow,
  type PageContext,
} from './views.js';

/** How much of an evidence file the view shows. */
export const EVIDENCE_VIEW_BYTES = 256 << 10;
/** Evidence files larger than this are listed without a SHA-256 (reading them would stall a page). */
const HASH_MAX_BYTES = 64 << 20;
const POST_MAX_BYTES = 16 << 10;
const TAIL_ITEMS = 30;
const THROUGHPUT_MINUTES = 15;
/** SSE messages list at most this many events; a bigger batch says only how many (the page reloads its part). */
const SSE_EVENTS_MAX = 200;
const SSE_PING_MS = 15_000;

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface UiOptions {
  readonly home: string;
  readonly host: string;
  readonly port: number;
  readonly allowActions: boolean;
  /** The poll behind fs.watch (watch.ts). */
  readonly pollMs?: number;
  /** How many events the live ring keeps (model.ts, M3). */
  readonly ringSize?: number;
}

export interface UiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens (throws the listen error, e.g. EADDRINUSE). */
export async function startUi(options: UiOptions): Promise<UiServer> {
  const model = new UiModel(options.home, options.ringSize ? { ringSize: options.ringSize } : {});
  const app = new UiApp(model, options);
  const server = createServer((req, res) => app.handle(req, res));
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    model.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  app.listening(port);
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    close: () => app.close(server),
  };
}

class UiApp {
  private readonly token = randomBytes(24).toString('base64url');
  private readonly clients = new Set<ServerResponse>();
  private allowedHosts = new Set<string>();
  private origins = new Set<string>();
  private readonly unwatch: () => void;
  private readonly ping: NodeJS.Timeout;
  private audit: AuditRun = { state: 'none' };
  private problem: string | null = null;
  private auditChild: ChildProcess | undefined;

  constructor(
    private readonly model: UiModel,
    private readonly options: UiOptions,
  ) {
    const watch = new LedgerWatch(model.paths.home, basename(model.paths.lock), options.pollMs);
    const unsubscribe = watch.subscribe(() => this.refresh());
    const unlisten = model.subscribe((events) => this.broadcast(events));
    this.unwatch = () => {
      unsubscribe();
      unlisten();
    };
    this.ping = setInterval(() => {
      for (const c of this.clients) c.write(': ping\n\n');
    }, SSE_PING_MS);
  }

  listening(port: number): void {
    const names = ['127.0.0.1', 'localhost', '[::1]'];
    const given = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    if (!names.includes(given) && given !== '0.0.0.0' && given !== '[::]') names.push(given);
    this.allowedHosts = new Set(names.map((n) => `${n}:${port}`));
    this.origins = new Set([...this.allowedHosts].map((h) => `http://${h}`));
  }

  async close(server: Server): Promise<void> {
    this.unwatch();
    clearInterval(this.ping);
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.auditChild?.kill('SIGKILL');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.model.close();
  }

  /**
   * Folds new lines (M1). A ledger that no longer reads past some line (corrupt, replaced) is said
   * on every page, which go on showing the plane as it was before that line — so the audit page,
   * which says what is wrong, still opens.
   */
  private refresh(): void {
    try {
      this.model.refresh();
      this.problem = null;
    } catch (err) {
      this.problem = isExecplaneError(err)
        ? `${err.code}: ${err.message}`
        : `the ledger could not be read: ${(err as Error).message}`;
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with a form's POST (U3).
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    // U1: the Host names this server, or nothing is served.
    if (!this.allowedHosts.has(req.headers.host ?? '')) {
      return text(
        res,
        421,
        `refused: Host "${req.headers.host ?? ''}" is not this server (${[...this.allowedHosts].join(', ')})\n`,
      );
    }
    this.route(req, res).catch((err: unknown) => this.fail(res, err));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/assets/app.js') return asset(res, 'text/javascript; charset=utf-8', APP_JS);
      if (path === '/assets/app.css') return asset(res, 'text/css; charset=utf-8', APP_CSS);
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      if (path === '/events') return this.events(req, res, url);
      this.refresh();
      const part = req.headers['x-execplane-part'] === 'live';
      if (path === '/') return this.page(res, part, await this.overview());
      if (path === '/jobs') return this.page(res, part, this.jobs(url));
      if (path === '/audit') return this.page(res, part, this.auditPage());
      const evidence = /^\/jobs\/([^/]+)\/evidence\/(.+)$/.exec(path);
      if (evidence) return this.evidenceFile(res, decode(evidence[1]!), evidence[2]!);
      const job = /^\/jobs\/([^/]+)$/.exec(path);
      if (job) return this.page(res, part, this.jobPage(decode(job[1]!)));
      return this.page(res, false, {
        status: 404,
        whole: messagePage(this.ctx(), 'Not found', `nothing at ${path}`),
      });
    }
    if (method === 'POST') return this.post(req, res, path);
    res.setHeader('Allow', 'GET, HEAD, POST');
    return text(res, 405, `method ${method} is not served here\n`);
  }

  private ctx(): PageContext {
    return {
      home: this.model.paths.home,
      seq: this.model.state.head.seq,
      token: this.token,
      actions: this.options.allowActions,
      problem: this.problem,
    };
  }

  private page(res: ServerResponse, part: boolean, p: Rendered): void {
    const body = part && p.live ? p.live : p.whole;
    res.writeHead(p.status ?? 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      Vary: 'X-Execplane-Part',
    });
    res.end(body.text);
  }

  private async overview(): Promise<Rendered> {
    const ctx = this.ctx();
    // status reads the plane this server folds; model endpoints are `status`'s to probe, not a page's.
    const status = await planeStatus(this.model.plane, {
      home: this.model.paths.home,
      nowMs: Date.now(),
      models: [],
      probeTimeoutMs: 0,
    });
    const live = overviewLive(
      ctx,
      status,
      this.model.latest(TAIL_ITEMS),
      this.model.throughput(Date.now(), THROUGHPUT_MINUTES),
    );
    return { live, whole: layout(ctx, 'overview', 'Overview', live) };
  }

  private jobs(url: URL): Rendered {
    const ctx = this.ctx();
    const query = jobQuery(url.searchParams);
    if (typeof query === 'string') return { status: 400, whole: messagePage(ctx, 'Bad filter', query) };
    const live = jobsLive(query, this.model.jobs(query));
    const before = jobsFilters(query, this.model.jobTypes());
    return { live, whole: layout(ctx, 'jobs', 'Jobs', live, { before }) };
  }

  private jobPage(jobId: string): Rendered {
    const ctx = this.ctx();
    const history = this.model.history(jobId);
    if (!history)
      return {
        status: 404,
        whole: messagePage(ctx, 'No such job', `no job ${jobId} in this plane; list jobs at /jobs`),
      };
    const job = this.model.state.get(jobId)!;
    const spec = history.lines[0]!.ev;
    const { rows, missing } = evidenceOf(this.model.paths.evidence, jobId, history.lines);
    const live = jobLive(ctx, {
      job,
      spec: spec.event === 'enqueue' ? spec.job : this.model.plane.jobSpec(jobId),
      lines: history.lines,
      timeline: history.timeline,
      verified: history.verified,
      evidence: rows,
      missing,
      turns: modelTurns(this.model.paths.evidence, jobId, history.lines),
      nowMs: Date.now(),
    });
    return { live, whole: layout(ctx, 'job', jobId, live, { jobId }) };
  }

  private auditPage(): Rendered {
    const ctx = this.ctx();
    const live = auditLive(ctx, this.audit, {
      rows: machineTransitions(),
      initial: 'queued',
      finals: finalStates(),
    });
    return { live, whole: layout(ctx, 'audit', 'Audit', live) };
  }

  private evidenceFile(res: ServerResponse, jobId: string, rel: string): void {
    const parts = rel.split('/').map(decode);
    const root = join(this.model.paths.evidence, jobId);
    if (
      !this.model.state.has(jobId) ||
      parts.some((p) => p === '' || p === '.' || p === '..' || p.includes(sep))
    )
      return text(res, 404, 'no such evidence file\n');
    const file = join(root, ...parts);
    let fd: number;
    try {
      const st = lstatSync(file);
      const realRoot = realpathSync(root);
      if (!st.isFile() || !realpathSync(file).startsWith(realRoot + sep)) throw new Error('not a file');
      fd = openSync(file, 'r');
    } catch {
      return text(res, 404, 'no such evidence file\n');
    }
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, EVIDENCE_VIEW_BYTES));
      const got = readSync(fd, buf, 0, buf.length, 0);
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Security-Policy': "sandbox; default-src 'none'",
        'Cache-Control': 'no-store',
      });
      res.write(buf.subarray(0, got));
      if (size > got) res.write(`\n\n[execplane ui: the first ${got} of ${size} bytes shown]\n`);
      res.end();
    } finally {
      closeSync(fd);
    }
  }

  // Live (U5).

  private events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const last = req.headers['last-event-id'] ?? url.searchParams.get('since') ?? '';
    const since = /^\d{1,15}$/.test(String(last)) ? Number(last) : this.model.state.head.seq;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    this.refresh();
    const missed = this.model.since(since);
    if (missed === undefined) res.write('event: reset\ndata: {}\n\n');
    else if (missed.length) res.write(sseMessage(missed));
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  private broadcast(events: readonly LiveEvent[]): void {
    const message = sseMessage(events);
    for (const c of this.clients) c.write(message);
  }

  // Writes (U3).

  private async post(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.origins.has(origin))
      return text(res, 403, `refused: a request from ${origin} (cross-site)\n`);
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return text(res, 403, `refused: a ${site} request\n`);
    const form = await readForm(req);
    if (typeof form === 'string') return text(res, 400, `${form}\n`);
    if (!timingSafeEqualText(form.get('token') ?? '', this.token))
      return text(res, 403, 'refused: the form has no valid token of this server (reload the page)\n');
    if (path === '/audit') {
      this.startAudit();
      return redirect(res, '/audit');
    }
    if (!this.options.allowActions)
      return text(res, 403, 'refused: actions are off; start the view with `execplane ui --allow-actions`\n');
    const reason = form.get('reason')?.trim() || undefined;
    if (reason !== undefined && reason.length > 1000)
      return text(res, 400, 'the reason is over 1000 characters\n');
    if (path === '/kill-switch') {
      const on = form.get('on');
      if (on !== 'on' && on !== 'off') return text(res, 400, 'the kill switch takes on or off\n');
      setKillSwitch(this.model.paths, on === 'on', on === 'on' ? reason : undefined);
      this.refresh();
      return redirect(res, '/');
    }
    const action = /^\/jobs\/([^/]+)\/(cancel|retry)$/.exec(path);
    if (!action) return text(res, 404, `nothing to post at ${path}\n`);
    const jobId = decode(action[1]!);
    const plane = Plane.open(this.model.paths.home);
    try {
      await plane.submit([
        action[2] === 'cancel'
          ? { type: 'cancel', job_id: jobId, reason: reason ?? 'cancelled by operator (execplane ui)' }
          : { type: 'retry', job_id: jobId, backoff_sec: 0, by: 'operator', ...(reason ? { reason } : {}) },
      ]);
    } catch (err) {
      if (!isExecplaneError(err)) throw err;
      const e = err;
      return this.page(res, false, {
        status: e.exitCode === 2 ? 400 : 409,
        whole: messagePage(this.ctx(), 'Refused', `${e.code}: ${e.message}`),
      });
    } finally {
      plane.close();
    }
    this.refresh();
    return redirect(res, `/jobs/${encodeURIComponent(jobId)}`);
  }

  private startAudit(): void {
    if (this.audit.state === 'running') return;
    const started = Date.now();
    const startedUtc = toTsUtc(started);
    this.audit = { state: 'running', started_utc: startedUtc };
    const child = spawn(
      process.execPath,
      [CLI_BIN, 'audit', '--home', this.model.paths.home, '--json', '--evidence'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.auditChild = child;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      this.audit = { ...doneBase(startedUtc, started), error: e.message };
    });
    child.on('close', (code) => {
      this.auditChild = undefined;
      try {
        const report = JSON.parse(Buffer.concat(out).toString('utf8')) as AuditJson;
        const l = report.ledgers[0]!;
        this.audit = {
          ...doneBase(startedUtc, started),
          ok: report.ok,
          events: l.events,
          findings: l.findings,
          omitted: l.findings_omitted,
        };
      } catch {
        const line = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
        this.audit = { ...doneBase(startedUtc, started), error: line || `audit exited with ${code}` };
      }
    });
  }

  private fail(res: ServerResponse, err: unknown): void {
    const message = isExecplaneError(err)
      ? `${err.code}: ${err.message}`
      : err instanceof HistoryUnreadable
        ? `${err.message}; \`execplane audit\` says what is wrong with the ledger`
        : `internal error: ${(err as Error).message ?? String(err)}`;
    if (!isExecplaneError(err)) console.error(`execplane ui: ${message}`);
    if (res.headersSent) return void res.end();
    this.page(res, false, { status: 500, whole: messagePage(this.ctx(), 'Cannot show this', message) });
  }
}

interface Rendered {
  readonly status?: number;
  readonly whole: Html;
  readonly live?: Html;
}

interface AuditJson {
  readonly ok: boolean;
  readonly ledgers: readonly {
    readonly events: number;
    readonly findings: Extract<AuditRun, { state: 'done' }>['findings'];
    readonly findings_omitted: number;
  }[];
}

/** The CLI of this package: bin/execplane.js above this module (dist/src/ui/ or src/ui/). */
const CLI_BIN = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'execplane.js')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin', 'execplane.js');
    dir = up;
  }
  return join(dir, 'bin', 'execplane.js');
})();

const doneBase = (startedUtc: string, started: number) =>
  ({
    state: 'done',
    started_utc: startedUtc,
    ms: Date.now() - started,
    ok: false,
    events: 0,
    findings: [],
    omitted: 0,
  }) as const;

function sseMessage(events: readonly LiveEvent[]): string {
  const last = events[events.length - 1]!.seq;
  const shown = events.slice(-SSE_EVENTS_MAX);
  const data = {
    events: shown.map((e) => ({ seq: e.seq, event: e.event, job_id: e.job_id, state: e.state })),
    more: events.length - shown.length,
  };
  return `id: ${last}\nevent: ledger\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The jobs list's filters from the URL, or what is wrong with them. */
function jobQuery(p: URLSearchParams): JobQuery | string {
  const state = p.get('state') || undefined;
  if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state))
    return `state must be one of ${JOB_STATES.join(', ')}, not "${state}"`;
  const pageText = p.get('page') || '1';
  if (!/^\d{1,9}$/.test(pageText)) return `page must be a whole number, not "${pageText}"`;
  const q = p.get('q')?.trim() || undefined;
  if (q !== undefined && q.length > 200) return 'the id search is over 200 characters';
  const type = p.get('type') || undefined;
  return {
    ...(state ? { state: state as JobStateValue } : {}),
    ...(type ? { type } : {}),
    ...(q ? { q } : {}),
    page: Math.max(1, Number(pageText)),
  };
}

/** The job's evidence files on disk beside what its ledger lines recorded. */
function evidenceOf(
  evidenceRoot: string,
  jobId: string,
  lines: readonly HistoryLine[],
): { rows: EvidenceRow[]; missing: EvidenceFile[] } {
  const recorded = new Map<string, EvidenceFile>();
  const headers = new Map<string, string>();
  for (const { ev } of lines) {
    if ((ev.event === 'complete' || ev.event === 'fail') && ev.evidence)
      for (const f of ev.evidence) recorded.set(f.path, f);
    if (ev.event === 'start') headers.set(`attempt-${ev.attempt}/run-header.json`, ev.run_header_sha256);
  }
  const rows: EvidenceRow[] = [];
  const root = join(evidenceRoot, jobId);
  const seen = new Set<string>();
  if (existsSync(root)) {
    for (const dir of safeReaddir(root)
      .filter((d) => /^attempt-\d+$/.test(d))
      .sort(byAttempt)) {
      for (const name of safeReaddir(join(root, dir)).sort()) {
        if (name.includes('.tmp-')) continue;
        const rel = `${dir}/${name}`;
        const file = join(root, dir, name);
        const st = lstatSync(file, { throwIfNoEntry: false });
        if (!st?.isFile()) continue;
        seen.add(rel);
        const sha = st.size <= HASH_MAX_BYTES ? sha256File(file) : 'not hashed (over 64 MiB)';
        const header = headers.get(rel);
        rows.push({
          path: rel,
          bytes: st.size,
          sha256: sha,
          recorded: recorded.get(rel) ?? (header ? { path: rel, sha256: header, bytes: st.size } : null),
        });
      }
    }
  }
  return { rows, missing: [...recorded.values()].filter((f) => !seen.has(f.path)) };
}

/**
 * Model turns from each attempt's transcript.json, placed on the timeline from the attempt's start
 * by their recorded durations (a transcript holds durations, not clock times).
 */
function modelTurns(evidenceRoot: string, jobId: string, lines: readonly HistoryLine[]): ModelTurn[] {
  const turns: ModelTurn[] = [];
  for (const { ev } of lines) {
    if (ev.event !== 'start') continue;
    const file = join(evidenceRoot, jobId, `attempt-${ev.attempt}`, 'transcript.json');
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > 8 << 20) continue;
    let transcript: {
      turns?: { turn: number; duration_ms: number; finish_reason?: string; error?: { code: string } }[];
      calls?: { turn: number; duration_ms: number }[];
    };
    try {
      transcript = JSON.parse(readText(file)) as typeof transcript;
    } catch {
      continue;
    }
    let at = Date.parse(ev.ts_utc);
    for (const t of transcript.turns ?? []) {
      at += t.duration_ms;
      turns.push({
        attempt: ev.attempt,
        ts_utc: new Date(at).toISOString(),
        label: `model turn ${t.turn}${t.finish_reason ? ` (${t.finish_reason})` : ''}${t.error ? `: ${t.error.code}` : ''}`,
        ok: !t.error,
      });
      for (const c of transcript.calls ?? []) if (c.turn === t.turn) at += c.duration_ms;
    }
  }
  return turns;
}

function readText(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const byAttempt = (a: string, b: string) => Number(a.slice(8)) - Number(b.slice(8));

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type !== 'application/x-www-form-urlencoded')
    return `a form is sent as application/x-www-form-urlencoded, not "${type}"`;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > POST_MAX_BYTES) return `the form is over ${POST_MAX_BYTES} bytes`;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Compares digests, so neither the length nor the first differing byte shows in the time taken. */
function timingSafeEqualText(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(body);
}

function asset(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  res.end(body);
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(303, { Location: to });
  res.end();
}
