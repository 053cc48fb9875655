/**
 * One legacy record → the v1 commands that record what it meant, given the v1 state written so
 * far; or the anomaly that explains why nothing (or something else) is written. Pure: the caller
 * submits the commands through the engine at the record's time, so whatever is written passed
 * the job machine, and the output audits clean by construction.
 *
 * The old format has no start, expire, retry or attempt; they are synthesized where v1 needs them:
 *   claim                      → claim + start (run_header_sha256 = SHA-256 of the legacy line)
 *   claim after a lapsed lease → expire + retry + claim + start      (LEGACY_LEASE_LAPSED)
 *   claim after a fail         → retry + claim + start               (LEGACY_RETRY_SYNTHESIZED)
 *   complete/fail after the lease lapsed → expire + retry + claim + start by that worker, then the
 *                                outcome, so a job that completed there completes here (LEGACY_LEASE_LAPSED)
 * Everything v1 forbids and no synthesis can make lawful is dropped and reported. One function
 * per kind of record: `translateEnqueue`, `translateClaim`, `translateHeartbeat`,
 * `translateOutcome`.
 */
import type { JobContext, JobStateValue } from '../../machines/job.types.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { Command } from '../core/commands.js';
import { specDigest, type PlaneState } from '../core/plane-state.js';
import type { ErrorInfo } from '../schema/types.generated.js';
import type { Anomaly } from './anomalies.js';
import type { LegacyRecord } from './legacy-line.js';
import { toV1Spec } from './legacy-spec.js';

/** The lease of a claim synthesized for a late outcome: v1's default lease (docs/spec.md §6). */
export const ADOPTED_LEASE_SEC = 60;
/** A result above this many bytes of canonical JSON is replaced by its digest. */
export const MAX_RESULT_BYTES = 16 * 1024;
const MAX_WORKER_SLOTS = 64;

/** What the importer knows of the old file so far, beyond the v1 state. */
export interface LegacyBook {
  /** job_id → line of the enqueue that was imported. */
  readonly enqueuedAt: Map<string, number>;
  /** job_id → line of an enqueue that could not be imported. */
  readonly rejectedAt: Map<string, number>;
  /** job_id → line of the complete that v1 recorded. */
  readonly completedAt: Map<string, number>;
}

export interface Translation {
  readonly commands: Command[];
  readonly anomalies: Anomaly[];
}

type WorkerRecord = Exclude<LegacyRecord, { kind: 'enqueue' }>;
/** A claim or a heartbeat: the records that carry a lease. */
type LeaseRecord = Extract<LegacyRecord, { kind: 'claim' | 'heartbeat' }>;

/** What one translation collects. */
class Out implements Translation {
  readonly commands: Command[] = [];
  readonly anomalies: Anomaly[] = [];
  constructor(private readonly rec: LegacyRecord) {}
  note(code: Anomaly['code'], message: string): Translation {
    this.anomalies.push({ code, line: this.rec.line, job_id: this.rec.jobId, message });
    return this;
  }
}

/** A worker record's job as v1 has it at the record's time. */
interface JobAt {
  readonly rec: WorkerRecord;
  readonly state: PlaneState;
  readonly tsMs: number;
  readonly id: string;
  readonly ctx: JobContext;
  readonly st: JobStateValue;
  readonly leased: boolean;
  readonly lease: JobContext['lease'];
  readonly leaseEndMs: number;
  /** The lease on record is still live at the record's time. */
  readonly live: boolean;
  /** A retry needs an attempt left (an expire of the last attempt ends the job failed). */
  readonly attemptsLeft: boolean;
  readonly out: Out;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function translate(rec: LegacyRecord, state: PlaneState, tsMs: number, book: LegacyBook): Translation {
  const out = new Out(rec);
  if (rec.kind === 'enqueue') return translateEnqueue(rec, state, book, out);
  const id = rec.jobId;
  const snap = state.get(id);
  if (!snap) {
    const rejected = book.rejectedAt.get(id);
    return out.note(
      'LEGACY_UNKNOWN_JOB',
      rejected !== undefined
        ? `${rec.kind} for job ${id}, whose enqueue (line ${rejected}) could not be imported; dropped`
        : `${rec.kind} for job ${id}, which was never enqueued; dropped`,
    );
  }
  const st = snap.value;
  if (st === 'complete' || st === 'cancelled') {
    const when = book.completedAt.get(id);
    return out.note(
      'LEGACY_FINISHED_JOB',
      `${rec.kind} from ${rec.workerId} for job ${id}, which is already ${st}${when ? ` (line ${when})` : ''}; dropped`,
    );
  }
  const ctx = snap.context;
  const leased = st === 'claimed' || st === 'running';
  const lease = leased ? ctx.lease : null;
  const leaseEndMs = lease ? Math.round(lease.expires_unix * 1000) : 0;
  const job: JobAt = {
    rec,
    state,
    tsMs,
    id,
    ctx,
    st,
    leased,
    lease,
    leaseEndMs,
    live: lease !== null && tsMs <= leaseEndMs,
    attemptsLeft: ctx.attempt < ctx.max_attempts,
    out,
  };
  switch (rec.kind) {
    case 'claim':
      return translateClaim(job, rec);
    case 'heartbeat':
      return translateHeartbeat(job, rec);
    case 'complete':
    case 'fail':
      return translateOutcome(job, rec);
  }
}

function translateEnqueue(
  rec: Extract<LegacyRecord, { kind: 'enqueue' }>,
  state: PlaneState,
  book: LegacyBook,
  out: Out,
): Translation {
  const mapped = toV1Spec(rec.job as Record<string, unknown>);
  if (!mapped.ok) {
    return out.note(
      'LEGACY_SPEC_INVALID',
      `the spec does not fit v1 (${mapped.problems.join('; ')}); the job is not imported`,
    );
  }
  const id = mapped.spec.job_id;
  if (id === undefined) return out.note('LEGACY_INVALID_EVENT', 'an enqueue without job.job_id; dropped');
  const first = book.enqueuedAt.get(id) ?? book.rejectedAt.get(id);
  if (first !== undefined) {
    const existing = state.get(id);
    const same = existing !== undefined && specDigest(mapped.spec) === existing.context.spec_sha256;
    return out.note(
      'LEGACY_DUPLICATE_ENQUEUE',
      `job ${id} was enqueued at line ${first}; this repeat${same ? '' : ' (with a different spec)'} is dropped — the first wins` +
        (existing ? ` and the job stays ${existing.value}` : ''),
    );
  }
  if (mapped.dropped.length)
    out.note(
      'LEGACY_SPEC_REPAIRED',
      `dropped spec field(s) v1 does not define: ${mapped.dropped.join(', ')}`,
    );
  out.commands.push({ type: 'enqueue', spec: mapped.spec });
  return out;
}

function translateClaim(job: JobAt, rec: LeaseRecord): Translation {
  const { out, tsMs, st, lease, leased, live, ctx, id } = job;
  const leaseSec = (rec.leaseMs - tsMs) / 1000;
  if (rec.leaseMs <= tsMs) {
    return out.note(
      'LEGACY_INVALID_EVENT',
      `a claim whose lease ends (${iso(rec.leaseMs)}) at or before the claim; dropped`,
    );
  }
  if (st === 'queued') {
    claimAndStart(job, rec.workerId, leaseSec, ctx.attempt + 1);
  } else if (leased && live) {
    out.note(
      'LEGACY_CLAIM_WHILE_LEASED',
      `claim by ${rec.workerId} while ${lease!.worker_id} held a live lease until ${iso(job.leaseEndMs)}; dropped`,
    );
  } else if (leased) {
    lapseThenClaim(job, rec.workerId, leaseSec, `the re-claim by ${rec.workerId}`);
  } else if (job.attemptsLeft) {
    out.note(
      'LEGACY_RETRY_SYNTHESIZED',
      `job ${id} is ${st} after attempt ${ctx.attempt}; a retry is written before this claim by ${rec.workerId}`,
    );
    out.commands.push({ type: 'retry', job_id: id, backoff_sec: 0, by: 'operator' });
    claimAndStart(job, rec.workerId, leaseSec, ctx.attempt + 1);
  } else {
    out.note(
      'LEGACY_ATTEMPTS_EXHAUSTED',
      `claim by ${rec.workerId} of job ${id}, which is ${st} after its last attempt (${ctx.max_attempts}); dropped`,
    );
  }
  return out;
}

function translateHeartbeat(job: JobAt, rec: LeaseRecord): Translation {
  const { out, tsMs, st, lease, id } = job;
  if (!job.leased) {
    return out.note(
      'LEGACY_NON_HOLDER',
      `heartbeat from ${rec.workerId}, but job ${id} is ${st} and holds no lease; dropped`,
    );
  }
  if (lease!.worker_id !== rec.workerId) {
    return out.note(
      'LEGACY_NON_HOLDER',
      `heartbeat from ${rec.workerId}; the lease is held by ${lease!.worker_id}; dropped`,
    );
  }
  if (!job.live) {
    return out.note(
      'LEGACY_NON_HOLDER',
      `heartbeat from ${rec.workerId} after its lease lapsed at ${iso(job.leaseEndMs)}; a lapsed lease cannot be renewed; dropped`,
    );
  }
  if (rec.leaseMs <= tsMs) {
    return out.note(
      'LEGACY_INVALID_EVENT',
      `a heartbeat whose lease ends (${iso(rec.leaseMs)}) at or before itself; dropped`,
    );
  }
  out.commands.push({
    type: 'heartbeat',
    job_id: id,
    worker_id: rec.workerId,
    attempt: job.ctx.attempt,
    lease_sec: (rec.leaseMs - tsMs) / 1000,
  });
  return out;
}

function translateOutcome(
  job: JobAt,
  rec: Extract<LegacyRecord, { kind: 'complete' | 'fail' }>,
): Translation {
  const { out, tsMs, st, lease, live, ctx, id } = job;
  if (!job.leased) {
    return out.note(
      'LEGACY_NON_HOLDER',
      `${rec.kind} from ${rec.workerId}, but job ${id} is ${st} and holds no lease; dropped`,
    );
  }
  if (live && lease!.worker_id !== rec.workerId) {
    return out.note(
      'LEGACY_NON_HOLDER',
      `${rec.kind} from ${rec.workerId} while ${lease!.worker_id} holds the live lease; dropped`,
    );
  }
  let attempt = ctx.attempt;
  let startedMs = ctx.started_at_ms ?? tsMs;
  if (!live) {
    const who = lease!.worker_id === rec.workerId ? 'its holder' : `${rec.workerId} (not the holder)`;
    if (!lapseThenClaim(job, rec.workerId, ADOPTED_LEASE_SEC, `the late ${rec.kind} by ${who} is recorded`))
      return out;
    attempt += 1;
    startedMs = tsMs;
  }
  const usage = {
    tool_calls: live ? ctx.tool_calls : 0,
    output_bytes: 0,
    wall_ms: Math.max(0, tsMs - startedMs),
  };
  const fenced = { job_id: id, worker_id: rec.workerId, attempt, usage };
  if (rec.kind === 'complete') {
    const result = v1Result(rec.result);
    if (result.replaced)
      out.note(
        'LEGACY_RESULT_REPLACED',
        `the result (${result.bytes} bytes) is recorded by its SHA-256 and size`,
      );
    out.commands.push({ type: 'complete', ...fenced, result: result.value });
  } else {
    out.commands.push({ type: 'fail', ...fenced, error: v1Error(rec.error) });
  }
  return out;
}

/** A claim by `worker` as `attempt`, and the start v1 needs after it. */
function claimAndStart(job: JobAt, worker: string, leaseSec: number, attempt: number): void {
  const heldBefore = job.state.heldSlots(worker, job.tsMs);
  job.out.commands.push({
    type: 'claim',
    job_id: job.id,
    worker_id: worker,
    worker_slots: Math.min(MAX_WORKER_SLOTS, heldBefore + job.ctx.budgets.max_concurrency_slots),
    lease_sec: leaseSec,
  });
  job.out.commands.push({
    type: 'start',
    job_id: job.id,
    worker_id: worker,
    attempt,
    run_header_sha256: sha256Hex(job.rec.text),
  });
}

/** Expires the lapsed lease, and retries and re-claims by `worker` while attempts remain. */
function lapseThenClaim(job: JobAt, worker: string, leaseSec: number, why: string): boolean {
  const { out, ctx, id } = job;
  const lease = job.lease!;
  out.commands.push({ type: 'expire', job_id: id, reaper: 'import-legacy' });
  if (!job.attemptsLeft) {
    out.note(
      'LEGACY_LEASE_LAPSED',
      `the lease of ${lease.worker_id} lapsed at ${iso(job.leaseEndMs)} without a record; expire written, and as ` +
        `attempt ${ctx.attempt} was the last of ${ctx.max_attempts}, ${why} is dropped and the job ends failed`,
    );
    return false;
  }
  out.note(
    'LEGACY_LEASE_LAPSED',
    `the lease of ${lease.worker_id} lapsed at ${iso(job.leaseEndMs)} without a record; expire and retry written, ` +
      `then ${why} as attempt ${ctx.attempt + 1}`,
  );
  out.commands.push({ type: 'retry', job_id: id, backoff_sec: 0, by: 'operator' });
  claimAndStart(job, worker, leaseSec, ctx.attempt + 1);
  return true;
}

/** The legacy state vocabulary: what the old system showed for a job. */
export type LegacyState = 'queued' | 'running' | 'complete' | 'failed' | 'expired';

export function asLegacyState(st: JobStateValue): LegacyState | 'cancelled' {
  return st === 'claimed' ? 'running' : st;
}

function v1Result(result: unknown): { value: Record<string, unknown>; replaced: boolean; bytes: number } {
  const value =
    typeof result === 'object' && result !== null && !Array.isArray(result)
      ? (result as Record<string, unknown>)
      : result === undefined
        ? {}
        : { value: result };
  const text = canonicalJson(value);
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_RESULT_BYTES && Object.keys(value).length <= 64) return { value, replaced: false, bytes };
  return {
    value: { legacy_result_sha256: sha256Hex(text), legacy_result_bytes: bytes },
    replaced: true,
    bytes,
  };
}

/** Legacy errors were strings (or sometimes objects); v1 wants {code, message}. */
function v1Error(error: unknown): ErrorInfo {
  const obj = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : null;
  const code =
    obj && typeof obj.code === 'string' && /^[A-Za-z0-9_:.-]{1,64}$/.test(obj.code)
      ? obj.code
      : 'legacy_fail';
  const message =
    typeof error === 'string'
      ? error
      : obj && typeof obj.message === 'string'
        ? obj.message
        : error === undefined
          ? 'the legacy fail event carried no error'
          : canonicalJson(error);
  return { code, message: message.slice(0, 2000) };
}
