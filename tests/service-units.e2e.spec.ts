/**
 * Issue 15's "units checked with systemd-analyze verify": the units `execplane service print`
 * writes, checked by systemd's own parser (Debian's systemd ships systemd-analyze even where
 * systemd does not run). It exits 0 on unknown keys and bad escapes, so its stderr must be empty.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, test } from 'vitest';
import { BIN, execplane, requireDist } from './helpers/cli.js';
import { osPart } from './helpers/os-parts.js';
import { useTmpDirs } from './helpers/tmp.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const HAVE_ANALYZE = osPart(existsSync(ANALYZE), `${ANALYZE} is missing (apt-get install systemd)`);
const tmp = useTmpDirs('execplane-units-');

beforeAll(() => requireDist());

/** Writes `text` as `name` in a fresh directory and runs `systemd-analyze verify --user` on it. */
async function verify(name: string, text: string) {
  const dir = tmp();
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const file = join(dir, name);
  writeFileSync(file, text);
  // A user manager's paths need XDG_RUNTIME_DIR; none runs here, so a fresh one will do.
  const r = await execa(ANALYZE, ['verify', '--user', '--man=no', file], {
    reject: false,
    env: { XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_LEVEL: 'info' },
    timeout: 60_000,
  });
  return { code: r.exitCode, stderr: String(r.stderr), stdout: String(r.stdout) };
}

function plane(config?: object) {
  const root = tmp();
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  mkdirSync(home);
  mkdirSync(workspace);
  if (config) writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  return { root, home, workspace };
}

describe.runIf(HAVE_ANALYZE)('service units pass systemd-analyze verify', () => {
  test('worker unit: Type=exec, SIGTERM with TimeoutStopSec above the grace, no restart on exit 2 or 3', async () => {
    const p = plane();
    // A workspace whose path systemd would misread unquoted: spaces, quotes, %, $.
    const workspace = join(p.root, 'ws 1 "quoted" 50% $HOME');
    mkdirSync(workspace);
    const r = await execplane([
      'service',
      'print',
      'worker',
      '--home',
      p.home,
      '--workspace',
      workspace,
      '--slots',
      '3',
      '--grace-sec',
      '20',
      '--worker-id',
      'w-1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const unit = r.stdout;
    expect(unit).toMatch(/^Type=exec$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^TimeoutStopSec=35$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2 3$/m);
    expect(unit).toContain(`ExecStart=${process.execPath} ${BIN} work --home ${p.home} --workspace "`);
    expect(unit).toContain(`/ws 1 \\"quoted\\" 50%% $$HOME" --slots 3`);
    expect(unit).toContain('--worker-id w-1');
    const v = await verify('execplane-worker.service', unit);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);

    // What `work` would refuse at every start is refused now, not in a restart loop.
    for (const bad of [
      ['--worker-id', 'w 1'],
      ['--lease-sec', '0.1'],
    ]) {
      const refused = await execplane([
        'service',
        'print',
        'worker',
        '--home',
        p.home,
        '--workspace',
        p.workspace,
        ...bad,
      ]);
      expect(refused.code, bad.join(' ')).toBe(2);
      expect(refused.stderr).toMatch(/^execplane: E_USAGE: /);
    }
  });

  test('model unit from config.json: port-guard before each start, a start limit, awkward argv quoted', async () => {
    // The program's own path holds a space and a '%': verify checks that the file exists, so it
    // passes only if systemd reads the path back exactly.
    const bin = join(tmp(), 'model server 100%', 'serve');
    mkdirSync(join(bin, '..'));
    copyFileSync('/bin/true', bin);
    chmodSync(bin, 0o755);
    const p = plane({
      model_server: {
        argv: [bin, '--model', 'my "model" it\'s', '--x', '50% $HOME ${PATH} \\n', ';'],
        port: 8001,
        working_directory: '/tmp',
      },
    });
    const r = await execplane(['service', 'print', 'model', '--home', p.home]);
    expect(r.code, r.stderr).toBe(0);
    const unit = r.stdout;
    expect(unit).toContain(`ExecStartPre=${process.execPath} ${BIN} port-guard 8001 --home ${p.home}`);
    expect(unit).toMatch(/^StartLimitIntervalSec=300$/m);
    expect(unit).toMatch(/^StartLimitBurst=5$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^TimeoutStartSec=50$/m); // 2 × (5 s + 5 s) + 30
    expect(unit).toContain(
      `ExecStart="${bin.replace('%', '%%')}" --model "my \\"model\\" it's" --x "50%% $$HOME $\${PATH} \\\\n" ";"`,
    );
    const v = await verify('execplane-model.service', unit);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
  });

  test("model unit with port_guard.grace_ms 120000: TimeoutStartSec=280, above the guard's 250 s worst case; verify passes", async () => {
    const p = plane({ model_server: { argv: ['/bin/true'], port: 8001 }, port_guard: { grace_ms: 120_000 } });
    const r = await execplane(['service', 'print', 'model', '--home', p.home]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^TimeoutStartSec=280$/m);
    const v = await verify('execplane-model.service', r.stdout);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
  });

  test('verify does catch a unit systemd cannot run (the check is real)', async () => {
    const v = await verify(
      'execplane-model.service',
      '[Service]\nType=exec\nExecStart=/nonexistent/x "a"\nBogus=1\n',
    );
    expect(v.stderr).toMatch(/Bogus|not executable/);
  });
});

describe('service refusals and install', () => {
  test('model without model_server in config.json: exit 2, one line naming the fix', async () => {
    const p = plane();
    const r = await execplane(['service', 'print', 'model', '--home', p.home]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^execplane: E_CONFIG: .*no model_server; add "model_server"/);
  });

  test('a control character in model_server.argv: exit 2 (E_UNIT_VALUE), nothing printed', async () => {
    const p = plane({ model_server: { argv: ['/bin/true', 'a\nExecStartPost=/bin/rm'], port: 8001 } });
    const r = await execplane(['service', 'print', 'model', '--home', p.home]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/E_UNIT_VALUE: .*control character/);
  });

  test('worker flags with the model unit are refused', async () => {
    const p = plane({ model_server: { argv: ['/bin/true'], port: 8001 } });
    const r = await execplane(['service', 'print', 'model', '--home', p.home, '--slots', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--slots shapes the worker's unit/);
  });

  test('install with no user bus: the unit is written, and the message says it was not loaded', async () => {
    const p = plane();
    const config = join(p.root, 'config');
    const runtime = join(p.root, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const env = {
      XDG_CONFIG_HOME: config,
      // No user manager behind these, here or on a developer's desktop.
      XDG_RUNTIME_DIR: runtime,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(runtime, 'no-bus')}`,
    };
    const r = await execplane(
      ['service', 'install', 'worker', '--home', p.home, '--workspace', p.workspace],
      {
        env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const file = join(config, 'systemd', 'user', 'execplane-worker.service');
    expect(r.stdout).toBe(`wrote ${file}\n`);
    expect(r.stderr).toMatch(/execplane-worker\.service was written but NOT loaded: there is no user bus/);
    expect(r.stderr).toMatch(/execplane work --daemon/);
    const printed = await execplane([
      'service',
      'print',
      'worker',
      '--home',
      p.home,
      '--workspace',
      p.workspace,
    ]);
    expect(readFileSync(file, 'utf8')).toBe(printed.stdout);

    const j = await execplane(
      [
        'service',
        'install',
        'worker',
        '--home',
        p.home,
        '--workspace',
        p.workspace,
        '--instance',
        'b',
        '--json',
      ],
      { env },
    );
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      unit: 'execplane-worker-b.service',
      path: join(config, 'systemd', 'user', 'execplane-worker-b.service'),
      loaded: false,
      no_user_bus: true,
    });
  });
});
