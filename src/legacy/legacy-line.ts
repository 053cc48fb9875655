/**
 * One line of the predecessor's ledger (docs/spec.md §10): Python's JSON of {ts_utc (microseconds),
 * event, job_id, worker_id, lease_expires_unix (float seconds), job, validator_mode, result,
 * error}; no seq, no hash. Parsed into a typed record, or into the anomaly that drops it.
 */
import type { Anomaly } from './anomalies.js';

interface Base {
  readonly line: number;
  /** The line's text, for the synthesized start's run_header_sha256. */
  readonly text: string;
  /** ts_utc in milliseconds (microseconds truncated). */
  readonly tsMs: number;
}

export type LegacyRecord =
  | (Base & { readonly kind: 'enqueue'; readonly job: unknown; readonly jobId: string | null })
  | (Base & {
      readonly kind: 'claim' | 'heartbeat';
      readonly jobId: string;
      readonly workerId: string;
      /** lease_expires_unix rounded to the millisecond. */
      readonly leaseMs: number;
    })
  | (Base & {
      readonly kind: 'complete';
      readonly jobId: string;
      readonly workerId: string;
      readonly result: unknown;
    })
  | (Base & {
      readonly kind: 'fail';
      readonly jobId: string;
      readonly workerId: string;
      readonly error: unknown;
    });

const LEGACY_TS = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Milliseconds of a legacy timestamp: fractions beyond milliseconds are truncated; a timestamp
 * without an offset is UTC (Python's naive utcnow()). NaN when it is not a timestamp.
 */
export function parseLegacyTs(ts: unknown): number {
  const m = typeof ts === 'string' ? LEGACY_TS.exec(ts) : null;
  if (!m) return Number.NaN;
  const offset = m[4] === undefined || m[4] === 'Z' ? 'Z' : m[4].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const base = Date.parse(`${m[1]}T${m[2]}${offset}`);
  return base + Number((m[3] ?? '').padEnd(3, '0').slice(0, 3));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `notUtf8`: the line's bytes were not UTF-8 (decoding would put U+FFFD in their place). */
export function parseLegacyLine(text: string, line: number, notUtf8 = false): LegacyRecord | Anomaly {
  const drop = (code: Anomaly['code'], message: string, job_id: string | null = null): Anomaly => ({
    code,
    line,
    job_id,
    message,
  });
  if (notUtf8) return drop('LEGACY_UNPARSEABLE', 'not valid UTF-8; the line is dropped');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return drop(
      'LEGACY_UNPARSEABLE',
      text.trim() === '' ? 'an empty line; dropped' : 'not valid JSON; the line is dropped',
    );
  }
  if (!isObject(raw)) return drop('LEGACY_UNPARSEABLE', 'JSON but not an object; the line is dropped');
  const event = raw.event;
  const job = raw.job;
  const jobId =
    typeof raw.job_id === 'string'
      ? raw.job_id
      : isObject(job) && typeof job.job_id === 'string'
        ? job.job_id
        : null;
  const tsMs = parseLegacyTs(raw.ts_utc);
  if (Number.isNaN(tsMs))
    return drop(
      'LEGACY_INVALID_EVENT',
      `ts_utc ${JSON.stringify(raw.ts_utc)} is not a timestamp; dropped`,
      jobId,
    );
  const base = { line, text, tsMs };
  if (event === 'enqueue') {
    if (!isObject(job))
      return drop('LEGACY_INVALID_EVENT', 'an enqueue without a job object; dropped', jobId);
    return { ...base, kind: 'enqueue', job, jobId };
  }
  if (event !== 'claim' && event !== 'heartbeat' && event !== 'complete' && event !== 'fail')
    return drop(
      'LEGACY_UNKNOWN_EVENT',
      `event ${JSON.stringify(event)} is not a legacy event type; dropped`,
      jobId,
    );
  if (jobId === null) return drop('LEGACY_INVALID_EVENT', `a ${event} without job_id; dropped`);
  const workerId = raw.worker_id;
  if (typeof workerId !== 'string' || !/^[A-Za-z0-9._:@-]{1,128}$/.test(workerId))
    return drop('LEGACY_INVALID_EVENT', `a ${event} without a usable worker_id; dropped`, jobId);
  if (event === 'complete') return { ...base, kind: 'complete', jobId, workerId, result: raw.result };
  if (event === 'fail') return { ...base, kind: 'fail', jobId, workerId, error: raw.error };
  const lease = raw.lease_expires_unix;
  if (typeof lease !== 'number' || !Number.isFinite(lease) || lease <= 0)
    return drop('LEGACY_INVALID_EVENT', `a ${event} without a numeric lease_expires_unix; dropped`, jobId);
  return { ...base, kind: event, jobId, workerId, leaseMs: Math.round(lease * 1000) };
}
