/**
 * What `execplane import-legacy` reports: every anomaly of the old ledger it had to resolve, with
 * the old file's line and a stable code (docs/import-legacy.md describes each and its resolution).
 */
export const ANOMALY_CODES = {
  LEGACY_UNPARSEABLE: 'a line is not UTF-8 JSON of an object (dropped)',
  LEGACY_INVALID_EVENT: 'an event lacks a field it needs or has an impossible value (dropped)',
  LEGACY_UNKNOWN_EVENT: 'an event type the old system did not define (dropped)',
  LEGACY_TS_BACKWARDS: 'ts_utc before the previous line’s (clamped to it, as an appender does)',
  LEGACY_SPEC_REPAIRED: 'spec fields the v1 schema does not know were dropped',
  LEGACY_SPEC_INVALID: 'a spec the v1 schema rejects (the job is not imported)',
  LEGACY_DUPLICATE_ENQUEUE: 'a repeated enqueue of an existing job_id (the first wins)',
  LEGACY_UNKNOWN_JOB: 'an event for a job that was never (successfully) enqueued (dropped)',
  LEGACY_FINISHED_JOB: 'an event for a job that is already complete (dropped)',
  LEGACY_CLAIM_WHILE_LEASED: 'a claim of a job whose lease was still live (dropped)',
  LEGACY_NON_HOLDER: 'a worker event from a worker that does not hold the live lease (dropped)',
  LEGACY_LEASE_LAPSED: 'a lease lapsed without a record (expire synthesized, retry if re-claimed)',
  LEGACY_RETRY_SYNTHESIZED: 'a failed job claimed again (retry synthesized before the claim)',
  LEGACY_ATTEMPTS_EXHAUSTED: 'a claim beyond max_attempts (dropped; the job ends failed)',
  LEGACY_RESULT_REPLACED: 'a result too large for a ledger line (replaced by its SHA-256 and size)',
  LEGACY_REFUSED: 'the v1 engine refused the converted events (dropped; the message says why)',
  LEGACY_OUTCOME_DIFFERS: 'a job ends in another state than the old system showed',
} as const;

export type AnomalyCode = keyof typeof ANOMALY_CODES;

export interface Anomaly {
  readonly code: AnomalyCode;
  /** 1-based line of the old ledger. */
  readonly line: number;
  readonly job_id: string | null;
  readonly message: string;
}
