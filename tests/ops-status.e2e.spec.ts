/**
 * `status` and `health` against real planes in each condition the issue names (kill switch,
 * lapsed leases not reaped, a model endpoint down, a torn tail, a corrupt ledger, a worker
 * killed with -9, jobs no running worker can run), with real worker processes and a real HTTP
 * server on 127.0.0.1 — and `retry`, the operator's redrive, with its refusals.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Plane } from '../src/plane.js';
import type { PlaneStatus } from '../src/ops/status.js';
import type { Health } from '../src/ops/health.js';
import { requireDist } from './helpers/cli.js';
import { FAKE_MODEL, startFakeOpenAi, type FakeOpenAi } from './helpers/fake-openai.js';
import { freePort, isAlive, startHttpServer, startListener, stopListeners } from './helpers/listeners.js';
import { BIN, cli, startWorkProcess, untilOutput } from './helpers/procs.js';
import { osPart } from './helpers/os-parts.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { sleep } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-status-');
const children: Array<ReturnType<typeof startWorkProcess>> = [];
const servers: FakeOpenAi[] = [];

beforeAll(() => requireDist());
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.close();
  await stopListeners();
});

function testRunnerSpec(commands: string[][], o: { slots?: number; max_attempts?: number } = {}) {
  return {
    job_type: 'test_runner_task',
    budgets: {
      max_wall_time_sec: 120,
      max_tool_calls: 4,
      max_output_bytes: 4096,
      max_concurrency_slots: o.slots ?? 1,
    },
    tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: ['run_command'] },
    payload: { commands, timeout_sec: 60 },
    max_attempts: o.max_attempts ?? 2,
  };
}

/** A home and a workspace beside it (the home must not lie in the workspace). */
function plane(): { home: string; ws: string } {
  const root = tmp();
  const home = join(root, 'home');
  const ws = join(root, 'ws');
  mkdirSync(ws, { recursive: true });
  return { home, ws };
}

async function enqueue(home: string, spec: unknown): Promise<string> {
  const r = await cli(['enqueue', '--home', home, '--file', '-', '--json'], { input: JSON.stringify(spec) });
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { job_id: string }).job_id;
}

async function status(home: string, args: string[] = []): Promise<PlaneStatus> {
  const r = await cli(['status', '--home', home, '--json', ...args]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as PlaneStatus;
}

async function health(home: string, args: string[] = []): Promise<{ code: number; health: Health }> {
  const r = await cli(['health', '--home', home, '--json', ...args]);
  return { code: r.exitCode ?? -1, health: JSON.parse(r.stdout) as Health };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A port nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function writeConfig(home: string, config: unknown): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'config.json'), JSON.stringify(config));
}

describe('status', () => {
  it('on a quiet plane: head, counts, the oldest queued job and why it waits; health 0 with a note', async () => {
    const { home } = plane();
    const id = await enqueue(home, agentSpec());
    const s = await status(home);
    expect(s.events).toBe(1);
    expect(s.head).toMatch(/^[0-9a-f]{64}@1$/);
    expect(s.last_event).toMatchObject({ seq: 1, event: 'enqueue', job_id: id });
    expect(s.counts).toMatchObject({ queued: 1, running: 0, complete: 0 });
    expect(s.oldest_queued).toMatchObject({ job_id: id, job_type: 'agent_task' });
    expect(s.oldest_queued!.waiting).toEqual({
      code: 'no_worker',
      reason: 'no worker is running on this plane: start one (`execplane work`)',
    });
    expect(s.waiting).toEqual([{ ...s.oldest_queued!.waiting, count: 1, examples: [id] }]);
    expect(s.kill_switch).toEqual({ on: false, reason: null });
    expect(s.recent).toEqual({ window_sec: 900, events: 1, completed: 0, failed: 0 });

    const h = await health(home);
    expect(h.code).toBe(0);
    expect(h.health).toMatchObject({ healthy: true, degraded: [] });
    expect(h.health.notes.map((n) => n.code)).toEqual(['no_worker']);

    const text = await cli(['status', '--home', home]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain(`oldest queued ${id} (agent_task)`);
    expect(text.stdout).toMatch(/kill switch off/);
  });

  it('no plane, a malformed config.json, contradictory flags: exit 2, one line, and health says it could not check', async () => {
    const { home } = plane();
    for (const cmd of ['status', 'health']) {
      const r = await cli([cmd, '--home', home]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/E_INPUT: no plane at/);
    }
    await enqueue(home, agentSpec());
    writeFileSync(join(home, 'config.json'), '{"models": [');
    for (const cmd of ['status', 'health']) {
      const r = await cli([cmd, '--home', home]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/E_CONFIG: .*config\.json: not valid JSON/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const both = await cli(['status', '--home', home, '--json', '--format', 'prometheus']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/E_USAGE: --json and --format prometheus/);
  });

  it('the kill switch: status shows it with its reason, every queued job says so, health exits 1', async () => {
    const { home } = plane();
    await enqueue(home, agentSpec());
    expect((await cli(['kill-switch', 'on', '--home', home, '--reason', 'disk almost full'])).exitCode).toBe(
      0,
    );
    const s = await status(home);
    expect(s.kill_switch).toEqual({ on: true, reason: 'disk almost full' });
    expect(s.oldest_queued!.waiting.code).toBe('kill_switch');
    expect(s.oldest_queued!.waiting.reason).toMatch(/kill switch is on \(disk almost full\)/);
    const h = await health(home);
    expect(h.code).toBe(1);
    expect(h.health.degraded.map((d) => d.code)).toEqual(['kill_switch_on']);
    const text = await cli(['health', '--home', home]);
    expect(text.stdout.split('\n')[0]).toBe('degraded');
    expect(text.stdout).toContain('degraded: kill_switch_on: the kill switch is on: disk almost full');
  });

  it('a torn tail is degraded; a corrupt ledger is a finding (status 1, health 1 ledger_corrupt)', async () => {
    const { home } = plane();
    await enqueue(home, agentSpec());
    const ledger = join(home, 'jobs.jsonl');
    const good = readFileSync(ledger);
    appendFileSync(ledger, '{"v":1,"seq":2,"ev');
    const s = await status(home);
    expect(s.torn_tail).toEqual({ offset: good.length, bytes: 18 });
    const h = await health(home);
    expect(h.code).toBe(1);
    expect(h.health.degraded.map((d) => d.code)).toEqual(['ledger_torn_tail']);

    writeFileSync(ledger, Buffer.concat([good, Buffer.from('{"not":"an event"}\n')]));
    const r = await cli(['status', '--home', home]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/E_LEDGER_CORRUPT: .*line 2/);
    const hc = await health(home);
    expect(hc.code).toBe(1);
    expect(hc.health.degraded[0]!.code).toBe('ledger_corrupt');
    expect(readFileSync(ledger).subarray(0, good.length).equals(good)).toBe(true);
  });

  it("a ledger ahead of this machine's clock (a clock stepped back): status says by how much, health is degraded", async () => {
    const { home } = plane();
    // A writer an hour ahead that predates the clock check: the library, told to skip it.
    const ahead = Plane.open(home, { clock: { nowMs: () => Date.now() + 3_600_000 }, referenceClock: null });
    try {
      await ahead.submit([{ type: 'enqueue', spec: agentSpec() }]);
    } finally {
      ahead.close();
    }
    const s = await status(home);
    expect(s.ledger_ahead_sec).toBeGreaterThan(3500);
    expect(s.ledger_ahead_sec).toBeLessThanOrEqual(3600);
    const h = await health(home);
    expect(h.code).toBe(1);
    expect(h.health.degraded.map((d) => d.code)).toEqual(['ledger_ahead_of_clock']);
  });

  it('a model endpoint down is degraded; the same endpoint up is not (the probe of `execplane models`)', async () => {
    const { home } = plane();
    await enqueue(home, agentSpec());
    const port = await closedPort();
    const server = await startFakeOpenAi([]);
    servers.push(server);
    writeConfig(home, {
      models: [
        { name: 'up', base_url: server.url, model: FAKE_MODEL },
        { name: 'down', base_url: `http://127.0.0.1:${port}/v1`, model: 'm' },
      ],
    });
    const s = await status(home, ['--timeout-ms', '3000']);
    expect(s.models.find((m) => m.name === 'up')).toMatchObject({ ok: true, model_served: true });
    expect(s.models.find((m) => m.name === 'down')).toMatchObject({
      ok: false,
      error_code: 'model_unreachable',
    });
    expect(server.requests.some((r) => r.path.endsWith('/models'))).toBe(true);
    const h = await health(home);
    expect(h.code).toBe(1);
    expect(h.health.degraded).toHaveLength(1);
    expect(h.health.degraded[0]!.code).toBe('model_down');
    expect(h.health.degraded[0]!.message).toContain(`127.0.0.1:${port}`);

    const unprobed = await status(home, ['--no-probe']);
    expect(unprobed.models.map((m) => [m.ok, m.error_code])).toEqual([
      [null, 'not_probed'],
      [null, 'not_probed'],
    ]);
    // Not probed is not down: nothing is known against them.
    const blind = await health(home, ['--no-probe']);
    expect(blind.code).toBe(0);
    const prom = await cli(['status', '--home', home, '--format', 'prometheus', '--no-probe']);
    expect(prom.stdout).not.toMatch(/^execplane_model_up\{/m);
  });

  it('a model endpoint down because a stranger holds its port: the hint names it; a silent model server of ours gets another hint', async () => {
    const { home, ws } = plane();
    await enqueue(home, agentSpec());
    const strangerPort = await freePort();
    const stranger = await startHttpServer('unknown-holder', '127.0.0.1', strangerPort, ws);
    const ourPort = await freePort();
    const silent = await startListener('vllm-stuck', '127.0.0.1', ourPort, ws);
    writeConfig(home, {
      models: [
        { name: 'taken', base_url: `http://127.0.0.1:${strangerPort}/v1`, model: 'm' },
        { name: 'loading', base_url: `http://127.0.0.1:${ourPort}/v1`, model: 'm' },
      ],
    });
    const s = await status(home, ['--timeout-ms', '1000']);
    const taken = s.models.find((m) => m.name === 'taken')!;
    expect(taken.ok).toBe(false);
    expect(taken.hint).toBe(
      `model endpoint down: port ${strangerPort} held by unknown process (pid=${stranger.id.pid}, cmd="unknown-holder -m http.server ${strangerPort} --bind 127.0.0.1"); stop it or free the port, then restart the model service`,
    );
    const loading = s.models.find((m) => m.name === 'loading')!;
    expect(loading).toMatchObject({ ok: false, error_code: 'model_timeout' });
    expect(loading.hint).toMatch(
      new RegExp(`^port ${ourPort} is held by a model server \\(pid=${silent.id.pid}, `),
    );
    const text = await cli(['status', '--home', home, '--timeout-ms', '1000']);
    expect(text.stdout).toContain(`port ${strangerPort} held by unknown process (pid=${stranger.id.pid}`);
    const h = await health(home, ['--timeout-ms', '1000']);
    expect(h.code).toBe(1);
    expect(h.health.degraded.find((d) => d.message.includes('taken'))!.message).toContain(
      'held by unknown process',
    );
    // status only looks: nobody was signalled.
    expect(isAlive(stranger.id)).toBe(true);
    expect(isAlive(silent.id)).toBe(true);
  });

  it('a plane with no usable checkpoint: status folds it, says so, and leaves a checkpoint the next status starts from', async () => {
    const { home } = plane();
    const specs = Array.from({ length: 10_000 }, (_, i) =>
      agentSpec({ job_id: `job-bulk${String(i).padStart(5, '0')}` }),
    );
    const r = await cli(['enqueue', '--home', home, '--file', '-'], { input: JSON.stringify(specs) });
    expect(r.exitCode, r.stderr).toBe(0);
    const checkpoint = join(home, 'checkpoint.json');
    expect(existsSync(checkpoint)).toBe(false);
    const first = await status(home);
    expect(first.counts.queued).toBe(10_000);
    expect(existsSync(checkpoint)).toBe(true);
    writeFileSync(checkpoint, 'garbage\n');
    const rejected = await cli(['status', '--home', home]);
    expect(rejected.exitCode).toBe(0);
    expect(rejected.stderr).toMatch(/warning: checkpoint.json ignored \(.*\); folded from line 1/);
    expect(rejected.stdout).toMatch(/^checkpoint {2}not used/m);
    const again = await cli(['status', '--home', home, '--json']);
    expect(again.stderr).toBe('');
    expect((JSON.parse(again.stdout) as PlaneStatus).checkpoint_rejected).toBeNull();
    expect((JSON.parse(again.stdout) as PlaneStatus).head).toBe(first.head);
  });

  it('--format prometheus: valid text exposition, every sample of a declared metric', async () => {
    const { home } = plane();
    await enqueue(home, agentSpec());
    await cli(['kill-switch', 'on', '--home', home, '--reason', 'say "hi"\nthere']);
    const r = await cli(['status', '--home', home, '--format', 'prometheus']);
    expect(r.exitCode, r.stderr).toBe(0);
    const declared = new Set<string>();
    for (const line of r.stdout.trimEnd().split('\n')) {
      const type = /^# TYPE (execplane_[a-z_]+) gauge$/.exec(line);
      if (type) declared.add(type[1]!);
      else if (line.startsWith('# HELP execplane_')) continue;
      else {
        const m =
          /^(execplane_[a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\["\\n])*"(?:,[a-z_]+="(?:[^"\\\n]|\\["\\n])*")*\})? (-?[0-9.e+-]+)$/.exec(
            line,
          );
        expect(m, line).not.toBeNull();
        expect(declared.has(m![1]!), line).toBe(true);
      }
    }
    expect(r.stdout).toContain('execplane_kill_switch 1');
    expect(r.stdout).toContain('execplane_jobs{state="queued"} 1');
    expect(r.stdout).toContain('execplane_healthy 0');
    expect(r.stdout).toContain('execplane_degraded{code="kill_switch_on"} 1');
    expect(r.stdout).toMatch(/^execplane_status_timestamp_seconds \d+(\.\d+)?$/m);

    // Two reasons with one code are one series (a repeated label set breaks the textfile collector).
    const [a, b] = [await closedPort(), await closedPort()];
    writeConfig(home, {
      models: [
        { name: 'a', base_url: `http://127.0.0.1:${a}/v1`, model: 'm' },
        { name: 'b', base_url: `http://127.0.0.1:${b}/v1`, model: 'm' },
      ],
    });
    const two = await cli(['status', '--home', home, '--format', 'prometheus', '--timeout-ms', '2000']);
    const series = two.stdout.split('\n').filter((l) => l.startsWith('execplane_'));
    expect(series.filter((l) => l.startsWith('execplane_degraded{code="model_down"}'))).toEqual([
      'execplane_degraded{code="model_down"} 2',
    ]);
    expect(new Set(series.map((l) => l.replace(/ [^ ]+$/, ''))).size).toBe(series.length);
  });
});

describe('status with real workers', () => {
  it('lists a live idle worker from its registry file, refuses a second worker with its id', async () => {
    const { home, ws } = plane();
    await enqueue(home, agentSpec({ max_attempts: 1 }));
    const w = startWorkProcess(home, ws, ['--worker-id', 'idle-1', '--slots', '3']);
    children.push(w);
    await untilOutput(w, /ready: idle-1/);
    const s = await until('the job to complete', async () => {
      const st = await status(home);
      return st.counts.complete === 1 ? st : undefined;
    });
    const listed = s.workers.find((x) => x.worker_id === 'idle-1');
    expect(listed).toMatchObject({ alive: true, pid: w.pid, slots: 3, jobs_held: 0 });
    expect(listed!.last_event_utc).not.toBeNull();

    const twin = await cli(['work', '--home', home, '--workspace', ws, '--worker-id', 'idle-1', '--once'], {
      cwd: ws,
    });
    expect(twin.exitCode).toBe(1);
    expect(twin.stderr).toMatch(
      /E_WORKER_ID_IN_USE: a worker with id idle-1 is already running on this plane \(pid \d+\)/,
    );

    w.kill('SIGTERM');
    await w;
    const after = await status(home);
    expect(after.workers.find((x) => x.worker_id === 'idle-1')?.alive ?? null).toBeNull();
  });

  it('a worker killed with -9: GONE with its lease; after the lease lapses, health says nobody reaps; reap clears it', async () => {
    const { home, ws } = plane();
    const id = await enqueue(home, testRunnerSpec([['sleep', '30']]));
    const w = startWorkProcess(home, ws, ['--worker-id', 'doomed', '--lease-sec', '1']);
    children.push(w);
    await untilOutput(w, new RegExp(`claimed ${id}`));
    await until('the job to run', async () => ((await status(home)).counts.running === 1 ? true : undefined));
    w.kill('SIGKILL');
    await w;

    const gone = await status(home);
    expect(gone.workers.find((x) => x.worker_id === 'doomed')).toMatchObject({ alive: false, jobs_held: 1 });
    expect(gone.leases).toHaveLength(1);
    expect(gone.leases[0]).toMatchObject({ job_id: id, worker_id: 'doomed', attempt: 1, state: 'running' });

    const h = await until('the lapsed lease to be reported', async () => {
      const r = await health(home);
      return r.health.degraded.some((d) => d.code === 'leases_unreaped') ? r : undefined;
    });
    expect(h.code).toBe(1);
    expect(h.health.notes.map((n) => n.code)).toContain('worker_gone');
    const lapsed = await status(home);
    expect(lapsed.unreaped_leases).toBe(1);
    expect(lapsed.leases[0]!.expires_in_sec).toBeLessThan(-5);

    expect((await cli(['reap', '--home', home])).exitCode).toBe(0);
    const reaped = await status(home);
    expect(reaped.leases).toEqual([]);
    expect(reaped.unreaped_leases).toBe(0);
    expect(reaped.counts.queued).toBe(1);
    expect((await health(home)).health.degraded.map((d) => d.code)).not.toContain('leases_unreaped');
  });

  it('jobs no running worker can run say why: too few slots, or no OS sandbox on the only worker', async () => {
    const { home, ws } = plane();
    const big = await enqueue(home, testRunnerSpec([['true']], { slots: 3 }));
    const w = startWorkProcess(home, ws, ['--worker-id', 'small', '--slots', '2']);
    children.push(w);
    await untilOutput(w, /ready: small/);
    const s = await status(home);
    const why = s.waiting.find((x) => x.examples.includes(big))!.reason;
    expect(why).toBe(
      'needs 3 slot(s) and the largest running worker has 2: start one with --slots 3 or more',
    );
    const h = await health(home);
    expect(h.code).toBe(1);
    expect(h.health.degraded.map((d) => d.code)).toEqual(['jobs_unrunnable']);
    w.kill('SIGTERM');
    await w;

    // A worker without bubblewrap on its PATH leaves process-starting jobs queued, and says why.
    const { home: home2, ws: ws2 } = plane();
    const job = await enqueue(home2, testRunnerSpec([['true']]));
    const bare = join(ws2, '..', 'empty-path');
    mkdirSync(bare);
    const nb = cli(['work', '--home', home2, '--workspace', ws2, '--worker-id', 'no-bwrap'], {
      cwd: ws2,
      env: { PATH: bare },
    });
    children.push(nb);
    const s2 = await until('the worker to be listed', async () => {
      const st = await status(home2);
      return st.workers.some((x) => x.worker_id === 'no-bwrap' && x.alive) ? st : undefined;
    });
    const reason = s2.waiting.find((x) => x.examples.includes(job))!.reason;
    expect(reason).toMatch(
      /^no running worker can run it: its processes need the OS sandbox, which this worker cannot provide/,
    );
    expect(s2.oldest_queued!.waiting).toEqual({ code: 'unrunnable', reason });
    nb.kill('SIGTERM');
    await nb;
  });

  it('a live worker that claims nothing says why: a spent --once, one shutting down, one stopped by SIGSTOP', async () => {
    const { home, ws } = plane();
    const first = await enqueue(home, testRunnerSpec([['sleep', '30']]));
    const second = await enqueue(home, testRunnerSpec([['sleep', '30']]));
    const once = startWorkProcess(home, ws, [
      '--worker-id',
      'once-1',
      '--slots',
      '2',
      '--once',
      '--grace-sec',
      '30',
    ]);
    children.push(once);
    await untilOutput(once, new RegExp(`claimed ${first}`));
    const spent = await until('the spent --once to be listed', async () => {
      const st = await status(home);
      return st.workers.find((w) => w.worker_id === 'once-1')?.not_claiming ? st : undefined;
    });
    const why = spent.waiting.find((w) => w.examples.includes(second))!;
    expect(why.code).toBe('not_claiming');
    expect(why.reason).toBe('no running worker is claiming: once-1 --once: it has claimed its one job');
    expect((await health(home)).health.notes.map((n) => n.code)).toContain('no_claimer');

    once.kill('SIGTERM');
    const draining = await until('the draining worker to say so', async () => {
      const st = await status(home);
      return st.workers.find((w) => w.worker_id === 'once-1')?.not_claiming === 'shutting down'
        ? st
        : undefined;
    });
    expect(draining.oldest_queued).toMatchObject({ job_id: second, waiting: { code: 'not_claiming' } });
    once.kill('SIGKILL');
    await once;

    const idle = startWorkProcess(home, ws, ['--worker-id', 'paused', '--slots', '1', '--lease-sec', '600']);
    children.push(idle);
    await untilOutput(idle, /ready: paused/);
    process.kill(idle.pid!, 'SIGSTOP');
    try {
      const h = await until('the stopped worker to be reported', async () => {
        const r = await health(home, ['--no-probe']);
        return r.health.degraded.some((d) => d.code === 'worker_stopped') ? r : undefined;
      });
      expect(h.code).toBe(1);
      const st = await status(home);
      expect(st.workers.find((w) => w.worker_id === 'paused')).toMatchObject({
        alive: true,
        not_claiming: 'stopped by a signal (SIGSTOP)',
      });
    } finally {
      process.kill(idle.pid!, 'SIGCONT');
    }
  });

  const AS_ROOT = process.getuid?.() === 0;
  it.runIf(AS_ROOT && osPart(existsSync('/usr/bin/setpriv'), 'the other-user status test needs setpriv'))(
    'a reader of another user (a monitoring account) still sees a running worker as running',
    async () => {
      const { home, ws } = plane();
      await enqueue(home, agentSpec());
      const w = startWorkProcess(home, ws, ['--worker-id', 'roots', '--slots', '2']);
      children.push(w);
      await untilOutput(w, /ready: roots/);
      await until('the job to complete', async () =>
        (await status(home)).counts.complete === 1 ? true : undefined,
      );
      // Readable by all, writable by root only: what a monitoring user gets.
      execFileSync('chmod', ['-R', 'a+rX', join(home, '..', '..'), join(home, '..')]);
      execFileSync('chmod', ['-R', 'a+rX', home]);
      const r = execFileSync(
        '/usr/bin/setpriv',
        [
          '--reuid',
          'nobody',
          '--regid',
          'nogroup',
          '--clear-groups',
          process.execPath,
          BIN,
          'status',
          '--home',
          home,
          '--json',
        ],
        { encoding: 'utf8' },
      );
      const seen = (JSON.parse(r) as PlaneStatus).workers.find((x) => x.worker_id === 'roots');
      expect(seen).toMatchObject({ alive: true, pid: w.pid, slots: 2 });
    },
  );

  it("a crashed worker's file is not listed as running, and the next worker to start removes it once a minute old", async () => {
    const { home, ws } = plane();
    await enqueue(home, agentSpec({ max_attempts: 1 }));
    let dead = 4_000_000;
    while (existsSync(`/proc/${dead}`)) dead += 1;
    const ghost = (id: string) =>
      `${JSON.stringify({ pid: dead, start_ticks: 1, started_at_utc: '2026-01-01T00:00:00.000Z', worker: { worker_id: id, host: 'h', slots: 1, lease_sec: 60, workspace: ws, version: '0' } })}\n`;
    const workers = join(home, 'workers');
    mkdirSync(workers, { recursive: true });
    const old = join(workers, 'ghost-old.json');
    const fresh = join(workers, 'ghost-fresh.json');
    writeFileSync(old, ghost('ghost-old'));
    writeFileSync(fresh, ghost('ghost-fresh'));
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    utimesSync(old, twoMinutesAgo, twoMinutesAgo);
    const before = await status(home);
    expect(before.workers.map((w) => w.worker_id)).toEqual([]);
    expect(before.oldest_queued!.waiting.code).toBe('no_worker');

    const r = await cli(['work', '--home', home, '--workspace', ws, '--once', '--quiet'], { cwd: ws });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it('a --worker-id the event schema refuses is refused before anything is written (it names a file under workers/)', async () => {
    const { home, ws } = plane();
    await enqueue(home, agentSpec());
    writeConfig(home, {});
    const before = readFileSync(join(home, 'jobs.jsonl'));
    for (const id of ['../config', 'a/b', '', 'x'.repeat(129)]) {
      const r = await cli(['work', '--home', home, '--workspace', ws, '--worker-id', id, '--once'], {
        cwd: ws,
      });
      expect(r.exitCode, id).toBe(2);
      expect(r.stderr).toMatch(/E_USAGE: --worker-id .* is not a worker id/);
    }
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe('{}');
    expect(readFileSync(join(home, 'jobs.jsonl')).equals(before)).toBe(true);
  });

  it('work logs: a timestamp on every text line, and with --log-format json the error of a failed attempt', async () => {
    const { home, ws } = plane();
    const id = await enqueue(home, testRunnerSpec([['not-an-allowed-program']], { max_attempts: 1 }));
    const json = await cli(
      ['work', '--home', home, '--workspace', ws, '--worker-id', 'logger', '--once', '--log-format', 'json'],
      { cwd: ws },
    );
    expect(json.exitCode, json.stderr).toBe(0);
    const lines = json.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) {
      expect(l.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(l.worker_id).toBe('logger');
    }
    const failed = lines.find((l) => l.outcome === 'failed')!;
    expect(failed).toMatchObject({
      level: 'warn',
      job_id: id,
      attempt: 1,
      error: { code: 'E_PROGRAM_NOT_ALLOWED', retryable: false },
    });

    await enqueue(home, testRunnerSpec([['true']]));
    const text = await cli(['work', '--home', home, '--workspace', ws, '--once'], { cwd: ws });
    expect(text.exitCode, text.stderr).toBe(0);
    for (const line of text.stderr.trim().split('\n'))
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z execplane work: /);
  });
});

describe('retry', () => {
  it('redrives a failed job with attempts left (by operator, with the reason); refuses an exhausted one; --as-new copies it', async () => {
    const { home, ws } = plane();
    const id = await enqueue(home, testRunnerSpec([['not-an-allowed-program']], { max_attempts: 2 }));
    const run = () => cli(['work', '--home', home, '--workspace', ws, '--once', '--quiet'], { cwd: ws });
    expect((await run()).exitCode).toBe(0);
    const ledger = join(home, 'jobs.jsonl');

    const r = await cli(['retry', id, '--home', home, '--reason', 'allowlist fixed', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ job_id: id, status: 'queued', attempt: 2 });
    const last = JSON.parse(readFileSync(ledger, 'utf8').trimEnd().split('\n').at(-1)!) as Record<
      string,
      unknown
    >;
    expect(last).toMatchObject({
      event: 'retry',
      job_id: id,
      attempt: 2,
      by: 'operator',
      reason: 'allowlist fixed',
    });
    expect((last.not_before_unix as number) * 1000).toBeLessThanOrEqual(Date.parse(last.ts_utc as string));

    const shown = await cli(['show', id, '--home', home]);
    expect(shown.stdout).toMatch(/retry .*attempt 2 not before .* \(by operator\): allowlist fixed/);
    const long = await cli(['retry', id, '--home', home, '--reason', 'x'.repeat(1001)]);
    expect(long.exitCode).toBe(2);
    expect(long.stderr).toMatch(/E_USAGE: --reason is 1001 characters; at most 1000/);

    expect((await run()).exitCode).toBe(0);
    const before = readFileSync(ledger);
    const exhausted = await cli(['retry', id, '--home', home]);
    expect(exhausted.exitCode).toBe(1);
    expect(exhausted.stderr).toMatch(/E_ATTEMPTS_EXHAUSTED: .*all 2 attempts are used.*--as-new/);
    expect(readFileSync(ledger).equals(before)).toBe(true);

    const usage = await cli(['retry', id, '--home', home, '--as-new', '--reason', 'x']);
    expect(usage.exitCode).toBe(2);
    expect(readFileSync(ledger).equals(before)).toBe(true);

    const copy = await cli(['retry', id, '--home', home, '--as-new', '--json']);
    expect(copy.exitCode, copy.stderr).toBe(0);
    const { new_job_id } = JSON.parse(copy.stdout) as { new_job_id: string };
    expect(new_job_id).not.toBe(id);
    const enqueued = (jobId: string) =>
      readFileSync(ledger, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; job_id: string; job?: Record<string, unknown> })
        .find((e) => e.event === 'enqueue' && e.job_id === jobId)!.job as Record<string, unknown>;
    const { job_id: _a, created_at_utc: _b, ...copied } = enqueued(new_job_id);
    const { job_id: _c, created_at_utc: _d, ...originalSpec } = enqueued(id);
    expect(copied).toEqual(originalSpec);

    // The copy is queued: it is active, so a copy of it is refused; so is a plain retry of it.
    const active = await cli(['retry', new_job_id, '--home', home, '--as-new']);
    expect(active.exitCode).toBe(1);
    expect(active.stderr).toMatch(/E_JOB_ACTIVE: .* is queued/);
    const queued = await cli(['retry', new_job_id, '--home', home]);
    expect(queued.exitCode).toBe(1);
    expect(queued.stderr).toMatch(/E_ILLEGAL_TRANSITION/);
    const unknown = await cli(['retry', 'job-nope', '--home', home]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/E_UNKNOWN_JOB/);
    expect((await cli(['audit', '--home', home])).exitCode).toBe(0);
  });
});
