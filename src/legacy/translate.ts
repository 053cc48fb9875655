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
 * Everything v1 forbids and no synthesis can make lawful is dropped and reported.
 */
import type { JobStateValue } from '../../machines/job.types.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { Command } from '../core/commands.js';
import { specDigest, stateOf, type PlaneState } from '../core/plane-state.js';
import type { ErrorInfo, JobSpec } from '../schema/types.generated.js';
import type { Anomaly } from './anomalies.js';
import type { LegacyRecord } from './legacy-line.js';
import { toV1Spec } from './legacy-spec.js';

/** The lease of a claim synthesized for a late outcome: v1's default lease (SPEC §6). */
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

export function translate(rec: LegacyRecord, state: PlaneState, tsMs: number, book: LegacyBook): Translation {
  const commands: Command[] = [];
  const anomalies: Anomaly[] = [];
  const note = (code: Anomaly['code'], message: string) =>
    anomalies.push({ code, line: rec.line, job_id: rec.jobId, message });
  const done = () => ({ commands, anomalies });
  const iso = (ms: number) => new Date(ms).toISOString();

  if (rec.kind === 'enqueue') {
    const mapped = toV1Spec(rec.job as Record<string, unknown>);
    if (!mapped.ok) {
      note(
        'LEGACY_SPEC_INVALID',
        `the spec does not fit v1 (${mapped.problems.join('; ')}); the job is not imported`,
      );
      return done();
    }
    const id = mapped.spec.job_id;
    if (id === undefined) {
      note('LEGACY_INVALID_EVENT', 'an enqueue without job.job_id; dropped');
      return done();
    }
    const first = book.enqueuedAt.get(id) ?? book.rejectedAt.get(id);
    if (first !== undefined) {
      const same = state.jobs.has(id) && sameSpec(state, id, mapped.spec);
      note(
        'LEGACY_DUPLICATE_ENQUEUE',
        `job ${id} was enqueued at line ${first}; this repeat${same ? '' : ' (with a different spec)'} is dropped — the first wins` +
          (state.jobs.has(id) ? ` and the job stays ${stateOf(state.jobs.get(id)!)}` : ''),
      );
      return done();
    }
    if (mapped.dropped.length)
      note('LEGACY_SPEC_REPAIRED', `dropped spec field(s) v1 does not define: ${mapped.dropped.join(', ')}`);
    commands.push({ type: 'enqueue', spec: mapped.spec });
    return done();
  }

  const id = rec.jobId;
  const snap = state.jobs.get(id);
  if (!snap) {
    const rejected = book.rejectedAt.get(id);
    note(
      'LEGACY_UNKNOWN_JOB',
      rejected !== undefined
        ? `${rec.kind} for job ${id}, whose enqueue (line ${rejected}) could not be imported; dropped`
        : `${rec.kind} for job ${id}, which was never enqueued; dropped`,
    );
    return done();
  }
  const ctx = snap.context;
  const st = stateOf(snap);
  if (st === 'complete' || st === 'cancelled') {
    const when = book.completedAt.get(id);
    note(
      'LEGACY_FINISHED_JOB',
      `${rec.kind} from ${rec.workerId} for job ${id}, which is already ${st}${when ? ` (line ${when})` : ''}; dropped`,
    );
    return done();
  }
  const leased = st === 'claimed' || st === 'running';
  const lease = leased ? ctx.lease : null;
  const leaseEndMs = lease ? Math.round(lease.expires_unix * 1000) : 0;
  const live = lease !== null && tsMs <= leaseEndMs;
  // An expire of the last attempt ends the job failed; a retry needs an attempt left.
  const attemptsLeft = ctx.attempt < ctx.max_attempts;

  const claimAndStart = (worker: string, leaseSec: number, attempt: number, heldBefore: number) => {
    commands.push({
      type: 'claim',
      job_id: id,
      worker_id: worker,
      worker_slots: Math.min(MAX_WORKER_SLOTS, heldBefore + ctx.budgets.max_concurrency_slots),
      lease_sec: leaseSec,
    });
    commands.push({
      type: 'start',
      job_id: id,
      worker_id: worker,
      attempt,
      run_header_sha256: sha256Hex(rec.text),
    });
  };
  /** expire the lapsed lease, and retry + re-claim by `worker` while attempts remain. */
  const lapseThenClaim = (worker: string, leaseSec: number, why: string): boolean => {
    commands.push({ type: 'expire', job_id: id, reaper: 'import-legacy' });
    if (!attemptsLeft) {
      note(
        'LEGACY_LEASE_LAPSED',
        `the lease of ${lease!.worker_id} lapsed at ${iso(leaseEndMs)} without a record; expire written, and as ` +
          `attempt ${ctx.attempt} was the last of ${ctx.max_attempts}, ${why} is dropped and the job ends failed`,
      );
      return false;
    }
    note(
      'LEGACY_LEASE_LAPSED',
      `the lease of ${lease!.worker_id} lapsed at ${iso(leaseEndMs)} without a record; expire and retry written, ` +
        `then ${why} as attempt ${ctx.attempt + 1}`,
    );
    commands.push({ type: 'retry', job_id: id, backoff_sec: 0, by: 'operator' });
    claimAndStart(worker, leaseSec, ctx.attempt + 1, state.heldSlots(worker, tsMs));
    return true;
  };

  switch (rec.kind) {
    case 'claim': {
      const leaseSec = (rec.leaseMs - tsMs) / 1000;
      if (rec.leaseMs <= tsMs) {
        note(
          'LEGACY_INVALID_EVENT',
          `a claim whose lease ends (${iso(rec.leaseMs)}) at or before the claim; dropped`,
        );
        return done();
      }
      if (st === 'queued') {
        claimAndStart(rec.workerId, leaseSec, ctx.attempt + 1, state.heldSlots(rec.workerId, tsMs));
      } else if (leased && live) {
        note(
          'LEGACY_CLAIM_WHILE_LEASED',
          `claim by ${rec.workerId} while ${lease!.worker_id} held a live lease until ${iso(leaseEndMs)}; dropped`,
        );
      } else if (leased) {
        lapseThenClaim(rec.workerId, leaseSec, `the re-claim by ${rec.workerId}`);
      } else if (attemptsLeft) {
        note(
          'LEGACY_RETRY_SYNTHESIZED',
          `job ${id} is ${st} after attempt ${ctx.attempt}; a retry is written before this claim by ${rec.workerId}`,
        );
        commands.push({ type: 'retry', job_id: id, backoff_sec: 0, by: 'operator' });
        claimAndStart(rec.workerId, leaseSec, ctx.attempt + 1, state.heldSlots(rec.workerId, tsMs));
      } else {
        note(
          'LEGACY_ATTEMPTS_EXHAUSTED',
          `claim by ${rec.workerId} of job ${id}, which is ${st} after its last attempt (${ctx.max_attempts}); dropped`,
        );
      }
      return done();
    }
    case 'heartbeat': {
      if (!leased) {
        note(
          'LEGACY_NON_HOLDER',
          `heartbeat from ${rec.workerId}, but job ${id} is ${st} and holds no lease; dropped`,
        );
      } else if (lease!.worker_id !== rec.workerId) {
        note(
          'LEGACY_NON_HOLDER',
          `heartbeat from ${rec.workerId}; the lease is held by ${lease!.worker_id}; dropped`,
        );
      } else if (!live) {
        note(
          'LEGACY_NON_HOLDER',
          `heartbeat from ${rec.workerId} after its lease lapsed at ${iso(leaseEndMs)}; a lapsed lease cannot be renewed; dropped`,
        );
      } else if (rec.leaseMs <= tsMs) {
        note(
          'LEGACY_INVALID_EVENT',
          `a heartbeat whose lease ends (${iso(rec.leaseMs)}) at or before itself; dropped`,
        );
      } else {
        commands.push({
          type: 'heartbeat',
          job_id: id,
          worker_id: rec.workerId,
          attempt: ctx.attempt,
          lease_sec: (rec.leaseMs - tsMs) / 1000,
        });
      }
      return done();
    }
    case 'complete':
    case 'fail': {
      if (!leased) {
        note(
          'LEGACY_NON_HOLDER',
          `${rec.kind} from ${rec.workerId}, but job ${id} is ${st} and holds no lease; dropped`,
        );
        return done();
      }
      if (live && lease!.worker_id !== rec.workerId) {
        note(
          'LEGACY_NON_HOLDER',
          `${rec.kind} from ${rec.workerId} while ${lease!.worker_id} holds the live lease; dropped`,
        );
        return done();
      }
      let attempt = ctx.attempt;
      let startedMs = ctx.started_at_ms ?? tsMs;
      if (!live) {
        const who = lease!.worker_id === rec.workerId ? 'its holder' : `${rec.workerId} (not the holder)`;
        if (!lapseThenClaim(rec.workerId, ADOPTED_LEASE_SEC, `the late ${rec.kind} by ${who} is recorded`))
          return done();
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
          note(
            'LEGACY_RESULT_REPLACED',
            `the result (${result.bytes} bytes) is recorded by its SHA-256 and size`,
          );
        commands.push({ type: 'complete', ...fenced, result: result.value });
      } else {
        commands.push({ type: 'fail', ...fenced, error: v1Error(rec.error) });
      }
      return done();
    }
  }
}

/** The legacy state vocabulary: what the old system showed for a job. */
export type LegacyState = 'queued' | 'running' | 'complete' | 'failed' | 'expired';

export function asLegacyState(st: JobStateValue): LegacyState | 'cancelled' {
  return st === 'claimed' ? 'running' : st;
}

function sameSpec(state: PlaneState, id: string, spec: JobSpec): boolean {
  return specDigest(spec) === state.jobs.get(id)!.context.spec_sha256;
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
