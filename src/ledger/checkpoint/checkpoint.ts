/**
 * `checkpoint.json`: the folded state at a byte offset, so a new process starts from there
 * instead of line 1 (docs/spec.md §2). Written atomically (write-file-atomic: temp file, fsync,
 * rename). The format, and the fingerprint of the code that folded it: format.ts.
 *
 * C1. Before use, `code` must be this build's CODE_FINGERPRINT (format.ts), the index's SHA-256
 *     must equal index_sha256, and the ledger's line ending at `offset` must carry exactly `seq`
 *     and `hash`; otherwise the checkpoint is ignored and the caller folds from line 1. A
 *     checkpoint is a cache for writers and `replay --from-checkpoint`: it is not proof —
 *     `replay` and `audit` read every line.
 * C3. The index carries the digest of the ledger bytes before `offset` (src/ledger/prefix.ts), so
 *     a writer that starts from it checks, before its first append, that those lines are still
 *     the ones folded (S9 of src/ledger/store.ts).
 * C2. Jobs that had ended are restored by their state alone (P4 of src/core/plane-state.ts); the
 *     ended region holds their contexts (ended-region.ts) and is read, checked against
 *     ended_sha256 and parsed only when the ledger store is asked for one of them. A new process
 *     on a 100,000-job plane is ready after reading the index, not the whole file
 *     (docs/decisions.md, "Warm start").
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { ENDED_STATES } from '../../../machines/job.table.js';
import { JOB_STATES, type JobRecord } from '../../../machines/job.types.js';
import { sha256Hex } from '../../canonical.js';
import { PlaneState, type EndedStub } from '../../core/plane-state.js';
import { writeFileAtomicSync } from '../../lazy-deps.js';
import { MAX_LINE_BYTES } from '../line.js';
import { PrefixDigest, type PrefixSegment } from '../prefix.js';
import { readAt } from '../scan.js';
import type { FoldPosition } from '../store.js';
import { EndedRegion } from './ended-region.js';
import {
  CODE_FINGERPRINT,
  contextToRow,
  FORMAT_VERSION,
  rowToContext,
  type CheckpointHeader,
  type CheckpointIndex,
} from './format.js';

/** The header line is read with one read of this many bytes; it is ≈ 400. */
const HEADER_MAX_BYTES = 4096;

/**
 * Writes `state` at `position`. Ended jobs whose context was never loaded are stored as the very
 * line `ended` holds for them (C2), without parsing it.
 */
export function writeCheckpoint(
  path: string,
  state: PlaneState,
  position: FoldPosition,
  ended: EndedRegion | undefined,
  prefix: readonly PrefixSegment[],
): void {
  const live: CheckpointIndex['live'][number][] = [];
  const endedIds: string[] = [];
  let endedStates = '';
  const lines: Buffer[] = [];
  const unloaded = state.unloaded();
  for (const id of state.ids()) {
    const stub = unloaded.get(id);
    if (stub) {
      if (!ended) throw new Error(`writeCheckpoint: ${id} is not loaded and there is no ended region`);
      endedIds.push(id);
      endedStates += JOB_STATES.indexOf(stub.value);
      lines.push(ended.line(stub.ref));
      continue;
    }
    const job = state.get(id)!;
    const offset = state.enqueueOffset(id) ?? -1;
    if (!ENDED_STATES.has(job.value)) {
      live.push([id, JOB_STATES.indexOf(job.value), contextToRow(job.context), offset]);
      continue;
    }
    endedIds.push(id);
    endedStates += JOB_STATES.indexOf(job.value);
    lines.push(Buffer.from(`${JSON.stringify([...contextToRow(job.context), offset])}\n`));
  }
  const index: CheckpointIndex = { prefix, live, ended: { ids: endedIds.join(' '), states: endedStates } };
  const indexBytes = Buffer.from(`${JSON.stringify(index)}\n`);
  const endedBytes = Buffer.concat(lines);
  const { seq, hash, tsMs } = state.head;
  const header: CheckpointHeader = {
    v: FORMAT_VERSION,
    code: CODE_FINGERPRINT,
    seq,
    hash,
    offset: position.offset,
    lines: position.lines,
    last_ts_ms: tsMs,
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
  | {
      readonly ok: true;
      readonly state: PlaneState;
      readonly position: FoldPosition;
      /** Where the contexts of the ended jobs are (C2); the store owns it from here and closes it. */
      readonly ended: EndedRegion | undefined;
      /** The digest of the ledger before `offset`, checked before a writer appends (C3). */
      readonly prefix: readonly PrefixSegment[];
    }
  | { readonly ok: false; readonly reason: string };

/** The header line of an open checkpoint, and where the index starts; undefined when unreadable. */
function readHeader(fd: number): { header: Partial<CheckpointHeader>; indexAt: number } | undefined {
  const buf = Buffer.alloc(HEADER_MAX_BYTES);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl < 0) return undefined;
  const header = JSON.parse(buf.toString('utf8', 0, nl)) as unknown;
  if (typeof header !== 'object' || header === null) return undefined;
  return { header: header, indexAt: nl + 1 };
}

/**
 * Why a checkpoint is not used, for the caller's warning; with EXECPLANE_DEBUG set, the error
 * that made it so (a programming error must not hide behind "unreadable").
 */
function unreadable(err: unknown): string {
  const cause = process.env.EXECPLANE_DEBUG ? `: ${err instanceof Error ? err.message : String(err)}` : '';
  return `checkpoint.json is unreadable${cause}`;
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
    return header?.v === FORMAT_VERSION &&
      header.code === CODE_FINGERPRINT &&
      typeof header.lines === 'number'
      ? header.lines
      : 0;
  } catch {
    return 0; // no usable checkpoint: what the caller needs to know, whatever the cause
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
    return { ok: false, reason: unreadable(err) };
  }
  let loaded: LoadedCheckpoint | undefined;
  try {
    loaded = loadFrom(fd, ledgerPath);
    return loaded;
  } finally {
    // The ended region keeps the descriptor until it is read (C2).
    if (!(loaded?.ok && loaded.ended)) closeSync(fd);
  }
}

function loadFrom(fd: number, ledgerPath: string): LoadedCheckpoint {
  let header: CheckpointHeader;
  let index: CheckpointIndex;
  let indexAt: number;
  try {
    const read = readHeader(fd);
    if (!read) throw new Error('no header line');
    ({ indexAt } = read);
    header = read.header as CheckpointHeader;
    if (header.v !== FORMAT_VERSION) {
      return { ok: false, reason: `checkpoint.json has format v${String(header.v)}, not v${FORMAT_VERSION}` };
    }
    if (header.code !== CODE_FINGERPRINT) {
      return {
        ok: false,
        reason: 'checkpoint.json was folded by other code (another version of execplane, or other rules)',
      };
    }
    const size = fstatSync(fd).size;
    if (size !== indexAt + header.index_bytes + header.ended_bytes) {
      return { ok: false, reason: 'checkpoint.json is not as long as its header says' };
    }
    const bytes = Buffer.allocUnsafe(header.index_bytes);
    if (readAt(fd, bytes, bytes.length, indexAt) !== bytes.length) throw new Error('short read');
    if (sha256Hex(bytes) !== header.index_sha256) {
      return { ok: false, reason: 'checkpoint.json does not match its own index_sha256' };
    }
    index = JSON.parse(bytes.toString('utf8', 0, bytes.length - 1)) as CheckpointIndex;
    if (!PrefixDigest.wellFormed(index.prefix, header.offset)) {
      return { ok: false, reason: 'checkpoint.json has no well-formed digest of the ledger before it' };
    }
  } catch (err) {
    return { ok: false, reason: unreadable(err) };
  }
  const anchor = lineEndingAt(ledgerPath, header.offset);
  if (header.offset > 0 && (!anchor || anchor.seq !== header.seq || anchor.hash !== header.hash)) {
    return {
      ok: false,
      reason: `the ledger has no line with seq ${header.seq} and the checkpoint's hash at its offset`,
    };
  }
  let state: PlaneState;
  const count = index.ended?.states?.length ?? 0;
  try {
    state = PlaneState.fromCheckpoint({
      head: { seq: header.seq, hash: header.hash, tsMs: header.last_ts_ms },
      live: liveJobs(index),
      ended: endedStubs(index),
    });
  } catch (err) {
    // Only a forged index (its hash recomputed) can get here: fold from line 1 instead.
    return { ok: false, reason: unreadable(err) };
  }
  const ended =
    count > 0
      ? new EndedRegion(fd, indexAt + header.index_bytes, header.ended_bytes, header.ended_sha256, count)
      : undefined;
  return {
    ok: true,
    state,
    position: { offset: header.offset, lines: header.lines },
    ended,
    prefix: index.prefix,
  };
}

function* liveJobs(index: CheckpointIndex): Generator<readonly [string, JobRecord, number]> {
  for (const [id, s, row, offset] of index.live) {
    const value = JOB_STATES[s];
    if (value === undefined) throw new Error(`live job ${id} has no state ${s}`);
    yield [id, { value, context: rowToContext(row) }, offset];
  }
}

function* endedStubs(index: CheckpointIndex): Generator<readonly [string, EndedStub]> {
  const { ids, states } = index.ended;
  const count = states.length;
  let from = 0;
  for (let i = 0; i < count; i++) {
    const to = i === count - 1 ? ids.length : ids.indexOf(' ', from);
    const value = JOB_STATES[states.charCodeAt(i) - 48];
    if (to < from || value === undefined) throw new Error('the ended ids and states do not match');
    yield [ids.slice(from, to), { value, ref: i }];
    from = to + 1;
  }
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
    return undefined; // not a line with a seq and hash: the checkpoint does not anchor here
  } finally {
    closeSync(fd);
  }
}
