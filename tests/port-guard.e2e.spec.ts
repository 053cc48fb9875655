/**
 * `execplane port-guard PORT` (issue 15, point 3) with real processes and real listeners on
 * 127.0.0.1 and ::1: the behaviour matrix of src/ops/port-guard.ts as a user and a journal see
 * it. What a real machine will not show on demand (a holder this process may not read, a pid
 * reused between check and signal) is in port-guard.int.spec.ts. Every wait polls with a
 * deadline; nothing asserts how fast anything was.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EXIT_PORT_HELD } from '../src/ops/port-guard.js';
import { BIN, execplane, requireDist } from './helpers/cli.js';
import { execFileSync } from 'node:child_process';
import { osPart } from './helpers/os-parts.js';
import {
  canListen,
  canRunAsNobody,
  freePort,
  isAlive,
  isListening,
  startHttpServer,
  startListener,
  stopListeners,
  untilGone,
} from './helpers/listeners.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-port-guard-');
const LOCAL = '127.0.0.1';

beforeAll(requireDist);
afterEach(stopListeners);

/** The guard on `port` with a home of its own (no config.json unless `config` is given). */
async function guard(port: number | string, args: string[] = [], config?: unknown) {
  const home = tmp();
  if (config !== undefined) writeFileSync(join(home, 'config.json'), JSON.stringify(config));
  return execplane(['port-guard', String(port), '--home', home, ...args], { timeoutMs: 120_000 });
}

const lines = (stdout: string) => stdout.split('\n').filter(Boolean);

describe('port-guard', () => {
  test('a free port: PORT_OK, exit 0', async () => {
    const port = await freePort();
    const r = await guard(port);
    expect(r).toMatchObject({ code: 0, stdout: `PORT_OK port=${port}\n`, stderr: '' });
  });

  test('a stray model server (exec -a vllm-stray python3 -m http.server) is reclaimed with SIGTERM', async () => {
    const port = await freePort();
    const l = await startHttpServer('vllm-stray', LOCAL, port, tmp());
    const r = await guard(port);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      `PORT_RECLAIM pid=${l.id.pid} cmd="vllm-stray -m http.server ${port} --bind ${LOCAL}"`,
      `PORT_RECLAIMED port=${port}`,
    ]);
    expect(await l.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await isListening(LOCAL, port)).toBe(false);
  });

  test('one that ignores SIGTERM gets SIGKILL after the grace', async () => {
    const port = await freePort();
    const l = await startListener('vllm-stubborn', LOCAL, port, tmp(), ['ignore-term']);
    const r = await guard(port, ['--grace-ms', '500']);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(
      new RegExp(`^PORT_RECLAIM pid=${l.id.pid} cmd="vllm-stubborn .*listen\\.py ${port} `),
    );
    expect(out[1]).toMatch(new RegExp(`^PORT_KILL pid=${l.id.pid} cmd="vllm-stubborn `));
    expect(out[2]).toBe(`PORT_RECLAIMED port=${port}`);
    expect(await l.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  test.each([['head -1'], ['true']])(
    "piped into `%s` (its reader gone, EPIPE): the pipeline exits with the guard's 0 only once the port is free (G4)",
    async (reader) => {
      const port = await freePort();
      const l = await startListener('vllm-stub', LOCAL, port, tmp(), ['ignore-term']);
      const started = Date.now();
      const out = execFileSync(
        'bash',
        [
          '-c',
          `set -o pipefail; "$0" "$1" port-guard ${port} --home "$2" --grace-ms 1000 | ${reader}; echo "rc=$?"`,
          process.execPath,
          BIN,
          tmp(),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      // When the pipeline returns the holder is gone: the guard did not stop at the broken pipe.
      expect(isAlive(l.id)).toBe(false);
      expect(await isListening(LOCAL, port)).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(out.trimEnd().split('\n').at(-1)).toBe('rc=0');
      if (reader === 'head -1') expect(out).toMatch(new RegExp(`^PORT_RECLAIM pid=${l.id.pid} `));
    },
  );

  test('an unknown holder is named, never signalled, and the command exits 42', async () => {
    const port = await freePort();
    const l = await startHttpServer('unknown-holder', LOCAL, port, tmp());
    const r = await guard(port, ['--grace-ms', '0']);
    expect(r.code).toBe(EXIT_PORT_HELD);
    expect(lines(r.stdout)).toEqual([
      `PORT_HELD_UNKNOWN pid=${l.id.pid} cmd="unknown-holder -m http.server ${port} --bind ${LOCAL}"`,
    ]);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^execplane: port ${port} is not free: held by pid ${l.id.pid}, `)),
    ]);
    expect(isAlive(l.id)).toBe(true);
    expect(await isListening(LOCAL, port)).toBe(true);
  });

  test('--json: one object with the outcome, the port, the holders and the actions', async () => {
    const port = await freePort();
    const l = await startHttpServer('unknown-holder', LOCAL, port, tmp());
    const r = await guard(port, ['--json']);
    expect(r.code).toBe(EXIT_PORT_HELD);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({
      outcome: 'PORT_HELD_UNKNOWN',
      port,
      exit_code: 42,
      holders: [
        {
          pid: l.id.pid,
          start_ticks: l.id.start_ticks,
          cmd: `unknown-holder -m http.server ${port} --bind ${LOCAL}`,
          name: 'python3',
          uid: process.getuid!(),
          inodes: [expect.stringMatching(/^[0-9]+$/)],
          known: false,
        },
      ],
      actions: [],
      reason: expect.stringMatching(/not a known model server, and left alone \(never signalled\)/),
    });
    expect(isAlive(l.id)).toBe(true);

    const stray = await freePort();
    const s = await startHttpServer('vllm-stray', LOCAL, stray, tmp());
    const reclaimed = JSON.parse((await guard(stray, ['--json'])).stdout) as Record<string, unknown>;
    expect(reclaimed).toMatchObject({
      outcome: 'PORT_RECLAIMED',
      exit_code: 0,
      actions: [{ token: 'PORT_RECLAIM', pid: s.id.pid, start_ticks: s.id.start_ticks }],
    });
  });

  const AS_ROOT = process.getuid?.() === 0;
  test.runIf(
    AS_ROOT && osPart(canRunAsNobody(), 'the other-user port-guard test needs setpriv and /usr/bin/python3'),
  )("run as root, another user's model server is unknown: exit 42, never signalled (G1)", async () => {
    const port = await freePort();
    const l = await startHttpServer('vllm-stray', LOCAL, port, tmp(), { asNobody: true });
    const r = await guard(port, ['--grace-ms', '500']);
    expect(r.code).toBe(EXIT_PORT_HELD);
    expect(lines(r.stdout)).toEqual([
      `PORT_HELD_UNKNOWN pid=${l.id.pid} cmd="vllm-stray -m http.server ${port} --bind ${LOCAL}" reason="it runs as uid 65534, not as this guard's uid 0; never signalled"`,
    ]);
    expect(r.stderr).toMatch(/another user's process \(uid 65534\), and left alone/);
    expect(isAlive(l.id)).toBe(true);
    expect(await isListening(LOCAL, port)).toBe(true);
  });

  test('a known holder beside an unknown one (SO_REUSEPORT): exit 42, neither is signalled', async () => {
    const port = await freePort();
    const dir = tmp();
    const known = await startListener('vllm-shared', LOCAL, port, dir, ['reuseport']);
    const stranger = await startListener('unknown-shared', LOCAL, port, dir, ['reuseport']);
    const r = await guard(port, ['--grace-ms', '0']);
    expect(r.code).toBe(EXIT_PORT_HELD);
    const out = lines(r.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(new RegExp(`^PORT_HELD_UNKNOWN pid=${stranger.id.pid} cmd="unknown-shared `));
    expect(out[1]).toMatch(new RegExp(`^PORT_HELD_KNOWN pid=${known.id.pid} cmd="vllm-shared `));
    expect(isAlive(known.id) && isAlive(stranger.id)).toBe(true);
  });

  test('a socket held by two processes (a server that forked after listen): both named, both reclaimed', async () => {
    const port = await freePort();
    const l = await startListener('vllm-forked', LOCAL, port, tmp(), ['fork']);
    const child = l.forked!;
    const r = await guard(port);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    for (const pid of [l.id.pid, child.pid])
      expect(out).toContainEqual(
        expect.stringMatching(new RegExp(`^PORT_RECLAIM pid=${pid} cmd="vllm-forked `)),
      );
    expect(out.at(-1)).toBe(`PORT_RECLAIMED port=${port}`);
    await untilGone(l.id);
    await untilGone(child);
  });

  test('two processes holding it, neither known: both named, both left alive', async () => {
    const port = await freePort();
    const l = await startListener('unknown-forked', LOCAL, port, tmp(), ['fork']);
    const r = await guard(port);
    expect(r.code).toBe(EXIT_PORT_HELD);
    expect(lines(r.stdout).map((line) => /^PORT_HELD_UNKNOWN pid=([0-9]+) /.exec(line)?.[1])).toEqual(
      [l.id.pid, l.forked!.pid].sort((a, b) => a - b).map(String),
    );
    expect(isAlive(l.id) && isAlive(l.forked!)).toBe(true);
  });

  test('a command line with quotes and a line break stays on one line', async () => {
    const port = await freePort();
    const l = await startHttpServer('vllm-"odd"\nname', LOCAL, port, tmp());
    const r = await guard(port);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)[0]).toBe(
      `PORT_RECLAIM pid=${l.id.pid} cmd="vllm-\\"odd\\"\\nname -m http.server ${port} --bind ${LOCAL}"`,
    );
  });

  test('config.json: extra_known_holders adds a pattern, known_holders replaces the defaults', async () => {
    const port = await freePort();
    const l = await startHttpServer('my-model-server', LOCAL, port, tmp());
    const replaced = await guard(port, [], { port_guard: { known_holders: ['^llama-server(\\s|$)'] } });
    expect(replaced.code).toBe(EXIT_PORT_HELD);
    expect(isAlive(l.id)).toBe(true);
    const added = await guard(port, [], {
      port_guard: { extra_known_holders: ['^my-model-server '], grace_ms: 100 },
    });
    expect(added.code, added.stderr).toBe(0);
    expect(lines(added.stdout)).toEqual([
      `PORT_RECLAIM pid=${l.id.pid} cmd="my-model-server -m http.server ${port} --bind ${LOCAL}"`,
      `PORT_RECLAIMED port=${port}`,
    ]);
  });

  test('a pattern that is not a regular expression is a config error naming it (exit 2)', async () => {
    const r = await guard(await freePort(), [], { port_guard: { extra_known_holders: ['^vllm(', 'ok'] } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(
        /^execplane: E_CONFIG: .*config\.json: port_guard\.extra_known_holders: "\^vllm\(" is not a valid/,
      ),
    ]);
  });

  test.each(['0', '65536', '80x', '-1', ''])(
    'a port that is not 1-65535 (%j) is a usage error, one line, exit 2',
    async (port) => {
      const r = await guard(port);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/^execplane: E_USAGE: .*1 to 65535/)]);
    },
  );

  test('--grace-ms out of range is a usage error', async () => {
    const r = await guard(await freePort(), ['--grace-ms', '120001']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^execplane: E_USAGE: .*--grace-ms must be/)]);
  });
});

/** Whether ::1 can be listened on here; the IPv6 cases are skipped (and say so) only if not. */
const ipv6 = await canListen('::1');

describe('port-guard on IPv6', () => {
  test('this machine has an IPv6 loopback (::1), so the IPv6 cases below run', () => {
    if (!ipv6) console.warn('no IPv6 loopback (::1) here: the IPv6 port-guard tests are skipped');
    expect(typeof ipv6).toBe('boolean');
  });

  test.skipIf(!ipv6)('a stray model server on ::1 is found in /proc/net/tcp6 and reclaimed', async () => {
    const port = await freePort('::1');
    const l = await startHttpServer('vllm-v6', '::1', port, tmp());
    const r = await guard(port);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual([
      `PORT_RECLAIM pid=${l.id.pid} cmd="vllm-v6 -m http.server ${port} --bind ::1"`,
      `PORT_RECLAIMED port=${port}`,
    ]);
    expect(await l.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  test.skipIf(!ipv6)('an unknown holder on ::1 is left alone (exit 42)', async () => {
    const port = await freePort('::1');
    const l = await startHttpServer('unknown-v6', '::1', port, tmp());
    const r = await guard(port);
    expect(r.code).toBe(EXIT_PORT_HELD);
    expect(lines(r.stdout)).toEqual([
      `PORT_HELD_UNKNOWN pid=${l.id.pid} cmd="unknown-v6 -m http.server ${port} --bind ::1"`,
    ]);
    expect(isAlive(l.id)).toBe(true);
  });
});
