/**
 * Reads on the big plane (issue 16, docs/benchmarks.md "Reads"): each a real `execplane` process,
 * timed from spawn to exit, beside `execplane --version` run in the same loop — the floor every
 * command pays (Node's start and the CLI's modules) before it reads anything.
 *
 * - `show JOB_ID` through jobs.index, for a job from the start, the middle and the end of the
 *   ledger: the job's own lines and the lines after the index, never the whole file.
 * - `status --json --no-probe`: the status-like summary, from checkpoint.json and the tail.
 * - `replay --state failed --limit 20` (which starts from the checkpoint) beside a full
 *   `replay` of the same plane (every line verified).
 *
 * The plane is the bench's big ledger hard-linked as a home's jobs.jsonl (no second ledger); an
 * untimed full `replay --home` first writes its jobs.index and checkpoint.json, as a user's first
 * replay would.
 */
import { closeSync, existsSync, fstatSync, linkSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../child.js';
import type { BenchContext } from '../context.js';
import type { GeneratedLedger } from '../gen-ledger.js';
import { entry, spread, type Entry, type Spread } from '../stats.js';

const TARGET_MS = 200;
const LIMIT_IS = '`execplane --version` in the same loop (Node start + the CLI)';
const VERSION = ['--version'];

/** A home whose jobs.jsonl is the big ledger, after one full replay (jobs.index, checkpoint.json). */
export async function readsPlane(ctx: BenchContext, ledger: GeneratedLedger): Promise<string> {
  const home = ctx.dir('reads');
  linkSync(ledger.path, join(home, 'jobs.jsonl'));
  const r = await runCli(['replay', '--home', home], { discardStdout: true });
  for (const f of ['jobs.index', 'checkpoint.json']) {
    if (!existsSync(join(home, f))) throw new Error(`the first replay --home left no ${f} in ${home}`);
  }
  ctx.log(
    `reads plane: first full replay (writes jobs.index, checkpoint.json) ${(r.ms / 1000).toFixed(1)} s`,
  );
  return home;
}

export interface Picked {
  readonly where: 'early' | 'middle' | 'late';
  readonly id: string;
  readonly seq: number;
}

/** The job of the first line, of the first whole line past the middle byte, and of the last line. */
export function pickJobs(path: string): Picked[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const window = 1 << 16;
    const chunk = (at: number) => {
      const buf = Buffer.alloc(Math.min(window, size - at));
      readSync(fd, buf, 0, buf.length, at);
      return buf.toString('utf8');
    };
    const parse = (line: string | undefined) => {
      const ev = JSON.parse(line ?? '') as { job_id: string; seq: number };
      return { id: ev.job_id, seq: ev.seq };
    };
    const first = chunk(0).split('\n')[0];
    const middle = chunk(Math.floor(size / 2)).split('\n')[1];
    const tail = chunk(Math.max(0, size - window)).split('\n');
    const last = tail[tail.length - 2]; // the file ends with '\n'
    return [
      { where: 'early', ...parse(first) },
      { where: 'middle', ...parse(middle) },
      { where: 'late', ...parse(last) },
    ];
  } finally {
    closeSync(fd);
  }
}

interface ShowJson {
  readonly timeline: readonly unknown[];
  readonly verified: { readonly read: 'full' | 'index'; readonly job_lines?: number };
}

/** One `show --json` before timing: it must read through jobs.index, or the figure measures a full read. */
async function checkShow(home: string, job: Picked): Promise<number> {
  const r = await runCli(['show', job.id, '--home', home, '--json']);
  const shown = JSON.parse(r.stdout) as ShowJson;
  if (shown.verified.read !== 'index') {
    throw new Error(`show ${job.id} did not read through jobs.index: ${r.stderr.trim()}`);
  }
  return shown.timeline.length;
}

async function timed(args: readonly string[], samples: number[], options = {}): Promise<string> {
  const r = await runCli(args, options);
  if (r.stderr.includes('ignored')) throw new Error(`execplane ${args.join(' ')}: ${r.stderr.trim()}`);
  samples.push(r.ms);
  return r.stdout;
}

const over = (ours: Spread, floor: Spread) =>
  `${Math.round(ours.median - floor.median)} ms over the --version floor`;

export async function readsFigure(ctx: BenchContext): Promise<Entry[]> {
  const ledger = ctx.bigLedger();
  const home = await readsPlane(ctx, ledger);
  const shape = `${ledger.events.toLocaleString('en')} events / ${ledger.jobs.toLocaleString('en')} jobs`;
  const full = !ctx.quick;
  const meets200 = ({ ours }: { ours: number }) => (full ? ours <= TARGET_MS : null);
  const target = `≤ ${TARGET_MS} ms (1M events)`;

  // show and status, interleaved with --version so all see the same machine.
  const jobs = pickJobs(ledger.path);
  const lines = new Map<string, number>();
  for (const j of jobs) lines.set(j.id, await checkShow(home, j));
  const runs = ctx.quick ? 5 : 9;
  const floor: number[] = [];
  const show = new Map<string, number[]>(jobs.map((j) => [j.id, []]));
  const status: number[] = [];
  for (let i = 0; i < runs; i++) {
    await timed(VERSION, floor);
    for (const j of jobs) await timed(['show', j.id, '--home', home], show.get(j.id)!);
    await timed(['status', '--json', '--no-probe', '--home', home], status);
  }
  const floorSpread = spread(floor);
  const showEntries = jobs.map((j) => {
    const ours = spread(show.get(j.id)!);
    ctx.log(
      `show ${j.where} (${j.id}): ${ours.median.toFixed(0)} ms, floor ${floorSpread.median.toFixed(0)} ms`,
    );
    return entry({
      name: `reads_show_${j.where}`,
      figure: `execplane show JOB_ID through jobs.index, a job of the ledger's ${j.where === 'early' ? 'first' : j.where === 'middle' ? 'middle' : 'last'} line (seq ${j.seq.toLocaleString('en')}), ${shape}`,
      unit: 'ms',
      better: 'lower',
      ours,
      limit: floorSpread,
      limitIs: LIMIT_IS,
      target,
      meets: meets200,
      note: `${j.id}: ${lines.get(j.id)} line(s) of its own read and checked; ${over(ours, floorSpread)}; target ${TARGET_MS} ms on the 1M-event plane`,
    });
  });
  const statusSpread = spread(status);
  ctx.log(`status: ${statusSpread.median.toFixed(0)} ms, floor ${floorSpread.median.toFixed(0)} ms`);

  // replay --state failed --limit 20 (from the checkpoint) beside a full replay of the same home.
  const filterArgs = ['replay', '--state', 'failed', '--limit', '20', '--home', home];
  const probe = JSON.parse((await runCli([...filterArgs, '--json'])).stdout) as {
    matched: number;
    jobs: Record<string, unknown>;
    verified: { lines_verified: number; lines_from_checkpoint: number };
  };
  if (probe.verified.lines_from_checkpoint === 0) {
    throw new Error('replay --state failed did not start from checkpoint.json');
  }
  const listed = Object.keys(probe.jobs).length;
  ctx.log(`replay --state failed --limit 20: ${probe.matched} matched, ${listed} listed`);
  const filterRuns = ctx.quick ? 3 : 5;
  const filterFloor: number[] = [];
  const filtered: number[] = [];
  for (let i = 0; i < filterRuns; i++) {
    await timed(VERSION, filterFloor);
    await timed(filterArgs, filtered);
  }
  const fullRuns = 2;
  const fullReplay: number[] = [];
  for (let i = 0; i < fullRuns; i++) {
    await timed(['replay', '--home', home], fullReplay, { discardStdout: true });
    ctx.log(`full replay --home run ${i + 1}/${fullRuns}: ${(fullReplay[i]! / 1000).toFixed(2)} s`);
  }
  const filteredSpread = spread(filtered);
  const fullSpread = spread(fullReplay);
  const share = filteredSpread.median / fullSpread.median;
  ctx.log(
    `replay --state failed: ${filteredSpread.median.toFixed(0)} ms; full replay ${fullSpread.median.toFixed(0)} ms (${(share * 100).toFixed(0)}%)`,
  );

  return [
    ...showEntries,
    entry({
      name: 'reads_status',
      figure: `execplane status --json --no-probe (checkpoint.json, the tail, workers/), ${shape}`,
      unit: 'ms',
      better: 'lower',
      ours: statusSpread,
      limit: floorSpread,
      limitIs: LIMIT_IS,
      target,
      meets: meets200,
      note: `${over(statusSpread, floorSpread)}; target ${TARGET_MS} ms on the 1M-event plane`,
    }),
    entry({
      name: 'reads_replay_failed',
      figure: `execplane replay --state failed --limit 20 (from checkpoint.json), ${shape}`,
      unit: 'ms',
      better: 'lower',
      ours: filteredSpread,
      limit: spread(filterFloor),
      limitIs: LIMIT_IS,
      target: 'well under a full replay',
      note:
        `${probe.matched} job(s) matched, ${listed} listed; ${(share * 100).toFixed(1)}% of a full replay ` +
        `(${(1 / share).toFixed(1)}× faster); the issue gives no number, so no met/not met`,
    }),
    entry({
      name: 'reads_replay_full',
      figure: `execplane replay --home (every line verified, the report printed to /dev/null), ${shape}`,
      unit: 'ms',
      better: 'lower',
      ours: fullSpread,
    }),
  ];
}
