/**
 * The line of one seq, found without reading the ledger between: seq N is line N (seq starts at
 * 1 and each line's is the one before's + 1, S5 of store.ts), so a bisection on byte offsets
 * between two known lines finds it in O(log(lines)) reads of at most a line each.
 *
 * K1. The line returned is checked on its own, as a verifier would with nothing before it: its
 *     seq is the one asked for, it is canonical JSON and its hash is over its own bytes (the
 *     `chainProblem` of line.ts, given the line's own prev). Its link to the line before is not
 *     checked: the fold that read the ledger up to `end` did that.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { LedgerCorruptError } from '../errors.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { chainProblem, MAX_LINE_BYTES } from './line.js';

/** A line start the fold knows: its byte offset and seq (`end`: the offset after the last line, last seq + 1). */
export interface LineMark {
  readonly offset: number;
  readonly seq: number;
}

/** Below this many bytes between the bounds, one read of them all beats bisecting further. */
const SCAN_BYTES = 4 * (MAX_LINE_BYTES + 1);

/**
 * The event of line `seq` of the ledger at `path`, where `from` is a line at or before it and
 * `end` the end of what was folded (K1). LedgerCorruptError when the bytes there are not that line.
 */
export function readEventAtSeq(path: string, from: LineMark, end: LineMark, seq: number): LedgerEvent {
  if (seq < from.seq || seq >= end.seq)
    throw new RangeError(`seq ${seq} is not in [${from.seq}, ${end.seq})`);
  const name = basename(path);
  const fd = openSync(path, 'r');
  try {
    let lo = from;
    let hi = end;
    while (hi.offset - lo.offset > SCAN_BYTES) {
      const start = lineStartAtOrAfter(fd, lo.offset + Math.floor((hi.offset - lo.offset) / 2), name);
      const text = lineAt(fd, start);
      const at: LineMark = { offset: start, seq: seqOf(text, name) };
      if (at.seq === seq) return checked(name, text, seq);
      if (at.seq < seq) lo = at;
      else hi = at;
    }
    const bytes = Buffer.allocUnsafe(hi.offset - lo.offset);
    readFully(fd, bytes, lo.offset);
    let start = 0;
    for (let s = lo.seq; s < seq; s++) start = bytes.indexOf(10, start) + 1;
    const nl = bytes.indexOf(10, start);
    return checked(name, bytes.toString('utf8', start, nl < 0 ? bytes.length : nl), seq);
  } finally {
    closeSync(fd);
  }
}

/** The first line start at or after `offset` (> 0): just past the first `\n` from offset − 1. */
function lineStartAtOrAfter(fd: number, offset: number, name: string): number {
  const buf = Buffer.allocUnsafe(MAX_LINE_BYTES + 2);
  const n = readSync(fd, buf, 0, buf.length, offset - 1);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl < 0) throw new LedgerCorruptError(0, `no line ends within a line's length of byte ${offset}`, name);
  return offset + nl;
}

function lineAt(fd: number, offset: number): string {
  const buf = Buffer.allocUnsafe(MAX_LINE_BYTES + 1);
  const n = readSync(fd, buf, 0, buf.length, offset);
  const nl = buf.subarray(0, n).indexOf(10);
  return buf.toString('utf8', 0, nl < 0 ? n : nl);
}

function readFully(fd: number, buf: Buffer, offset: number): void {
  for (let done = 0; done < buf.length;) {
    const n = readSync(fd, buf, done, buf.length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
}

/** The seq of a line the bisection lands on; one without a seq is corruption the fold missed. */
function seqOf(text: string, name: string): number {
  let seq: unknown;
  try {
    seq = (JSON.parse(text) as { seq?: unknown }).seq;
  } catch {
    // said below
  }
  if (typeof seq !== 'number')
    throw new LedgerCorruptError(0, 'a line without a seq, found by seeking one', name);
  return seq;
}

function checked(name: string, text: string, seq: number): LedgerEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const prev = (parsed as { prev?: unknown } | undefined)?.prev;
  const problem =
    parsed === undefined
      ? 'not valid JSON'
      : chainProblem(text, parsed, seq, typeof prev === 'string' ? prev : '');
  if (problem) throw new LedgerCorruptError(seq, problem, name);
  return parsed as LedgerEvent;
}
