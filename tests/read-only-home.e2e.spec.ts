/**
 * A plane on a read-only filesystem, or one this user may read but not write (F14 and the last
 * two points of F13 of the 2026-12 reliability review):
 *
 * - every read command (`replay`, `replay --json`, `show`, `head`, `audit`) works and prints what
 *   it prints on a writable home; `replay`, which would refresh checkpoint.json after 10,000 lines,
 *   says in at most one warning line that it could not;
 * - every writer (`enqueue`, `cancel`, `kill-switch on`, `work --once`, `reap`) exits 1 with one
 *   `E_IO` line naming EROFS, the path and the fix: no "internal error", no stack trace.
 *
 * The home is made read-only with a bind mount (`mount --bind H RO; mount -o remount,bind,ro RO`),
 * which needs root; the foreign home is read as user nobody (setpriv).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHead } from '../src/audit/head.js';
import { Plane } from '../src/plane.js';
import { generateLedger } from './bench/gen-ledger.js';
import { BIN, execplane, requireDist, ROOT, type CliResult } from './helpers/cli.js';
import { agentSpec } from './helpers/specs.js';
import { osPart } from './helpers/os-parts.js';

const EVENTS = 10_500; // over the 10,000 lines after which replay refreshes checkpoint.json
const NOBODY = 65534;

const isRoot = process.getuid?.() === 0;

function run(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether this process can bind-mount a directory read-only (root, and mounts allowed here). */
function canMountReadOnly(): boolean {
  if (!isRoot) return false;
  const dir = mkdtempSync(join(tmpdir(), 'execplane-mount-probe-'));
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  try {
    if (!run('mount', ['--bind', dir, ro])) return false;
    const ok = run('mount', ['-o', 'remount,bind,ro', ro]);
    run('umount', [ro]);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const MOUNT = osPart(
  canMountReadOnly(),
  `the read-only home tests need ${isRoot ? '`mount --bind`, which is not permitted here' : 'root, to bind-mount a home read-only'}`,
);

/** Whether user nobody can run this checkout's CLI (it cannot under a /root it may not enter). */
function nobodyCanRun(): boolean {
  return (
    isRoot &&
    run('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      '-e',
      `for (const f of process.argv.slice(1)) require('fs').accessSync(f, require('fs').constants.R_OK)`,
      BIN,
      join(ROOT, 'dist/src/cli/main.js'),
      join(ROOT, 'node_modules/commander/package.json'),
    ])
  );
}
const NOBODY_RUNS = nobodyCanRun();
if (isRoot && !NOBODY_RUNS)
  console.warn(
    `skipping replay as user nobody: nobody cannot read this checkout (${ROOT}) or setpriv is missing`,
  );
const SETPRIV = osPart(
  isRoot && run('setpriv', ['--inh-caps=-all', '--bounding-set=-all', 'true']),
  'the unwritable-home tests need root and setpriv (util-linux)',
);

/** All of this file's directories, under one root: unmounted first, then removed, in afterAll. */
const root = mkdtempSync(join(tmpdir(), 'execplane-ro-home-'));
const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted.reverse()) if (!run('umount', [dir])) run('umount', ['-l', dir]);
  rmSync(root, { recursive: true, force: true });
});

const home = join(root, 'home'); // writable: the source of the bind mount
const ro = join(root, 'ro'); // the same directory, read-only
const ledger = join(home, 'jobs.jsonl');
const workspace = join(root, 'ws');
const specFile = join(root, 'spec.json');
let someJob = '';

function expectOneLine(r: CliResult, pattern: RegExp): void {
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/internal error|^\s+at |Node\.js v|please report/m);
}

const filesOf = (dir: string) =>
  Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).size]));

beforeAll(() => {
  requireDist();
  mkdirSync(home);
  mkdirSync(ro);
  mkdirSync(workspace);
  writeFileSync(specFile, JSON.stringify(agentSpec()));
  generateLedger(ledger, { events: EVENTS, jobs: 1_000, seed: 14 });
  someJob = /"job_id":"(job-[a-z0-9]+)"/.exec(readFileSync(ledger, 'utf8'))![1]!;
  if (MOUNT) {
    execFileSync('mount', ['--bind', home, ro]);
    mounted.push(ro);
    execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
  }
});

describe.skipIf(!MOUNT)('a home on a read-only filesystem (bind mount, ro)', () => {
  it('is read-only indeed', () => {
    expect(() => writeFileSync(join(ro, 'probe'), '')).toThrow(/EROFS/);
  });

  it('replay, replay --json, show, head and audit exit 0 and print what they print on a writable home', async () => {
    const plane = Plane.openLedgerFile(ledger);
    const report = plane.report();
    const head = formatHead(plane.state.head);
    plane.close();
    const before = filesOf(home);

    // A writable copy: what replay must print, and proof that it refreshes checkpoint.json there
    // (so the read-only replay did meet a write it could not make).
    const rw = join(root, 'rw');
    mkdirSync(rw);
    copyFileSync(ledger, join(rw, 'jobs.jsonl'));
    const [replay, replayJson, replayExpected] = await Promise.all([
      execplane(['replay', '--home', ro]),
      execplane(['replay', '--home', ro, '--json']),
      execplane(['replay', '--home', rw]),
    ]);
    expect([replayExpected.code, replayExpected.stderr]).toEqual([0, '']);
    expect(existsSync(join(rw, 'checkpoint.json'))).toBe(true);
    for (const r of [replay, replayJson]) {
      expect(r.code).toBe(0);
      // At most one line, and only this one: the checkpoint is a cache, written when it can be.
      if (r.stderr)
        expectOneLine(r, /^execplane: warning: checkpoint\.json not refreshed \(EROFS\)[^\n]*\n$/);
    }
    expect(replay.stdout).toBe(replayExpected.stdout);
    expect(replay.stdout).toContain(`state digest  ${report.state_digest}\n`);
    expect(JSON.parse(replayJson.stdout)).toMatchObject({ version: 1, ...report });

    const [show, showJson, showExpected] = await Promise.all([
      execplane(['show', someJob, '--home', ro]),
      execplane(['show', someJob, '--home', ro, '--json']),
      execplane(['show', someJob, '--ledger', ledger]),
    ]);
    expect([show.code, show.stderr, showJson.code, showJson.stderr]).toEqual([0, '', 0, '']);
    expect(show.stdout).toBe(showExpected.stdout);
    expect(show.stdout).toMatch(new RegExp(`^${someJob}  `));
    expect((JSON.parse(showJson.stdout) as { job_id: string }).job_id).toBe(someJob);

    const [headR, audit] = await Promise.all([
      execplane(['head', '--home', ro]),
      execplane(['audit', '--home', ro]),
    ]);
    expect([headR.code, headR.stderr, headR.stdout]).toEqual([0, '', `${head}\n`]);

    expect([audit.code, audit.stderr]).toEqual([0, '']);
    expect(audit.stdout).toBe(`${join(ro, 'jobs.jsonl')}: intact, ${EVENTS} event(s), head ${head}\n`);

    expect(filesOf(home)).toEqual(before); // nothing was written, checkpoint.json included
    expect(existsSync(join(home, 'checkpoint.json'))).toBe(false);
  });

  it('writers (enqueue, cancel, kill-switch on, work --once, reap) exit 1 with one E_IO line naming EROFS, the path and the fix', async () => {
    const before = filesOf(home);
    const writers: string[][] = [
      ['enqueue', '--file', specFile],
      ['cancel', someJob],
      ['kill-switch', 'on'],
      ['kill-switch', 'on', '--reason', 'disk almost full'],
      ['work', '--once', '--quiet', '--workspace', workspace],
      ['reap'],
    ];
    for (const args of writers) {
      const r = await execplane([...args, '--home', ro], { cwd: workspace });
      expect(r.code, args.join(' ')).toBe(1);
      expectOneLine(
        r,
        new RegExp(
          `^execplane: E_IO: EROFS on ${ro}/(jobs\\.lock|KILL_SWITCH[^:]*): the filesystem is read-only; ` +
            'remount it read-write, or use a --home on a writable one\\n$',
        ),
      );
      expect(r.stdout).toBe('');
    }
    expect(filesOf(home)).toEqual(before);
  });
});

describe.skipIf(!SETPRIV)('a home this user may read but not write', () => {
  /** A copy of the plane, readable by all, writable by its owner only. */
  function foreignHome(owner: number): string {
    const dir = join(root, `foreign-${owner}`);
    mkdirSync(dir);
    copyFileSync(ledger, join(dir, 'jobs.jsonl'));
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'jobs.jsonl'), 0o644);
    chownSync(dir, owner, owner);
    chownSync(join(dir, 'jobs.jsonl'), owner, owner);
    return dir;
  }

  async function replayAs(prefix: string[], dir: string): Promise<CliResult> {
    const r = await execa('setpriv', [...prefix, process.execPath, BIN, 'replay', '--home', dir], {
      reject: false,
      cwd: '/',
      env: { NO_COLOR: '1', EXECPLANE_HOME: undefined, EXECPLANE_DEBUG: undefined },
      extendEnv: true,
      stripFinalNewline: false,
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  let expected: string | undefined;

  async function expectReplays(r: CliResult, dir: string): Promise<void> {
    expect(r.code).toBe(0);
    if (r.stderr) expectOneLine(r, /^execplane: warning: checkpoint\.json not refreshed \(EACCES\)[^\n]*\n$/);
    expected ??= (await execplane(['replay', '--ledger', ledger])).stdout;
    expect(r.stdout).toBe(expected);
    expect(readdirSync(dir)).toEqual(['jobs.jsonl']);
  }

  it.skipIf(!NOBODY_RUNS)(
    'replay as user nobody, on a root-owned home, exits 0 with the whole report',
    async () => {
      const dir = foreignHome(0);
      await expectReplays(
        await replayAs([`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'], dir),
        dir,
      );
    },
  );

  // The same, where nobody may not read this checkout (CI under /root): root without any
  // capability, on a home nobody owns, is a user who may read it and not write it.
  it.skipIf(!SETPRIV)(
    'replay as root without capabilities, on a home nobody owns, exits 0 with the whole report',
    async () => {
      const dir = foreignHome(NOBODY);
      await expectReplays(await replayAs(['--inh-caps=-all', '--bounding-set=-all'], dir), dir);
    },
  );
});

describe('a --home that is not a directory (F13)', () => {
  it('is a usage error on every command: exit 2, one line, no stack trace', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '{}');
    const commands: string[][] = [
      ['enqueue', '--file', specFile],
      ['cancel', 'job-0000000001'],
      ['kill-switch', 'on'],
      ['work', '--once', '--quiet', '--workspace', workspace],
      ['reap'],
      ['replay'],
      ['show', 'job-0000000001'],
      ['head'],
      ['audit'],
    ];
    const runs = commands.flatMap((args) =>
      [file, join(file, 'below')].map(async (home) => ({
        what: `${args.join(' ')} --home ${home}`,
        home,
        r: await execplane([...args, '--home', home], { cwd: workspace }),
      })),
    );
    for (const { what, home, r } of await Promise.all(runs)) {
      expect(r.code, what).toBe(2);
      expectOneLine(
        r,
        home === file
          ? /is not a directory; a home is a directory/
          : /a part of the path is not a directory \(ENOTDIR\); a home is a directory/,
      );
    }
    const env = await execplane(['enqueue', '--file', specFile], { env: { EXECPLANE_HOME: file } });
    expect(env.code).toBe(2);
    expectOneLine(env, /from env 'EXECPLANE_HOME' is invalid\. .* is not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('{}');
  });
});
