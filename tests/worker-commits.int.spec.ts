/**
 * How a worker's writes share commits (issue 18; B1–B2 of src/worker/commit-batcher.ts, C1 of
 * Plane's ClaimedAttempt): the claim and the start of an attempt in one commit, its run header
 * on disk before anything of it runs, and the commit that ends attempts also claiming the next.
 * Real files, a library Worker, handlers that look at what is on disk while they run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { sha256Hex } from '../src/canonical.js';
import { planePaths } from '../src/ledger/paths.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import type { WorkerEvent } from '../src/worker/events.js';
import { ledgerEvents } from './helpers/ledger.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { enqueueAll, sleep, startWorker } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-commits-');
const ofType = <T extends LedgerEvent['event']>(events: LedgerEvent[], type: T) =>
  events.filter((e): e is Extract<LedgerEvent, { event: T }> => e.event === type);

describe('a worker’s commits', () => {
  test('claim and start are one commit, and the run header start pins is on disk before the handler runs', async () => {
    const home = tmp();
    const ids = ['job-header01', 'job-header02', 'job-header03'];
    (
      await enqueueAll(
        home,
        ids.map((job_id) => agentSpec({ job_id })),
      )
    ).close();
    const seen = new Map<string, { onDisk: string; pinned: string | undefined }>();
    const { exit } = startWorker(
      home,
      async ({ job, evidenceDir }) => {
        // While the handler runs, the start is durable and the header it pins is already written.
        const start = ofType(ledgerEvents(planePaths(home).ledger), 'start').find(
          (e) => e.job_id === job.job_id,
        );
        const onDisk = sha256Hex(readFileSync(join(evidenceDir, 'run-header.json')));
        seen.set(job.job_id, { onDisk, pinned: start?.run_header_sha256 });
        return { result: { ok: true } };
      },
      { maxIdleSec: 0.2, slots: 3 },
    );
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    const events = ledgerEvents(planePaths(home).ledger);
    for (const id of ids) {
      const { onDisk, pinned } = seen.get(id)!;
      expect(pinned, id).toBe(onDisk);
      const claim = ofType(events, 'claim').find((e) => e.job_id === id)!;
      const start = ofType(events, 'start').find((e) => e.job_id === id)!;
      // Sealed together: the start right after its claim, at the commit's one time.
      expect(start.seq).toBe(claim.seq + 1);
      expect(start.ts_utc).toBe(claim.ts_utc);
      // The header is the commit's: written at its time, for the attempt it claimed.
      const header = JSON.parse(
        readFileSync(join(planePaths(home).evidence, id, 'attempt-1', 'run-header.json'), 'utf8'),
      ) as Record<string, unknown>;
      expect(header).toMatchObject({ job_id: id, attempt: 1, written_at_utc: claim.ts_utc });
    }
    // One commit claimed and started all three (slots 3): six lines at one time, in that order.
    const claimsAndStarts = events.filter((e) => e.event === 'claim' || e.event === 'start');
    expect(claimsAndStarts.map((e) => e.event)).toEqual([
      'claim',
      'start',
      'claim',
      'start',
      'claim',
      'start',
    ]);
    expect(new Set(claimsAndStarts.map((e) => e.ts_utc)).size).toBe(1);
  });

  test('the commit that completes an attempt claims the next job: the worker tells the new claim before the old end', async () => {
    const home = tmp();
    const ids = ['job-chain001', 'job-chain002', 'job-chain003'];
    (
      await enqueueAll(
        home,
        ids.map((job_id) => agentSpec({ job_id })),
      )
    ).close();
    const { worker, exit } = startWorker(home, async () => ({ result: { ok: true } }), {
      maxIdleSec: 0.2,
      slots: 1,
    });
    const told: string[] = [];
    worker.on('claimed', (e: Extract<WorkerEvent, { type: 'claimed' }>) => told.push(`claimed ${e.job_id}`));
    worker.on('completed', (e: Extract<WorkerEvent, { type: 'completed' }>) =>
      told.push(`completed ${e.job_id}`),
    );
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    // B2: the next claim is heard of before the end that made room for it (one slot: with a
    // commit of its own, the claim could only come after the completion).
    expect(told).toEqual([
      'claimed job-chain001',
      'claimed job-chain002',
      'completed job-chain001',
      'claimed job-chain003',
      'completed job-chain002',
      'completed job-chain003',
    ]);
    const events = ledgerEvents(planePaths(home).ledger);
    for (const [done, next] of [
      [ids[0]!, ids[1]!],
      [ids[1]!, ids[2]!],
    ]) {
      const complete = ofType(events, 'complete').find((e) => e.job_id === done)!;
      const claim = ofType(events, 'claim').find((e) => e.job_id === next)!;
      expect(claim.seq).toBe(complete.seq + 1);
      expect(claim.ts_utc).toBe(complete.ts_utc);
    }
  });

  test('the combined claims never hold more slots than the worker has', async () => {
    const home = tmp();
    const specs = Array.from({ length: 24 }, (_, i) =>
      agentSpec({ job_id: `job-slots${String(i).padStart(3, '0')}` }),
    );
    (await enqueueAll(home, specs)).close();
    let running = 0;
    let peak = 0;
    const { exit } = startWorker(
      home,
      async () => {
        peak = Math.max(peak, ++running);
        await sleep(5 + Math.floor(Math.random() * 10));
        running--;
        return { result: {} };
      },
      { maxIdleSec: 0.3, slots: 4 },
    );
    expect((await exit).code).toBe(0);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    const events = ledgerEvents(planePaths(home).ledger);
    expect(ofType(events, 'complete')).toHaveLength(24);
    // At no line of the ledger does this worker hold more than 4 attempts.
    const live = new Set<string>();
    for (const e of events) {
      if (e.event === 'claim') live.add(e.job_id);
      if (e.event === 'complete' || e.event === 'fail') live.delete(e.job_id);
      expect(live.size).toBeLessThanOrEqual(4);
    }
  });

  test('a run header that cannot be built leaves that attempt claimed, not started: it fails with the error, the others of its commit run; the facts are gathered once per attempt', async () => {
    const home = tmp();
    (
      await enqueueAll(home, [agentSpec({ job_id: 'job-badhead1' }), agentSpec({ job_id: 'job-goodhead1' })])
    ).close();
    const calls = new Map<string, number>();
    const { exit } = startWorker(home, async () => ({ result: { ok: true } }), {
      maxIdleSec: 0.2,
      slots: 2,
      runHeaderExtra: (job) => {
        calls.set(job.job_id, (calls.get(job.job_id) ?? 0) + 1);
        if (job.job_id === 'job-badhead1') throw new Error('no facts for this one');
        return { note: 'ok' };
      },
    });
    expect((await exit).code).toBe(0);
    const events = ledgerEvents(planePaths(home).ledger);
    const bad = events.filter((e) => e.job_id === 'job-badhead1').map((e) => e.event);
    expect(bad).toEqual(['enqueue', 'claim', 'fail']);
    const fail = ofType(events, 'fail')[0]!;
    expect(fail.error).toMatchObject({ code: 'E_HANDLER', message: 'Error: no facts for this one' });
    expect(events.filter((e) => e.job_id === 'job-goodhead1').map((e) => e.event)).toEqual([
      'enqueue',
      'claim',
      'start',
      'complete',
    ]);
    // The header's facts are gathered once per attempt, under the lock: the good attempt reuses
    // them, the bad one fails with the error they threw there.
    expect(Object.fromEntries(calls)).toEqual({ 'job-badhead1': 1, 'job-goodhead1': 1 });
  });
});
