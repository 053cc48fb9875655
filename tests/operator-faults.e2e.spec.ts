/**
 * Issue 13 with real processes and real files: what operators and machines actually do to a live
 * plane — delete `jobs.lock`, delete or restore (`mv`) the ledger, re-point the home, fill the
 * disk, remove the workspace, run one process with a wrong clock. Every wait has a deadline;
 * nothing asserts how fast anything was.
 */
import { execa } from 'execa';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import { Plane } from '../src/plane.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { BIN, execplane } from './helpers/cli.js';
import { ledgerEvents } from './helpers/ledger.js';
import { cli, startWorkProcess, untilOutput } from './helpers/procs.js';
import { hostProcessesWith, isAlive, uniqueSleep } from './helpers/sandbox.js';
import { cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { sleep, waitForLedger } from './helpers/worker.js';
import { osPart } from './helpers/os-parts.js';

const tmp = useTmpDirs('execplane-faults-');
const isRoot = process.getuid?.() === 0;
/** The full-disk tests mount a tmpfs: root only (and required under .ci/run). */
const TMPFS = osPart(isRoot, 'the full-disk tests need root, to mount a small tmpfs');

const sleepSpec = (sec: string, o: { max_attempts?: number } = {}) => ({
  job_type: 'test_runner_task',
  budgets: { max_wall_time_sec: 600, max_tool_calls: 4, max_output_bytes: 65_536, max_concurrency_slots: 1 },
  tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: [] },
  payload: { commands: [['sleep', sec]], timeout_sec: 600 },
  max_attempts: o.max_attempts ?? 3,
});

function plane(root = tmp()) {
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  mkdirSync(workspace, { recursive: true });
  return { root, home, workspace, ledger: planePaths(home).ledger };
}

/** Enqueues `specs` with one `execplane enqueue`; the job ids it acknowledged. */
async function enqueue(home: string, specs: unknown[], env?: Record<string, string>): Promise<string[]> {
  const file = join(home, '..', `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(specs.length === 1 ? specs[0] : specs));
  const r = await execplane(['enqueue', '--home', home, '--file', file, '--json'], env ? { env } : {});
  if (r.code !== 0) throw new Error(`enqueue exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { job_id: string } | { jobs: { job_id: string }[] };
  return 'jobs' in out ? out.jobs.map((j) => j.job_id) : [out.job_id];
}

const ofType = (events: LedgerEvent[], type: LedgerEvent['event']) => events.filter((e) => e.event === type);

async function auditClean(home: string): Promise<void> {
  const r = await cli(['audit', '--home', home, '--json']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

/** Waits until the job sleeping `marker` seconds has its process running on the host. */
const untilRunning = (marker: string) =>
  waitUntil('the job runs', () => hostProcessesWith(`sleep\0${marker}`).length > 0);

async function waitUntil(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** Ends the job processes running `sleep <marker>` (some may be gone by the time they are killed). */
function killAll(marker: string): void {
  for (const pid of hostProcessesWith(`sleep\0${marker}`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

const work = (p: ReturnType<typeof plane>, args: string[]) => startWorkProcess(p.home, p.workspace, args);

describe('identity before every append (S7 of src/ledger/store.ts)', () => {
  test('deleting jobs.lock while workers and enqueuers append: no fork, every acknowledged job present, audit clean', async () => {
    const p = plane();
    await enqueue(
      p.home,
      Array.from({ length: 20 }, () => sleepSpec('0.2')),
    );
    const args = ['--slots', '3', '--lease-sec', '0.5', '--max-idle-sec', '3', '--quiet'];
    const workers = [work(p, [...args, '--worker-id', 'wa']), work(p, [...args, '--worker-id', 'wb'])];
    await waitForLedger(p.ledger, (evs) => ofType(evs, 'claim').length >= 2);
    const acknowledged: string[] = [];
    const lockPath = planePaths(p.home).lock;
    const enqueuers = [0, 1, 2].map(async () => {
      for (let i = 0; i < 10; i++) {
        if (existsSync(lockPath)) rmSync(lockPath, { force: true }); // the "stale lock file" reflex
        acknowledged.push(...(await enqueue(p.home, [sleepSpec('0.05')])));
      }
    });
    await Promise.all(enqueuers);
    const results = await Promise.all(workers);
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    const events = ledgerEvents(p.ledger);
    const enqueued = new Set(ofType(events, 'enqueue').map((e) => e.job_id));
    for (const id of acknowledged) expect(enqueued.has(id), id).toBe(true);
    expect(enqueued.size).toBe(50);
    const completes = ofType(events, 'complete').map((e) => e.job_id);
    expect(new Set(completes).size).toBe(completes.length);
    await auditClean(p.home);
  });

  test('a ledger deleted under a running worker: it stops with E_LEDGER_REPLACED and its job process with it; the next worker runs what the new ledger holds', async () => {
    const p = plane();
    const marker = uniqueSleep();
    await enqueue(p.home, [sleepSpec(marker)]);
    const a = work(p, ['--lease-sec', '2', '--worker-id', 'wa']);
    await untilRunning(marker);
    rmSync(p.ledger);
    const ra = await a;
    expect(ra.exitCode).toBe(1);
    expect(ra.stderr).toMatch(/E_LEDGER_REPLACED: .*jobs\.jsonl was deleted while this process had it open/);
    expect(hostProcessesWith(`sleep\0${marker}`)).toEqual([]);
    // The new ledger is the plane now: a job enqueued into it runs.
    const [id] = await enqueue(p.home, [sleepSpec('0.01')]);
    const rb = await execplane(['work', '--home', p.home, '--workspace', p.workspace, '--once'], {
      cwd: p.workspace,
    });
    expect(rb.code, rb.stderr).toBe(0);
    const events = ledgerEvents(p.ledger);
    expect(ofType(events, 'complete').map((e) => e.job_id)).toEqual([id]);
    await auditClean(p.home);
  });

  test('a restore by mv under running workers: each stops before it writes to the file nobody reads; the job then runs once, in the restored ledger', async () => {
    const p = plane();
    const marker = uniqueSleep();
    const [id] = await enqueue(p.home, [sleepSpec(marker)]);
    const backup = join(p.root, 'backup.jsonl');
    copyFileSync(p.ledger, backup);
    const a = work(p, ['--lease-sec', '2', '--worker-id', 'wa']);
    const idle = work(p, ['--lease-sec', '2', '--worker-id', 'wi']);
    // Both hold the ledger open before it is replaced (one started later simply reads the restored one).
    await Promise.all([untilOutput(a, /ready: wa/), untilOutput(idle, /ready: wi/)]);
    await untilRunning(marker);
    renameSync(backup, p.ledger); // the documented restore, without stopping the workers first
    const [ra, ri] = await Promise.all([a, idle]);
    for (const r of [ra, ri]) {
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/E_LEDGER_REPLACED: .*now names another file/);
    }
    // wa's attempt ended with it: nothing of the first claim runs beside the next one.
    expect(hostProcessesWith(`sleep\0${marker}`)).toEqual([]);
    expect(ofType(ledgerEvents(p.ledger), 'claim')).toHaveLength(0);
    const b = work(p, ['--lease-sec', '2', '--worker-id', 'wb', '--max-idle-sec', '1']);
    await waitUntil('wb runs the job', () => hostProcessesWith(`sleep\0${marker}`).length > 0);
    killAll(marker); // end it early
    const rb = await b;
    expect(rb.exitCode, rb.stderr).toBe(0);
    const events = ledgerEvents(p.ledger);
    expect(ofType(events, 'claim').map((e) => (e as { worker_id: string }).worker_id)).toEqual(['wb']);
    expect(
      events.filter((e) => e.job_id === id && (e.event === 'complete' || e.event === 'fail')),
    ).toHaveLength(1);
    await auditClean(p.home);
  });

  test('a home re-pointed through a symlink: the worker stops instead of serving the old plane', async () => {
    const root = tmp();
    const one = plane(join(root, 'one'));
    const two = plane(join(root, 'two'));
    await enqueue(one.home, [sleepSpec('0.01')]);
    await enqueue(two.home, [sleepSpec('0.01')]);
    const link = join(root, 'home');
    symlinkSync(one.home, link);
    const w = startWorkProcess(link, one.workspace, ['--lease-sec', '2', '--max-idle-sec', '20']);
    await waitForLedger(one.ledger, (evs) => ofType(evs, 'complete').length === 1);
    rmSync(link);
    symlinkSync(two.home, link);
    // The worker's next look at the ledger (at most its poll interval later) finds another file.
    const r = await w;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/E_LEDGER_REPLACED/);
    expect(ofType(ledgerEvents(two.ledger), 'claim')).toHaveLength(0);
  });

  test('crash rounds: kill -9, jobs.lock deleted, the ledger restored by mv; after every round audit is clean, every acknowledged event present, no job completed twice, no job run twice at once', async () => {
    const p = plane();
    const args = ['--slots', '2', '--lease-sec', '1', '--retry-backoff-sec', '0.05', '--quiet'];
    let serial = 0;
    const start = () => work(p, [...args, '--worker-id', `r${serial++}`]);
    let workers = [start(), start(), start()];
    // Every job sleeps ≈ 0.2 s under an argument of its own, so its processes can be told apart.
    let jobSerial = 0;
    const markerSpec = () => sleepSpec(`0.2${String(jobSerial++).padStart(4, '0')}1`, { max_attempts: 6 });
    const overlap = watchSleeps(/^0\.2\d{4}1$/);
    const acknowledged: string[] = [];
    let acknowledgedText = '';
    try {
      for (let round = 0; round < 9; round++) {
        acknowledged.push(
          ...(await enqueue(
            p.home,
            Array.from({ length: 4 }, () => markerSpec()),
          )),
        );
        await sleep(300);
        const kind = round % 3;
        if (kind === 0) {
          const victim = Math.floor(Math.random() * workers.length);
          workers[victim]!.kill('SIGKILL');
          await workers[victim];
          workers[victim] = start();
        } else if (kind === 1) {
          rmSync(planePaths(p.home).lock, { force: true });
        } else {
          // Restore the ledger from a copy taken now (what an operator's restore does): every
          // worker stops on its own, saying why; the operator starts new ones.
          const copy = join(p.root, 'copy.jsonl');
          copyFileSync(p.ledger, copy);
          const copied = readFileSync(copy, 'utf8').replace(/[^\n]*$/, '');
          // What was acknowledged before the copy is in it: a restore loses only what came after.
          expect(copied.startsWith(acknowledgedText)).toBe(true);
          renameSync(copy, p.ledger);
          const results = await Promise.all(workers);
          for (const r of results) {
            expect(r.exitCode, r.stderr).toBe(1);
            expect(r.stderr).toMatch(/E_LEDGER_REPLACED/);
          }
          workers = [start(), start(), start()];
        }
        // After the round: what the file held before it (complete lines) is still its beginning,
        // and the whole is intact.
        const now = readFileSync(p.ledger, 'utf8');
        if (kind !== 2) expect(now.startsWith(acknowledgedText)).toBe(true);
        acknowledgedText = now.replace(/[^\n]*$/, '');
        await auditClean(p.home);
      }
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers);
      const drain = await execplane(
        ['work', '--home', p.home, '--workspace', p.workspace, ...args, '--max-idle-sec', '2'],
        { cwd: p.workspace },
      );
      expect(drain.code, drain.stderr).toBe(0);
    } finally {
      overlap.stop();
    }
    const events = ledgerEvents(p.ledger);
    const completes = ofType(events, 'complete').map((e) => e.job_id);
    expect(new Set(completes).size).toBe(completes.length);
    // Every acknowledged enqueue is in the ledger, and every one of those jobs completed.
    expect(new Set(ofType(events, 'enqueue').map((e) => e.job_id))).toEqual(new Set(acknowledged));
    expect(new Set(completes)).toEqual(new Set(acknowledged));
    // No attempt ran beside another of the same job (sampled every 20 ms from /proc).
    expect(overlap.samples()).toBeGreaterThan(50);
    expect(overlap.sighted(), 'the sampler saw the jobs run').toBeGreaterThan(acknowledged.length / 2);
    expect(overlap.twice(), 'a job ran in two processes at once').toEqual([]);
    await auditClean(p.home);
  });
});

/**
 * Samples /proc every 20 ms for `sleep` processes whose argument matches `arg`, and records any
 * argument (a job) seen in two processes at once.
 */
function watchSleeps(arg: RegExp) {
  const twice = new Set<string>();
  const sighted = new Set<string>();
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    const seen = new Map<string, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue; // gone
      }
      // argv[0] is the program's resolved path (src/sandbox/exec.ts).
      if (basename(argv[0] ?? '') !== 'sleep' || !arg.test(argv[1] ?? '') || !isAlive(Number(entry)))
        continue;
      const n = (seen.get(argv[1]!) ?? 0) + 1;
      seen.set(argv[1]!, n);
      sighted.add(argv[1]!);
      if (n > 1) twice.add(argv[1]!);
    }
  }, 20);
  return {
    stop: () => clearInterval(timer),
    samples: () => samples,
    sighted: () => sighted.size,
    twice: () => [...twice],
  };
}

describe('a machine fault is the worker’s, not the job’s (src/worker/faults.ts)', () => {
  test('a removed workspace: nothing fails for good, the worker degrades and resumes when it is back', async () => {
    const p = plane();
    const first = await enqueue(p.home, [sleepSpec('0.01')]);
    // cwd is the plane's root: the workspace is what goes away.
    const worker = execa(
      process.execPath,
      [BIN, 'work', '--home', p.home, '--workspace', p.workspace, '--max-idle-sec', '2', '--lease-sec', '2'],
      { reject: false, cwd: p.root },
    );
    await waitForLedger(p.ledger, (evs) => ofType(evs, 'complete').length === 1);
    rmSync(p.workspace, { recursive: true });
    const later = await enqueue(
      p.home,
      Array.from({ length: 2 }, () => sleepSpec('0.01')),
    );
    await sleep(1500);
    const during = ledgerEvents(p.ledger);
    expect(ofType(during, 'claim')).toHaveLength(1);
    expect(ofType(during, 'fail')).toEqual([]);
    mkdirSync(p.workspace);
    const r = await worker;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/degraded: the workspace .* is gone/);
    expect(r.stderr).toMatch(/recovered from: /);
    const completes = ofType(ledgerEvents(p.ledger), 'complete').map((e) => e.job_id);
    expect(completes.sort()).toEqual([...first, ...later].sort());
  });

  describe.skipIf(!TMPFS)('on a real small filesystem (a tmpfs; needs root to mount)', () => {
    async function smallHome(sizeKb: number) {
      const root = tmp();
      const mnt = join(root, 'mnt');
      mkdirSync(mnt);
      await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', mnt]);
      const p = { ...plane(root), home: join(mnt, 'home') };
      mkdirSync(p.home);
      return {
        p: { ...p, ledger: planePaths(p.home).ledger },
        mnt,
        umount: () => execa('umount', ['-l', mnt]),
      };
    }
    /** Fills the filesystem at `dir` to the last byte; returns the filler file. */
    function fill(dir: string): string {
      const filler = join(dir, 'filler');
      const block = Buffer.alloc(4096, 1);
      let size = 0;
      for (;;) {
        try {
          writeFileSync(filler, block, { flag: 'a' });
          size += block.length;
        } catch {
          break;
        }
      }
      // The last partial block: whatever still fits.
      for (let n = 2048; n >= 1; n = Math.floor(n / 2)) {
        try {
          writeFileSync(filler, Buffer.alloc(n, 1), { flag: 'a' });
        } catch {
          // try a smaller one
        }
      }
      expect(size).toBeGreaterThan(0);
      return filler;
    }

    test('enqueue on a full disk: one E_IO line naming ENOSPC (exit 1), every acknowledged job present, audit clean', async () => {
      const { p, umount } = await smallHome(256);
      try {
        const file = join(p.root, 'spec.json');
        // ≈ 30 KB a line: the disk fills in a handful of enqueues.
        writeFileSync(file, JSON.stringify({ ...sleepSpec('0.01'), meta: { pad: 'x'.repeat(30_000) } }));
        let acknowledged = 0;
        let last: Awaited<ReturnType<typeof execplane>> | undefined;
        for (let i = 0; i < 100; i++) {
          last = await execplane(['enqueue', '--home', p.home, '--file', file]);
          if (last.code !== 0) break;
          acknowledged++;
        }
        expect(last!.code).toBe(1);
        expect(last!.stderr.trim().split('\n'), last!.stderr).toHaveLength(1);
        expect(last!.stderr).toMatch(/E_IO: ENOSPC on \S+jobs\.jsonl: the disk is full/);
        expect(last!.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(ofType(ledgerEvents(p.ledger), 'enqueue')).toHaveLength(acknowledged);
        await auditClean(p.home);
        // The operator's emergency stop works exactly now.
        const on = await execplane(['kill-switch', 'on', '--home', p.home, '--reason', 'disk full']);
        expect(on.code, on.stderr).toBe(0);
        expect(existsSync(planePaths(p.home).killSwitch)).toBe(true);
        const work = await execplane(['work', '--home', p.home, '--workspace', p.workspace, '--once']);
        expect(work.code).toBe(3);
      } finally {
        await umount();
      }
    });

    test('a worker on a full disk fails nothing for good, does not crash, and drains the queue once space is back', async () => {
      const { p, mnt, umount } = await smallHome(1024);
      try {
        const ids = await enqueue(
          p.home,
          Array.from({ length: 3 }, () => sleepSpec('0.01')),
        );
        const filler = fill(mnt);
        const w = startWorkProcess(p.home, p.workspace, ['--lease-sec', '2', '--max-idle-sec', '2']);
        await untilOutput(w, /degraded: .*ENOSPC/);
        await sleep(1500);
        // A claim may still fit in the ledger's last page; the attempt then meets the full disk
        // in its evidence, and ends retryable as the worker's fault, never the job's.
        const fails = ledgerEvents(p.ledger).filter((e) => e.event === 'fail') as {
          error: { code: string; retryable: boolean };
        }[];
        for (const f of fails) expect(f.error).toMatchObject({ code: 'E_WORKER_FAULT', retryable: true });
        expect(fails.length).toBeLessThanOrEqual(1);
        rmSync(filler);
        const r = await w;
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/recovered from: /);
        const events = ledgerEvents(p.ledger);
        expect(
          ofType(events, 'complete')
            .map((e) => e.job_id)
            .sort(),
        ).toEqual([...ids].sort());
        await auditClean(p.home);
      } finally {
        await umount();
      }
    });

    test('evidence that cannot be written mid-run ends the attempt retryable (E_WORKER_FAULT), and the retry completes', async () => {
      const { p, mnt, umount } = await smallHome(1024);
      try {
        const marker = uniqueSleep().replace(/^\d+/, '1');
        const [id] = await enqueue(p.home, [sleepSpec(marker)]);
        const w = startWorkProcess(p.home, p.workspace, [
          '--lease-sec',
          '5',
          '--max-idle-sec',
          '2',
          '--retry-backoff-sec',
          '0.05',
        ]);
        await untilRunning(marker);
        const filler = fill(mnt); // the attempt's output and its fail must meet the full disk
        await untilOutput(w, /degraded: /);
        rmSync(filler);
        const r = await w;
        expect(r.exitCode, r.stderr).toBe(0);
        const events = ledgerEvents(p.ledger).filter((e) => e.job_id === id);
        const fails = events.filter((e) => e.event === 'fail') as {
          error: { code: string; retryable: boolean };
        }[];
        for (const f of fails) expect(f.error).toMatchObject({ code: 'E_WORKER_FAULT', retryable: true });
        expect(ofType(events, 'complete')).toHaveLength(1);
        await auditClean(p.home);
      } finally {
        await umount();
      }
    });
  });
});

describe('one bad clock cannot stop the plane (S8 of src/ledger/store.ts)', () => {
  /** `execplane` in a process whose Date.now is off by `offsetMs` (a faked clock). */
  function skewed(offsetMs: number, args: string[]) {
    const root = tmp();
    const fake = join(root, 'fake.mjs');
    writeFileSync(
      fake,
      'const orig = Date.now; const off = Number(process.env.FAKE_OFFSET_MS); Date.now = () => orig() + off;\n',
    );
    return execa(process.execPath, ['--import', fake, BIN, ...args], {
      reject: false,
      env: { FAKE_OFFSET_MS: String(offsetMs), EXECPLANE_HOME: undefined },
      extendEnv: true,
    });
  }

  test('a reaper an hour ahead writes nothing (E_CLOCK_SKEW); the healthy worker keeps its lease and completes', async () => {
    const p = plane();
    const marker = uniqueSleep();
    await enqueue(p.home, [sleepSpec(marker)]);
    const w = work(p, ['--lease-sec', '60', '--max-idle-sec', '1']);
    await untilRunning(marker);
    const before = readFileSync(p.ledger);
    for (const offset of [3_600_000, -3_600_000]) {
      const r = await skewed(offset, ['reap', '--home', p.home, '--json']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/E_CLOCK_SKEW: this process's clock reads .* \((ahead|behind) by \d+ ms/);
    }
    const spec = join(p.root, 'one.json');
    writeFileSync(spec, JSON.stringify(sleepSpec('0.01')));
    const enq = await skewed(3_600_000, ['enqueue', '--home', p.home, '--file', spec]);
    expect(enq.exitCode).toBe(1);
    // Not a byte was written by the skewed processes (heartbeats of the worker may have been).
    const after = readFileSync(p.ledger);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    const added = ledgerEvents(p.ledger).slice(before.toString().split('\n').length - 1);
    expect(added.filter((e) => e.event !== 'heartbeat')).toEqual([]);
    // A small skew, within the bound, is accepted.
    const small = await skewed(500, ['enqueue', '--home', p.home, '--file', spec]);
    expect(small.exitCode, small.stderr).toBe(0);
    killAll(marker);
    const r = await w;
    expect(r.exitCode, r.stderr).toBe(0);
    const events = ledgerEvents(p.ledger);
    expect(ofType(events, 'expire')).toHaveLength(0);
    expect(r.stderr).not.toMatch(/lease lost/);
    await auditClean(p.home);
  });

  test('a ledger ahead of the machine (a clock stepped back): the worker says so as it starts, and works', async () => {
    const p = plane();
    // A writer an hour ahead that predates the clock check: the library, told to skip it.
    const ahead = Plane.open(p.home, {
      clock: { nowMs: () => Date.now() + 3_600_000 },
      referenceClock: null,
    });
    try {
      await ahead.submit([cmd.enqueue(sleepSpec('0.01'))]);
    } finally {
      ahead.close();
    }
    const r = await execplane(['work', '--home', p.home, '--workspace', p.workspace, '--once']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /warning: the ledger's time is 3[56][0-9]{2} s ahead of the machine's clock; lapsed leases/,
    );
    expect(ofType(ledgerEvents(p.ledger), 'complete')).toHaveLength(1);
  });

  test('a worker whose clock is wrong claims nothing and exits 1 saying so', async () => {
    const p = plane();
    await enqueue(p.home, [sleepSpec('0.01')]);
    const before = readFileSync(p.ledger);
    const r = await skewed(-3_600_000, ['work', '--home', p.home, '--workspace', p.workspace, '--once']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/E_CLOCK_SKEW/);
    expect(readFileSync(p.ledger).equals(before)).toBe(true);
  });
});
