/**
 * Issue 4 with real processes: several `execplane work` processes on one plane, kill -9 in the
 * middle of jobs, a worker paused past its lease, the kill switch, SIGTERM. Bounded: every loop
 * has a count, every wait a deadline; nothing asserts how fast anything was.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { execa } from 'execa';
import fsx from 'fs-native-extensions';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { ledgerEvents } from './helpers/ledger.js';
import { cli, startWorkProcess, untilOutput } from './helpers/procs.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { sleep, waitForLedger } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-procs-');

/** A test_runner job that runs `sleep <sec>` (allowlisted by default; network allowed to keep it simple). */
const sleepSpec = (sec: number, o: { job_id?: string; max_attempts?: number } = {}) => ({
  ...(o.job_id ? { job_id: o.job_id } : {}),
  job_type: 'test_runner_task',
  budgets: { max_wall_time_sec: 120, max_tool_calls: 4, max_output_bytes: 65_536, max_concurrency_slots: 1 },
  tool_policy: { allow_network: true, allow_subprocess: true, allowed_tools: [] },
  payload: { commands: [['sleep', String(sec)]], timeout_sec: 60 },
  max_attempts: o.max_attempts ?? 3,
});

async function enqueue(home: string, specs: unknown[]): Promise<void> {
  const file = join(home, '..', `specs-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(specs));
  const r = await cli(['enqueue', '--home', home, '--file', file, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
}

function plane() {
  const root = tmp();
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  mkdirSync(workspace);
  return { home, workspace, ledger: planePaths(home).ledger };
}

const count = (events: LedgerEvent[], type: LedgerEvent['event'], jobId?: string) =>
  events.filter((e) => e.event === type && (jobId === undefined || e.job_id === jobId)).length;

/**
 * SIGSTOPs `child` at a moment it does not hold the append lock: a process stopped inside a
 * commit keeps the kernel lock (nobody breaks a paused holder's lock — that is what keeps two
 * writers out), so the test would measure that documented stall instead of lease fencing.
 */
async function stopOutsideAppendLock(
  child: ReturnType<typeof startWorkProcess>,
  home: string,
): Promise<void> {
  const fd = openSync(planePaths(home).lock, 'a+');
  try {
    for (let tries = 0; tries < 50; tries++) {
      child.kill('SIGSTOP');
      await sleep(20);
      if (fsx.tryLock(fd)) {
        fsx.unlock(fd);
        return;
      }
      child.kill('SIGCONT');
      await sleep(10);
    }
    throw new Error('could not stop the worker outside the append lock');
  } finally {
    closeSync(fd);
  }
}

async function auditClean(home: string): Promise<void> {
  const r = await cli(['audit', '--home', home, '--json']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

describe('execplane work processes', () => {
  test('4 workers over 200 short jobs: each completes exactly once; audit clean', async () => {
    const p = plane();
    const specs = Array.from({ length: 200 }, (_, i) => agentSpec({ prompt: `job ${i}` }));
    const workers = Array.from({ length: 4 }, (_, i) =>
      startWorkProcess(p.home, p.workspace, ['--slots', '4', '--worker-id', `w${i}`]),
    );
    // The jobs go in once all four watch the ledger: a worker that started first could otherwise
    // drain 200 short jobs before the others are up (it did, on a busy CI machine).
    await Promise.all(workers.map((w) => untilOutput(w, /execplane work: ready: w\d/)));
    await enqueue(p.home, specs);
    await waitForLedger(p.ledger, (evs) => evs.filter((e) => e.event === 'complete').length === 200);
    for (const w of workers) w.kill('SIGTERM');
    const results = await Promise.all(workers);
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    const events = ledgerEvents(p.ledger);
    const completes = events.filter((e) => e.event === 'complete');
    expect(completes).toHaveLength(200);
    expect(new Set(completes.map((e) => e.job_id)).size).toBe(200);
    const claimers = new Set(
      events.filter((e) => e.event === 'claim').map((e) => (e as { worker_id: string }).worker_id),
    );
    expect(claimers.size).toBeGreaterThan(1);
    await auditClean(p.home);
  });

  test('chaos: kill -9 of random workers mid-job; in the end every job is complete or failed after max_attempts, no job completes twice, nothing acknowledged is lost', async () => {
    const p = plane();
    await enqueue(
      p.home,
      Array.from({ length: 40 }, () => sleepSpec(0.3, { max_attempts: 4 })),
    );
    const args = ['--slots', '2', '--lease-sec', '1', '--retry-backoff-sec', '0.05', '--quiet'];
    const workers = Array.from({ length: 3 }, (_, i) =>
      startWorkProcess(p.home, p.workspace, [...args, '--worker-id', `c${i}`]),
    );
    const snapshots: string[] = [];
    let serial = 3;
    for (let kill = 0; kill < 8; kill++) {
      await sleep(250);
      const victim = Math.floor(Math.random() * workers.length);
      workers[victim]!.kill('SIGKILL');
      await workers[victim];
      workers[victim] = startWorkProcess(p.home, p.workspace, [...args, '--worker-id', `c${serial++}`]);
      snapshots.push(readFileSync(p.ledger, 'utf8').replace(/[^\n]*$/, '')); // complete lines only
    }
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers);
    // Drain what is left with well-behaved workers.
    const drain = await Promise.all(
      [0, 1].map((i) =>
        startWorkProcess(p.home, p.workspace, [...args, '--max-idle-sec', '2', '--worker-id', `d${i}`]),
      ),
    );
    for (const r of drain) expect(r.exitCode, r.stderr).toBe(0);
    const final = readFileSync(p.ledger, 'utf8');
    for (const s of snapshots) expect(final.startsWith(s)).toBe(true);
    const events = ledgerEvents(p.ledger);
    const replay = await cli(['replay', '--home', p.home, '--json']);
    const jobs = (
      JSON.parse(replay.stdout) as {
        jobs: Record<string, { state: string; attempt: number; max_attempts: number }>;
      }
    ).jobs;
    expect(Object.keys(jobs)).toHaveLength(40);
    for (const [id, job] of Object.entries(jobs)) {
      expect(count(events, 'complete', id)).toBeLessThanOrEqual(1);
      if (job.state !== 'complete') expect(job).toMatchObject({ state: 'failed', attempt: job.max_attempts });
    }
    await auditClean(p.home);
  });

  test('kill -9 between the commit that claims and starts an attempt and its run header: the attempt lapses, is retried and completes once; audit --evidence clean', async () => {
    // The window of C1 (src/plane.ts): the claim and the start are durable, the header file is
    // not yet written. The worker is held inside it by FIFOs at the names its first evidence
    // write will use (writeEvidenceFile's `<file>.tmp-<pid>-<n>`): opening one for writing blocks
    // until a reader comes, which never does.
    const p = plane();
    const jobId = 'job-crashwindow1';
    const attemptDir = join(planePaths(p.home).evidence, jobId, 'attempt-1');
    const args = ['--slots', '1', '--lease-sec', '1', '--retry-backoff-sec', '0.05', '--quiet'];
    const first = startWorkProcess(p.home, p.workspace, [...args, '--worker-id', 'w1']);
    mkdirSync(attemptDir, { recursive: true });
    const fifos = Array.from({ length: 8 }, (_, i) =>
      join(attemptDir, `run-header.json.tmp-${first.pid}-${i + 1}`),
    );
    await execa('mkfifo', fifos);
    await enqueue(p.home, [agentSpec({ job_id: jobId, max_attempts: 3 })]);
    const events = await waitForLedger(p.ledger, (evs) => count(evs, 'start', jobId) === 1);
    const claim = events.find((e) => e.event === 'claim' && e.job_id === jobId)!;
    const start = events.find((e) => e.event === 'start' && e.job_id === jobId)!;
    // One commit: the start right after its claim, at the commit's one time.
    expect(start.seq).toBe(claim.seq + 1);
    expect(start.ts_utc).toBe(claim.ts_utc);
    await sleep(300);
    expect(first.exitCode).toBeNull(); // still held in the window
    expect(existsSync(join(attemptDir, 'run-header.json'))).toBe(false);
    first.kill('SIGKILL');
    await first;
    for (const f of fifos) rmSync(f);

    const second = await startWorkProcess(p.home, p.workspace, [
      ...args,
      '--max-idle-sec',
      '2',
      '--worker-id',
      'w2',
    ]);
    expect(second.exitCode, second.stderr).toBe(0);
    const after = ledgerEvents(p.ledger);
    const mine = after
      .filter((e) => e.job_id === jobId)
      .map((e) => `${e.event}:${'attempt' in e ? e.attempt : ''}`);
    expect(mine).toEqual([
      'enqueue:',
      'claim:1',
      'start:1',
      'expire:1',
      'retry:2',
      'claim:2',
      'start:2',
      'complete:2',
    ]);
    expect(existsSync(join(attemptDir, 'run-header.json'))).toBe(false);
    const audit = await cli(['audit', '--home', p.home, '--evidence', '--json']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  });

  test('pause: a worker stopped past its lease loses the job to another; after SIGCONT everything it writes for it is refused', async () => {
    const p = plane();
    await enqueue(p.home, [sleepSpec(2, { job_id: 'job-paused001' })]);
    const a = startWorkProcess(p.home, p.workspace, [
      '--lease-sec',
      '1',
      '--worker-id',
      'pa',
      '--max-idle-sec',
      '1',
    ]);
    // After the command's tool_call, not at start: the commit of that tool_call follows start at
    // once, and a worker stopped inside a commit holds the append lock (by design nobody breaks
    // a paused holder's lock), which would stall the other worker for good.
    await waitForLedger(p.ledger, (evs) => evs.some((e) => e.event === 'tool_call'));
    await stopOutsideAppendLock(a, p.home);
    const b = startWorkProcess(p.home, p.workspace, [
      '--lease-sec',
      '1',
      '--worker-id',
      'pb',
      '--retry-backoff-sec',
      '0.1',
      '--max-idle-sec',
      '1',
    ]);
    await waitForLedger(p.ledger, (evs) => evs.some((e) => e.event === 'complete'), 30_000);
    a.kill('SIGCONT');
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(ra.exitCode, ra.stderr).toBe(0);
    expect(ra.stderr).toMatch(/lease lost/);
    const events = ledgerEvents(p.ledger);
    const expireSeq = events.find((e) => e.event === 'expire')!.seq;
    expect(
      events.filter(
        (e) => 'worker_id' in e && e.worker_id === 'pa' && e.seq > expireSeq && e.event !== 'expire',
      ),
    ).toEqual([]);
    expect(events.filter((e) => e.event === 'complete')).toMatchObject([{ worker_id: 'pb', attempt: 2 }]);
    await auditClean(p.home);
  });

  test('kill switch: running jobs fail with kill_switch, workers exit 3; work --once then claims nothing and exits 3', async () => {
    const p = plane();
    await enqueue(p.home, [sleepSpec(30), sleepSpec(30), sleepSpec(30)]);
    const w = startWorkProcess(p.home, p.workspace, ['--slots', '2', '--quiet']);
    await waitForLedger(p.ledger, (evs) => count(evs, 'start') === 2);
    expect((await cli(['kill-switch', 'on', '--home', p.home, '--reason', 'test'])).exitCode).toBe(0);
    expect((await w).exitCode).toBe(3);
    let events = ledgerEvents(p.ledger);
    const fails = events.filter((e): e is Extract<LedgerEvent, { event: 'fail' }> => e.event === 'fail');
    expect(fails.map((f) => f.error.code)).toEqual(['kill_switch', 'kill_switch']);
    const claims = count(events, 'claim');
    const once = await cli(['work', '--once', '--home', p.home, '--workspace', p.workspace]);
    expect(once.exitCode).toBe(3);
    events = ledgerEvents(p.ledger);
    expect(count(events, 'claim')).toBe(claims);
    const status = await cli(['kill-switch', 'status', '--home', p.home, '--json']);
    expect(JSON.parse(status.stdout)).toEqual({ on: true, reason: 'test' });
    await auditClean(p.home);
  });

  test('SIGTERM: stop claiming, let running jobs finish within --grace-sec, abort the rest with fail code shutdown', async () => {
    const p = plane();
    await enqueue(p.home, [
      sleepSpec(0.5, { job_id: 'job-shortjob1' }),
      sleepSpec(30, { job_id: 'job-longjob01' }),
      sleepSpec(1, { job_id: 'job-notclaim1' }),
    ]);
    const w = startWorkProcess(p.home, p.workspace, ['--slots', '2', '--grace-sec', '2']);
    await waitForLedger(p.ledger, (evs) => count(evs, 'start') === 2);
    w.kill('SIGTERM');
    const r = await w;
    expect(r.exitCode).toBe(0);
    const events = ledgerEvents(p.ledger);
    expect(count(events, 'complete', 'job-shortjob1')).toBe(1);
    const fail = events.find((e) => e.event === 'fail' && e.job_id === 'job-longjob01') as
      Extract<LedgerEvent, { event: 'fail' }> | undefined;
    expect(fail?.error).toMatchObject({ code: 'shutdown', retryable: true });
    expect(count(events, 'claim', 'job-notclaim1')).toBe(0);
    await auditClean(p.home);
  });

  test('a second signal aborts at once', async () => {
    const p = plane();
    await enqueue(p.home, [sleepSpec(30, { job_id: 'job-twosigs01' })]);
    const w = startWorkProcess(p.home, p.workspace, ['--grace-sec', '60']);
    await waitForLedger(p.ledger, (evs) => count(evs, 'start') === 1);
    w.kill('SIGTERM');
    await sleep(200);
    w.kill('SIGINT');
    expect((await w).exitCode).toBe(0);
    const fail = ledgerEvents(p.ledger).find((e) => e.event === 'fail') as Extract<
      LedgerEvent,
      { event: 'fail' }
    >;
    expect(fail.error.code).toBe('shutdown');
  });

  test('work --once on an empty plane exits 0 at once', async () => {
    const p = plane();
    const r = await cli(['work', '--once', '--home', p.home, '--workspace', p.workspace]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
});
