/**
 * Issue 5 with real processes: each test enqueues a job with `execplane enqueue` and runs it with
 * `execplane work --once`, then checks what the ledger, the evidence and the process table say.
 * docs/spec.md §9's sandbox failures are the rows: bash -c ran anything, the network was never blocked,
 * grandchildren survived timeouts, output was buffered whole, non-UTF-8 output crashed the
 * worker. Nothing asserts how fast anything was.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import type { CompleteEvent, FailEvent } from '../src/schema/types.generated.js';
import { ledgerEvents } from './helpers/ledger.js';
import { cli } from './helpers/procs.js';
import {
  evidenceJson,
  expectEvidenceMatches,
  freshPlane,
  hostProcessesWith,
  uniqueSleep,
  runJobViaCli,
  testRunnerSpec,
  writeConfig,
  type JobRun,
  type Plane,
} from './helpers/sandbox.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-sandbox-');

/** Scripts the jobs run with `node <script>` (node is allowlisted; inline code is not). */
const SCRIPTS: Record<string, string> = {
  // Starts a grandchild that sleeps for argv[2] seconds (a marker the test finds it by on the
  // host), says so in the workspace, then waits forever.
  'grandchild.js': `
    const { spawn } = require('node:child_process');
    spawn('sleep', [process.argv[2]], { stdio: 'ignore' });
    require('node:fs').writeFileSync('started', 'yes');
    setInterval(() => {}, 1000);`,
  'printenv.js': `process.stdout.write(JSON.stringify(process.env));`,
  'connect.js': `
    const s = require('node:net').connect(Number(process.argv[2]), '127.0.0.1');
    s.on('connect', () => { console.log('connected'); s.end(); });
    s.on('error', (e) => { console.log('error ' + e.code); process.exitCode = 3; });`,
  'flood.js': `
    require('node:fs').writeFileSync('started', String(process.argv[2]));
    const chunk = Buffer.alloc(65536, 120);
    let left = 50 * 1024 * 1024;
    (function write() {
      while (left > 0) { left -= chunk.length; if (!process.stdout.write(chunk)) return process.stdout.once('drain', write); }
    })();`,
  'bad-utf8.js': `
    process.stdout.write(Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0a]));
    process.stderr.write(Buffer.from([0xed, 0xa0, 0x80, 0xc0, 0xaf]));`,
};

function planeWithScripts(): Plane {
  const p = freshPlane(tmp());
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(p.workspace, name), text);
  return p;
}

const failed = (run: JobRun) => {
  expect(run.end.event, JSON.stringify(run.end)).toBe('fail');
  return run.end as FailEvent;
};
const completed = (run: JobRun) => {
  expect(run.end.event, JSON.stringify(run.end)).toBe('complete');
  return run.end as CompleteEvent;
};
const stdoutOf = (run: JobRun, n: number) =>
  readFileSync(join(run.evidenceDir, `attempt-1/call-${String(n).padStart(2, '0')}.stdout`));

interface CallRecord {
  args: string[];
  env_names: string[];
  result: { exit_code: number | null; timed_out: boolean; stdout_truncated: boolean; stdout_bytes: number };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('processes', () => {
  test('a timeout kills the whole tree: the grandchild is gone afterwards', async () => {
    const p = planeWithScripts();
    const marker = uniqueSleep();
    const run = await runJobViaCli(
      p,
      testRunnerSpec([['node', 'grandchild.js', marker]], { timeout_sec: 1 }),
    );
    const end = completed(run);
    expect(end.result).toMatchObject({ commands: 1, passed: 0, failed: 1, timed_out: 1 });
    expect(readFileSync(join(p.workspace, 'started'), 'utf8')).toBe('yes');
    expect(hostProcessesWith(`sleep\0${marker}`)).toEqual([]);
    expectEvidenceMatches(run);
  });

  test('the wall-time budget kills a running command then, not after it ends: fail E_BUDGET_WALL_TIME', async () => {
    const p = planeWithScripts();
    const marker = uniqueSleep();
    const run = await runJobViaCli(
      p,
      testRunnerSpec([['node', 'grandchild.js', marker]], {
        timeout_sec: 3600,
        budgets: { max_wall_time_sec: 1 },
      }),
    );
    expect(failed(run).error.code).toBe('E_BUDGET_WALL_TIME');
    expect(readFileSync(join(p.workspace, 'started'), 'utf8')).toBe('yes');
    expect(hostProcessesWith(`sleep\0${marker}`)).toEqual([]);
    // The killed command's evidence is still recorded by the fail event.
    expect(run.end.evidence?.map((f) => f.path)).toContain('attempt-1/call-01.json');
    expectEvidenceMatches(run);
  });

  test('a secret in the worker’s environment is not visible to a command; env_allow names are', async () => {
    const p = planeWithScripts();
    writeConfig(p, { sandbox: { env_allow: ['EXECPLANE_T_VISIBLE'] } });
    const run = await runJobViaCli(
      p,
      testRunnerSpec([['node', 'printenv.js']], { env_allow: ['EXECPLANE_T_VISIBLE'] }),
      {
        env: { EXECPLANE_T_SECRET: 'hunter2-secret', EXECPLANE_T_VISIBLE: 'shown' },
      },
    );
    completed(run);
    const env = JSON.parse(stdoutOf(run, 1).toString()) as Record<string, string>;
    expect(JSON.stringify(env)).not.toContain('hunter2-secret');
    expect(Object.keys(env).sort()).toEqual(['EXECPLANE_T_VISIBLE', 'PATH']);
    expect(env.EXECPLANE_T_VISIBLE).toBe('shown');
    expect(evidenceJson<CallRecord>(run, 'attempt-1/call-01.json').env_names).toEqual([
      'EXECPLANE_T_VISIBLE',
      'PATH',
    ]);
  });

  test('50 MB of output with a 64 KiB budget: the file is capped, the tree is killed, fail E_BUDGET_OUTPUT', async () => {
    const p = planeWithScripts();
    const marker = `flood-${uniqueSleep()}`;
    const run = await runJobViaCli(
      p,
      testRunnerSpec([['node', 'flood.js', marker]], { budgets: { max_output_bytes: 65_536 } }),
    );
    const end = failed(run);
    expect(end.error.code).toBe('E_BUDGET_OUTPUT');
    expect(end.usage.output_bytes).toBeLessThanOrEqual(65_536);
    expect(stdoutOf(run, 1).length).toBeLessThanOrEqual(65_536);
    const call = evidenceJson<CallRecord>(run, 'attempt-1/call-01.json');
    expect(call.result.stdout_truncated).toBe(true);
    expect(call.result.stdout_bytes).toBeGreaterThan(65_536);
    expect(readFileSync(join(p.workspace, 'started'), 'utf8')).toBe(marker);
    expect(hostProcessesWith(marker)).toEqual([]);
    expectEvidenceMatches(run);
  });

  test('invalid UTF-8 output is kept byte for byte and the job ends normally', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(
      p,
      testRunnerSpec([
        ['node', 'bad-utf8.js'],
        ['echo', 'after'],
      ]),
    );
    expect(completed(run).result).toMatchObject({ commands: 2, passed: 2 });
    expect([...stdoutOf(run, 1)]).toEqual([0x6f, 0x6b, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0a]);
    expect([...readFileSync(join(run.evidenceDir, 'attempt-1/call-01.stderr'))]).toEqual([
      0xed, 0xa0, 0x80, 0xc0, 0xaf,
    ]);
    expect(stdoutOf(run, 2).toString()).toBe('after\n');
    expectEvidenceMatches(run);
  });

  test('a non-zero exit is a finding in the result, not a failed job', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(p, testRunnerSpec([['true'], ['false'], ['node', 'missing-script.js']]));
    const end = completed(run);
    expect(end.result).toMatchObject({ commands: 3, passed: 1, failed: 2, timed_out: 0 });
    const results = (end.result as { results: { exit_code: number }[] }).results;
    expect(results.map((r) => r.exit_code)).toEqual([0, 1, 1]);
  });
});

describe('network policy, enforced by the OS', () => {
  async function listener(): Promise<{ port: number; connections: () => number }> {
    let n = 0;
    const server = createServer((sock) => {
      n += 1;
      sock.end();
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as { port: number }).port, connections: () => n };
  }

  test('allow_network:false cannot reach a listener on the host’s 127.0.0.1; allow_network:true can', async () => {
    const p = planeWithScripts();
    const { port, connections } = await listener();
    const blocked = await runJobViaCli(p, testRunnerSpec([['node', 'connect.js', String(port)]]));
    expect(completed(blocked).result).toMatchObject({ failed: 1 });
    expect(stdoutOf(blocked, 1).toString()).toMatch(/^error E/);
    expect(connections()).toBe(0);
    const header = evidenceJson<{ sandbox: { network_mode: string } }>(blocked, 'attempt-1/run-header.json');
    expect(header.sandbox.network_mode).toBe('netns');

    const open = await runJobViaCli(
      p,
      testRunnerSpec([['node', 'connect.js', String(port)]], { tool_policy: { allow_network: true } }),
    );
    expect(completed(open).result).toMatchObject({ passed: 1 });
    expect(stdoutOf(open, 1).toString()).toBe('connected\n');
    expect(connections()).toBe(1);
    const openCall = open.events.find((e) => e.event === 'tool_call');
    expect(openCall).toMatchObject({ tool: 'exec', needs: ['subprocess', 'network'] });
  });

  test('without the sandbox (no bwrap) and where the network cannot be cut (no unshare), --unsandboxed-ok still leaves such jobs, unless --unenforced-network-ok', async () => {
    const p = planeWithScripts();
    const bin = join(p.root, 'bin'); // node and echo, but no unshare
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/echo', join(bin, 'echo'));
    const spec = testRunnerSpec([['echo', 'hi']]);
    const file = join(p.root, 'spec.json');
    writeFileSync(file, JSON.stringify(spec));
    expect((await cli(['enqueue', '--home', p.home, '--file', file])).exitCode).toBe(0);
    const env = { PATH: bin };
    const skipped = await cli(
      ['work', '--once', '--unsandboxed-ok', '--home', p.home, '--workspace', p.workspace],
      {
        env,
      },
    );
    expect(skipped.exitCode, skipped.stderr).toBe(0);
    expect(skipped.stderr).toMatch(/sandbox: none \(bubblewrap .*; --unsandboxed-ok: .* network: none/);
    expect(skipped.stderr).toMatch(/not claiming job-\w+ \(test_runner_task\): allow_network is false/);
    const ledger = readFileSync(planePaths(p.home).ledger, 'utf8');
    expect(ledger.trim().split('\n')).toHaveLength(1); // still only the enqueue

    const ran = await cli(
      [
        'work',
        '--once',
        '--unsandboxed-ok',
        '--unenforced-network-ok',
        '--home',
        p.home,
        '--workspace',
        p.workspace,
      ],
      {
        env,
      },
    );
    expect(ran.exitCode, ran.stderr).toBe(0);
    const events = ledgerEvents(planePaths(p.home).ledger);
    expect(events.at(-1)).toMatchObject({ event: 'complete', result: { passed: 1 } });
    const header = JSON.parse(
      readFileSync(join(planePaths(p.home).evidence, events[0]!.job_id, 'attempt-1/run-header.json'), 'utf8'),
    ) as { sandbox: { network: string; network_mode: string } };
    expect(header.sandbox.network_mode).toBe('unenforced');
    expect(header.sandbox.network).toMatch(/^UNENFORCED/);
  });
});

describe('which programs may run (config.json)', () => {
  test('["bash","-c",…] and ["python3","-c",…] are refused by default', async () => {
    const p = planeWithScripts();
    const bash = await runJobViaCli(p, testRunnerSpec([['bash', '-c', 'echo pwned']]));
    expect(failed(bash).error.code).toBe('E_PROGRAM_NOT_ALLOWED');
    const py = await runJobViaCli(p, testRunnerSpec([['python3', '-c', 'print("pwned")']]));
    expect(failed(py).error.code).toBe('E_INLINE_CODE');
    // Refused before anything ran: no tool_call was appended.
    expect([...bash.events, ...py.events].filter((e) => e.event === 'tool_call')).toEqual([]);
  });

  test('…and allowed when the plane’s config says so', async () => {
    const p = planeWithScripts();
    writeConfig(p, { exec: { extra_programs: ['bash'], allow_inline_code: ['bash', 'python3'] } });
    const run = await runJobViaCli(
      p,
      testRunnerSpec([
        ['bash', '-c', 'echo from-bash'],
        ['python3', '-c', 'print("from-python")'],
      ]),
    );
    expect(completed(run).result).toMatchObject({ passed: 2 });
    expect(stdoutOf(run, 1).toString()).toBe('from-bash\n');
    expect(stdoutOf(run, 2).toString()).toBe('from-python\n');
  });

  test('a malformed config.json: one clear line, exit 2, the worker does not start, the ledger is unchanged', async () => {
    const p = planeWithScripts();
    const file = join(p.root, 'spec.json');
    writeFileSync(file, JSON.stringify(testRunnerSpec([['true']])));
    expect((await cli(['enqueue', '--home', p.home, '--file', file])).exitCode).toBe(0);
    const before = readFileSync(planePaths(p.home).ledger);
    for (const bad of [
      '{ not json',
      JSON.stringify({ exec: { allowed_programs: ['/bin/sh'] } }),
      '{"execs": {}}',
    ]) {
      writeConfig(p, bad);
      const r = await cli(['work', '--once', '--home', p.home, '--workspace', p.workspace]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^execplane: E_CONFIG: .*config\.json: /);
      expect(readFileSync(planePaths(p.home).ledger).equals(before)).toBe(true);
    }
  });
});

describe('the predecessor’s offline behaviours, re-expressed', () => {
  test('max_tool_calls: 0 fails a test-runner job before anything runs; 1 of 2 fails at the second', async () => {
    const p = planeWithScripts();
    const none = await runJobViaCli(p, testRunnerSpec([['echo', 'x']], { budgets: { max_tool_calls: 0 } }));
    expect(failed(none).error.code).toBe('E_BUDGET_TOOL_CALLS');
    expect(none.end.usage.tool_calls).toBe(0);
    const one = await runJobViaCli(
      p,
      testRunnerSpec(
        [
          ['echo', 'a'],
          ['echo', 'b'],
        ],
        { budgets: { max_tool_calls: 1 } },
      ),
    );
    expect(failed(one).error.code).toBe('E_BUDGET_TOOL_CALLS');
    expect(one.end.usage.tool_calls).toBe(1);
    expect(stdoutOf(one, 1).toString()).toBe('a\n');
    expectEvidenceMatches(one);
  });

  test('a one-string shell command is rejected', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(p, testRunnerSpec([['echo hi && cat /etc/passwd']]));
    expect(failed(run).error.code).toBe('E_SHELL_STRING');
  });

  test('test-runner without allow_subprocess fails E_POLICY_DENIED', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(
      p,
      testRunnerSpec([['echo', 'x']], { tool_policy: { allow_subprocess: false } }),
    );
    expect(failed(run).error.code).toBe('E_POLICY_DENIED');
  });

  test('a cwd of ../etc is rejected: path_rejected:outside_workspace', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(p, testRunnerSpec([['ls']], { cwd: '../etc' }));
    expect(failed(run).error.code).toBe('path_rejected:outside_workspace');
  });

  test('the run header has its fields, and start pins it by SHA-256', async () => {
    const p = planeWithScripts();
    const run = await runJobViaCli(p, testRunnerSpec([['true']]));
    const text = readFileSync(join(run.evidenceDir, 'attempt-1/run-header.json'));
    const header = JSON.parse(text.toString()) as Record<string, unknown>;
    for (const field of [
      'worker_id',
      'worker_version',
      'workspace_realpath',
      'validator',
      'tool_policy_sha256',
      'budgets_sha256',
      'sandbox',
    ]) {
      expect(header, field).toHaveProperty(field);
    }
    expect(header.sandbox).toMatchObject({
      network_mode: 'netns',
      program_allowlist_sha256: expect.any(String),
    });
    const start = run.events.find((e) => e.event === 'start') as { run_header_sha256: string };
    expect(start.run_header_sha256).toBe(createHash('sha256').update(text).digest('hex'));
  });

  test('the ledger only grows: every earlier state of the file is a prefix of the later one; audit --evidence is clean', async () => {
    const p = planeWithScripts();
    const ledger = planePaths(p.home).ledger;
    await runJobViaCli(p, testRunnerSpec([['echo', 'one']]));
    const first = readFileSync(ledger);
    await runJobViaCli(p, testRunnerSpec([['echo', 'two']]));
    const second = readFileSync(ledger);
    expect(second.length).toBeGreaterThan(first.length);
    expect(second.subarray(0, first.length).equals(first)).toBe(true);
    const audit = await cli(['audit', '--home', p.home, '--evidence']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  });

  test('the kill switch prevents claims', async () => {
    const p = planeWithScripts();
    const file = join(p.root, 'spec.json');
    writeFileSync(file, JSON.stringify(testRunnerSpec([['true']])));
    expect((await cli(['enqueue', '--home', p.home, '--file', file])).exitCode).toBe(0);
    expect((await cli(['kill-switch', 'on', '--home', p.home])).exitCode).toBe(0);
    const r = await cli(['work', '--once', '--home', p.home, '--workspace', p.workspace]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/kill switch is on/);
    expect(readFileSync(planePaths(p.home).ledger, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
