/**
 * Drain: no-op jobs (noopSpec) through real `execplane work` processes, fsync on everything the
 * plane promises to keep. The workers are started and warmed up first, idle; then one commit
 * enqueues the batch, and the clock runs from its acknowledgement until the last `complete` is
 * in the ledger. Each job costs the ledger three events (claim, start, complete), so the drain
 * implies an event rate, shown beside the group-commit limit.
 */
import { dropFileCaches } from '../file-caches.js';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Plane } from '../../../src/plane.js';
import { startCli, stop } from '../child.js';
import type { BenchContext } from '../context.js';
import { noopSpec, LedgerWatch } from '../jobs.js';
import { ledgerLinesOf } from '../ledger-read.js';
import { entry, spread, type Entry, type Spread } from '../stats.js';
import { diskLimit, groupCommitLimit } from './append.js';

interface DrainRun {
  readonly jobsPerSec: number;
  readonly eventsPerSec: number;
  /** The largest peak RSS of the workers (VmHWM), in MB. */
  readonly workerRssMb: number;
}

/** How often the drain's observer reads the ledger at most (LedgerWatch.until). */
const OBSERVER_INTERVAL_MS = 10;

export interface DrainOptions {
  /** A home that already holds a plane (its history); default a new one. */
  readonly home?: string;
}

/** The peak resident set of a live process (Linux's VmHWM), in MB; NaN where /proc has none. */
function peakRssMb(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export async function drainOnce(
  ctx: BenchContext,
  workers: number,
  slots: number,
  jobs: number,
  run: number,
  options: DrainOptions = {},
): Promise<DrainRun> {
  const home = options.home ?? ctx.dir(`drain-${workers}x${slots}-${run}`);
  const workspace = ctx.dir(`drain-ws-${workers}x${slots}-${run}`);
  const plane = Plane.open(home);
  const procs: ChildProcess[] = [];
  const errors: string[] = [];
  const watch = new LedgerWatch(home);
  try {
    for (let w = 0; w < workers; w++) {
      const p = startCli(
        [
          'work',
          '--home',
          home,
          '--workspace',
          workspace,
          '--worker-id',
          `bench-${w}`,
          '--slots',
          String(slots),
          '--quiet',
        ],
        { cwd: workspace },
      );
      p.stderr?.setEncoding('utf8').on('data', (d: string) => errors.push(d));
      procs.push(p);
    }
    const enqueue = async (prefix: string, n: number) => {
      const ids = Array.from({ length: n }, (_, i) => `job-${prefix}${i.toString(36).padStart(7, '0')}`);
      await plane.submit(ids.map((id) => ({ type: 'enqueue' as const, spec: noopSpec(id) })));
      return ids;
    };
    const completes = (n: number, what: string) =>
      watch.until(
        () => {
          if (procs.some((p) => p.exitCode !== null)) throw new Error(`a worker exited: ${errors.join('')}`);
          return watch.count('complete') + watch.count('fail') >= n;
        },
        180_000,
        what,
        OBSERVER_INTERVAL_MS,
      );
    // What a plane with history already ended (options.home) is not the drain's.
    watch.poll();
    const ended = () => watch.count('complete') + watch.count('fail');
    const history = { ended: ended(), fail: watch.count('fail') };
    // Warm-up: every worker up, its code hot, its slots exercised — on file caches that hold no
    // earlier deletions (file-caches.ts).
    dropFileCaches((m) => ctx.log(m));
    await enqueue('warm', workers * slots * 4);
    await completes(history.ended + workers * slots * 4, 'the warm-up jobs');
    const before = {
      ended: ended(),
      events: [...watch.counts.values()].reduce((a, b) => a + b, 0),
    };

    await enqueue(`d${run}`, jobs);
    const t0 = process.hrtime.bigint();
    watch.poll();
    const enqueued = [...watch.counts.values()].reduce((a, b) => a + b, 0);
    const t1 = await completes(before.ended + jobs, `${jobs} drained jobs`);
    const seconds = Number(t1 - t0) / 1e9;
    const events = [...watch.counts.values()].reduce((a, b) => a + b, 0) - enqueued;
    const failed = watch.count('fail') - history.fail;
    if (failed > 0) throw new Error(`${failed} job(s) failed: ${errors.join('')}`);
    ctx.log(
      `drain ${workers}×${slots} run ${run + 1}: ${jobs} jobs in ${seconds.toFixed(2)} s = ` +
        `${(jobs / seconds).toFixed(0)} jobs/s, ${(events / seconds).toFixed(0)} events/s`,
    );
    const workerRssMb = Math.max(...procs.map((p) => peakRssMb(p.pid)));
    if (!options.home && !groupCommitLimitHere.has(`${workers}x${slots}`)) {
      const lines = ledgerLinesOf(join(home, 'jobs.jsonl'));
      groupCommitLimitHere.set(`${workers}x${slots}`, diskLimit(join(home, 'limit.jsonl'), lines, 64));
    }
    return { jobsPerSec: jobs / seconds, eventsPerSec: events / seconds, workerRssMb };
  } finally {
    await Promise.all(procs.map(stop));
    watch.close();
    plane.close();
  }
}

/** A group-commit limit measured on the drain's own ledger when the group-commit figure did not run. */
const groupCommitLimitHere = new Map<string, number>();

async function drainFigure(
  ctx: BenchContext,
  workers: number,
  slots: number,
  jobs: number,
): Promise<Entry[]> {
  const runs = ctx.quick ? 1 : 3;
  const results: DrainRun[] = [];
  for (let run = 0; run < runs; run++) results.push(await drainOnce(ctx, workers, slots, jobs, run));
  const name = `drain_${workers}x${slots}`;
  const limit: Spread = groupCommitLimit ?? spread([groupCommitLimitHere.get(`${workers}x${slots}`)!]);
  const targeted = workers === 4 && slots === 8;
  return [
    entry({
      name,
      figure: `drain: ${jobs.toLocaleString('en')} no-op agent_task jobs, ${workers} execplane work × ${slots} slot(s), fsync on`,
      unit: 'jobs/s',
      better: 'higher',
      ours: spread(results.map((r) => r.jobsPerSec)),
      ...(targeted
        ? { target: '≥ 10,000 jobs/s', meets: ({ ours }: { ours: number }) => ours >= 10_000 }
        : {}),
    }),
    entry({
      name: `${name}_events`,
      figure: `drain ${workers}×${slots}: the ledger events/s it implies (claim, start, complete per job)`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(results.map((r) => r.eventsPerSec)),
      limit,
      limitIs: 'group-commit limit: 64 lines per write + fdatasync',
    }),
  ];
}

export const drain1x1Figure = (ctx: BenchContext) => drainFigure(ctx, 1, 1, ctx.quick ? 200 : 2_000);
/** The 4 × 8 drain's job count, which the peers figure (peers.ts) drains too. */
export const DRAIN_4X8_JOBS = (quick: boolean) => (quick ? 2_000 : 20_000);
export const drain4x8Figure = (ctx: BenchContext) => drainFigure(ctx, 4, 8, DRAIN_4X8_JOBS(ctx.quick));
