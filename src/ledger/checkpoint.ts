/**
 * `checkpoint.json`: the folded state at a byte offset, so a new process starts from there
 * instead of line 1 (SPEC §2). Written atomically (write-file-atomic: temp file, fsync, rename).
 *
 * Format v3, lines of JSON:
 *   1. the header {v, code, seq, hash, offset, lines, last_ts_ms,
 *                  index_bytes, index_sha256, ended_bytes, ended_sha256};
 *   2. the index {live: [[job_id, state, context, enqueue_offset]…],
 *                 ended: {ids: "id id …", states: "55…"}} — `index_bytes` long with its `\n`;
 *   3… the ended region, `ended_bytes` long: one line per job that has ended (complete,
 *      cancelled: states the machine lets nothing leave), in `ended.ids` order, each the array
 *      of its context fields followed by its enqueue offset.
 * A context is the array of its fields in CONTEXT_FIELDS order; a state is its index in
 * JOB_STATES (one digit per job in `ended.states`).
 *
 * C1. Before use, `code` must be this build's CODE_FINGERPRINT (a checkpoint folded by other
 *     code — another version, another machine — says nothing about what this code would fold),
 *     the index's SHA-256 must equal index_sha256, and the ledger's line ending at `offset` must
 *     carry exactly `seq` and `hash`; otherwise the checkpoint is ignored and the caller folds
 *     from line 1. A checkpoint is a cache for writers and `replay --from-checkpoint`: it is not
 *     proof — `replay` and `audit` read every line.
 * C2. Jobs that have ended are restored with their state at once; the ended region is read,
 *     checked against ended_sha256 and parsed only when a context of one of them is first
 *     needed (through the descriptor opened at load, so a checkpoint renamed over this one since
 *     does not matter). A region that fails that check throws CheckpointDamagedError. A new
 *     process on a 100,000-job plane is ready after reading a 3 MB index, not a 57 MB file:
 *     v1 (one JSON body) took ≈ 1 s for that plane, v2 (all of it read and hashed) ≈ 0.2 s
 *     (docs/decisions.md, "Warm start").
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { ENDED_STATES, TABLE_SPEC } from '../../machines/job.table.js';
import { JOB_STATES, type JobContext, type JobStateValue } from '../../machines/job.types.js';
import { sha256Hex } from '../canonical.js';
import { writeFileAtomicSync } from '../lazy-deps.js';
import { CheckpointDamagedError } from '../errors.js';
import { VERSION as PACKAGE_VERSION } from '../version.js';
import { PlaneState, restoreJobSnapshot, type StoredJobRecord } from '../core/plane-state.js';
import { MAX_LINE_BYTES } from './line.js';
import type { FoldPosition } from './store.js';

const VERSION = 3;
/** The header line is read with one read of this many bytes; it is ≈ 400. */
const HEADER_MAX_BYTES = 4096;

interface CheckpointHeader {
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

interface CheckpointIndex {
  readonly live: readonly [string, number, unknown[], number][];
  /** Space-separated ids, and one digit per job (its state's index in JOB_STATES). */
  readonly ended: { readonly ids: string; readonly states: string };
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

/** Identifies the code that folds: the package version, the machine's table, the stored fields. */
export const CODE_FINGERPRINT = sha256Hex(
  JSON.stringify({
    execplane: PACKAGE_VERSION,
    checkpoint: VERSION,
    machine: TABLE_SPEC,
    fields: CONTEXT_FIELDS,
  }),
).slice(0, 16);

const contextToRow = (c: JobContext): unknown[] => CONTEXT_FIELDS.map((f) => c[f]);

function rowToContext(row: readonly unknown[]): JobContext {
  const c: Record<string, unknown> = {};
  CONTEXT_FIELDS.forEach((f, i) => (c[f] = row[i]));
  return c as unknown as JobContext;
}

// A job's state is stored as one digit (its index in JOB_STATES) in the index's `ended.states`.
if (JOB_STATES.length > 10) throw new Error('checkpoint.json stores a state as one digit: change the format');

/**
 * The ended region of one loaded checkpoint (C2): read through the descriptor opened at load,
 * checked against ended_sha256 and split into lines on first use, and held until every job of it
 * has been parsed (each parsed job lets go of it).
 */
class EndedRegion {
  private bytes: Buffer | undefined;
  /** Byte offset of each line in `bytes`, and the region's end. */
  private starts: Float64Array | undefined;
  /** Why the region could not be used: every later use throws it again. */
  private failure: Error | undefined;

  constructor(
    private fd: number | undefined,
    private readonly at: number,
    private readonly header: CheckpointHeader,
    readonly count: number,
  ) {}

  /** Line `i` with its `\n`. */
  line(i: number): Buffer {
    const { bytes, starts } = this.load();
    return bytes.subarray(starts[i]!, starts[i + 1]!);
  }

  /** Closes the descriptor if the region was never needed. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private load(): { bytes: Buffer; starts: Float64Array } {
    if (this.bytes && this.starts) return { bytes: this.bytes, starts: this.starts };
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error('checkpoint.json: ended jobs read after the plane was closed');
    try {
      return this.read(this.fd);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    } finally {
      this.close();
    }
  }

  private read(fd: number): { bytes: Buffer; starts: Float64Array } {
    const { ended_bytes: size, ended_sha256: sha } = this.header;
    const bytes = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, bytes, got, size - got, this.at + got);
      if (n === 0) break;
      got += n;
    }
    if (got !== size || sha256Hex(bytes) !== sha) {
      throw new CheckpointDamagedError('its ended-jobs region does not match the ended_sha256 of its header');
    }
    const starts = new Float64Array(this.count + 1);
    let line = 0;
    for (let nl = bytes.indexOf(10); nl !== -1 && line < this.count; nl = bytes.indexOf(10, nl + 1)) {
      starts[++line] = nl + 1;
    }
    if (line !== this.count || starts[line] !== size) {
      throw new CheckpointDamagedError(`its ended-jobs region holds ${line} lines, not ${this.count}`);
    }
    this.bytes = bytes;
    this.starts = starts;
    return { bytes, starts };
  }
}

/** A job that has ended, restored from a checkpoint: its context is parsed on first use (C2). */
class EndedJob implements StoredJobRecord {
  private parsed: { context: JobContext; enqueueOffset: number } | undefined;

  constructor(
    readonly value: JobStateValue,
    private region: EndedRegion | undefined,
    private readonly i: number,
  ) {}

  get context(): JobContext {
    return this.row().context;
  }

  get enqueueOffset(): number {
    return this.row().enqueueOffset;
  }

  /** Its stored line (with `\n`) while not parsed, so rewriting a checkpoint need not parse it. */
  storedLine(): Buffer | undefined {
    return this.region?.line(this.i);
  }

  private row(): { context: JobContext; enqueueOffset: number } {
    if (!this.parsed) {
      const line = this.region!.line(this.i);
      const row = JSON.parse(line.toString('utf8', 0, line.length - 1)) as unknown[];
      this.parsed = { context: rowToContext(row), enqueueOffset: row[CONTEXT_FIELDS.length] as number };
      this.region = undefined;
    }
    return this.parsed;
  }
}

export function writeCheckpoint(path: string, state: PlaneState, position: FoldPosition): void {
  const live: CheckpointIndex['live'][number][] = [];
  const endedIds: string[] = [];
  let endedStates = '';
  const lines: Buffer[] = [];
  for (const [id, snap] of state.jobs) {
    const offset = state.enqueueOffset(id) ?? -1;
    if (!ENDED_STATES.has(snap.value)) {
      live.push([id, JOB_STATES.indexOf(snap.value), contextToRow(snap.context), offset]);
      continue;
    }
    endedIds.push(id);
    endedStates += JOB_STATES.indexOf(snap.value);
    lines.push(
      (snap instanceof EndedJob ? snap.storedLine() : undefined) ??
        Buffer.from(`${JSON.stringify([...contextToRow(snap.context), offset])}\n`),
    );
  }
  const index: CheckpointIndex = { live, ended: { ids: endedIds.join(' '), states: endedStates } };
  const indexBytes = Buffer.from(`${JSON.stringify(index)}\n`);
  const endedBytes = Buffer.concat(lines);
  const header: CheckpointHeader = {
    v: VERSION,
    code: CODE_FINGERPRINT,
    seq: state.lastSeq,
    hash: state.lastHash,
    offset: position.offset,
    lines: position.lines,
    last_ts_ms: state.lastTsMs,
    index_bytes: indexBytes.length,
    index_sha256: sha256Hex(indexBytes),
    ended_bytes: endedBytes.length,
    ended_sha256: sha256Hex(endedBytes),
  };
  writeFileAtomicSync(
    path,
    Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), indexBytes, endedBytes]),
    {
      fsync: true,
    },
  );
}

export type LoadedCheckpoint =
  | { readonly ok: true; readonly state: PlaneState; readonly position: FoldPosition }
  | { readonly ok: false; readonly reason: string };

/** The header line of an open checkpoint, and where the index starts; undefined when unreadable. */
function readHeader(fd: number): { header: Partial<CheckpointHeader>; indexAt: number } | undefined {
  const buf = Buffer.alloc(HEADER_MAX_BYTES);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl < 0) return undefined;
  const header = JSON.parse(buf.toString('utf8', 0, nl)) as unknown;
  if (typeof header !== 'object' || header === null) return undefined;
  return { header: header as Partial<CheckpointHeader>, indexAt: nl + 1 };
}

/**
 * The number of ledger lines an existing checkpoint.json of this build covers, from its header
 * line alone (0 when there is none, or it is unreadable or foreign) — so a process that did not
 * load it can tell whether writing a new one is worth it.
 */
export function checkpointLines(path: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const header = readHeader(fd)?.header;
    return header?.v === VERSION && header.code === CODE_FINGERPRINT && typeof header.lines === 'number'
      ? header.lines
      : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Loads and verifies a checkpoint against the ledger (C1); `undefined` when there is none. */
export function loadCheckpoint(path: string, ledgerPath: string): LoadedCheckpoint | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    // Gone since (deleted, as an operator may), or not readable: fold from line 1 instead.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { ok: false, reason: 'checkpoint.json is unreadable' };
  }
  let keepOpen = false;
  try {
    const loaded = loadFrom(fd, ledgerPath);
    keepOpen = loaded.ok && loaded.keepOpen === true;
    return loaded;
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}

function loadFrom(fd: number, ledgerPath: string): LoadedCheckpoint & { keepOpen?: boolean } {
  let header: CheckpointHeader;
  let index: CheckpointIndex;
  let indexAt: number;
  try {
    const read = readHeader(fd);
    if (!read) throw new Error('no header line');
    ({ indexAt } = read);
    header = read.header as CheckpointHeader;
    if (header.v !== VERSION) {
      return { ok: false, reason: `checkpoint.json has format v${String(header.v)}, not v${VERSION}` };
    }
    if (header.code !== CODE_FINGERPRINT) {
      return { ok: false, reason: 'checkpoint.json was written by another version of execplane' };
    }
    const size = fstatSync(fd).size;
    if (size !== indexAt + header.index_bytes + header.ended_bytes) {
      return { ok: false, reason: 'checkpoint.json is not as long as its header says' };
    }
    const bytes = Buffer.allocUnsafe(header.index_bytes);
    if (readSync(fd, bytes, 0, bytes.length, indexAt) !== bytes.length) throw new Error('short read');
    if (sha256Hex(bytes) !== header.index_sha256) {
      return { ok: false, reason: 'checkpoint.json does not match its own index_sha256' };
    }
    index = JSON.parse(bytes.toString('utf8', 0, bytes.length - 1)) as CheckpointIndex;
  } catch {
    return { ok: false, reason: 'checkpoint.json is unreadable' };
  }
  const anchor = lineEndingAt(ledgerPath, header.offset);
  if (header.offset > 0 && (!anchor || anchor.seq !== header.seq || anchor.hash !== header.hash)) {
    return {
      ok: false,
      reason: `the ledger has no line with seq ${header.seq} and the checkpoint's hash at its offset`,
    };
  }
  const state = new PlaneState();
  const { ids, states } = index.ended;
  const count = states.length;
  const region = count > 0 ? new EndedRegion(fd, indexAt + header.index_bytes, header, count) : undefined;
  try {
    for (const [id, s, row, offset] of index.live) {
      state.setJob(id, restoreJobSnapshot(JOB_STATES[s]!, rowToContext(row)));
      state.enqueueOffsets.set(id, offset);
    }
    let from = 0;
    for (let i = 0; i < count; i++) {
      const to = i === count - 1 ? ids.length : ids.indexOf(' ', from);
      const value = JOB_STATES[states.charCodeAt(i) - 48];
      if (to < from || value === undefined) throw new Error('the ended ids and states do not match');
      state.restoreEnded(ids.slice(from, to), new EndedJob(value, region, i));
      from = to + 1;
    }
  } catch {
    // Only a forged index (its hash recomputed) can get here: fold from line 1 instead.
    return { ok: false, reason: 'checkpoint.json is unreadable' };
  }
  if (region) state.onClose(() => region.close());
  state.lastSeq = header.seq;
  state.lastHash = header.hash;
  state.lastTsMs = header.last_ts_ms;
  return {
    ok: true,
    state,
    position: { offset: header.offset, lines: header.lines },
    keepOpen: region !== undefined,
  };
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
