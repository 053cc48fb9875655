/**
 * Appends through the library, beside the disk's limits on the same lines:
 *   single append — `plane.submit([enqueue])` one at a time (lock, catch up, validate, decide,
 *     seal, write, fdatasync), vs a loop of write + fdatasync of the same lines (O_APPEND);
 *   group commit — one `plane.submit` of 10,000 enqueues (one write, one fdatasync), vs the same
 *     lines written 64 per write + fdatasync.
 * Each is measured with both engines the write path can decide with: XState's own transition
 * (the default, docs/spec.md §4; the entry with the target) and the compiled table (`…_table`).
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tableEngine } from '../../../machines/job.table.js';
import { canonicalJson, sha256Hex } from '../../../src/canonical.js';
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

/**
 * The irreducible work of appending `lines` (issue 18): for each event, its canonical JSON without
 * `hash`, that text's SHA-256 and the line with it — then `perSync` lines per write + fdatasync,
 * as `diskLimit`. The events are parsed before the clock starts: deciding and validating are ours
 * to make cheap, serialising, hashing and syncing are not. Lines/s.
 */
export function irreducibleLimit(path: string, lines: readonly string[], perSync: number): number {
  const events = lines.map((l) => {
    const { hash: _hash, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
  const fd = openSync(path, 'a');
  const t = performance.now();
  for (let i = 0; i < events.length; i += perSync) {
    let chunk = '';
    for (const ev of events.slice(i, i + perSync)) {
      const body = canonicalJson(ev);
      const hash = sha256Hex(body);
      chunk += `${body.slice(0, -1)},"hash":"${hash}"}\n`;
    }
    const buf = Buffer.from(chunk);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fdatasyncSync(fd);
  }
  const ms = performance.now() - t;
  closeSync(fd);
  return events.length / (ms / 1000);
}

/** The write path's two engines: XState's own transition (the default, docs/spec.md §4) and the table. */
const ENGINES = [
  { suffix: '', label: 'XState deciding (the default)', engine: undefined },
  { suffix: '_table', label: 'the compiled table deciding', engine: tableEngine },
] as const;

/**
 * Runs `ours` for each engine on a fresh plane and the limit on the lines the default engine
 * wrote, `runs` times, interleaved so all three see the same machine.
 */
async function perEngine(
  ctx: BenchContext,
  name: string,
  runs: number,
  ours: (plane: Plane, run: number) => Promise<number>,
  limit: (home: string) => number,
): Promise<{ ours: number[][]; limit: number[] }> {
  const samples = ENGINES.map(() => [] as number[]);
  const limits: number[] = [];
  for (let run = 0; run < runs; run++) {
    for (const [i, { engine, label }] of ENGINES.entries()) {
      const home = ctx.dir(`${name}-${run}${ENGINES[i]!.suffix}`);
      const plane = Plane.open(home, engine ? { engine } : {});
      samples[i]!.push(await ours(plane, run));
      plane.close();
      if (i === 0) limits.push(limit(home));
      ctx.log(`${name} run ${run + 1}/${runs}, ${label}: ${samples[i]!.at(-1)!.toFixed(0)}/s`);
    }
    ctx.log(`${name} run ${run + 1}/${runs}: limit ${limits.at(-1)!.toFixed(0)}/s`);
  }
  return { ours: samples, limit: limits };
}

export async function singleAppendFigure(ctx: BenchContext): Promise<Entry[]> {
  const n = ctx.quick ? 1_000 : 2_000;
  const { ours, limit } = await perEngine(
    ctx,
    'single-append',
    3,
    async (plane, run) => {
      const batch = specs(n, run);
      const t = performance.now();
      for (const spec of batch) await plane.submit([{ type: 'enqueue', spec }]);
      return n / ((performance.now() - t) / 1000);
    },
    (home) => diskLimit(join(home, 'limit.jsonl'), ledgerLinesOf(join(home, 'jobs.jsonl')), 1),
  );
  return ENGINES.map(({ suffix, label }, i) =>
    entry({
      name: `single_append${suffix}`,
      figure: `single append: ${n} fsync'd enqueues, one plane.submit each, ${label}`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours[i]!),
      limit: spread(limit),
      limitIs: 'write + fdatasync per line, same lines, O_APPEND',
      ...(suffix === ''
        ? { target: '≥ 70% of the limit', meets: ({ ratio }) => ratio !== null && ratio >= 0.7 }
        : {}),
    }),
  );
}

export async function groupCommitFigure(ctx: BenchContext): Promise<Entry[]> {
  const n = 10_000;
  const irreducible: number[] = [];
  const { ours, limit } = await perEngine(
    ctx,
    'group-commit',
    3,
    async (plane, run) => {
      const commands = specs(n, 100 + run).map((spec) => ({ type: 'enqueue' as const, spec }));
      const t = performance.now();
      await plane.submit(commands);
      return n / ((performance.now() - t) / 1000);
    },
    (home) => {
      const lines = ledgerLinesOf(join(home, 'jobs.jsonl'));
      irreducible.push(irreducibleLimit(join(home, 'irreducible.jsonl'), lines, 64));
      return diskLimit(join(home, 'limit.jsonl'), lines, 64);
    },
  );
  const limitSpread = spread(limit);
  groupCommitLimit = limitSpread;
  return ENGINES.map(({ suffix, label }, i) =>
    entry({
      name: `group_commit${suffix}`,
      figure: `group commit: one plane.submit of ${n.toLocaleString('en')} enqueues, ${label}`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours[i]!),
      limit: limitSpread,
      limitIs: 'the same lines, 64 per write + fdatasync',
      ...(suffix === ''
        ? { target: '≥ 50% of the limit', meets: ({ ratio }) => ratio !== null && ratio >= 0.5 }
        : {}),
    }),
  ).concat(
    entry({
      name: 'group_commit_vs_irreducible',
      figure: `group commit (XState deciding) beside the irreducible work of the same ${n.toLocaleString('en')} events`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours[0]!),
      limit: spread(irreducible),
      limitIs: 'canonical JSON + SHA-256 per event, 64 lines per write + fdatasync',
      target: '≥ 50% of the limit',
      meets: ({ ratio }) => ratio !== null && ratio >= 0.5,
    }),
  );
}

/** The group-commit limit of this run, for the drain's implied events/s. */
export let groupCommitLimit: ReturnType<typeof spread> | undefined;
