/**
 * What `execplane audit` reports: findings, each with a stable code from the catalogue below
 * (documented one by one in docs/audit.md; a unit test keeps the two in step).
 */

/** Every finding code, with the invariant of docs/spec.md §4 it belongs to (8 = integrity) and its gist. */
export const FINDING_CODES = {
  // Integrity of the file (docs/spec.md §2, invariant 8): integrity.ts
  E_AUDIT_PARSE: { invariant: 8, gist: 'a line is not valid UTF-8 JSON of an object' },
  E_AUDIT_LINE_TOO_LONG: { invariant: 8, gist: 'a line exceeds the 64 KiB limit' },
  E_AUDIT_NOT_CANONICAL: { invariant: 8, gist: 'a line is not the canonical JSON of its event' },
  E_AUDIT_SCHEMA: { invariant: 8, gist: 'an event does not match schemas/event.schema.json' },
  E_AUDIT_SEQ_GAP: { invariant: 8, gist: 'seq is not the previous line’s seq + 1' },
  E_AUDIT_PREV_MISMATCH: { invariant: 8, gist: 'prev is not the previous line’s hash' },
  E_AUDIT_HASH_MISMATCH: { invariant: 8, gist: 'hash is not the SHA-256 of the event' },
  E_AUDIT_TS_BACKWARDS: { invariant: 8, gist: 'ts_utc is before the previous event’s' },
  E_AUDIT_TORN_TAIL: { invariant: 8, gist: 'the file ends inside a line (an interrupted write)' },
  E_AUDIT_HEAD_MISMATCH: { invariant: 8, gist: 'the ledger does not extend the --expect-head anchor' },
  // The job machine (docs/spec.md §4): transitions.ts
  E_AUDIT_ILLEGAL_TRANSITION: { invariant: null, gist: 'the job machine does not accept the event' },
  // Rules of the audit's own (docs/spec.md §4 invariants 1–7, and job identity): invariants.ts
  E_AUDIT_UNKNOWN_JOB: { invariant: null, gist: 'an event for a job that was never enqueued' },
  E_AUDIT_DUPLICATE_ENQUEUE: { invariant: null, gist: 'a second enqueue of an existing job_id' },
  E_AUDIT_INV1_NOT_QUEUED: { invariant: 1, gist: 'a claim of a job that is not queued' },
  E_AUDIT_INV1_BACKOFF: { invariant: 1, gist: 'a claim before the retry’s not_before_unix' },
  E_AUDIT_INV2_ATTEMPT: { invariant: 2, gist: 'an attempt that is not the previous one + 1' },
  E_AUDIT_INV2_NOT_HOLDER: { invariant: 2, gist: 'a worker event not from the lease holder’s attempt' },
  E_AUDIT_INV2_LEASE_LAPSED: { invariant: 2, gist: 'a worker event after its lease expired' },
  E_AUDIT_INV3_EARLY_EXPIRE: { invariant: 3, gist: 'an expire before the lease expiry' },
  E_AUDIT_INV3_LEASE_MISMATCH: { invariant: 3, gist: 'an expire of a lease that is not on record' },
  E_AUDIT_INV4_TOOL_CALLS: { invariant: 4, gist: 'more tool_call events than max_tool_calls' },
  E_AUDIT_INV4_OUTPUT: { invariant: 4, gist: 'usage.output_bytes above max_output_bytes' },
  E_AUDIT_INV4_MODEL_TOKENS: {
    invariant: 4,
    gist: 'a complete with usage.model_tokens above max_model_tokens',
  },
  E_AUDIT_INV4_WALL_TIME: { invariant: 4, gist: 'start → complete/fail longer than the wall-time budget' },
  E_AUDIT_INV4_USAGE_MISMATCH: { invariant: 4, gist: 'usage.tool_calls differs from the tool_call events' },
  E_AUDIT_INV5_POLICY: { invariant: 5, gist: 'a tool_call the job’s tool_policy does not allow' },
  E_AUDIT_INV6_SLOTS: { invariant: 6, gist: 'a claim beyond the worker’s declared worker_slots' },
  E_AUDIT_INV7_AFTER_TERMINAL: { invariant: 7, gist: 'an event for a job that had ended for good' },
  // Evidence files (`--evidence`, docs/spec.md §7): evidence.ts
  E_AUDIT_EVIDENCE_MISSING: { invariant: null, gist: 'a recorded evidence file does not exist' },
  E_AUDIT_EVIDENCE_MISMATCH: { invariant: null, gist: 'an evidence file’s size or SHA-256 differs' },
  E_AUDIT_EVIDENCE_PATH: { invariant: null, gist: 'an evidence path leads outside evidence/<job_id>/' },
} as const satisfies Record<string, { invariant: number | null; gist: string }>;

export type FindingCode = keyof typeof FINDING_CODES;

export interface Finding {
  readonly code: FindingCode;
  /** 1-based line number in the file. */
  readonly line: number;
  /** The event's seq as written, when the line has one. */
  readonly seq: number | null;
  readonly job_id: string | null;
  /** One sentence: what is wrong. */
  readonly message: string;
}

/** The facts of a line every finding about it repeats. */
export interface LineRef {
  readonly line: number;
  readonly seq: number | null;
  readonly job_id: string | null;
}

export const finding = (at: LineRef, code: FindingCode, message: string): Finding => ({
  code,
  line: at.line,
  seq: at.seq,
  job_id: at.job_id,
  message,
});
