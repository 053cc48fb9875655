/**
 * `jobs.index`: where each job's event lines are in the ledger, so `execplane show JOB_ID` reads
 * that job's lines instead of the whole file (docs/ledger-format.md, "The offsets index"). A cache, as
 * checkpoint.json is: it may be deleted at any time, a full read (`replay`, or a `show` that had to
 * read everything) writes a new one, and nothing it says is taken on trust.
 *
 * The file, lines of text:
 *   1. the header {v, kind, offset, lines, seq, hash, jobs, blocks}: it covers the ledger's
 *      complete lines before byte `offset` (`lines` of them), the last of which carries `seq` and
 *      `hash`; `blocks` lists the body's blocks, each [first job_id, bytes, sha256];
 *   2… the body: one row per job, sorted by job_id, `<job_id> <first> <delta> <delta>…`, the byte
 *      offsets of the job's event lines in ledger order, base 36, each after the first as the
 *      distance from the one before; cut into blocks of BLOCK_ROWS rows.
 * A reader of one job reads the header and the one block that can hold its row, and checks that
 * block's SHA-256: ≈ 130 KB on a 100,000-job plane, not the whole 6.3 MB body, so what `show`
 * reads does not grow with the plane (docs/benchmarks.md, "Reads (issue 16)").
 *
 * J1. An index is used only when its header is this format, the file is as long as its blocks
 *     say, the block read has the SHA-256 the header gives and holds rows in order, and the
 *     ledger's line ending at `offset` carries exactly `seq` and `hash` (a stale index of a
 *     replaced or rewritten ledger fails here). Otherwise the reader reads the whole ledger, as
 *     it would without one.
 * J2. A used index still proves nothing about the lines it points at: the reader checks every line
 *     it reads (job-lines.ts), and the lines after `offset` are read in full, chained from `hash`.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../canonical.js';
import { writeFileAtomicSync } from '../lazy-deps.js';
import { MAX_LINE_BYTES } from './line.js';
import { readAt } from './scan.js';

export const JOB_INDEX_FILE = 'jobs.index';
const KIND = 'execplane job index';
const VERSION = 1;
/** Rows per block: a block of a 100,000-job plane's index is ≈ 130 KB. */
const BLOCK_ROWS = 2048;
/** The header is read in one look of this many bytes when it fits (it is ≈ 100 bytes a block). */
const HEADER_READ_BYTES = 64 << 10;
const HEADER_MAX_BYTES = 16 << 20;

export const jobIndexPath = (home: string) => join(home, JOB_INDEX_FILE);

/** One block of the body: the job_id of its first row, its length, its SHA-256. */
export type JobIndexBlock = readonly [firstJobId: string, bytes: number, sha256: string];

export interface JobIndexHeader {
  readonly v: number;
  readonly kind: string;
  /** The index covers the ledger's bytes before this offset (complete lines only). */
  readonly offset: number;
  /** How many lines those are. */
  readonly lines: number;
  /** seq and hash of the last of them (0 and 64 zeros before any). */
  readonly seq: number;
  readonly hash: string;
  readonly jobs: number;
  readonly blocks: readonly JobIndexBlock[];
}

/** Collects every event line's offset during a full fold, then writes the index. */
export class JobIndexBuilder {
  private readonly offsets = new Map<string, number[]>();

  add(jobId: string, offset: number): void {
    const list = this.offsets.get(jobId);
    if (list) list.push(offset);
    else this.offsets.set(jobId, [offset]);
  }

  /** Writes the index (atomically: temp file, fsync, rename) for a fold that reached `at`. */
  write(
    path: string,
    at: { readonly offset: number; readonly lines: number; readonly seq: number; readonly hash: string },
  ): void {
    const ids = [...this.offsets.keys()].sort();
    const blocks: JobIndexBlock[] = [];
    const bodies: Buffer[] = [];
    for (let from = 0; from < ids.length; from += BLOCK_ROWS) {
      const rows = ids.slice(from, from + BLOCK_ROWS).map((id) => {
        const offsets = this.offsets.get(id)!;
        let row = `${id} ${offsets[0]!.toString(36)}`;
        for (let i = 1; i < offsets.length; i++) row += ` ${(offsets[i]! - offsets[i - 1]!).toString(36)}`;
        return `${row}\n`;
      });
      const body = Buffer.from(rows.join(''));
      blocks.push([ids[from]!, body.length, sha256Hex(body)]);
      bodies.push(body);
    }
    const header: JobIndexHeader = {
      v: VERSION,
      kind: KIND,
      offset: at.offset,
      lines: at.lines,
      seq: at.seq,
      hash: at.hash,
      jobs: ids.length,
      blocks,
    };
    writeFileAtomicSync(path, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...bodies]));
  }
}

/** A verified index header (J1), and each job's offsets read from its block on request. */
export class JobIndex {
  constructor(
    readonly header: JobIndexHeader,
    private readonly fd: number,
    /** Where the body starts in the file. */
    private readonly bodyAt: number,
  ) {}

  /**
   * The offsets of `jobId`'s event lines before `header.offset`, or undefined when it has none.
   * Throws IndexDamaged when the block that would hold its row fails J1.
   */
  offsetsOf(jobId: string): number[] | undefined {
    const { blocks } = this.header;
    // The last block whose first job_id is ≤ jobId is the only one that can hold its row.
    let lo = 0;
    let hi = blocks.length - 1;
    if (hi < 0 || jobId < blocks[0]![0]) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]![0] <= jobId) lo = mid;
      else hi = mid - 1;
    }
    let at = this.bodyAt;
    for (let i = 0; i < lo; i++) at += blocks[i]![1];
    const [first, bytes, sha] = blocks[lo]!;
    const block = Buffer.allocUnsafe(bytes);
    if (readAt(this.fd, block, bytes, at) !== bytes || sha256Hex(block) !== sha)
      throw new IndexDamaged(`its block of jobs from ${first} does not match its SHA-256`);
    if (!block.subarray(0, first.length + 1).equals(Buffer.from(`${first} `)))
      throw new IndexDamaged(`its block of jobs from ${first} does not start with that job`);
    // Job ids hold no space or newline (the schema's pattern), so `\n<id> ` finds its row only.
    const key = Buffer.from(`\n${jobId} `);
    const found = jobId === first ? -1 : block.indexOf(key);
    if (jobId !== first && found === -1) return undefined;
    const start = found + key.length;
    const end = block.indexOf(10, start);
    const offsets: number[] = [];
    let offset = 0;
    for (const f of block.toString('latin1', start, end).split(' ')) {
      const n = Number.parseInt(f, 36);
      offset = offsets.length === 0 ? n : offset + n;
      offsets.push(offset);
    }
    return offsets;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The index is not what its header says (J1): read the whole ledger instead. */
export class IndexDamaged extends Error {}

export type LoadedJobIndex =
  { readonly ok: true; readonly index: JobIndex } | { readonly ok: false; readonly reason: string };

/**
 * Opens the index and checks its header against the ledger open as `ledgerFd` (J1); undefined
 * when there is none. The caller closes a loaded index.
 */
export function loadJobIndex(path: string, ledgerFd: number): LoadedJobIndex | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { ok: false, reason: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  let loaded: LoadedJobIndex | undefined;
  try {
    loaded = checkHeader(fd, ledgerFd);
    return loaded;
  } finally {
    if (!loaded?.ok) closeSync(fd);
  }
}

function checkHeader(fd: number, ledgerFd: number): LoadedJobIndex {
  const size = fstatSync(fd).size;
  const read = readHeaderLine(fd, size);
  if (!read) return { ok: false, reason: 'it has no header line' };
  let header: JobIndexHeader;
  try {
    header = JSON.parse(read.text) as JobIndexHeader;
  } catch {
    return { ok: false, reason: 'its header is not JSON' };
  }
  if (header?.kind !== KIND || header.v !== VERSION)
    return { ok: false, reason: `it is not a v${VERSION} job index` };
  const counts = [header.offset, header.lines, header.seq, header.jobs];
  const blocksOk =
    Array.isArray(header.blocks) &&
    header.blocks.every(
      (b, i) =>
        Array.isArray(b) &&
        typeof b[0] === 'string' &&
        Number.isSafeInteger(b[1]) &&
        b[1] > 0 &&
        typeof b[2] === 'string' &&
        (i === 0 || header.blocks[i - 1]![0] < b[0]),
    );
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || typeof header.hash !== 'string' || !blocksOk)
    return { ok: false, reason: 'its header is not well formed' };
  const bodyBytes = header.blocks.reduce((sum, b) => sum + b[1], 0);
  if (size !== read.bodyAt + bodyBytes) return { ok: false, reason: 'it is not as long as its header says' };
  const anchor = lineEndingAt(ledgerFd, header.offset);
  if (header.offset > 0 && (!anchor || anchor.seq !== header.seq || anchor.hash !== header.hash))
    return {
      ok: false,
      reason: `the ledger has no line with seq ${header.seq} and the index's hash at byte ${header.offset} (it was replaced or rewritten)`,
    };
  return { ok: true, index: new JobIndex(header, fd, read.bodyAt) };
}

/** The header line's text and where the body starts after it, if there is a header line. */
function readHeaderLine(fd: number, size: number): { text: string; bodyAt: number } | undefined {
  for (let len = Math.min(size, HEADER_READ_BYTES); ; len = Math.min(size, HEADER_MAX_BYTES)) {
    const buf = Buffer.allocUnsafe(len);
    const got = readAt(fd, buf, len, 0);
    const nl = buf.subarray(0, got).indexOf(10);
    if (nl !== -1) return { text: buf.toString('utf8', 0, nl), bodyAt: nl + 1 };
    if (len >= Math.min(size, HEADER_MAX_BYTES)) return undefined;
  }
}

/** Where an existing index ends (lines and the hash there), from its header alone; undefined when none is usable. */
export function jobIndexEnd(path: string): { lines: number; hash: string } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const read = readHeaderLine(fd, fstatSync(fd).size);
    const header = JSON.parse(read?.text ?? '') as Partial<JobIndexHeader>;
    return header.kind === KIND && header.v === VERSION && typeof header.lines === 'number'
      ? { lines: header.lines, hash: String(header.hash) }
      : undefined;
  } catch {
    return undefined; // none, or not one this build reads: worth writing
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** seq and hash of the complete line of `fd` that ends exactly at `offset`, if there is one. */
function lineEndingAt(fd: number, offset: number): { seq: unknown; hash: unknown } | undefined {
  if (offset <= 0 || fstatSync(fd).size < offset) return undefined;
  const len = Math.min(offset, MAX_LINE_BYTES + 1);
  const buf = Buffer.allocUnsafe(len);
  if (readAt(fd, buf, len, offset - len) !== len || buf[len - 1] !== 10) return undefined;
  const start = buf.lastIndexOf(10, len - 2) + 1;
  try {
    const ev = JSON.parse(buf.toString('utf8', start, len - 1)) as { seq: unknown; hash: unknown };
    return { seq: ev.seq, hash: ev.hash };
  } catch {
    return undefined;
  }
}
