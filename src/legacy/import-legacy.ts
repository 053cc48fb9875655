/**
 * `execplane import-legacy OLD --out NEW`: the predecessor's ledger (docs/spec.md §10) as a v1 ledger.
 *
 * Every event is written through the engine — Plane.submit, at the legacy line's time through an
 * injected clock — into a temporary plane next to NEW, so the output passed the schema and the
 * job machine event by event and audits clean by construction. The finished ledger is then linked
 * to NEW, which must not exist (link(2) never overwrites), so a failed import leaves nothing behind.
 *
 * The old file is streamed in slices of lines (bounded memory); each legacy line is one group
 * commit (one fdatasync), since a commit has one time and the legacy times must survive.
 */
import { isUtf8 } from 'node:buffer';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { JobStateValue } from '../../machines/job.types.js';
import { auditLedgerFile } from '../audit/audit-file.js';
import type { Command } from '../core/commands.js';
import { ExecplaneError, UsageError } from '../errors.js';
import { scanLines, withReadFd, type ScannedLine } from '../ledger/scan.js';
import { Plane } from '../plane.js';
import type { Clock } from '../time.js';
import type { Anomaly } from './anomalies.js';
import { parseLegacyLine, type LegacyRecord } from './legacy-line.js';
import { asLegacyState, translate, type LegacyBook, type LegacyState } from './translate.js';

/** Lines read from the old file per slice. */
const SLICE_LINES = 1000;

export interface ImportReport {
  readonly legacy: string;
  readonly out: string;
  readonly legacy_lines: number;
  readonly events: number;
  readonly last_seq: number;
  readonly last_hash: string;
  readonly state_digest: string;
  readonly counts: Record<JobStateValue, number>;
  /** In the old file's line order. */
  readonly anomalies: readonly Anomaly[];
  /** The written ledger passed `audit` (always true unless the importer has a bug). */
  readonly audit_ok: boolean;
}

/** What the old system showed for a job, from its own events (it had no fencing: every event counted). */
interface LegacyView {
  shown: LegacyState;
  line: number;
  leaseMs: number | null;
  completedLine: number | null;
}

export async function importLegacy(oldPath: string, outPath: string): Promise<ImportReport> {
  let size: number;
  try {
    const st = statSync(oldPath);
    if (!st.isFile())
      throw new UsageError('E_INPUT', `${oldPath} is not a file; pass the old system's ledger file`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      'E_INPUT',
      `cannot read ${oldPath} (${(err as NodeJS.ErrnoException).code}); check the path`,
    );
  }
  if (size === 0) throw new UsageError('E_INPUT', `${oldPath} is empty: there is nothing to import`);
  if (existsSync(outPath))
    throw new UsageError(
      'E_OUT_EXISTS',
      `${outPath} exists; import-legacy never overwrites: choose a new --out path`,
    );
  const outDir = dirname(resolve(outPath));
  mkdirSync(outDir, { recursive: true });
  const tmpHome = mkdtempSync(join(outDir, `.${basename(outPath)}.import-`));
  try {
    return await importInto(oldPath, outPath, tmpHome);
  } finally {
    rmSync(tmpHome, { recursive: true, force: true });
  }
}

async function importInto(oldPath: string, outPath: string, tmpHome: string): Promise<ImportReport> {
  const clock: Clock & { ms: number } = { ms: 0, nowMs: () => clock.ms };
  const plane = Plane.open(tmpHome, { clock, useCheckpoint: false });
  const book: LegacyBook = { enqueuedAt: new Map(), rejectedAt: new Map(), completedAt: new Map() };
  const views = new Map<string, LegacyView>();
  const anomalies: Anomaly[] = [];
  let lastTs = -Infinity;
  let lines = 0;
  let records = 0;

  const submit = async (commands: Command[], tsMs: number, line: number, jobId: string | null) => {
    clock.ms = tsMs;
    try {
      const { events } = await plane.submit(commands);
      for (const ev of events) {
        if (ev.event === 'enqueue') book.enqueuedAt.set(ev.job_id, line);
        if (ev.event === 'complete') book.completedAt.set(ev.job_id, line);
      }
    } catch (err) {
      if (!(err instanceof ExecplaneError)) throw err;
      anomalies.push({
        code: 'LEGACY_REFUSED',
        line,
        job_id: jobId,
        message: `v1 refuses ${commands.map((c) => c.type).join(' + ')} (${err.code}: ${err.message}); dropped`,
      });
      if (commands[0]?.type === 'enqueue' && jobId !== null) book.rejectedAt.set(jobId, line);
    }
  };

  const handle = async (text: string, line: number, notUtf8: boolean) => {
    const parsed = parseLegacyLine(text, line, notUtf8);
    if ('code' in parsed) return void anomalies.push(parsed);
    records += 1;
    let tsMs = parsed.tsMs;
    if (tsMs < lastTs) {
      anomalies.push({
        code: 'LEGACY_TS_BACKWARDS',
        line,
        job_id: parsed.jobId,
        message: `ts_utc is ${lastTs - tsMs} ms before the previous line's; clamped to it`,
      });
      tsMs = lastTs;
    }
    lastTs = tsMs;
    observe(views, parsed);
    const t = translate(parsed, plane.state, tsMs, book);
    anomalies.push(...t.anomalies);
    if (
      parsed.kind === 'enqueue' &&
      parsed.jobId !== null &&
      t.anomalies.some((a) => a.code === 'LEGACY_SPEC_INVALID')
    )
      book.rejectedAt.set(parsed.jobId, line);
    if (t.commands.length) await submit(t.commands, tsMs, line, parsed.jobId);
  };

  for (let offset = 0; ;) {
    const slice: ScannedLine[] = [];
    const r = withReadFd(oldPath, (fd) => {
      const scanned = scanLines(fd, offset, (l) => slice.push(l) < SLICE_LINES);
      if (scanned.stoppedEarly || !scanned.torn) return { ...scanned, tail: null };
      const tail = Buffer.alloc(scanned.torn.bytes);
      readSync(fd, tail, 0, tail.length, scanned.torn.offset);
      return { ...scanned, tail };
    });
    for (const l of slice) await handle(l.text, ++lines, l.notUtf8);
    offset = r.offset;
    if (!r.stoppedEarly) {
      // A last line without '\n' is still a line of the old file (Python may not end with one).
      if (r.tail !== null) await handle(r.tail.toString('utf8'), ++lines, !isUtf8(r.tail));
      break;
    }
  }
  if (records === 0) {
    plane.close();
    throw new UsageError(
      'E_INPUT',
      `${oldPath} holds no legacy events (${lines} line(s), none of them one); is it the old system's ledger?`,
    );
  }

  // Leases that lapsed before the old ledger ends: the old system showed them expired (it read
  // the wall clock); v1 needs the expire written.
  const expires: Command[] = [];
  for (const id of plane.state.ids()) {
    const job = plane.state.get(id)!;
    const lease = job.context.lease;
    const st = job.value;
    if ((st === 'claimed' || st === 'running') && lease && Math.round(lease.expires_unix * 1000) < lastTs) {
      expires.push({ type: 'expire', job_id: id, reaper: 'import-legacy' });
      anomalies.push({
        code: 'LEGACY_LEASE_LAPSED',
        line: views.get(id)?.line ?? 0,
        job_id: id,
        message: `the lease of ${lease.worker_id} lapsed at ${new Date(lease.expires_unix * 1000).toISOString()} without a record; expire written at the old ledger's end`,
      });
    }
  }
  if (expires.length) await submit(expires, lastTs, lines, null);

  for (const id of plane.state.ids()) {
    const view = views.get(id);
    if (!view) continue;
    const shown =
      view.completedLine !== null
        ? 'complete'
        : view.shown === 'running' && view.leaseMs !== null && view.leaseMs < lastTs
          ? 'expired'
          : view.shown;
    const now = asLegacyState(plane.state.jobState(id)!);
    if (now !== shown) {
      anomalies.push({
        code: 'LEGACY_OUTCOME_DIFFERS',
        line: view.completedLine ?? view.line,
        job_id: id,
        message: `the old system showed job ${id} ${shown}; the import ends it ${now}, because of the anomalies reported for it`,
      });
    }
  }

  const report = plane.report();
  plane.close();
  const ledger = join(tmpHome, 'jobs.jsonl');
  if (!existsSync(ledger)) writeFileSync(ledger, '');
  try {
    linkSync(ledger, outPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError('E_OUT_EXISTS', `${outPath} appeared during the import; nothing was overwritten`);
    throw err;
  }
  const audit = auditLedgerFile(outPath);
  return {
    legacy: oldPath,
    out: outPath,
    legacy_lines: lines,
    events: report.last_seq,
    last_seq: report.last_seq,
    last_hash: report.last_hash,
    state_digest: report.state_digest,
    counts: report.counts,
    anomalies: anomalies.sort((a, b) => a.line - b.line),
    audit_ok: audit.ok,
  };
}

function observe(views: Map<string, LegacyView>, rec: LegacyRecord): void {
  if (rec.jobId === null) return;
  const view = views.get(rec.jobId);
  if (rec.kind === 'enqueue') {
    // The old system reset a job to queued on every enqueue (docs/spec.md §9).
    if (view) Object.assign(view, { shown: 'queued', line: rec.line, leaseMs: null });
    else views.set(rec.jobId, { shown: 'queued', line: rec.line, leaseMs: null, completedLine: null });
    return;
  }
  if (!view) return;
  view.line = rec.line;
  if (rec.kind === 'claim' || rec.kind === 'heartbeat') {
    view.shown = 'running';
    view.leaseMs = rec.leaseMs;
  } else if (rec.kind === 'complete') {
    view.shown = 'complete';
    view.completedLine ??= rec.line;
  } else {
    view.shown = 'failed';
  }
}
