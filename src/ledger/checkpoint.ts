/**
 * `checkpoint.json`: the folded state at a byte offset, so a new process starts from there
 * instead of line 1 (SPEC §2). Written atomically (write-file-atomic: temp file, fsync, rename).
 *
 * Format v2, lines of JSON:
 *   1. the header {v, code, seq, hash, offset, lines, last_ts_ms, body_sha256};
 *   2. the index {live: [[job_id, state, context, enqueue_offset]…],
 *                 ended: {ids, states, offsets, lengths}};
 *   3… one context per job that has ended (complete, cancelled: states the machine lets nothing
 *      leave), in `ended.ids` order, each line `lengths[i]` bytes long with its `\n`.
 * A context is the array of its fields in CONTEXT_FIELDS order; a state is its index in
 * JOB_STATES. Everything after the header is the body.
 *
 * C1. Before use, `code` must be this build's CODE_FINGERPRINT (a checkpoint folded by other
 *     code — another version, another machine — says nothing about what this code would fold),
 *     the body's SHA-256 must equal body_sha256, and the ledger's line ending at `offset` must
 *     carry exactly `seq` and `hash`; otherwise the checkpoint is ignored and the caller folds
 *     from line 1. A checkpoint is a cache for writers and `replay --from-checkpoint`: it is not
 *     proof — `replay` and `audit` read every line.
 * C2. Jobs that have ended are restored with their state at once and their context parsed from
 *     its (already verified) line on first use: a new process on a 100,000-job plane is ready
 *     after reading and hashing the file, not after parsing 100,000 contexts — v1 (one JSON body)
 *     took ≈ 1 s for that plane, v2 ≈ 0.1 s (docs/decisions.md, "Warm start").
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { jobTable, type JobRecord } from '../../machines/job.table.js';
import { JOB_STATES, type JobContext, type JobStateValue } from '../../machines/job.types.js';
import { machineTransitions } from '../../machines/diagram.js';
import { sha256Hex } from '../canonical.js';
import { VERSION as PACKAGE_VERSION } from '../version.js';
import { PlaneState, restoreJobSnapshot } from '../core/plane-state.js';
import { MAX_LINE_BYTES } from './line.js';
import type { FoldPosition } from './store.js';

const VERSION = 2;

interface CheckpointHeader {
  readonly v: number;
  readonly code: string;
  readonly seq: number;
  readonly hash: string;
  readonly offset: number;
  readonly lines: number;
  readonly last_ts_ms: number;
  readonly body_sha256: string;
}

interface CheckpointIndex {
  readonly live: readonly [string, number, unknown[], number][];
  readonly ended: {
    readonly ids: readonly string[];
    readonly states: readonly number[];
    readonly offsets: readonly number[];
    readonly lengths: readonly number[];
  };
}

/** Every field of JobContext, in the order a context is stored. */
const CONTEXT_FIELDS = [
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

/** Identifies the code that folds: the package version, the machine's transitions, the stored fields. */
export const CODE_FINGERPRINT = sha256Hex(
  JSON.stringify({
    execplane: PACKAGE_VERSION,
    checkpoint: VERSION,
    machine: machineTransitions(),
    fields: CONTEXT_FIELDS,
  }),
).slice(0, 16);

const contextToRow = (c: JobContext): unknown[] => CONTEXT_FIELDS.map((f) => c[f]);

function rowToContext(row: readonly unknown[]): JobContext {
  const c: Record<string, unknown> = {};
  CONTEXT_FIELDS.forEach((f, i) => (c[f] = row[i]));
  return c as unknown as JobContext;
}

/** States nothing leaves (no transition in the machine's table): their jobs are stored lazily. */
const ENDED: ReadonlySet<JobStateValue> = new Set(
  JOB_STATES.filter((s) => Object.keys(jobTable[s]).length === 0),
);

/** A job that has ended, restored from a checkpoint: its context is parsed on first use (C2). */
class EndedJob implements JobRecord {
  private parsed: JobContext | undefined;

  constructor(
    readonly value: JobStateValue,
    private source: Buffer | undefined,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get context(): JobContext {
    if (!this.parsed) {
      this.parsed = rowToContext(
        JSON.parse(this.source!.toString('utf8', this.start, this.end)) as unknown[],
      );
      this.source = undefined;
    }
    return this.parsed;
  }

  /** Its stored line (with `\n`) while not parsed, so rewriting a checkpoint need not parse it. */
  storedLine(): Buffer | undefined {
    return this.source?.subarray(this.start, this.end + 1);
  }
}

export function writeCheckpoint(path: string, state: PlaneState, position: FoldPosition): void {
  const live: CheckpointIndex['live'][number][] = [];
  const ended = {
    ids: [] as string[],
    states: [] as number[],
    offsets: [] as number[],
    lengths: [] as number[],
  };
  const lines: (string | Buffer)[] = [];
  for (const [id, snap] of state.jobs) {
    const offset = state.enqueueOffsets.get(id) ?? -1;
    if (!ENDED.has(snap.value)) {
      live.push([id, JOB_STATES.indexOf(snap.value), contextToRow(snap.context), offset]);
      continue;
    }
    const line =
      (snap instanceof EndedJob ? snap.storedLine() : undefined) ??
      `${JSON.stringify(contextToRow(snap.context))}\n`;
    ended.ids.push(id);
    ended.states.push(JOB_STATES.indexOf(snap.value));
    ended.offsets.push(offset);
    ended.lengths.push(typeof line === 'string' ? Buffer.byteLength(line) : line.length);
    lines.push(line);
  }
  const index: CheckpointIndex = { live, ended };
  const body = Buffer.concat([
    Buffer.from(`${JSON.stringify(index)}\n`),
    ...lines.map((l) => (typeof l === 'string' ? Buffer.from(l) : l)),
  ]);
  const header: CheckpointHeader = {
    v: VERSION,
    code: CODE_FINGERPRINT,
    seq: state.lastSeq,
    hash: state.lastHash,
    offset: position.offset,
    lines: position.lines,
    last_ts_ms: state.lastTsMs,
    body_sha256: sha256Hex(body),
  };
  writeFileAtomic.sync(path, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]), {
    fsync: true,
  });
}

export type LoadedCheckpoint =
  | { readonly ok: true; readonly state: PlaneState; readonly position: FoldPosition }
  | { readonly ok: false; readonly reason: string };

/** Loads and verifies a checkpoint against the ledger (C1); `undefined` when there is none. */
/**
 * The number of ledger lines an existing checkpoint.json of this build covers, from its header
 * line alone (0 when there is none, or it is unreadable or foreign) — so a process that did not
 * load it can tell whether writing a new one is worth it.
 */
export function checkpointLines(path: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl < 0) return 0;
    const header = JSON.parse(buf.toString('utf8', 0, nl)) as Partial<CheckpointHeader>;
    return header.v === VERSION && header.code === CODE_FINGERPRINT && typeof header.lines === 'number'
      ? header.lines
      : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function loadCheckpoint(path: string, ledgerPath: string): LoadedCheckpoint | undefined {
  if (!existsSync(path)) return undefined;
  let header: CheckpointHeader;
  let body: Buffer;
  try {
    const file = readFileSync(path);
    const nl = file.indexOf(10);
    if (nl < 0) throw new Error('no header line');
    header = JSON.parse(file.toString('utf8', 0, nl)) as CheckpointHeader;
    body = file.subarray(nl + 1);
  } catch {
    return { ok: false, reason: 'checkpoint.json is unreadable' };
  }
  if (header.v !== VERSION) {
    return { ok: false, reason: `checkpoint.json has format v${String(header.v)}, not v${VERSION}` };
  }
  if (header.code !== CODE_FINGERPRINT) {
    return { ok: false, reason: 'checkpoint.json was written by another version of execplane' };
  }
  if (sha256Hex(body) !== header.body_sha256) {
    return { ok: false, reason: 'checkpoint.json does not match its own body_sha256' };
  }
  const anchor = lineEndingAt(ledgerPath, header.offset);
  if (header.offset > 0 && (!anchor || anchor.seq !== header.seq || anchor.hash !== header.hash)) {
    return {
      ok: false,
      reason: `the ledger has no line with seq ${header.seq} and the checkpoint's hash at its offset`,
    };
  }
  const indexEnd = body.indexOf(10);
  const { live, ended } = JSON.parse(body.toString('utf8', 0, indexEnd)) as CheckpointIndex;
  const state = new PlaneState();
  for (const [id, s, row, offset] of live) {
    state.setJob(id, restoreJobSnapshot(JOB_STATES[s]!, rowToContext(row)));
    state.enqueueOffsets.set(id, offset);
  }
  let at = indexEnd + 1;
  ended.ids.forEach((id, i) => {
    const end = at + ended.lengths[i]! - 1;
    state.setJob(id, new EndedJob(JOB_STATES[ended.states[i]!]!, body, at, end));
    state.enqueueOffsets.set(id, ended.offsets[i]!);
    at = end + 1;
  });
  state.lastSeq = header.seq;
  state.lastHash = header.hash;
  state.lastTsMs = header.last_ts_ms;
  return { ok: true, state, position: { offset: header.offset, lines: header.lines } };
}

/** seq and hash of the complete line that ends exactly at `offset`, if there is one. */
function lineEndingAt(ledgerPath: string, offset: number): { seq: unknown; hash: unknown } | undefined {
  if (!existsSync(ledgerPath) || offset <= 0) return undefined;
  const fd = openSync(ledgerPath, 'r');
  try {
    if (fstatSync(fd).size < offset) return undefined;
    const len = Math.min(offset, MAX_LINE_BYTES + 1);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset - len);
    if (buf[len - 1] !== 10) return undefined;
    const start = buf.lastIndexOf(10, len - 2) + 1;
    const ev = JSON.parse(buf.toString('utf8', start, len - 1)) as { seq: unknown; hash: unknown };
    return { seq: ev.seq, hash: ev.hash };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
