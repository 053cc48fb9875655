/**
 * The PostgreSQL peers (issue 18; `--peers`, `--only peers` or `--only peers-pg`): graphile-worker
 * 0.16.6 and pg-boss 10.4.2 draining no-op jobs with 4 worker processes × 8, the job count of our
 * 4 × 8 drain (drain.ts), on the PostgreSQL at EXECPLANE_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test), each in a schema of its own that is dropped afterwards.
 * The server's `synchronous_commit` is whatever it is set to (on by default: every commit
 * fsync'd before it is acknowledged, our rule); the figure names it. Jobs are added in one
 * statement after a warm-up, and the clock runs from that statement's commit until the database
 * counts every job done (read every 10 ms). Where no PostgreSQL answers, the figure says so on
 * stderr and reports nothing.
 */
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import type { BenchContext } from '../context.js';
import { entry, spread, type Entry } from '../stats.js';
import { DRAIN_4X8_JOBS } from './drain.js';
import { forkReady, stopWorkers } from './peers.js';

const PG_URL = process.env.EXECPLANE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const WORKERS = 4;
const CONCURRENCY = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Engine = 'graphile-worker' | 'pg-boss';

interface EngineSql {
  /** Adds `n` no-op jobs in one statement. */
  readonly add: (schema: string, n: number) => string;
  /** How many no-op jobs are done. */
  readonly done: (schema: string) => string;
}

const SQL: Record<Engine, EngineSql> = {
  // graphile-worker deletes a job when it completes: done = added - still there.
  'graphile-worker': {
    add: (s, n) => `select ${s}.add_job('noop', '{}'::json) from generate_series(1, ${n})`,
    done: (s) => `select (select count(*) from ${s}._private_jobs) as left`,
  },
  'pg-boss': {
    add: (s, n) =>
      `insert into ${s}.job (name, data) select 'noop', '{}'::jsonb from generate_series(1, ${n})`,
    done: (s) => `select count(*) as done from ${s}.job where name = 'noop' and state = 'completed'`,
  },
};

export async function pgPeersFigure(ctx: BenchContext): Promise<Entry[]> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    ctx.log(
      `peers: skipped graphile-worker and pg-boss: no PostgreSQL at ${PG_URL} (${(err as Error).message}; set EXECPLANE_BENCH_PG_URL)`,
    );
    return [];
  }
  const out: Entry[] = [];
  try {
    const sync = ((await client.query('show synchronous_commit')).rows[0] as { synchronous_commit: string })
      .synchronous_commit;
    const jobs = DRAIN_4X8_JOBS(ctx.quick);
    const runs = ctx.quick ? 1 : 3;
    for (const engine of ['graphile-worker', 'pg-boss'] as const) {
      const rates: number[] = [];
      for (let run = 0; run < runs; run++) rates.push(await drain(ctx, client, engine, jobs, run));
      out.push(
        entry({
          name: `peer_${engine.replace('-', '_')}_drain_4x8`,
          figure:
            `${engine} drain: ${jobs.toLocaleString('en')} no-op jobs, ${WORKERS} worker processes × ${CONCURRENCY}` +
            `${engine === 'pg-boss' ? ' loops of batches of 32' : ''}, PostgreSQL synchronous_commit ${sync}`,
          unit: 'jobs/s',
          better: 'higher',
          ours: spread(rates),
        }),
      );
    }
  } finally {
    await client.end();
  }
  return out;
}

async function drain(ctx: BenchContext, client: pg.Client, engine: Engine, jobs: number, run: number) {
  const schema = `execplane_bench_${engine.replace('-', '_')}_${process.pid}_${run}`;
  const sql = SQL[engine];
  const args = [engine, PG_URL, schema, String(CONCURRENCY)];
  const procs: ChildProcess[] = [];
  try {
    // The first process installs the engine's schema (and pg-boss's queue); the others start on it.
    procs.push(await forkReady('pg-peer-worker', args, `a ${engine} worker`));
    procs.push(
      ...(await Promise.all(
        Array.from({ length: WORKERS - 1 }, () => forkReady('pg-peer-worker', args, `a ${engine} worker`)),
      )),
    );
    const count = async (added: number) => {
      const row = (await client.query(sql.done(schema))).rows[0] as { left?: string; done?: string };
      return row.left !== undefined ? added - Number(row.left) : Number(row.done);
    };
    const until = async (added: number) => {
      const deadline = performance.now() + 300_000;
      for (;;) {
        if ((await count(added)) >= added) return process.hrtime.bigint();
        if (procs.some((p) => p.exitCode !== null)) throw new Error(`a ${engine} worker exited`);
        if (performance.now() > deadline) throw new Error(`${engine}: not drained in 300 s`);
        await sleep(10);
      }
    };
    const warm = WORKERS * CONCURRENCY * 4;
    await client.query(sql.add(schema, warm));
    await until(warm);
    await client.query(sql.add(schema, jobs));
    const t0 = process.hrtime.bigint();
    const t1 = await until(warm + jobs);
    const rate = jobs / (Number(t1 - t0) / 1e9);
    ctx.log(`peers: ${engine} drain ${WORKERS}×${CONCURRENCY} run ${run + 1}: ${rate.toFixed(0)} jobs/s`);
    return rate;
  } finally {
    await stopWorkers(procs);
    await client.query(`drop schema if exists ${schema} cascade`);
  }
}
