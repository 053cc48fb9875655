/**
 * The library's reads and waits (docs/library.md, "Waiting for jobs and worker events"):
 * Plane.getJob and Plane.waitFor (J1–J2 of src/replay/wait.ts), and a Worker's typed events and
 * their async iterator (E1–E3 of src/worker/events.ts). Real files, a real `execplane work` child
 * where another process must write, real timers; no elapsed time is asserted.
 */
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Command } from '../src/core/commands.js';
import { planePaths } from '../src/ledger/paths.js';
import { openPlane, type Plane } from '../src/plane.js';
import type { CompleteEvent, FailEvent } from '../src/schema/types.generated.js';
import { JobError } from '../src/worker/errors.js';
import type { WorkerEvent, WorkerEventName } from '../src/worker/events.js';
import type { Worker } from '../src/worker/worker.js';
import { requireDist } from './helpers/cli.js';
import { ledgerEvents } from './helpers/ledger.js';
import { startWorkProcess } from './helpers/procs.js';
import { freshPlane, indexSpec } from './helpers/sandbox.js';
import { agentSpec, cmd, SHA_A } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { sleep, startWorker, waitForLedger } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-library-api-');
const ledgerOf = (home: string) => planePaths(home).ledger;

/** Enqueues `specs` in a fresh plane of `home` and returns it open. */
async function planeWith(home: string, ...specs: unknown[]): Promise<Plane> {
  const plane = openPlane(home);
  await plane.submit(specs.map((spec) => ({ type: 'enqueue' as const, spec })));
  return plane;
}

/** The rejection of `p` (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ code?: string; name?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Submits `command` until the plane accepts it (a lease lapses on the clock, not on a signal). */
async function submitWhenAccepted(plane: Plane, command: Command): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await plane.submit([command]);
      return;
    } catch (err) {
      if (tries > 500) throw err;
      await sleep(20);
    }
  }
}

/**
 * fs.watch handles this process holds: a wait's watch must be gone once it settles (J2). A closed
 * handle leaves the list in the close phase of the loop, after the next setImmediate: two turns.
 */
async function watchHandles(): Promise<number> {
  for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
  return process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
}

describe('Plane.waitFor and Plane.getJob', () => {
  beforeAll(() => requireDist());

  test('resolves when another process (execplane work) completes the job, with the result its complete event holds', async () => {
    const p = freshPlane(tmp());
    writeFileSync(join(p.workspace, 'a.ts'), 'export const lease = 1;\n');
    const plane = await planeWith(p.home, {
      ...indexSpec({ include_globs: ['**/*.ts'] }),
      job_id: 'job-bychild1',
    });
    try {
      const waited = plane.waitFor('job-bychild1');
      const child = startWorkProcess(p.home, p.workspace, ['--once']);
      const info = await waited;
      expect((await child).exitCode).toBe(0);
      const complete = ledgerEvents(ledgerOf(p.home)).find((e) => e.event === 'complete') as CompleteEvent;
      expect(info).toMatchObject({
        job_id: 'job-bychild1',
        job_type: 'repo_index_task',
        state: 'complete',
        final: true,
        attempt: 1,
        lease: null,
        error: null,
        updated_seq: complete.seq,
        updated_at_utc: complete.ts_utc,
      });
      expect(info.result).toEqual(complete.result);
      expect(info.usage).toEqual(complete.usage);
      expect(info.evidence).toEqual(complete.evidence);
      expect(info.evidence.map((f) => f.path)).toContain('attempt-1/run-header.json');
    } finally {
      plane.close();
    }
  });

  test('an ended job resolves at once and reads the same from a checkpoint; getJob adds its spec on request', async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-ended001' }));
    await plane.submit([cmd.cancel('job-ended001', 'changed my mind')]);
    const before = await watchHandles();
    const info = await plane.waitFor('job-ended001');
    expect(info).toMatchObject({
      state: 'cancelled',
      final: true,
      cancel_reason: 'changed my mind',
      evidence: [],
    });
    expect(await watchHandles()).toBe(before); // an ended job needs no watch (J2)
    expect(plane.getJob('job-ended001')).toEqual(info);
    plane.maybeCheckpoint(true);
    plane.close();
    // From checkpoint.json the ended job comes back by its state alone (P4): getJob loads it.
    const restored = openPlane(home);
    try {
      expect(restored.checkpointRejected).toBeNull();
      expect(restored.state.unloaded().has('job-ended001')).toBe(true);
      expect(await restored.waitFor('job-ended001')).toEqual(info);
      const withSpec = restored.getJob('job-ended001', { spec: true });
      expect(withSpec?.spec).toMatchObject({ job_id: 'job-ended001', job_type: 'agent_task' });
      expect(withSpec?.created_at_utc).toBe(withSpec?.spec.created_at_utc);
    } finally {
      restored.close();
    }
  });

  test('rejects with E_WAIT_TIMEOUT after timeoutMs, with E_UNKNOWN_JOB for a job the plane does not have, and with the signal reason on abort', async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-waiting1' }));
    try {
      const before = await watchHandles();
      const timedOut = await rejection(plane.waitFor('job-waiting1', { timeoutMs: 30 }));
      expect(timedOut).toMatchObject({
        name: 'WaitTimeoutError',
        code: 'E_WAIT_TIMEOUT',
        jobState: 'queued',
      });

      expect(plane.getJob('job-nosuchjob')).toBeUndefined();
      expect(await rejection(plane.waitFor('job-nosuchjob'))).toMatchObject({ code: 'E_UNKNOWN_JOB' });

      const controller = new AbortController();
      const aborted = plane.waitFor('job-waiting1', { signal: controller.signal });
      const reason = new Error('the caller gave up');
      controller.abort(reason);
      expect(await rejection(aborted)).toBe(reason);
      // An already-aborted signal: an AbortError, nothing watched.
      expect(await rejection(plane.waitFor('job-waiting1', { signal: AbortSignal.abort() }))).toMatchObject({
        name: 'AbortError',
      });
      expect(await watchHandles()).toBe(before); // J2: every settled wait let go of the watch
    } finally {
      plane.close();
    }
  });

  test('concurrent waits share one watch, which goes with the last of them; close() rejects what still waits', async () => {
    const home = tmp();
    const plane = await planeWith(
      home,
      agentSpec({ job_id: 'job-shared01' }),
      agentSpec({ job_id: 'job-shared02' }),
    );
    const other = openPlane(home);
    try {
      const before = await watchHandles();
      const one = plane.waitFor('job-shared01');
      const two = plane.waitFor('job-shared02');
      const three = plane.waitFor('job-shared01');
      expect(await watchHandles()).toBe(before + 1);
      await other.submit([cmd.cancel('job-shared01')]);
      expect((await one).state).toBe('cancelled');
      expect((await three).state).toBe('cancelled');
      expect(await watchHandles()).toBe(before + 1); // `two` still waits
      plane.close();
      expect(await rejection(two)).toMatchObject({ code: 'E_PLANE_CLOSED' });
      expect(await watchHandles()).toBe(before);
    } finally {
      other.close();
    }
  });

  test('a failed job resolves with its error and the evidence of its fail event', async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-failing1', max_attempts: 1 }));
    try {
      const waited = plane.waitFor('job-failing1');
      const { exit } = startWorker(
        home,
        async () => {
          throw new JobError('E_MINE', 'the input was wrong');
        },
        { once: true },
      );
      const info = await waited;
      await exit;
      expect(info).toMatchObject({
        state: 'failed',
        final: true,
        attempt: 1,
        result: null,
        error: { code: 'E_MINE', message: 'the input was wrong', retryable: false },
      });
      const fail = ledgerEvents(ledgerOf(home)).find((e): e is FailEvent => e.event === 'fail');
      expect(info.evidence).toEqual(fail?.evidence);
      expect(info.evidence.length).toBeGreaterThan(0);
    } finally {
      plane.close();
    }
  });

  test('a job that expires or fails retryably is not final until its last attempt ends', async () => {
    const home = tmp();
    const id = 'job-retried1';
    const plane = await planeWith(home, agentSpec({ job_id: id, max_attempts: 3 }));
    const writer = openPlane(home);
    try {
      const waited = plane.waitFor(id);
      let settled = false;
      void waited.finally(() => (settled = true));
      const ghostClaim = (attempt: number): Command => ({
        type: 'claim',
        job_id: id,
        worker_id: `ghost-${attempt}`,
        worker_slots: 1,
        lease_sec: 0.05,
      });
      // Attempt 1 expires: not final (attempts remain, the reaper retries it).
      await writer.submit([ghostClaim(1)]);
      await submitWhenAccepted(writer, cmd.expire(id));
      plane.refresh();
      expect(plane.getJob(id)).toMatchObject({ state: 'expired', final: false, attempt: 1 });
      expect(await rejection(plane.waitFor(id, { timeoutMs: 50 }))).toMatchObject({ code: 'E_WAIT_TIMEOUT' });
      // Attempt 2 fails with a retryable error: still not final.
      await writer.submit([cmd.retry(id), ghostClaim(2)]);
      await writer.submit([cmd.fail(id, 'ghost-2', 2)]);
      plane.refresh();
      expect(plane.getJob(id)).toMatchObject({ state: 'failed', final: false, error: { retryable: true } });
      expect(await rejection(plane.waitFor(id, { timeoutMs: 50 }))).toMatchObject({ code: 'E_WAIT_TIMEOUT' });
      expect(settled).toBe(false);
      // Attempt 3, the last, expires: the job fails for good, and the first wait resolves now.
      await writer.submit([cmd.retry(id), ghostClaim(3)]);
      await submitWhenAccepted(writer, cmd.expire(id));
      const info = await waited;
      expect(info).toMatchObject({
        state: 'failed',
        final: true,
        attempt: 3,
        error: { code: 'E_ATTEMPTS_EXHAUSTED' },
        evidence: [], // an expire, not a fail, ended it
      });
    } finally {
      writer.close();
      plane.close();
    }
  });

  test('a wait ends with the store error when the ledger is replaced under it', async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-replace1' }));
    try {
      const waited = plane.waitFor('job-replace1');
      const ledger = ledgerOf(home);
      copyFileSync(ledger, `${ledger}.copy`);
      renameSync(`${ledger}.copy`, ledger);
      expect(await rejection(waited)).toMatchObject({ code: 'E_LEDGER_REPLACED' });
    } finally {
      plane.close();
    }
  });

  test("getJob finds a job's last line by bisection in a ledger of many lines", async () => {
    const home = tmp();
    const ids = Array.from({ length: 3000 }, (_, i) => `job-many${String(i).padStart(5, '0')}`);
    const plane = await planeWith(home, ...ids.slice(0, 1500).map((job_id) => agentSpec({ job_id })));
    try {
      const target = ids[700]!;
      const evidence = [{ path: 'attempt-1/out.txt', sha256: SHA_A, bytes: 3 }];
      await plane.submit([cmd.claim(target), cmd.start(target)]);
      await plane.submit([{ ...(cmd.complete(target) as Extract<Command, { type: 'complete' }>), evidence }]);
      await plane.submit(
        ids.slice(1500).map((job_id) => ({ type: 'enqueue' as const, spec: agentSpec({ job_id }) })),
      );
      expect(plane.getJob(target)).toMatchObject({ state: 'complete', result: { ok: true }, evidence });
      // The first and the last job of the ledger too.
      await plane.submit([cmd.claim(ids[0]!), cmd.claim(ids.at(-1)!, 'w2')]);
      await plane.submit([cmd.fail(ids[0]!), cmd.fail(ids.at(-1)!, 'w2')]);
      expect(plane.getJob(ids[0]!)).toMatchObject({ state: 'failed', evidence: [] });
      expect(plane.getJob(ids.at(-1)!)).toMatchObject({ state: 'failed', error: { code: 'handler_error' } });
    } finally {
      plane.close();
    }
  });
});

const NAMES: WorkerEventName[] = [
  'ready',
  'claimed',
  'started',
  'completed',
  'failed',
  'lost',
  'expired',
  'retried',
  'idle',
  'degraded',
  'recovered',
  'stopped',
];

/** Every event `worker` emits, as its listeners get them. */
function listenAll(worker: Worker): WorkerEvent[] {
  const seen: WorkerEvent[] = [];
  for (const name of NAMES) worker.on(name, (ev: WorkerEvent) => void seen.push(ev));
  return seen;
}

async function collect(iterable: AsyncIterable<WorkerEvent>): Promise<WorkerEvent[]> {
  const out: WorkerEvent[] = [];
  for await (const ev of iterable) out.push(ev);
  return out;
}

describe('Worker events', () => {
  test('in order for each job (claimed, started, completed), through listeners and the async iterator alike; idle, then stopped last', async () => {
    const home = tmp();
    (
      await planeWith(home, agentSpec({ job_id: 'job-events01' }), agentSpec({ job_id: 'job-events02' }))
    ).close();
    const { worker, exit } = startWorker(home, async (ctx) => ({ result: { echoed: ctx.job.job_id } }), {
      maxIdleSec: 0.3,
    });
    const heard = listenAll(worker);
    const iterated = collect(worker.events());
    const viaSymbol = collect(worker);
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    expect(await iterated).toEqual(heard);
    expect(await viaSymbol).toEqual(heard);
    const types = heard.map((e) => e.type);
    expect(types[0]).toBe('ready');
    expect(types.at(-1)).toBe('stopped');
    expect(heard.at(-1)).toEqual({ type: 'stopped', code: 0, reason: 'idle' });
    expect(types.filter((t) => t === 'idle')).toHaveLength(1);
    expect(types.indexOf('idle')).toBeGreaterThan(types.lastIndexOf('completed'));
    const events = ledgerEvents(ledgerOf(home));
    for (const id of ['job-events01', 'job-events02']) {
      const mine = heard.filter((e) => 'job_id' in e && e.job_id === id);
      expect(mine.map((e) => e.type)).toEqual(['claimed', 'started', 'completed']);
      const complete = events.find((e) => e.event === 'complete' && e.job_id === id) as CompleteEvent;
      expect(mine[2]).toEqual({
        type: 'completed',
        job_id: id,
        attempt: 1,
        result: { echoed: id },
        usage: complete.usage,
        evidence: complete.evidence,
        seq: complete.seq,
      });
      expect(mine[0]).toMatchObject({ job_type: 'agent_task', attempt: 1 });
    }
    // An iterator asked for after the worker stopped ends at once.
    expect(await collect(worker.events())).toEqual([]);
  });

  test('failed carries the error; a listener that throws, or rejects, is logged and the worker goes on', async () => {
    const home = tmp();
    (
      await planeWith(
        home,
        agentSpec({ job_id: 'job-evfail01', max_attempts: 1 }),
        agentSpec({ job_id: 'job-evok0001' }),
      )
    ).close();
    const { worker, exit, logs } = startWorker(
      home,
      async (ctx) => {
        if (ctx.job.job_id === 'job-evfail01') throw new JobError('E_MINE', 'not this one');
        return { result: { ok: true } };
      },
      { maxIdleSec: 0.3 },
    );
    worker.on('claimed', () => {
      throw new Error('a listener bug');
    });
    // An async listener that rejects: what the test is about.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    worker.on('failed', () => Promise.reject(new Error('an async listener bug')));
    const heard = listenAll(worker);
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    const failed = heard.find((e) => e.type === 'failed');
    expect(failed).toMatchObject({
      job_id: 'job-evfail01',
      attempt: 1,
      error: { code: 'E_MINE', message: 'not this one' },
      final: true,
    });
    expect(heard.filter((e) => e.type === 'completed').map((e) => 'job_id' in e && e.job_id)).toEqual([
      'job-evok0001',
    ]);
    // The listener after the throwing one still heard every claim.
    expect(heard.filter((e) => e.type === 'claimed')).toHaveLength(2);
    expect(
      logs.filter((l) => l.includes("a 'claimed' listener threw (the worker goes on): a listener bug")),
    ).toHaveLength(2);
    expect(
      logs.some((l) => l.includes("a 'failed' listener threw (the worker goes on): an async listener bug")),
    ).toBe(true);
  });

  test('lost fires when the lease is taken away (the job cancelled under it), and no completed or failed follows', async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-evlost01' }));
    try {
      const { worker, exit } = startWorker(
        home,
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
          ),
        { leaseSec: 0.6, once: true },
      );
      const heard = listenAll(worker);
      worker.once('started', () => void plane.submit([cmd.cancel('job-evlost01', 'not needed')]));
      expect(await exit).toEqual({ code: 0, reason: 'once' });
      const mine = heard.filter((e) => 'job_id' in e && e.job_id === 'job-evlost01');
      expect(mine.map((e) => e.type)).toEqual(['claimed', 'started', 'lost']);
      expect(mine[2]).toMatchObject({ attempt: 1, reason: expect.stringContaining('cancelled') });
    } finally {
      plane.close();
    }
  });

  test("expired and retried: a worker's reaper tells what it reaped", async () => {
    const home = tmp();
    const plane = await planeWith(home, agentSpec({ job_id: 'job-evreap01', max_attempts: 2 }));
    try {
      await plane.submit([
        { ...(cmd.claim('job-evreap01', 'ghost') as Extract<Command, { type: 'claim' }>), lease_sec: 0.05 },
      ]);
      const { worker, exit } = startWorker(home, async () => ({ result: {} }), { canRun: () => false });
      const heard = listenAll(worker);
      await waitForLedger(ledgerOf(home), (evs) => evs.some((e) => e.event === 'retry'));
      worker.shutdown(0);
      await exit;
      const reaped = heard.filter((e) => e.type === 'expired' || e.type === 'retried');
      expect(reaped).toMatchObject([
        { type: 'expired', job_id: 'job-evreap01', attempt: 1, worker_id: 'ghost' },
        { type: 'retried', job_id: 'job-evreap01', attempt: 2 },
      ]);
    } finally {
      plane.close();
    }
  });

  test('degraded when a fault of the machine stops it claiming, recovered when it clears, each told once', async () => {
    const home = tmp();
    (await planeWith(home, agentSpec({ job_id: 'job-evfault1' }))).close();
    const evidence = planePaths(home).evidence;
    writeFileSync(evidence, 'a file where the evidence directory should be');
    const { worker, exit } = startWorker(home, async () => ({ result: {} }), { maxIdleSec: 0.3 });
    const heard = listenAll(worker);
    worker.once('degraded', () => rmSync(evidence)); // the operator clears the fault
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    const types = heard.map((e) => e.type);
    expect(types.filter((t) => t === 'degraded' || t === 'recovered')).toEqual(['degraded', 'recovered']);
    expect(heard.find((e) => e.type === 'degraded')).toMatchObject({
      cause: expect.stringContaining('the evidence directory cannot be written'),
    });
    // Degraded with work waiting is not idle: idle comes once the job is done.
    expect(types.indexOf('recovered')).toBeLessThan(types.indexOf('completed'));
    expect(types.indexOf('idle')).toBeGreaterThan(types.indexOf('completed'));
  });

  test('a fatal end still ends with stopped, and the iterator ends with it', async () => {
    const home = tmp();
    mkdirSync(home, { recursive: true });
    (await planeWith(home, agentSpec({ job_id: 'job-evfatal1' }))).close();
    const { worker, exit } = startWorker(home, async () => ({ result: {} }), { canRun: () => false });
    const iterated = collect(worker.events());
    await new Promise<void>((resolve) => worker.once('idle', () => resolve()));
    // The ledger replaced under the worker: it stops, fatal (S7 of store.ts).
    const ledger = ledgerOf(home);
    copyFileSync(ledger, `${ledger}.copy`);
    renameSync(`${ledger}.copy`, ledger);
    const end = await exit;
    expect(end).toMatchObject({ code: 1, reason: 'fatal' });
    const events = await iterated;
    expect(events.at(-1)).toEqual({ type: 'stopped', ...end });
  });
});
