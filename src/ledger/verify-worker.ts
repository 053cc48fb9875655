/**
 * A verify pool's worker thread (verify-pool.ts): claims chunks of the ledger in order and
 * judges whether every line in each is sound (sound.ts), until none is left or the reader stops.
 */
import { workerData } from 'node:worker_threads';
import { chunkCount, CONTROL, judgeChunk, type ChunkPlan } from './sound.js';

// `fd` is the reader's descriptor (descriptors belong to the process): read, never closed here.
const { fd, plan, control } = workerData as { fd: number; plan: ChunkPlan; control: SharedArrayBuffer };
const ctl = new Int32Array(control);
const chunks = chunkCount(plan);
const scratch = { buf: Buffer.alloc(0) };
while (Atomics.load(ctl, CONTROL.STOP) === 0) {
  const k = Atomics.add(ctl, CONTROL.NEXT, 1);
  if (k >= chunks) break;
  judgeChunk(fd, plan, ctl, k, scratch);
}
