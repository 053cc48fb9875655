/**
 * One job's event lines, read through jobs.index (job-index.ts) instead of the whole ledger: what
 * `execplane show JOB_ID` folds on a big plane.
 *
 * L1. Every line read is checked: a line the index points at must start a line, be sound
 *     (sound.ts: UTF-8, canonical, its own hash, the schema), belong to the job, come after the
 *     job's line before it — and, when the two are adjacent in the ledger, carry that line's
 *     hash as its `prev` and the next seq. Its line number is its seq (what it is in an intact
 *     ledger, whose seq counts lines from 1).
 * L2. The lines after the index's `offset` are all read and chained from the index's verified
 *     anchor (seq, prev, canonical form, hash, schema), as any catch-up reads them; a line there
 *     that fails is corruption (LedgerCorruptError, naming its line).
 * L3. What L1 cannot tell — the chain between the job's lines, the lines of other jobs before
 *     `offset` — is not read, and the caller says so. A pointer that fails L1 is not corruption
 *     the reader can name (the index may be stale or edited): IndexMismatch, and the caller reads
 *     the whole ledger instead, which either shows the job or names the corrupt line.
 */
import { LedgerCorruptError } from '../errors.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { eventSchemaProblems } from '../schema/validate.js';
import { IndexDamaged, type JobIndex } from './job-index.js';
import { chainProblem, isTornWrite, MAX_LINE_BYTES } from './line.js';
import { readAt, scanLines, type TornTail } from './scan.js';
import { lineIsSound } from './sound.js';

export interface JobLine {
  readonly ev: LedgerEvent;
  /** The line's number (1-based). */
  readonly line: number;
}

export interface JobLines {
  /** The job's events in ledger order. */
  readonly lines: readonly JobLine[];
  /** How many of them the index pointed at (each checked by L1). */
  readonly indexed: number;
  /** Links checked between adjacent lines of the job (L1). */
  readonly links: number;
  /** The first line after the index, and how many lines from there were read and chained (L2). */
  readonly tailFrom: number;
  readonly tailLines: number;
  /** A partial last line, ignored as every reader ignores it (S4 of store.ts). */
  readonly torn: TornTail | null;
}

/** The index pointed at something that is not the job's next line (L3): read the whole ledger. */
export class IndexMismatch extends Error {}

export function readJobLines(fd: number, file: string, index: JobIndex, jobId: string): JobLines {
  const { header } = index;
  const lines: JobLine[] = [];
  let links = 0;
  let prev: { ev: LedgerEvent; end: number } | undefined;
  const buf = Buffer.allocUnsafe(MAX_LINE_BYTES + 1);
  let offsets: number[] | undefined;
  try {
    offsets = index.offsetsOf(jobId);
  } catch (err) {
    if (err instanceof IndexDamaged) throw new IndexMismatch(err.message);
    throw err;
  }
  for (const offset of offsets ?? []) {
    const where = `the line at byte ${offset} that jobs.index gives for ${jobId}`;
    if (!Number.isSafeInteger(offset) || offset < (prev?.end ?? 0) || offset >= header.offset)
      throw new IndexMismatch(`${where} is out of order or past the lines the index covers`);
    const from = offset === 0 ? 0 : offset - 1;
    const got = readAt(fd, buf, Math.min(buf.length, header.offset - from), from);
    if (offset > 0 && buf[0] !== 10) throw new IndexMismatch(`${where} is not the start of a line`);
    const start = offset - from;
    const nl = buf.subarray(0, got).indexOf(10, start);
    if (nl === -1) throw new IndexMismatch(`${where} does not end within the lines the index covers`);
    const bytes = buf.subarray(start, nl);
    if (!lineIsSound(bytes))
      throw new IndexMismatch(`${where} fails its own checks (hash, canonical form or schema)`);
    const ev = JSON.parse(bytes.toString('utf8')) as LedgerEvent;
    if (ev.job_id !== jobId) throw new IndexMismatch(`${where} is an event of ${ev.job_id}`);
    if (!prev && ev.event !== 'enqueue') throw new IndexMismatch(`${where} is not the job's enqueue`);
    if (prev && !(ev.seq > prev.ev.seq))
      throw new IndexMismatch(`${where} does not come after the one before`);
    if (prev && prev.end === offset) {
      if (ev.seq !== prev.ev.seq + 1 || ev.prev !== prev.ev.hash)
        throw new IndexMismatch(`${where} does not link to the line before it`);
      links += 1;
    }
    if (ev.seq > header.seq) throw new IndexMismatch(`${where} has a seq past the index's end`);
    lines.push({ ev, line: ev.seq });
    prev = { ev, end: offset + bytes.length + 1 };
  }
  const indexed = lines.length;
  // L2: the lines after the index, chained from its anchor.
  let head = { seq: header.seq, hash: header.hash };
  let lineNo = header.lines;
  const { torn } = scanLines(
    fd,
    header.offset,
    (line) => {
      lineNo += 1;
      if (line.oversized || line.end - line.start > MAX_LINE_BYTES)
        throw new LedgerCorruptError(
          lineNo,
          `the line is over the ${MAX_LINE_BYTES}-byte limit of a ledger line`,
          file,
        );
      if (line.notUtf8) throw new LedgerCorruptError(lineNo, 'not valid UTF-8', file);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.text);
      } catch {
        throw new LedgerCorruptError(lineNo, 'not valid JSON', file);
      }
      const problem = chainProblem(line.text, parsed, head.seq + 1, head.hash);
      if (problem) throw new LedgerCorruptError(lineNo, problem, file);
      const schema = eventSchemaProblems(parsed);
      if (schema.length)
        throw new LedgerCorruptError(lineNo, `does not match its schema: ${schema.join('; ')}`, file);
      const ev = parsed as LedgerEvent;
      head = { seq: ev.seq, hash: ev.hash };
      if (ev.job_id === jobId) lines.push({ ev, line: lineNo });
    },
    MAX_LINE_BYTES,
  );
  if (torn && !isTornWrite(torn))
    throw new LedgerCorruptError(
      lineNo + 1,
      `the file ends with ${torn.bytes} byte(s) that cannot be an interrupted append`,
      file,
    );
  return { lines, indexed, links, tailFrom: header.lines + 1, tailLines: lineNo - header.lines, torn };
}
