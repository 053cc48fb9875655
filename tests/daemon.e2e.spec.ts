/**
 * Issue 15's daemon mode with real processes: `work --daemon` holds its pid file, runs jobs, and
 * `stop --pid-file` ends it; a pid file that is stale, names a reused pid, or is held by some
 * other process is reported and its pid never signalled (S1 of src/ops/stop.ts, H1–H3 of
 * src/ops/pid-file.ts). Every wait polls under a deadline; nothing asserts how fast.
 */
import { execa, type ResultPromise } from 'execa';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import fsx from 'fs-native-extensions';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import { inspectPidFile } from '../src/ops/pid-file.js';
import { hasEnded, runningIdentity, type ProcessIdentity } from '../src/ops/proc.js';
import { execplane, requireDist } from './helpers/cli.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { waitForLedger } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-daemon-');
beforeAll(() => requireDist());

/** Processes a test started (daemons, sleeps): killed after each test if still the same process. */
const started: ProcessIdentity[] = [];
const children: ResultPromise[] = [];
const heldFds: number[] = [];
afterEach(async () => {
  for (const id of started.splice(0)) if (!hasEnded(id)) process.kill(id.pid, 'SIGKILL');
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await c.catch(() => undefined);
  }
  for (const fd of heldFds.splice(0)) closeSync(fd);
});

function plane() {
  const root = tmp();
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  mkdirSync(workspace);
  return { root, home, workspace, pidFile: join(root, 'run', 'w.pid'), logFile: join(root, 'run', 'w.log') };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `work --daemon` on the plane with its pid and log files, then `extra`; never throws on a non-zero exit. */
function runDaemon(
  p: ReturnType<typeof plane>,
  extra: readonly string[] = [],
  o: { env?: Record<string, string> } = {},
) {
  return execplane(
    [
      'work',
      '--daemon',
      '--home',
      p.home,
      '--workspace',
      p.workspace,
      '--pid-file',
      p.pidFile,
      '--log-file',
      p.logFile,
      ...extra,
    ],
    { cwd: p.workspace, timeoutMs: 60_000, ...(o.env ? { env: o.env } : {}) },
  );
}

async function startDaemon(p: ReturnType<typeof plane>) {
  const r = await runDaemon(p);
  expect(r.code, r.stderr).toBe(0);
  const pid = Number(r.stdout.trim());
  const id = runningIdentity(pid);
  expect(id, `daemon pid ${pid} is not running`).toBeDefined();
  started.push(id!);
  return { ...r, id: id! };
}

/** A process unrelated to execplane, for pid files to name. */
async function unrelatedProcess(): Promise<ProcessIdentity> {
  const child = execa('sleep', ['60'], { reject: false });
  children.push(child);
  return until('sleep to start', () => runningIdentity(child.pid!));
}

const record = (id: ProcessIdentity) =>
  `${JSON.stringify({ ...id, started_at_utc: new Date().toISOString(), command: 'work' })}\n`;

describe('work --daemon and stop --pid-file', () => {
  test('the daemon holds its pid file, runs a job, and stop ends it: exit 0, process gone, file removed', async () => {
    const p = plane();
    const d = await startDaemon(p);
    expect(d.stderr).toContain(`pid file ${p.pidFile}; log ${p.logFile}`);
    const held = inspectPidFile(p.pidFile);
    expect(held).toMatchObject({
      kind: 'live',
      record: { pid: d.id.pid, start_ticks: d.id.start_ticks, log_file: p.logFile },
    });
    await until('the worker to be ready', () =>
      /ready: /.test(readFileSync(p.logFile, 'utf8')) ? true : undefined,
    );

    const specs = join(p.root, 'specs.json');
    writeFileSync(specs, JSON.stringify([agentSpec({ prompt: 'daemon job' })]));
    const e = await execplane(['enqueue', '--home', p.home, '--file', specs]);
    expect(e.code, e.stderr).toBe(0);
    await waitForLedger(
      planePaths(p.home).ledger,
      (evs) => evs.some((ev) => ev.event === 'complete'),
      60_000,
    );

    const s = await execplane(['stop', '--pid-file', p.pidFile], { timeoutMs: 90_000 });
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(new RegExp(`^stopped pid ${d.id.pid}, .*\\(SIGTERM\\)\\n$`));
    expect(hasEnded(d.id)).toBe(true);
    expect(existsSync(p.pidFile)).toBe(false);
    expect(readFileSync(p.logFile, 'utf8')).toMatch(/SIGTERM received/);
  });

  test('a second daemon on a held pid file is refused before anything is spawned', async () => {
    const p = plane();
    const d = await startDaemon(p);
    const otherLog = join(p.root, 'other.log');
    const r = await execplane(
      [
        'work',
        '--daemon',
        '--home',
        p.home,
        '--workspace',
        p.workspace,
        '--pid-file',
        p.pidFile,
        '--log-file',
        otherLog,
      ],
      { cwd: p.workspace },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`E_PID_FILE_HELD: .*held by a running worker \\(pid ${d.id.pid}\\)`));
    expect(existsSync(otherLog)).toBe(false); // nothing was started
    expect(inspectPidFile(p.pidFile)).toMatchObject({ kind: 'live', record: { pid: d.id.pid } });
  });

  test('a daemon killed with -9 leaves a stale file: stop signals nothing, exits 1 and removes it', async () => {
    const p = plane();
    const d = await startDaemon(p);
    process.kill(d.id.pid, 'SIGKILL');
    await until('the daemon to end', () => (hasEnded(d.id) ? true : undefined));
    const s = await execplane(['stop', '--pid-file', p.pidFile]);
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/is stale: nobody holds it .*nothing signalled; the file was removed/);
    expect(existsSync(p.pidFile)).toBe(false);
  });

  test('a stale file naming a reused pid (a live process, another start time): stop exits 1 and the process lives', async () => {
    const p = plane();
    const other = await unrelatedProcess();
    mkdirSync(join(p.root, 'run'));
    writeFileSync(p.pidFile, record({ pid: other.pid, start_ticks: other.start_ticks + 1 }));
    const s = await execplane(['stop', '--pid-file', p.pidFile, '--json']);
    expect(s.code).toBe(1);
    expect(JSON.parse(s.stdout)).toMatchObject({ kind: 'stale', stopped: false, record: { pid: other.pid } });
    expect(hasEnded(other)).toBe(false);
  });

  test('a file held by one live process that names another (even with its right start time) is unverified: never signalled', async () => {
    const p = plane();
    const other = await unrelatedProcess();
    mkdirSync(join(p.root, 'run'));
    // This test process holds the lock; the record names the sleep, identity and all.
    const fd = openSync(p.pidFile, 'w+');
    heldFds.push(fd);
    expect(fsx.tryLock(fd)).toBe(true);
    writeSync(fd, record(other));
    const s = await execplane(['stop', '--pid-file', p.pidFile]);
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(
      new RegExp(`held by another process, not by pid ${other.pid} that it records; nothing signalled`),
    );
    expect(hasEnded(other)).toBe(false);
    expect(existsSync(p.pidFile)).toBe(true);
  });

  test('no pid file: stop exits 1 and says so', async () => {
    const p = plane();
    const s = await execplane(['stop', '--pid-file', p.pidFile]);
    expect(s.code).toBe(1);
    expect(s.stdout).toBe(`${p.pidFile} does not exist: nothing to stop\n`);
  });

  test('a worker that fails its start checks (malformed config.json): the daemon exits 2 with the E_CONFIG line, and leaves no pid file', async () => {
    const p = plane();
    mkdirSync(p.home, { recursive: true });
    writeFileSync(planePaths(p.home).config, '{"bogus":1}');
    const r = await runDaemon(p);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^execplane: E_CONFIG: .*config\.json/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(p.pidFile)).toBe(false);
    expect(existsSync(p.logFile)).toBe(false); // nothing was spawned
  });

  test('a bad --worker-id or a missing --workspace with --daemon: exit 2, one line, no log and no pid file', async () => {
    const p = plane();
    for (const flags of [
      ['--workspace', p.workspace, '--worker-id', 'bad id'],
      ['--workspace', join(p.root, 'nope')],
    ]) {
      const r = await execplane(
        ['work', '--daemon', '--home', p.home, '--pid-file', p.pidFile, '--log-file', p.logFile, ...flags],
        {
          cwd: p.workspace,
          timeoutMs: 20_000,
        },
      );
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^execplane: E_USAGE: /);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(existsSync(p.logFile)).toBe(false);
      expect(existsSync(p.pidFile)).toBe(false);
    }
  });

  test('--lease-sec too short with --daemon: exit 2 at once, nothing spawned', async () => {
    const p = plane();
    const r = await execplane(
      ['work', '--daemon', '--home', p.home, '--lease-sec', '0.1', '--pid-file', p.pidFile],
      {
        cwd: p.workspace,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('execplane: E_USAGE: --lease-sec must be at least 0.3\n');
    expect(existsSync(p.pidFile)).toBe(false);
  });

  test('EXECPLANE_DAEMON_CHILD in the environment changes nothing: a foreground work still refuses --log-file, and --daemon still starts a daemon', async () => {
    const p = plane();
    const env = { EXECPLANE_DAEMON_CHILD: '1' };
    const fg = await execplane(['work', '--home', p.home, '--max-idle-sec', '1', '--log-file', p.logFile], {
      cwd: p.workspace,
      env,
    });
    expect(fg.code).toBe(2);
    expect(fg.stderr).toMatch(/E_USAGE: --log-file goes with --daemon/);
    const r = await runDaemon(p, [], { env });
    expect(r.code, r.stderr).toBe(0);
    const pid = Number(r.stdout.trim());
    started.push(runningIdentity(pid)!);
    expect(inspectPidFile(p.pidFile)).toMatchObject({ kind: 'live', record: { pid } });
    // The child's argv is the parent's, --daemon included (D5).
    expect(inspectPidFile(p.pidFile)).toMatchObject({
      record: { argv: expect.arrayContaining(['--daemon']) },
    });
  });
});

describe('stop and --pid-file never touch what is not a pid file (H6 of src/ops/pid-file.ts)', () => {
  async function demoPlane() {
    const p = plane();
    const e = await execplane(['enqueue', '--home', p.home, '--demo']);
    expect(e.code, e.stderr).toBe(0);
    return { ...p, ledger: planePaths(p.home).ledger, text: readFileSync(planePaths(p.home).ledger, 'utf8') };
  }

  test('stop --pid-file <the ledger> --home: exit 2, one line, the ledger intact', async () => {
    const p = await demoPlane();
    const s = await execplane(['stop', '--home', p.home, '--pid-file', p.ledger]);
    expect(s.code).toBe(2);
    expect(s.stderr).toBe(
      `execplane: E_PID_FILE: --pid-file ${p.ledger} is a file of the plane at ${p.home}, not a pid file; give a path of its own\n`,
    );
    expect(readFileSync(p.ledger, 'utf8')).toBe(p.text);
  });

  test('stop on a file with no pid record, even one flock(2)ed by another process: exit 1, nothing signalled, the file kept', async () => {
    const p = plane();
    const file = join(p.root, 'foreign.pid');
    writeFileSync(file, '999\n');
    const holder = execa('flock', [file, 'sleep', '30'], { reject: false, stdio: 'ignore' });
    children.push(holder);
    const s = await execplane(['stop', '--pid-file', file]);
    expect(s.code).toBe(1);
    expect(s.stdout).toBe(
      `${file}: nobody holds it and it records no pid and start time: not a pid file; nothing signalled\n`,
    );
    expect(readFileSync(file, 'utf8')).toBe('999\n');
  });

  test('stop on a FIFO, a device or a symlink: exit 2 at once, one line', async () => {
    const p = plane();
    const fifo = join(p.root, 'fifo');
    await execa('mkfifo', [fifo]);
    const link = join(p.root, 'link.pid');
    writeFileSync(join(p.root, 'target'), record({ pid: 999_999, start_ticks: 1 }));
    symlinkSync(join(p.root, 'target'), link);
    for (const [file, says] of [
      [fifo, 'is not a regular file'],
      ['/dev/zero', 'lies under /dev'],
      [link, 'is a symbolic link'],
    ] as const) {
      const s = await execplane(['stop', '--pid-file', file], { timeoutMs: 20_000 });
      expect(s.code, file).toBe(2);
      expect(s.stderr).toMatch(new RegExp(`^execplane: E_PID_FILE: --pid-file ${file} ${says}.*\\n$`));
    }
    expect(existsSync(join(p.root, 'target'))).toBe(true);
  });

  test('work --pid-file <the ledger>, <config.json>, a symlink or a non-pid file: exit 2, nothing changed', async () => {
    const p = await demoPlane();
    const config = planePaths(p.home).config;
    writeFileSync(config, '{}\n');
    const precious = join(p.root, 'precious.txt');
    writeFileSync(precious, 'secret\n');
    const link = join(p.root, 'sym.pid');
    symlinkSync(precious, link);
    for (const [flags, says] of [
      [['--pid-file', p.ledger], 'is a file of the plane'],
      [['--pid-file', config], 'is a file of the plane'],
      [['--pid-file', link], 'is a symbolic link'],
      [['--pid-file', precious], 'exists and is not a pid file'],
      [['--daemon', '--log-file', p.ledger], 'E_LOG_FILE: --log-file .* is a file of the plane'],
      [['--daemon', '--log-file', link], 'E_LOG_FILE: --log-file .* is a symbolic link'],
      [['--pid-file', '/proc/execplane/w.pid'], 'lies under /proc'],
    ] as const) {
      const r = await execplane(['work', '--home', p.home, '--max-idle-sec', '1', ...flags], {
        cwd: p.workspace,
        timeoutMs: 20_000,
      });
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(says));
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(p.ledger, 'utf8')).toBe(p.text);
    expect(readFileSync(config, 'utf8')).toBe('{}\n');
    expect(readFileSync(precious, 'utf8')).toBe('secret\n');
  });

  test("--log-file that is another file under another name, another plane's ledger or a pid file: exit 2, the file unchanged", async () => {
    const p = await demoPlane();
    const other = await demoPlane();
    const linkedPlane = await demoPlane();
    const linked = join(p.root, 'linked.log');
    linkSync(linkedPlane.ledger, linked);
    const running = plane();
    const d = await startDaemon(running);
    const pidText = readFileSync(running.pidFile, 'utf8');
    for (const [file, says] of [
      [linked, 'has 2 names \\(hard links\\)'],
      [other.ledger, 'already holds something that is not a worker log'],
      [running.pidFile, 'already holds something that is not a worker log'],
    ] as const) {
      const r = await execplane(
        [
          'work',
          '--daemon',
          '--home',
          p.home,
          '--workspace',
          p.workspace,
          '--pid-file',
          join(p.root, 'x.pid'),
          '--log-file',
          file,
        ],
        { cwd: p.workspace, timeoutMs: 20_000 },
      );
      expect(r.code, file).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`E_LOG_FILE: --log-file .* ${says}`));
    }
    expect(readFileSync(other.ledger, 'utf8')).toBe(other.text);
    expect(readFileSync(linkedPlane.ledger, 'utf8')).toBe(linkedPlane.text);
    expect(readFileSync(running.pidFile, 'utf8')).toBe(pidText);
    expect(inspectPidFile(running.pidFile)).toMatchObject({ kind: 'live', record: { pid: d.id.pid } });
    // Its own log, from an earlier start, is a log: appended to.
    expect((await execplane(['stop', '--pid-file', running.pidFile], { timeoutMs: 90_000 })).code).toBe(0);
    await startDaemon(running);
    expect((await execplane(['stop', '--pid-file', running.pidFile], { timeoutMs: 90_000 })).code).toBe(0);
    expect(readFileSync(running.logFile, 'utf8').match(/ready: /g)).toHaveLength(2);
  });

  test('a daemon whose --worker-id a running worker has: exit 1 with E_WORKER_ID_IN_USE, no pid file left', async () => {
    const p = plane();
    const a = await runDaemon(p, ['--worker-id', 'ci-1']);
    expect(a.code, a.stderr).toBe(0);
    started.push(runningIdentity(Number(a.stdout.trim()))!);
    const second = join(p.root, 'run', 'second.pid');
    const b = await execplane(
      [
        'work',
        '--daemon',
        '--home',
        p.home,
        '--workspace',
        p.workspace,
        '--worker-id',
        'ci-1',
        '--pid-file',
        second,
        '--log-file',
        join(p.root, 'run', 'second.log'),
      ],
      { cwd: p.workspace, timeoutMs: 60_000 },
    );
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/E_WORKER_ID_IN_USE/);
    expect(existsSync(second)).toBe(false);
    expect((await execplane(['stop', '--pid-file', p.pidFile], { timeoutMs: 90_000 })).code).toBe(0);
  });
});
