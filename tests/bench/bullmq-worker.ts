/**
 * A BullMQ worker process for the peers figure (figures/peers.ts): `node bullmq-worker.js QUEUE
 * REDIS_URL CONCURRENCY`. A no-op processor; it says `ready` over IPC once connected, and with
 * `--starts` it also sends, for each job, `process.hrtime.bigint()` as the processor starts (the
 * same clock in every process of the machine) for the enqueue → start latency.
 */
import { Worker } from 'bullmq';
import { redisConnection } from './figures/peers-redis.js';

const [queue, url, concurrency, flag] = process.argv.slice(2);
const starts = flag === '--starts';
const worker = new Worker(
  queue!,
  async (job) => {
    if (starts) process.send?.(`${job.id} ${process.hrtime.bigint()}`);
    return null;
  },
  { connection: redisConnection(url!), concurrency: Number(concurrency) },
);
worker.on('error', (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
await worker.waitUntilReady();
process.send?.('ready');
process.on('message', (m) => {
  if (m === 'stop') void worker.close().then(() => process.exit(0));
});
