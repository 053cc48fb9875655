/**
 * Peers (issue 18; `npm run bench -- --peers` or `--only peers`): the engine users would pick for
 * speed, on the same machine in the same run, with the same job count and concurrency as our
 * drain (drain.ts: 4 worker processes × 8, no-op jobs) and our latency (one idle worker).
 *
 *   BullMQ 6.7.6 on the Redis at EXECPLANE_BENCH_REDIS_URL (default redis://127.0.0.1:6379), twice:
 *     durable — `appendonly yes`, `appendfsync always` (every write fsync'd before the reply, the
 *     fair match for our fdatasync before acknowledgement) — and with persistence off (`appendonly
 *     no`, `save ""`). The server's settings are read first and put back afterwards.
 *   The latency of BullMQ: one worker process, concurrency 1, durable Redis; from `queue.add`'s
 *     acknowledgement to the processor's first line (process.hrtime in both processes).
 *
 * Where no Redis answers, the figure says so on stderr and reports nothing for it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { benchScript } from '../child.js';
import type { BenchContext } from '../context.js';
import { entry, percentile, spread, type Entry } from '../stats.js';
import { DRAIN_4X8_JOBS } from './drain.js';
import { REDIS_URL, redisConnection, redisOptions } from './peers-redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORKERS = 4;
const CONCURRENCY = 8;

type Persistence = 'fsync_always' | 'no_persistence';

export async function peersFigure(ctx: BenchContext): Promise<Entry[]> {
  const redis = await reachableRedis(REDIS_URL);
  if (!redis) {
    ctx.log(`peers: skipped BullMQ: no Redis at ${REDIS_URL} (set EXECPLANE_BENCH_REDIS_URL)`);
    return [];
  }
  const out: Entry[] = [];
  try {
    const jobs = DRAIN_4X8_JOBS(ctx.quick);
    const runs = ctx.quick ? 1 : 3;
    for (const mode of ['fsync_always', 'no_persistence'] as const) {
      const samples = await withPersistence(ctx, redis, mode, async () => {
        const rates: number[] = [];
        for (let run = 0; run < runs; run++) rates.push(await bullmqDrain(ctx, jobs, mode, run));
        return rates;
      });
      out.push(
        entry({
          name: `peer_bullmq_drain_4x8_${mode}`,
          figure:
            `BullMQ drain: ${jobs.toLocaleString('en')} no-op jobs, ${WORKERS} worker processes × ${CONCURRENCY}, ` +
            (mode === 'fsync_always' ? 'Redis appendfsync always' : 'Redis persistence off'),
          unit: 'jobs/s',
          better: 'higher',
          ours: spread(samples),
        }),
      );
    }
    const n = ctx.quick ? 100 : 500;
    const latencies = await withPersistence(ctx, redis, 'fsync_always', () => bullmqLatency(ctx, n));
    for (const p of [50, 99] as const) {
      out.push(
        entry({
          name: `peer_bullmq_latency_p${p}`,
          figure: `BullMQ enqueue → start, one idle worker (concurrency 1), appendfsync always, p${p} of ${n}`,
          unit: 'ms',
          better: 'lower',
          ours: spread([percentile(latencies, p)]),
        }),
      );
    }
  } finally {
    redis.disconnect();
  }
  return out;
}

/** Ours beside each peer for each figure both have in this run (`ours/peer` as the ratio). */
export function peerRatios(entries: readonly Entry[]): Entry[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const pairs = [
    ['drain_4x8', 'peer_bullmq_drain_4x8_fsync_always', 'higher', 'BullMQ, appendfsync always', 'BullMQ'],
    ['drain_4x8', 'peer_bullmq_drain_4x8_no_persistence', 'higher', 'BullMQ, persistence off', 'BullMQ'],
    ['latency_p50', 'peer_bullmq_latency_p50', 'lower', 'BullMQ, appendfsync always', 'BullMQ'],
    ['latency_p99', 'peer_bullmq_latency_p99', 'lower', 'BullMQ, appendfsync always', 'BullMQ'],
    ['drain_4x8', 'peer_graphile_worker_drain_4x8', 'higher', 'graphile-worker', 'graphile-worker'],
    ['drain_4x8', 'peer_pg_boss_drain_4x8', 'higher', 'pg-boss', 'pg-boss'],
  ] as const;
  const out: Entry[] = [];
  for (const [ours, peer, better, what, who] of pairs) {
    const a = byName.get(ours);
    const b = byName.get(peer);
    if (!a || !b) continue;
    out.push(
      entry({
        name: `${ours}_vs_${peer.replace(/^peer_/, '')}`,
        figure: `${a.figure}, beside ${what} in the same run`,
        unit: a.unit,
        better,
        ours: { median: a.ours, min: a.min, max: a.max, runs: a.runs },
        limit: { median: b.ours, min: b.min, max: b.max, runs: b.runs },
        limitIs: `${what}, same machine, same run`,
        target: better === 'higher' ? `ahead of ${who}` : `below ${who}`,
        meets: ({ ratio }) => ratio !== null && ratio > 1,
      }),
    );
  }
  return out;
}

/** A connected client, or undefined when nothing answers at `url`. */
async function reachableRedis(url: string): Promise<Redis | undefined> {
  const r = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined); // reported as the skip line
  try {
    await r.connect();
    await r.ping();
    return r;
  } catch {
    r.disconnect();
    return undefined;
  }
}

/** Runs `f` with the server's persistence set to `mode`, then puts the server's own settings back. */
async function withPersistence<T>(
  ctx: BenchContext,
  r: Redis,
  mode: Persistence,
  f: () => Promise<T>,
): Promise<T> {
  const get = async (k: string) => ((await r.config('GET', k)) as string[])[1] ?? '';
  const original = {
    appendonly: await get('appendonly'),
    appendfsync: await get('appendfsync'),
    save: await get('save'),
  };
  try {
    if (mode === 'fsync_always') {
      await r.config('SET', 'appendfsync', 'always');
      await r.config('SET', 'appendonly', 'yes');
    } else {
      await r.config('SET', 'appendonly', 'no');
      await r.config('SET', 'save', '');
    }
    await rewriteDone(r); // turning the AOF on rewrites it in the background first
    ctx.log(
      `peers: Redis ${mode === 'fsync_always' ? 'appendonly yes, appendfsync always' : 'appendonly no, save ""'}`,
    );
    return await f();
  } finally {
    await r.config('SET', 'appendonly', original.appendonly);
    await r.config('SET', 'appendfsync', original.appendfsync);
    await r.config('SET', 'save', original.save);
    await rewriteDone(r);
  }
}

async function rewriteDone(r: Redis): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const info = await r.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await sleep(50);
  }
  throw new Error('Redis did not finish its AOF rewrite in 30 s');
}

function startWorkers(
  queue: string,
  n: number,
  concurrency: number,
  starts = false,
): Promise<ChildProcess[]> {
  const args = [queue, REDIS_URL, String(concurrency), ...(starts ? ['--starts'] : [])];
  return Promise.all(Array.from({ length: n }, () => forkReady('bullmq-worker', args, 'a BullMQ worker')));
}

/** A peer's worker process (a bench script), once it said `ready` over IPC. */
export function forkReady(script: string, args: readonly string[], what: string): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolve, reject) => {
    const p = fork(benchScript(script), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    p.once('error', reject);
    p.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
    p.on('message', (m) => {
      if (m === 'ready') resolve(p);
    });
  });
}

/** Asks each peer worker to stop; kills what has not exited 5 s later. */
export async function stopWorkers(procs: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null) return resolve();
          const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
          p.removeAllListeners('exit');
          p.once('exit', () => (clearTimeout(timer), resolve()));
          p.send('stop');
        }),
    ),
  );
}

/** Waits until `queue` has `n` completed jobs, reading its counts every 10 ms; hrtime then. */
async function completed(queue: Queue, n: number, procs: readonly ChildProcess[]): Promise<bigint> {
  const deadline = performance.now() + 300_000;
  for (;;) {
    const { completed: done = 0, failed = 0 } = await queue.getJobCounts('completed', 'failed');
    if (failed > 0) throw new Error(`${failed} BullMQ job(s) failed`);
    if (done >= n) return process.hrtime.bigint();
    if (procs.some((p) => p.exitCode !== null)) throw new Error('a BullMQ worker exited');
    if (performance.now() > deadline) throw new Error(`BullMQ: ${done} of ${n} jobs completed in 300 s`);
    await sleep(10);
  }
}

/** One drain: warm-up, then `jobs` added in one addBulk, timed from its acknowledgement. Jobs/s. */
async function bullmqDrain(ctx: BenchContext, jobs: number, mode: Persistence, run: number): Promise<number> {
  const name = `execplane-bench-${process.pid}-${mode}-${run}`;
  const queue = new Queue(name, { connection: redisConnection(REDIS_URL) });
  let procs: ChildProcess[] = [];
  try {
    procs = await startWorkers(name, WORKERS, CONCURRENCY);
    const warm = WORKERS * CONCURRENCY * 4;
    await queue.addBulk(Array.from({ length: warm }, (_, i) => ({ name: 'noop', data: { i } })));
    await completed(queue, warm, procs);
    const batch = Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i } }));
    await queue.addBulk(batch);
    const t0 = process.hrtime.bigint();
    const t1 = await completed(queue, warm + jobs, procs);
    const rate = jobs / (Number(t1 - t0) / 1e9);
    ctx.log(
      `peers: BullMQ drain ${WORKERS}×${CONCURRENCY} (${mode}) run ${run + 1}: ${rate.toFixed(0)} jobs/s`,
    );
    return rate;
  } finally {
    await stopWorkers(procs);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/** Enqueue → start, ms: one job at a time, each after the previous one started (5 warm-ups). */
async function bullmqLatency(ctx: BenchContext, n: number): Promise<number[]> {
  const name = `execplane-bench-${process.pid}-latency`;
  const queue = new Queue(name, { connection: redisConnection(REDIS_URL) });
  let procs: ChildProcess[] = [];
  const starts = new Map<string, bigint>();
  let notify: (() => void) | undefined;
  try {
    procs = await startWorkers(name, 1, 1, true);
    procs[0]!.on('message', (m) => {
      if (typeof m !== 'string' || m === 'ready') return;
      const [id, t] = m.split(' ');
      starts.set(id!, BigInt(t!));
      notify?.();
    });
    const samples: number[] = [];
    for (let i = -5; i < n; i++) {
      const job = await queue.add('noop', { i });
      const t0 = process.hrtime.bigint();
      while (!starts.has(job.id!)) await new Promise<void>((resolve) => (notify = resolve));
      if (i >= 0) samples.push(Number(starts.get(job.id!)! - t0) / 1e6);
      await sleep(3); // the worker goes back to waiting
    }
    ctx.log(
      `peers: BullMQ latency p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms`,
    );
    return samples;
  } finally {
    await stopWorkers(procs);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}
