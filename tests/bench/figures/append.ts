/**
 * Appends through the library, beside the disk's limits on the same lines:
 *   single append — `plane.submit([enqueue])` one at a time (lock, catch up, validate, decide,
 *     seal, write, fdatasync), vs a loop of write + fdatasync of the same lines (O_APPEND);
 *   group commit — one `plane.submit` of 10,000 enqueues (one write, one fdatasync), vs the same
 *     lines written 64 per write + fdatasync.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Plane } from '../../../src/plane.js';
import type { BenchContext } from '../context.js';
import { GEN_T0_MS, jobSpec } from '../gen-ledger.js';
import { ledgerLinesOf } from '../ledger-read.js';
import { seededRng } from '../rng.js';
import { entry, spread, type Entry } from '../stats.js';

/** `n` realistic specs with ids, distinct per run. */
function specs(n: number, run: number) {
  const rng = seededRng(7_000 + run);
  return Array.from({ length: n }, (_, i) =>
    jobSpec(
      rng,
      `job-append${run.toString(36)}${i.toString(36).padStart(6, '0')}`,
      new Date(GEN_T0_MS).toISOString(),
    ),
  );
}

/** Writes `lines` to a fresh O_APPEND file, `perSync` lines per write + fdatasync; lines/s. */
export function diskLimit(path: string, lines: readonly string[], perSync: number): number {
  const fd = openSync(path, 'a');
  const t = performance.now();
  for (let i = 0; i < lines.length; i += perSync) {
    const buf = Buffer.from(lines.slice(i, i + perSync).join(''));
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fdatasyncSync(fd);
  }
  const ms = performance.now() - t;
  closeSync(fd);
  return lines.length / (ms / 1000);
}

export async function singleAppendFigure(ctx: BenchContext): Promise<Entry[]> {
  const n = ctx.quick ? 1_000 : 2_000;
  const runs = 3;
  const ours: number[] = [];
  const limit: number[] = [];
  for (let run = 0; run < runs; run++) {
    const home = ctx.dir(`single-append-${run}`);
    const plane = Plane.open(home);
    const batch = specs(n, run);
    const t = performance.now();
    for (const spec of batch) await plane.submit([{ type: 'enqueue', spec }]);
    ours.push(n / ((performance.now() - t) / 1000));
    plane.close();
    limit.push(diskLimit(join(home, 'limit.jsonl'), ledgerLinesOf(join(home, 'jobs.jsonl')), 1));
    ctx.log(
      `single append run ${run + 1}/${runs}: ${ours.at(-1)!.toFixed(0)}/s (limit ${limit.at(-1)!.toFixed(0)}/s)`,
    );
  }
  return [
    entry({
      name: 'single_append',
      figure: `single append: ${n} fsync'd enqueues, one plane.submit each`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours),
      limit: spread(limit),
      limitIs: 'write + fdatasync per line, same lines, O_APPEND',
      target: '≥ 70% of the limit',
      meets: ({ ratio }) => ratio !== null && ratio >= 0.7,
    }),
  ];
}

export async function groupCommitFigure(ctx: BenchContext): Promise<Entry[]> {
  const n = 10_000;
  const runs = 3;
  const ours: number[] = [];
  const limit: number[] = [];
  for (let run = 0; run < runs; run++) {
    const home = ctx.dir(`group-commit-${run}`);
    const plane = Plane.open(home);
    const commands = specs(n, 100 + run).map((spec) => ({ type: 'enqueue' as const, spec }));
    const t = performance.now();
    await plane.submit(commands);
    ours.push(n / ((performance.now() - t) / 1000));
    plane.close();
    limit.push(diskLimit(join(home, 'limit.jsonl'), ledgerLinesOf(join(home, 'jobs.jsonl')), 64));
    ctx.log(
      `group commit run ${run + 1}/${runs}: ${ours.at(-1)!.toFixed(0)}/s (limit ${limit.at(-1)!.toFixed(0)}/s)`,
    );
  }
  const limitSpread = spread(limit);
  groupCommitLimit = limitSpread;
  return [
    entry({
      name: 'group_commit',
      figure: `group commit: one plane.submit of ${n.toLocaleString('en')} enqueues`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours),
      limit: limitSpread,
      limitIs: 'the same lines, 64 per write + fdatasync',
      target: '≥ 50% of the limit',
      meets: ({ ratio }) => ratio !== null && ratio >= 0.5,
    }),
  ];
}

/** The group-commit limit of this run, for the drain's implied events/s. */
export let groupCommitLimit: ReturnType<typeof spread> | undefined;
