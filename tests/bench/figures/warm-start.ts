/**
 * Warm start: a new `execplane head --from-checkpoint` process on a plane with a checkpoint at the
 * end of its ledger — start Node, load and verify checkpoint.json, catch up (nothing), answer:
 * what a worker or a writer does when it starts. `head` is the status-like read: its output does
 * not grow with the ledger, so what grows is only the start.
 * The 1M-event plane should start about as fast as the 1,000-event one. `status` is measured the
 * same way: what it adds (every job's state counted, the queued jobs' reasons, the ledger's last
 * MiB, workers/) must keep it within 200 ms on the 1M-event plane (issue "Operations").
 */
import { linkSync } from 'node:fs';
import { join } from 'node:path';
import { Plane } from '../../../src/plane.js';
import { runCli } from '../child.js';
import type { BenchContext } from '../context.js';
import type { GeneratedLedger } from '../gen-ledger.js';
import { entry, spread, type Entry } from '../stats.js';

/** A plane whose jobs.jsonl is `ledger` (a hard link) with a checkpoint at its end. */
function planeWithCheckpoint(ctx: BenchContext, name: string, ledger: GeneratedLedger): string {
  const home = ctx.dir(name);
  linkSync(ledger.path, join(home, 'jobs.jsonl'));
  const plane = Plane.open(home, { useCheckpoint: false });
  plane.maybeCheckpoint(true);
  plane.close();
  return home;
}

const HEAD = ['head', '--from-checkpoint', '--json'];
/** `status` reads the checkpoint, the tail and workers/ (docs/operations.md, "Status and health"). */
const STATUS = ['status', '--json', '--no-probe'];

async function startTimes(home: string, runs: number, command = HEAD): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runCli([...command, '--home', home]);
    if (r.stderr.includes('checkpoint.json ignored'))
      throw new Error(`the checkpoint was not used: ${r.stderr}`);
    ms.push(r.ms);
  }
  return ms;
}

export async function warmStartFigure(ctx: BenchContext): Promise<Entry[]> {
  const big = ctx.bigLedger();
  const small = ctx.smallLedger();
  const bigHome = planeWithCheckpoint(ctx, 'warm-big', big);
  const smallHome = planeWithCheckpoint(ctx, 'warm-small', small);
  const runs = ctx.quick ? 5 : 9;
  const bigMs: number[] = [];
  const smallMs: number[] = [];
  // Interleaved, so both see the same machine.
  for (let i = 0; i < runs; i++) {
    smallMs.push(...(await startTimes(smallHome, 1)));
    bigMs.push(...(await startTimes(bigHome, 1)));
  }
  const bigStatus: number[] = [];
  const smallStatus: number[] = [];
  for (let i = 0; i < runs; i++) {
    smallStatus.push(...(await startTimes(smallHome, 1, STATUS)));
    bigStatus.push(...(await startTimes(bigHome, 1, STATUS)));
  }
  const smallSpread = spread(smallMs);
  const smallStatusSpread = spread(smallStatus);
  ctx.log(
    `status: ${spread(bigStatus).median.toFixed(0)} ms (${big.events} events), ${smallStatusSpread.median.toFixed(0)} ms (1,000)`,
  );
  ctx.log(
    `warm start: ${spread(bigMs).median.toFixed(0)} ms (${big.events} events), ${smallSpread.median.toFixed(0)} ms (1,000)`,
  );
  return [
    entry({
      name: 'warm_start',
      figure: `warm start with a checkpoint (execplane head --from-checkpoint), ${big.events.toLocaleString('en')} events / ${big.jobs.toLocaleString('en')} jobs`,
      unit: 'ms',
      better: 'lower',
      ours: spread(bigMs),
      limit: smallSpread,
      limitIs: 'the same start on a 1,000-event plane',
      target: '≤ 200 ms (1M events) and ≤ 2× the 1,000-event start',
      meets: ({ ours, ratio }) => (ctx.quick ? null : ours <= 200 && ratio !== null && ratio >= 0.5),
    }),
    entry({
      name: 'status',
      figure: `execplane status --json --no-probe (checkpoint, tail, workers/), ${big.events.toLocaleString('en')} events / ${big.jobs.toLocaleString('en')} jobs`,
      unit: 'ms',
      better: 'lower',
      ours: spread(bigStatus),
      limit: smallStatusSpread,
      limitIs: 'the same status on a 1,000-event plane',
      target: '≤ 200 ms (1M events)',
      meets: ({ ours }) => (ctx.quick ? null : ours <= 200),
    }),
    entry({
      name: 'warm_start_1k',
      figure: 'warm start with a checkpoint (execplane head --from-checkpoint), 1,000 events / 100 jobs',
      unit: 'ms',
      better: 'lower',
      ours: smallSpread,
    }),
  ];
}
