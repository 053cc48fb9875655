/**
 * The format of `checkpoint.json` v3 (docs/decisions.md, "Warm start"), lines of JSON:
 *   1. the header {v, code, seq, hash, offset, lines, last_ts_ms,
 *                  index_bytes, index_sha256, ended_bytes, ended_sha256};
 *   2. the index {live: [[job_id, state, context, enqueue_offset]…],
 *                 ended: {ids: "id id …", states: "55…"}} — `index_bytes` long with its `\n`;
 *   3… the ended region, `ended_bytes` long: one line per job that has ended (complete,
 *      cancelled: states the machine lets nothing leave), in `ended.ids` order, each the array
 *      of its context fields followed by its enqueue offset.
 * A context is stored as the array of its fields in CONTEXT_FIELDS order; a state is its index in
 * JOB_STATES (one digit per job in `ended.states`).
 *
 * C1. A checkpoint is used only when its `code` is this build's CODE_FINGERPRINT. The fingerprint
 *     covers the package version, this format, the stored fields and the text of every rule that
 *     shapes folded state — the machine's table, its guards, its context updates, the fold
 *     itself (`PlaneState.evolve` and its indexes), the spec digest and the time parser — so a
 *     checkpoint folded by other code, even the same version with one guard changed, is never
 *     taken for what this code would fold. (checkpoint.ts checks the rest of C1.)
 */
import { GUARD_CODE } from '../../../machines/job.guards.js';
import { TABLE_CODE } from '../../../machines/job.table.js';
import type { JobContext } from '../../../machines/job.types.js';
import { JOB_STATES } from '../../../machines/job.types.js';
import { UPDATE_CODE } from '../../../machines/job.updates.js';
import { canonicalJson, canonicalOrder, sha256Hex } from '../../canonical.js';
import { PLANE_STATE_CODE } from '../../core/plane-state.js';
import { parseTsUtc } from '../../time.js';
import { VERSION as PACKAGE_VERSION } from '../../version.js';
import type { PrefixSegment } from '../prefix.js';

export const FORMAT_VERSION = 4;

export interface CheckpointHeader {
  readonly v: number;
  readonly code: string;
  readonly seq: number;
  readonly hash: string;
  readonly offset: number;
  readonly lines: number;
  readonly last_ts_ms: number;
  readonly index_bytes: number;
  readonly index_sha256: string;
  readonly ended_bytes: number;
  readonly ended_sha256: string;
}

export interface CheckpointIndex {
  /** The digest of the ledger bytes before `offset` (D1 of src/ledger/prefix.ts). */
  readonly prefix: readonly PrefixSegment[];
  readonly live: readonly [string, number, unknown[], number][];
  /** Space-separated ids, and one digit per job (its state's index in JOB_STATES). */
  readonly ended: { readonly ids: string; readonly states: string };
}

/** Every field of JobContext, in the order a context is stored. */
export const CONTEXT_FIELDS = [
  'job_id',
  'job_type',
  'priority',
  'max_attempts',
  'budgets',
  'tool_policy',
  'enqueued_seq',
  'enqueued_at_utc',
  'created_at_utc',
  'spec_sha256',
  'attempt',
  'lease',
  'not_before_unix',
  'started_at_ms',
  'tool_calls',
  'usage',
  'result',
  'error',
  'cancel_reason',
  'updated_seq',
  'updated_at_utc',
] as const satisfies readonly (keyof JobContext)[];
// A field added to JobContext but not here fails to compile, instead of vanishing from checkpoints.
type Unlisted = Exclude<keyof JobContext, (typeof CONTEXT_FIELDS)[number]>;
const everyField: [Unlisted] extends [never] ? true : Unlisted = true;
void everyField;

// A job's state is stored as one digit (its index in JOB_STATES) in the index's `ended.states`.
if (JOB_STATES.length > 10) throw new Error('checkpoint.json stores a state as one digit: change the format');

/**
 * The code whose text the fingerprint covers (C1): each module's own list of its declarations
 * (tests/fold-code.unit.spec.ts keeps those lists complete), and the helpers they call from
 * modules of general use.
 */
export const FOLD_CODE = {
  guards: GUARD_CODE,
  updates: UPDATE_CODE,
  table: TABLE_CODE,
  state: PLANE_STATE_CODE,
  helpers: { canonicalJson, canonicalOrder, sha256Hex, parseTsUtc },
};

/**
 * A stable text of `value`: functions and classes by their source text (what V8 runs), objects
 * with sorted keys, sets and maps as arrays.
 */
export function codeText(value: unknown): unknown {
  if (typeof value === 'function') return `${value.name}: ${Function.prototype.toString.call(value)}`;
  if (value instanceof Set) return [...value].map(codeText);
  if (value instanceof Map) return [...value].map(([k, v]) => [codeText(k), codeText(v)]);
  if (Array.isArray(value)) return value.map(codeText);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, codeText((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The fingerprint of code that folds as `code` does (C1): 16 hex digits. */
export function codeFingerprint(code: unknown = FOLD_CODE): string {
  return sha256Hex(
    JSON.stringify({
      execplane: PACKAGE_VERSION,
      checkpoint: FORMAT_VERSION,
      fields: CONTEXT_FIELDS,
      code: codeText(code),
    }),
  ).slice(0, 16);
}

/** This build's fingerprint (C1). */
export const CODE_FINGERPRINT = codeFingerprint();

export const contextToRow = (c: JobContext): unknown[] => CONTEXT_FIELDS.map((f) => c[f]);

export function rowToContext(row: readonly unknown[]): JobContext {
  const c: Record<string, unknown> = {};
  CONTEXT_FIELDS.forEach((f, i) => (c[f] = row[i]));
  return c as unknown as JobContext;
}
