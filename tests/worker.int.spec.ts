/**
 * The worker runtime embedded through the library (real files, real timers, small leases):
 * docs/spec.md §6 and issue 4 — claim order, heartbeats, fencing, budgets, kill switch, shutdown, reaper.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import { CHECKPOINT_INTERVAL_LINES, openPlane } from '../src/plane.js';
import { EXIT_KILL_SWITCH, setKillSwitch } from '../src/ops/kill-switch.js';
import type { FailEvent, LedgerEvent } from '../src/schema/types.generated.js';
import { ledgerEvents } from './helpers/ledger.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { enqueueAll, sleep, startWorker, waitForLedger } from './helpers/worker.js';
import { CHECKPOINT_IDLE_MS, type Worker } from '../src/worker/worker.js';

const tmp = useTmpDirs('execplane-worker-');
const ledgerOf = (home: string) => planePaths(home).ledger;
const ofType = <T extends LedgerEvent['event']>(events: LedgerEvent[], type: T) =>
  events.filter((e): e is Extract<LedgerEvent, { event: T }> => e.event === type);

/** A handler that waits until aborted, then throws the signal's reason (as a real one would). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
  );

describe('worker', () => {
  test('drains the queue: every job completes exactly once, claimed by priority then FIFO', async () => {
    const home = tmp();
    const specs = [
      agentSpec({ job_id: 'job-low00001', priority: 0 }),
      agentSpec({ job_id: 'job-high0001', priority: 5 }),
      agentSpec({ job_id: 'job-low00002', priority: 0 }),
      agentSpec({ job_id: 'job-high0002', priority: 5 }),
    ];
    (await enqueueAll(home, specs)).close();
    const { exit } = startWorker(home, async () => ({ result: { ok: true } }), { maxIdleSec: 0.2 });
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    const events = ledgerEvents(ledgerOf(home));
    expect(ofType(events, 'claim').map((e) => e.job_id)).toEqual([
      'job-high0001',
      'job-high0002',
      'job-low00001',
      'job-low00002',
    ]);
    const completes = ofType(events, 'complete').map((e) => e.job_id);
    expect(completes.sort()).toEqual(specs.map((s) => s.job_id).sort());
    // The run header was written before start, and start pins its hash.
    for (const start of ofType(events, 'start')) {
      expect(existsSync(join(planePaths(home).evidence, start.job_id, 'attempt-1', 'run-header.json'))).toBe(
        true,
      );
    }
  });

  test('heartbeats keep the lease while a handler runs longer than the lease', async () => {
    const home = tmp();
    (await enqueueAll(home, [agentSpec({ job_id: 'job-longrun1' })])).close();
    const { exit } = startWorker(home, async () => (await sleep(1500), { result: { ok: true } }), {
      leaseSec: 0.6,
      once: true,
    });
    expect((await exit).code).toBe(0);
    const events = ledgerEvents(ledgerOf(home));
    expect(ofType(events, 'heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(ofType(events, 'complete')).toHaveLength(1);
    expect(ofType(events, 'expire')).toHaveLength(0);
  });

  test('invariant 2: a cancelled running job is aborted at its next heartbeat and nothing more is written', async () => {
    const home = tmp();
    const plane = await enqueueAll(home, [agentSpec({ job_id: 'job-cancel01' })]);
    let aborted: unknown;
    const { exit } = startWorker(
      home,
      async ({ signal }) => {
        try {
          return await untilAborted(signal);
        } catch (err) {
          aborted = err;
          throw err;
        }
      },
      { leaseSec: 0.6, once: true },
    );
    await waitForLedger(ledgerOf(home), (evs) => evs.some((e) => e.event === 'start'));
    await plane.submit([{ type: 'cancel', job_id: 'job-cancel01', reason: 'test' }]);
    expect((await exit).code).toBe(0);
    expect((aborted as { code?: string }).code).toBe('E_LEASE_LOST');
    const events = ledgerEvents(ledgerOf(home));
    expect(events.at(-1)?.event).toBe('cancel');
    plane.close();
  });

  test('any error a handler throws, of any kind, ends as a fail with a code; the worker goes on', async () => {
    const home = tmp();
    const throwers: Record<string, () => unknown> = {
      'job-throwerr1': () => {
        throw new TypeError('bad input');
      },
      // A handler may throw anything at all: these are the point of the test.
      /* eslint-disable @typescript-eslint/only-throw-error, @typescript-eslint/prefer-promise-reject-errors */
      'job-throwstr1': () => {
        throw 'a string';
      },
      'job-throwund1': () => {
        throw undefined;
      },
      'job-rejectob1': () => Promise.reject({ weird: true }),
      /* eslint-enable @typescript-eslint/only-throw-error, @typescript-eslint/prefer-promise-reject-errors */
      'job-okafter01': () => ({ result: { ok: true } }),
    };
    (
      await enqueueAll(
        home,
        Object.keys(throwers).map((job_id) => agentSpec({ job_id })),
      )
    ).close();
    const { exit } = startWorker(home, async (ctx) => throwers[ctx.job.job_id]!() as never, {
      maxIdleSec: 0.2,
      slots: 2,
    });
    expect((await exit).code).toBe(0);
    const events = ledgerEvents(ledgerOf(home));
    const fails = Object.fromEntries(ofType(events, 'fail').map((e) => [e.job_id, e.error]));
    expect(fails['job-throwerr1']?.code).toBe('E_HANDLER');
    expect(fails['job-throwerr1']?.message).toContain('TypeError: bad input');
    expect(fails['job-throwstr1']?.code).toBe('E_HANDLER_THREW');
    expect(fails['job-throwund1']?.code).toBe('E_HANDLER_THREW');
    expect(fails['job-rejectob1']?.message).toContain('{"weird":true}');
    expect(ofType(events, 'complete').map((e) => e.job_id)).toEqual(['job-okafter01']);
  });

  test('a machine fault already there (evidence not writable) starts no attempt: the worker degrades, and resumes by itself', async () => {
    const home = tmp();
    const ids = ['job-nostart01', 'job-nostart02', 'job-nostart03'];
    // One attempt each: a fault of the machine must not cost a job the only one it has.
    (
      await enqueueAll(
        home,
        ids.map((job_id) => agentSpec({ job_id, max_attempts: 1 })),
      )
    ).close();
    const evidence = planePaths(home).evidence;
    writeFileSync(evidence, 'a file where the evidence directory should be');
    const { exit, logs } = startWorker(home, async () => ({ result: {} }), { maxIdleSec: 0.5 });
    await waitUntilLogged(logs, /^degraded: the evidence directory cannot be written \(EEXIST/);
    // Degraded: while the fault lasts nothing is claimed, and the degraded worker is not idle.
    await sleep(1500);
    expect(ledgerEvents(ledgerOf(home)).map((e) => e.event)).toEqual(['enqueue', 'enqueue', 'enqueue']);
    // The operator clears the fault; the worker notices by itself and drains the queue.
    rmSync(evidence);
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    const events = ledgerEvents(ledgerOf(home));
    expect(
      ofType(events, 'complete')
        .map((e) => e.job_id)
        .sort(),
    ).toEqual(ids);
    expect(ofType(events, 'fail')).toHaveLength(0);
    expect(logs.some((l) => l.startsWith('recovered from: the evidence directory'))).toBe(true);
  });

  test('a job that fails because of its own input is not a machine fault', async () => {
    const home = tmp();
    (await enqueueAll(home, [agentSpec({ job_id: 'job-ownfail1' })])).close();
    const { exit, logs } = startWorker(
      home,
      async () => {
        // ENOENT and EACCES on paths that are not the worker's are the job's own failure.
        const err = Object.assign(new Error("ENOENT: no such file or directory, open '/nonexistent/x'"), {
          code: 'ENOENT',
          path: '/nonexistent/x',
        });
        throw err;
      },
      { once: true },
    );
    expect((await exit).code).toBe(0);
    const fail = ofType(ledgerEvents(ledgerOf(home)), 'fail')[0]!;
    expect(fail.error.code).not.toBe('E_WORKER_FAULT');
    expect(fail.error.retryable).toBe(false);
    expect(logs.some((l) => l.startsWith('degraded: '))).toBe(false);
  });

  test('invariant 4: tool-call, output and wall-time budgets end the job with their codes', async () => {
    const home = tmp();
    const specs = [
      agentSpec({ job_id: 'job-toolcall1', budgets: { max_tool_calls: 1 } }),
      agentSpec({ job_id: 'job-output001', budgets: { max_output_bytes: 1024 } }),
      agentSpec({ job_id: 'job-walltime1', budgets: { max_wall_time_sec: 1 } }),
    ];
    (await enqueueAll(home, specs)).close();
    const { exit } = startWorker(
      home,
      async (ctx) => {
        if (ctx.job.job_id === 'job-toolcall1') {
          await ctx.toolCall({ tool: 'read_file', args: 1 });
          await ctx.toolCall({ tool: 'read_file', args: 2 });
        }
        if (ctx.job.job_id === 'job-output001') ctx.addOutputBytes(4096);
        return untilAborted(ctx.signal);
      },
      { maxIdleSec: 0.2, slots: 3 },
    );
    expect((await exit).code).toBe(0);
    const fails = ofType(ledgerEvents(ledgerOf(home)), 'fail');
    const byJob = Object.fromEntries(fails.map((e) => [e.job_id, e]));
    expect(byJob['job-toolcall1']?.error.code).toBe('E_BUDGET_TOOL_CALLS');
    expect(byJob['job-toolcall1']?.usage.tool_calls).toBe(1);
    expect(byJob['job-output001']?.error.code).toBe('E_BUDGET_OUTPUT');
    expect(byJob['job-output001']?.usage.output_bytes).toBe(1024);
    expect(byJob['job-walltime1']?.error.code).toBe('E_BUDGET_WALL_TIME');
  });

  test('invariant 6: a worker never holds more slots than it declared', async () => {
    const home = tmp();
    const specs = Array.from({ length: 6 }, (_, i) =>
      agentSpec({ job_id: `job-slots00${i}`, budgets: { max_concurrency_slots: 2 } }),
    );
    (await enqueueAll(home, specs)).close();
    let running = 0;
    let peak = 0;
    const { exit } = startWorker(
      home,
      async () => {
        peak = Math.max(peak, ++running);
        await sleep(50);
        running--;
        return { result: {} };
      },
      { maxIdleSec: 0.2, slots: 3 },
    );
    expect((await exit).code).toBe(0);
    expect(peak).toBe(1);
    expect(ofType(ledgerEvents(ledgerOf(home)), 'complete')).toHaveLength(6);
  });

  test('kill switch: running jobs fail with kill_switch, the worker exits with its code, nothing more is claimed', async () => {
    const home = tmp();
    (
      await enqueueAll(home, [agentSpec({ job_id: 'job-killsw01' }), agentSpec({ job_id: 'job-killsw02' })])
    ).close();
    const { exit } = startWorker(home, async ({ signal }) => untilAborted(signal));
    await waitForLedger(ledgerOf(home), (evs) => evs.some((e) => e.event === 'start'));
    setKillSwitch(planePaths(home), true, 'test');
    expect(await exit).toMatchObject({ code: EXIT_KILL_SWITCH, reason: 'kill_switch' });
    const events = ledgerEvents(ledgerOf(home));
    const fail = ofType(events, 'fail');
    expect(fail).toHaveLength(1);
    expect(fail[0]!.error).toMatchObject({ code: 'kill_switch', retryable: true });
    expect(ofType(events, 'claim')).toHaveLength(1);
    // --once with the switch on claims nothing and exits with the same code.
    const again = startWorker(home, async () => ({ result: {} }), { once: true });
    expect((await again.exit).code).toBe(EXIT_KILL_SWITCH);
    expect(ofType(ledgerEvents(ledgerOf(home)), 'claim')).toHaveLength(1);
  });

  test('shutdown: running jobs get the grace period, then fail with code shutdown (retryable)', async () => {
    const home = tmp();
    (await enqueueAll(home, [agentSpec({ job_id: 'job-shutdn01' })])).close();
    const { worker, exit } = startWorker(home, async ({ signal }) => untilAborted(signal));
    await waitForLedger(ledgerOf(home), (evs) => evs.some((e) => e.event === 'start'));
    worker.shutdown(0.1);
    expect(await exit).toEqual({ code: 0, reason: 'shutdown' });
    const fail: FailEvent[] = ofType(ledgerEvents(ledgerOf(home)), 'fail');
    expect(fail.map((f) => f.error)).toEqual([
      { code: 'shutdown', message: 'the worker is shutting down', retryable: true },
    ]);
  });

  test('--once on an empty plane exits 0 at once', async () => {
    const home = tmp();
    const { exit } = startWorker(home, async () => ({ result: {} }), { once: true });
    expect(await exit).toEqual({ code: 0, reason: 'once' });
  });

  test('reaper: a job whose workers keep vanishing is retried with backoff, then ends failed after max_attempts', async () => {
    const home = tmp();
    const plane = await enqueueAll(home, [agentSpec({ job_id: 'job-vanish01', max_attempts: 3 })]);
    let reaper: Worker | undefined;
    // Each attempt is claimed by a "worker" that dies at once (no heartbeat, no start).
    for (let attempt = 1; attempt <= 3; attempt++) {
      await waitForLedger(ledgerOf(home), (evs) =>
        attempt === 1 ? true : ofType(evs, 'retry').length === attempt - 1,
      );
      await waitForLedger(ledgerOf(home), () => {
        plane.refresh();
        const c = plane.state.get('job-vanish01')!.context;
        return c.not_before_unix * 1000 <= Date.now();
      });
      await plane.submit([
        {
          type: 'claim',
          job_id: 'job-vanish01',
          worker_id: `ghost-${attempt}`,
          worker_slots: 1,
          lease_sec: 0.1,
        },
      ]);
      // A worker that runs nothing (canRun: never) but reaps like every worker does.
      if (attempt === 1)
        reaper = startWorker(home, async () => ({ result: {} }), { canRun: () => false }).worker;
    }
    const events = await waitForLedger(ledgerOf(home), (evs) => ofType(evs, 'expire').length === 3);
    expect(ofType(events, 'retry').map((r) => r.attempt)).toEqual([2, 3]);
    const retries = ofType(events, 'retry');
    // Exponential backoff: the second wait is twice the first (0.05 s, then 0.1 s).
    const waits = retries.map((r) => Math.round(r.not_before_unix * 1000 - Date.parse(r.ts_utc)));
    expect(waits).toEqual([50, 100]);
    reaper?.shutdown(0);
    plane.refresh();
    expect(plane.report().jobs['job-vanish01']).toMatchObject({
      state: 'failed',
      attempt: 3,
      error: { code: 'E_ATTEMPTS_EXHAUSTED' },
    });
    plane.close();
  });

  test('a worker refreshes checkpoint.json once 10,000+ lines are past it and it had nothing it could run for a second', async () => {
    const home = tmp();
    const ids = Array.from(
      { length: CHECKPOINT_INTERVAL_LINES / 2 },
      (_, i) => `job-ckw${String(i).padStart(6, '0')}`,
    );
    const plane = await enqueueAll(
      home,
      ids.map((job_id) => agentSpec({ job_id })),
    );
    await plane.submit(ids.map((job_id) => ({ type: 'cancel' as const, job_id, reason: 'test' })));
    // Queued for good as far as this worker goes: it needs 2 slots, the worker has 1.
    await plane.submit([
      {
        type: 'enqueue',
        spec: agentSpec({ job_id: 'job-ckwtoobig', budgets: { max_concurrency_slots: 2 } }),
      },
    ]);
    plane.close();
    const checkpoint = planePaths(home).checkpoint;
    // Idle for less than CHECKPOINT_IDLE_MS (then it exits): no checkpoint yet.
    const brief = startWorker(home, async () => ({ result: {} }), { maxIdleSec: CHECKPOINT_IDLE_MS / 2000 });
    expect(await brief.exit).toEqual({ code: 0, reason: 'idle' });
    expect(brief.logs).not.toContain('checkpoint.json refreshed');
    expect(existsSync(checkpoint)).toBe(false);
    // Idle for longer, with that job still queued: it writes one, and a new process starts from
    // it — folding nothing — in the state a fold from line 1 gives.
    const { exit, logs } = startWorker(home, async () => ({ result: {} }), {
      maxIdleSec: (CHECKPOINT_IDLE_MS * 1.6) / 1000,
    });
    expect(await exit).toEqual({ code: 0, reason: 'idle' });
    expect(logs).toContain('checkpoint.json refreshed');
    let folded = 0;
    const restored = openPlane(home, { onEvent: () => void (folded += 1) });
    const full = openPlane(home, { useCheckpoint: false });
    try {
      expect(restored.checkpointRejected).toBeNull();
      expect(folded).toBe(0);
      expect(restored.state.jobState('job-ckwtoobig')).toBe('queued');
      expect(restored.report()).toEqual(full.report());
    } finally {
      restored.close();
      full.close();
    }
  });
});

/** Waits until a log line matches `pattern` (a worker logs as it goes). */
async function waitUntilLogged(logs: readonly string[], pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!logs.some((l) => pattern.test(l))) {
    if (Date.now() > deadline) throw new Error(`no log line matched ${pattern}: ${logs.join(' | ')}`);
    await sleep(20);
  }
}
