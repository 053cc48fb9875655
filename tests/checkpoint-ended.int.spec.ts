/**
 * checkpoint.json (src/ledger/checkpoint.ts, C2): jobs that have ended come back with their
 * state at once and their context on first use. A plane restored so must behave like one that
 * folded every line — also when it writes the next checkpoint without having looked at them, and
 * when it is asked about one of them (an idempotent re-enqueue compares its spec_sha256).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Plane } from '../src/plane.js';
import { ManualClock } from './helpers/clock.js';
import { agentSpec, cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs();
const opened: Plane[] = [];
afterEach(() => {
  for (const p of opened.splice(0)) p.close();
});
const open = (home: string, options: Parameters<typeof Plane.open>[1] = {}) => {
  const p = Plane.open(home, options);
  opened.push(p);
  return p;
};

const ids = Array.from({ length: 6 }, (_, i) => `job-ended00000${i}`);
const usage = { tool_calls: 0, output_bytes: 10, wall_ms: 5 };

/** Three jobs complete, one cancelled, one claimed, one queued; then a checkpoint. */
async function planeWithEndedJobs() {
  const home = tmp();
  const clock = new ManualClock();
  const plane = open(home, { clock });
  await plane.submit(ids.map((id) => cmd.enqueue(agentSpec({ job_id: id }))));
  for (const id of ids.slice(0, 3)) {
    await plane.submit([cmd.claim(id)]);
    clock.advance(100);
    await plane.submit([cmd.start(id), cmd.complete(id, 'w1', 1, usage)]);
  }
  await plane.submit([cmd.cancel(ids[3]!, 'not needed'), cmd.claim(ids[4]!, 'w2')]);
  expect(plane.maybeCheckpoint(true)).toBe(true);
  return { home, clock };
}

describe('checkpoint.json: ended jobs restored lazily', () => {
  it('a checkpoint written from a restored plane, untouched, restores the same state again', async () => {
    const { home } = await planeWithEndedJobs();
    const restored = open(home);
    expect(restored.checkpointRejected).toBeNull();
    expect(restored.maybeCheckpoint(true)).toBe(true);
    const again = open(home);
    expect(again.checkpointRejected).toBeNull();
    expect(again.report()).toEqual(open(home, { useCheckpoint: false }).report());
  });

  it('jobs that end after the checkpoint are stored with their context in the next one', async () => {
    const { home, clock } = await planeWithEndedJobs();
    const restored = open(home, { clock });
    clock.advance(100);
    await restored.submit([
      cmd.start(ids[4]!, 'w2'),
      cmd.complete(ids[4]!, 'w2', 1, usage),
      cmd.cancel(ids[5]!, 'x'),
    ]);
    expect(restored.maybeCheckpoint(true)).toBe(true);
    const again = open(home);
    expect(again.report()).toEqual(open(home, { useCheckpoint: false }).report());
    expect(again.report().counts).toMatchObject({ complete: 4, cancelled: 2 });
  });

  it('an ended job answers as before: a byte-identical re-enqueue is a no-op, another spec is refused', async () => {
    const { home } = await planeWithEndedJobs();
    const restored = open(home);
    const { outcomes } = await restored.submit([cmd.enqueue(agentSpec({ job_id: ids[0] }))]);
    expect(outcomes[0]).toMatchObject({ status: 'exists', seq: 1 });
    await expect(
      restored.submit([cmd.enqueue(agentSpec({ job_id: ids[0], prompt: 'something else' }))]),
    ).rejects.toMatchObject({ code: 'E_JOB_EXISTS', jobState: 'complete' });
  });
});
