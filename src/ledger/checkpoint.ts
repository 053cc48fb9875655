/**
 * `checkpoint.json`: the folded state at a byte offset, so a new process starts from there
 * instead of line 1 (SPEC §2). Written atomically (write-file-atomic: temp file, fsync, rename).
 *
 * Format: two lines. The first is a header {v, seq, hash, offset, lines, last_ts_ms,
 * body_sha256}; the second, the body, is the JSON array of [job_id, state, context]. Before use
 * the body's SHA-256 must match the header, and the ledger's line ending at `offset` must carry
 * exactly `seq` and `hash`; otherwise the checkpoint is ignored (and the caller folds from line 1).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import type { JobContext, JobStateValue } from '../../machines/job.types.js';
import { sha256Hex } from '../canonical.js';
import { PlaneState, restoreJobSnapshot } from '../core/plane-state.js';
import { MAX_LINE_BYTES } from './line.js';
import type { FoldPosition } from './store.js';

interface CheckpointHeader {
  readonly v: 1;
  readonly seq: number;
  readonly hash: string;
  readonly offset: number;
  readonly lines: number;
  readonly last_ts_ms: number;
  readonly body_sha256: string;
}

export function writeCheckpoint(path: string, state: PlaneState, position: FoldPosition): void {
  const body = JSON.stringify(
    [...state.jobs].map(([id, snap]) => [id, snap.value, snap.context, state.enqueueOffsets.get(id) ?? -1]),
  );
  const header: CheckpointHeader = {
    v: 1,
    seq: state.lastSeq,
    hash: state.lastHash,
    offset: position.offset,
    lines: position.lines,
    last_ts_ms: state.lastTsMs,
    body_sha256: sha256Hex(body),
  };
  writeFileAtomic.sync(path, `${JSON.stringify(header)}\n${body}\n`, { fsync: true });
}

export type LoadedCheckpoint =
  | { readonly ok: true; readonly state: PlaneState; readonly position: FoldPosition }
  | { readonly ok: false; readonly reason: string };

/** Loads and verifies a checkpoint against the ledger; `undefined` when there is none. */
export function loadCheckpoint(path: string, ledgerPath: string): LoadedCheckpoint | undefined {
  if (!existsSync(path)) return undefined;
  let header: CheckpointHeader;
  let body: string;
  try {
    const text = readFileSync(path, 'utf8');
    const nl = text.indexOf('\n');
    header = JSON.parse(text.slice(0, nl)) as CheckpointHeader;
    body = text.slice(nl + 1, text.endsWith('\n') ? -1 : undefined);
  } catch {
    return { ok: false, reason: 'checkpoint.json is unreadable' };
  }
  if (header.v !== 1 || sha256Hex(body) !== header.body_sha256) {
    return { ok: false, reason: 'checkpoint.json does not match its own body_sha256' };
  }
  const anchor = lineEndingAt(ledgerPath, header.offset);
  if (header.offset > 0 && (!anchor || anchor.seq !== header.seq || anchor.hash !== header.hash)) {
    return {
      ok: false,
      reason: `the ledger has no line with seq ${header.seq} and the checkpoint's hash at its offset`,
    };
  }
  const state = new PlaneState();
  for (const [id, value, context, offset] of JSON.parse(body) as [
    string,
    JobStateValue,
    JobContext,
    number,
  ][]) {
    state.setJob(id, restoreJobSnapshot(value, context));
    state.enqueueOffsets.set(id, offset);
  }
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
