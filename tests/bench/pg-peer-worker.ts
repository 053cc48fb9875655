/**
 * A PostgreSQL peer's worker process for figures/peers-pg.ts: `node pg-peer-worker.js ENGINE URL
 * SCHEMA CONCURRENCY`, ENGINE `graphile-worker` or `pg-boss`. A no-op task `noop`; it says `ready`
 * over IPC once it works, and stops on `stop`.
 *
 *   graphile-worker: `run()` with `concurrency` (it fetches one job per slot, woken by NOTIFY).
 *   pg-boss 10 has no per-job concurrency: a `work()` loop fetches a batch, runs it, and then
 *     waits out its polling interval (0.5 s at least) even when it found jobs. The process
 *     registers CONCURRENCY loops of batches of 32, the tuning that gave pg-boss its best figures
 *     here (docs/benchmarks.md, "Throughput and peers (issue 18)").
 */
import { run, type Runner } from 'graphile-worker';
import PgBoss from 'pg-boss';

const [engine, url, schema, concurrency] = process.argv.slice(2) as [string, string, string, string];
let stop: () => Promise<void>;
if (engine === 'graphile-worker') {
  const runner: Runner = await run({
    connectionString: url,
    schema,
    concurrency: Number(concurrency),
    noHandleSignals: true,
    pollInterval: 1_000,
    taskList: { noop: async () => {} },
  });
  stop = () => runner.stop();
} else {
  const boss = new PgBoss({ connectionString: url, schema, supervise: false, schedule: false });
  boss.on('error', (err: Error) => process.stderr.write(`pg-boss worker: ${err.message}\n`));
  await boss.start();
  // The first process (started alone, figures/peers-pg.ts) creates the queue; the others find it.
  if (!(await boss.getQueue('noop'))) await boss.createQueue('noop');
  for (let i = 0; i < Number(concurrency); i++)
    await boss.work('noop', { batchSize: 32, pollingIntervalSeconds: 0.5 }, async () => {});
  stop = () => boss.stop({ graceful: false, wait: true });
}
process.send?.('ready');
process.on('message', (m) => {
  if (m === 'stop') void stop().then(() => process.exit(0));
});
