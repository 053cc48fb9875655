/**
 * Scale curves (issue 18): the 4 × 8 drain of drain.ts with 1, 2, 4 and 8 workers, and on planes
 * that already hold 10k, 100k and (full run) 1M events of history — throughput must not fall with
 * history (every path O(new lines)) — with each worker's peak RSS on the largest plane.
 *
 * A history plane is the generated ledger (gen-ledger.ts) with every job it left open cancelled
 * (so the drain measures only the no-op jobs: nothing of the history is claimed or reaped) and a
 * checkpoint written, as a plane that has lived that long would have one.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Plane } from '../../../src/plane.js';
import type { BenchContext } from '../context.js';
import { generateLedger } from '../gen-ledger.js';
import { entry, spread, type Entry } from '../stats.js';
import { drainOnce } from './drain.js';

const SLOTS = 8;

export async function scaleFigure(ctx: BenchContext): Promise<Entry[]> {
  const jobs = ctx.quick ? 1_000 : 5_000;
  const out: Entry[] = [];
  for (const workers of [1, 2, 4, 8]) {
    const run = await drainOnce(ctx, workers, SLOTS, jobs, 0);
    out.push(
      entry({
        name: `drain_scale_${workers}x${SLOTS}`,
        figure: `drain scale: ${jobs.toLocaleString('en')} no-op jobs, ${workers} execplane work × ${SLOTS} slots, fsync on`,
        unit: 'jobs/s',
        better: 'higher',
        ours: spread([run.jobsPerSec]),
      }),
    );
  }
  const histories = ctx.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  for (const events of histories) {
    const home = await historyPlane(ctx, events);
    const run = await drainOnce(ctx, 4, SLOTS, jobs, 0, { home });
    const label = events >= 1_000_000 ? `${events / 1_000_000}m` : `${events / 1000}k`;
    out.push(
      entry({
        name: `drain_history_${label}`,
        figure: `drain 4 × ${SLOTS} on a plane holding ${events.toLocaleString('en')} events of history`,
        unit: 'jobs/s',
        better: 'higher',
        ours: spread([run.jobsPerSec]),
      }),
    );
    if (events === histories[histories.length - 1]) {
      const full = events >= 1_000_000;
      out.push(
        entry({
          name: `worker_rss_history_${label}`,
          figure: `each worker's peak RSS draining on the ${events.toLocaleString('en')}-event plane (the largest of 4)`,
          unit: 'MB',
          better: 'lower',
          ours: spread([run.workerRssMb]),
          ...(full
            ? { target: '≤ 200 MB', meets: ({ ours }: { ours: number }) => ours <= 200 }
            : { note: 'the target (≤ 200 MB) is for the 1M-event plane of the full run' }),
        }),
      );
    }
  }
  return out;
}

/** A home whose ledger is `events` events of generated history, nothing left open, checkpointed. */
async function historyPlane(ctx: BenchContext, events: number): Promise<string> {
  const home = ctx.dir(`history-${events}`);
  const t = performance.now();
  const ledger = generateLedger(join(ctx.root, `history-${events}.jsonl`), { events, jobs: events / 10 });
  copyFileSync(ledger.path, join(home, 'jobs.jsonl'));
  const plane = Plane.open(home);
  return closing(plane, async () => {
    const counts = plane.state.countByState();
    const open = [...plane.state.ids()].filter((id) => {
      const v = plane.state.jobState(id);
      return v === 'queued' || v === 'claimed' || v === 'running';
    });
    await plane.submit(open.map((job_id) => ({ type: 'cancel' as const, job_id, reason: 'bench history' })));
    plane.maybeCheckpoint(true);
    ctx.log(
      `history plane: ${events} events, ${open.length} open job(s) cancelled (of ${counts.queued} queued, ` +
        `${counts.claimed + counts.running} leased), checkpoint written, in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    return home;
  });
}

async function closing<T>(plane: Plane, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } finally {
    plane.close();
  }
}
