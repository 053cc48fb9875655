/**
 * One job's event lines for the web view's job page, read in O(the job's lines) where the plane
 * allows it — never the whole ledger per request (docs/ui.md, "What each page reads").
 *
 * The server folds the ledger from checkpoint.json on (its `foldStart`), remembering the byte
 * offset of every line it folds, per job (`recent`). A job's lines are then:
 *   - from `foldStart` on: the remembered offsets — lines the server's own fold verified (chain,
 *     schema, machine) when it read them;
 *   - before `foldStart` (a job enqueued before the checkpoint): the offsets jobs.index gives, when
 *     it is usable (job-index.ts, J1), and a scan of the lines between the index's end and
 *     `foldStart`; without a usable index, a scan from the job's enqueue line to `foldStart`.
 *
 * V1. Every line read outside the fold is checked as `show` checks it (job-lines.ts, L1): it starts
 *     a line, is sound (its own hash, canonical form, schema) and is the job's; the lines together
 *     must fold through the job machine (foldJobEvents). What was not checked — the chain between
 *     the job's lines before `foldStart`, other jobs' lines there — is said in `verified`.
 * V2. A mismatch (a stale or edited index, a line that fails its checks) is not hidden: it is thrown
 *     as HistoryUnreadable with what failed, and the page says so and points to `audit`.
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { IndexDamaged, jobIndexPath, loadJobIndex, type JobIndex } from '../ledger/job-index.js';
import { MAX_LINE_BYTES } from '../ledger/line.js';
import { readAt, scanLines } from '../ledger/scan.js';
import { lineIsSound } from '../ledger/sound.js';
import type { LedgerEvent } from '../schema/types.generated.js';

export interface HistoryLine {
  readonly ev: LedgerEvent;
  /** The line's number (1-based): its seq in an intact ledger. */
  readonly line: number;
  /** The canonical line as it is in the ledger. */
  readonly text: string;
}

export interface JobHistory {
  readonly lines: readonly HistoryLine[];
  /** How the lines were found and what was checked (V1), in words. */
  readonly verified: string;
}

/** V2. */
export class HistoryUnreadable extends Error {}

export interface HistorySource {
  readonly home: string;
  readonly ledgerPath: string;
  /** The byte offset from which the server's fold remembers offsets. */
  readonly foldStart: number;
}

/**
 * The job's lines in ledger order. `enqueueOffset` is its enqueue line's offset; `recent` the
 * offsets of its lines at or after `foldStart` that the fold remembered.
 */
export function jobHistory(
  source: HistorySource,
  jobId: string,
  enqueueOffset: number,
  recent: readonly number[],
): JobHistory {
  const fd = openSync(source.ledgerPath, constants.O_RDONLY);
  const buf = Buffer.allocUnsafe(MAX_LINE_BYTES + 1);
  try {
    const lines: HistoryLine[] = [];
    let how: string;
    if (enqueueOffset >= source.foldStart) {
      how = `its ${recent.length} line(s), each verified by this server's fold (chain, schema, job machine)`;
    } else {
      const before = linesBefore(source, fd, buf, jobId, enqueueOffset);
      lines.push(...before.lines);
      how =
        `${before.how}, then ${recent.length} verified by this server's fold; not verified: the chain ` +
        `between this job's lines before byte ${source.foldStart} — \`execplane audit\` proves the whole ledger`;
    }
    for (const offset of recent) lines.push(checkedLineAt(fd, buf, offset, jobId, "the server's fold"));
    if (lines.length === 0 || lines[0]!.ev.event !== 'enqueue')
      throw new HistoryUnreadable(`the lines found for ${jobId} do not start with its enqueue`);
    for (let i = 1; i < lines.length; i++) {
      if (!(lines[i]!.ev.seq > lines[i - 1]!.ev.seq))
        throw new HistoryUnreadable(
          `the lines found for ${jobId} are out of order at seq ${lines[i]!.ev.seq}`,
        );
    }
    return { lines, verified: how };
  } finally {
    closeSync(fd);
  }
}

/**
 * The job's lines before `foldStart`: through jobs.index when it is usable and its lines check out,
 * else (no index, a stale or damaged one, a pointer that fails V1) by a scan from the enqueue line.
 */
function linesBefore(
  source: HistorySource,
  fd: number,
  buf: Buffer,
  jobId: string,
  enqueueOffset: number,
): { lines: HistoryLine[]; how: string } {
  const index = usableIndex(source, fd);
  let note = '';
  if (index) {
    try {
      const lines: HistoryLine[] = [];
      const end = Math.min(index.header.offset, source.foldStart);
      for (const offset of index.offsetsOf(jobId) ?? []) {
        if (offset >= end) break;
        lines.push(checkedLineAt(fd, buf, offset, jobId, 'jobs.index'));
      }
      const from = Math.max(end, enqueueOffset);
      const scanned = scanRange(fd, from, source.foldStart, jobId, lines);
      return {
        lines,
        how: `${lines.length - scanned} line(s) through jobs.index and ${scanned} scanned from byte ${from} (each checked: hash, canonical form, schema)`,
      };
    } catch (err) {
      if (!(err instanceof HistoryUnreadable || err instanceof IndexDamaged)) throw err;
      note = ` (jobs.index not used: ${err.message})`;
    } finally {
      index.close();
    }
  }
  const lines: HistoryLine[] = [];
  const scanned = scanRange(fd, enqueueOffset, source.foldStart, jobId, lines);
  return {
    lines,
    how: `${scanned} line(s) scanned from its enqueue at byte ${enqueueOffset}${note} (each checked: hash, canonical form, schema)`,
  };
}

function usableIndex(source: HistorySource, fd: number): JobIndex | undefined {
  const path = jobIndexPath(source.home);
  if (!existsSync(path)) return undefined;
  const loaded = loadJobIndex(path, fd);
  return loaded?.ok ? loaded.index : undefined;
}

/** V1 for one line at `offset`. */
function checkedLineAt(fd: number, buf: Buffer, offset: number, jobId: string, from: string): HistoryLine {
  const where = `the line at byte ${offset} (from ${from}) for ${jobId}`;
  const start = offset === 0 ? 0 : offset - 1;
  const got = readAt(fd, buf, buf.length, start);
  if (offset > 0 && buf[0] !== 10) throw new HistoryUnreadable(`${where} is not the start of a line`);
  const at = offset - start;
  const nl = buf.subarray(0, got).indexOf(10, at);
  if (nl === -1) throw new HistoryUnreadable(`${where} does not end`);
  const bytes = buf.subarray(at, nl);
  if (!lineIsSound(bytes))
    throw new HistoryUnreadable(`${where} fails its checks (hash, canonical form or schema)`);
  const text = bytes.toString('utf8');
  const ev = JSON.parse(text) as LedgerEvent;
  if (ev.job_id !== jobId) throw new HistoryUnreadable(`${where} is an event of ${ev.job_id}`);
  return { ev, line: ev.seq, text };
}

/** Every line of `jobId` in [from, to), each checked (V1), appended to `out`. */
function scanRange(fd: number, from: number, to: number, jobId: string, out: HistoryLine[]): number {
  let found = 0;
  if (from >= to) return 0;
  // Job ids are JSON strings without escapes (the schema's pattern): a line of the job holds this.
  const needle = `"job_id":"${jobId}"`;
  scanLines(
    fd,
    from,
    (line) => {
      if (line.start >= to) return false;
      if (line.oversized || !line.text.includes(needle)) return;
      const bytes = Buffer.from(line.text);
      if (!lineIsSound(bytes))
        throw new HistoryUnreadable(
          `the line at byte ${line.start} fails its checks (hash, canonical form or schema)`,
        );
      const ev = JSON.parse(line.text) as LedgerEvent;
      if (ev.job_id !== jobId) return;
      out.push({ ev, line: ev.seq, text: line.text });
      found += 1;
    },
    MAX_LINE_BYTES,
    to,
  );
  return found;
}
