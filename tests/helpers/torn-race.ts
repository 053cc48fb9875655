/**
 * A torn tail moved aside and appended over while a reader is reading (what the next appender
 * does; readers take no lock). The tail is an interrupted write of a line that differs from the
 * one later appended in its place, and it straddles the reader's 1 MiB block (src/ledger/scan.ts),
 * so a reader that reads past the complete lines it began with would stitch a line from both.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateLedger } from '../bench/gen-ledger.js';
import type { OpenOptions, Plane as PlaneClass } from '../../src/plane.js';

const BLOCK = 1 << 20;

export interface TornRace {
  readonly path: string;
  /** Lines complete before the tail. */
  readonly lines: number;
  /** Rewrites the tail: the torn bytes moved aside, the real line and the next appended. */
  readonly rewrite: () => void;
}

export function tornRace(dir: string): TornRace {
  const source = join(dir, 'source.jsonl');
  generateLedger(source, { events: 4_000, jobs: 400, seed: 5 });
  const all = readFileSync(source);
  const starts = [0];
  for (let nl = all.indexOf(10); nl !== -1; nl = all.indexOf(10, nl + 1)) starts.push(nl + 1);
  const m = starts.findIndex((s, i) => s < BLOCK && starts[i + 1]! > BLOCK); // the line across the block end
  const before = all.subarray(0, starts[m]);
  const real = all.subarray(starts[m], starts[m + 2]); // that line and the next
  // The interrupted write: the line with its digits 0 before the block end changed to 1, and more
  // bytes than the line has — so the real line's `\n` lies within the old tail's extent.
  const torn = Buffer.concat([all.subarray(starts[m], starts[m + 1]! - 1), Buffer.from('z'.repeat(300))]);
  for (let i = 0; i < BLOCK - starts[m]!; i++) if (torn[i] === 0x30) torn[i] = 0x31;
  const path = join(dir, 'jobs.jsonl');
  writeFileSync(path, Buffer.concat([before, torn]));
  return {
    path,
    lines: m,
    rewrite: () => {
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, before.length);
        writeSync(fd, real, 0, real.length, before.length);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Opens the race's ledger with `open`, rewriting the tail while line 1 is folded. */
export function readDuringRewrite(
  race: TornRace,
  open: (path: string, options: Pick<OpenOptions, 'onEvent'>) => PlaneClass,
): { last_seq: number; torn: number | undefined; verifiedAhead: number } {
  let rewritten = false;
  const plane = open(race.path, {
    onEvent: (_ev, line) => {
      if (line === 1 && !rewritten) {
        rewritten = true;
        race.rewrite();
      }
    },
  });
  try {
    const report = plane.report();
    return {
      last_seq: report.last_seq,
      torn: report.torn_tail?.bytes,
      verifiedAhead: plane.store.linesVerifiedAhead,
    };
  } finally {
    plane.close();
  }
}
