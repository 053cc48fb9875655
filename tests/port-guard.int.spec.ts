/**
 * The port guard's module (src/ops/port-guard.ts, src/ops/sockets.ts) with its I/O in hand: fake
 * /proc trees for what a real machine will not show on demand (a holder this process may not
 * read, no /proc/net/tcp), and real listeners with an identity that changes between the check and
 * the signal (G2). The command itself, with real processes, is in port-guard.e2e.spec.ts.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  DEFAULT_KNOWN_HOLDERS,
  EXIT_PORT_HELD,
  formatGuardEvent,
  guardPort,
  isKnownHolder,
  knownHolderPatterns,
  procIo,
  type GuardEvent,
  type PortGuardIo,
} from '../src/ops/port-guard.js';
import type { ProcessIdentity } from '../src/ops/proc.js';
import { decodeAddress, parseTcpTable, portHolders } from '../src/ops/sockets.js';
import {
  freePort,
  isAlive,
  isListening,
  startHttpServer,
  startListener,
  stopListeners,
} from './helpers/listeners.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-port-guard-');
afterEach(stopListeners);

interface FakeProcess {
  pid: number;
  argv: string[];
  comm: string;
  start: number;
  /** fd → link target; 'unreadable' makes fd/ something readdir fails on. */
  fds: Record<string, string> | 'unreadable';
  /** Its real uid (default this process's euid); null: no status file. */
  uid?: number | null;
}

const EUID = process.geteuid!();

/** A /proc tree: net/tcp (null: absent), net/tcp6, and processes. */
function fakeProc(o: { tcp: string[] | null; tcp6?: string[]; procs?: FakeProcess[] }): string {
  const root = tmp();
  mkdirSync(join(root, 'net'));
  const header =
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  if (o.tcp) writeFileSync(join(root, 'net/tcp'), header + o.tcp.join('\n') + '\n');
  if (o.tcp6) writeFileSync(join(root, 'net/tcp6'), header + o.tcp6.join('\n') + '\n');
  for (const p of o.procs ?? []) {
    const dir = join(root, String(p.pid));
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'stat'),
      `${p.pid} (${p.comm}) S ${Array(18).fill('0').join(' ')} ${p.start} 0 0\n`,
    );
    writeFileSync(join(dir, 'cmdline'), p.argv.map((a) => `${a}\0`).join(''));
    writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
    const uid = p.uid === undefined ? EUID : p.uid;
    if (uid !== null)
      writeFileSync(join(dir, 'status'), `Name:\t${p.comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
    // As root every directory can be read, mode or not: a file where fd/ should be fails readdir
    // (ENOTDIR) the way another user's fd/ fails it (EACCES) for anyone else.
    if (p.fds === 'unreadable') writeFileSync(join(dir, 'fd'), '');
    else {
      mkdirSync(join(dir, 'fd'));
      for (const [fd, target] of Object.entries(p.fds)) symlinkSync(target, join(dir, 'fd', fd));
    }
  }
  return root;
}

/** One row of /proc/net/tcp{,6}. */
const row = (addr: string, port: number, state: string, inode: number) =>
  `   0: ${addr}:${port.toString(16).toUpperCase().padStart(4, '0')} ${'0'.repeat(addr.length)}:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
const LOOPBACK4 = '0100007F';
const LOOPBACK6 = '00000000000000000000000001000000';

/** An io whose signals are recorded, never sent (a fake tree's pids are nobody's). */
function recorded(io: PortGuardIo, sent: string[]): PortGuardIo {
  return { ...io, signal: (pid, sig) => void sent.push(`${sig} ${pid}`) };
}

describe('sockets: who holds a port, from /proc', () => {
  test('decodes the addresses /proc prints in host byte order', () => {
    expect(decodeAddress('0100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('00000000', true)).toBe('0.0.0.0');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
    expect(decodeAddress(LOOPBACK6, true)).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F', true)).toBe('::ffff:7f00:1');
    expect(decodeAddress('B80D0120000000000000000001000000', true)).toBe('2001:db8::1');
  });

  test('only LISTEN rows of the port count (S1)', () => {
    const text = [
      'header',
      row(LOOPBACK4, 8001, '0A', 11),
      row(LOOPBACK4, 8001, '01', 12),
      row(LOOPBACK4, 8002, '0A', 13),
    ];
    expect(parseTcpTable(text.join('\n'), 'ipv4', 8001)).toEqual([
      { family: 'ipv4', address: '127.0.0.1', inode: '11' },
    ]);
  });

  test('names every holder, IPv4 and IPv6, a socket shared by two processes included (S4)', () => {
    const root = fakeProc({
      tcp: [row(LOOPBACK4, 8001, '0A', 1001), row(LOOPBACK4, 8001, '01', 1009)],
      tcp6: [row(LOOPBACK6, 8001, '0A', 1002)],
      procs: [
        {
          pid: 4100,
          argv: ['vllm', 'serve', 'm'],
          comm: 'vllm',
          start: 7,
          fds: { '0': '/dev/null', '5': 'socket:[1001]' },
        },
        {
          pid: 4200,
          argv: ['vllm', 'serve', 'm'],
          comm: 'vllm',
          start: 8,
          fds: { '5': 'socket:[1001]', '6': 'socket:[1002]' },
        },
        { pid: 4300, argv: ['client'], comm: 'client', start: 9, fds: { '3': 'socket:[1009]' } },
      ],
    });
    expect(portHolders(8001, root)).toEqual({
      kind: 'held',
      sockets: [
        { family: 'ipv4', address: '127.0.0.1', inode: '1001' },
        { family: 'ipv6', address: '::1', inode: '1002' },
      ],
      holders: [
        { pid: 4100, start_ticks: 7, cmd: 'vllm serve m', name: 'vllm', uid: EUID, inodes: ['1001'] },
        { pid: 4200, start_ticks: 8, cmd: 'vllm serve m', name: 'vllm', uid: EUID, inodes: ['1001', '1002'] },
      ],
    });
    expect(portHolders(8002, root)).toEqual({ kind: 'free' });
  });

  test('a listening socket whose holder cannot be read is a probe failure, never free (S3)', () => {
    const root = fakeProc({
      tcp: [row(LOOPBACK4, 8001, '0A', 1001)],
      procs: [{ pid: 4100, argv: ['someone-else'], comm: 'x', start: 7, fds: 'unreadable' }],
    });
    const probe = portHolders(8001, root);
    expect(probe.kind).toBe('probe_failed');
    expect(probe.kind === 'probe_failed' && probe.why).toMatch(
      /descriptors of 1 process\(es\) could not be read/,
    );
  });

  test('a listening socket nobody visible holds is a probe failure too (S3)', () => {
    const root = fakeProc({ tcp: [row(LOOPBACK4, 8001, '0A', 1001)], procs: [] });
    expect(portHolders(8001, root)).toMatchObject({
      kind: 'probe_failed',
      why: expect.stringMatching(/cannot see/),
    });
  });

  test('no /proc/net/tcp is a probe failure; no tcp6 is a kernel without IPv6', () => {
    expect(portHolders(8001, fakeProc({ tcp: null }))).toMatchObject({
      kind: 'probe_failed',
      why: expect.stringMatching(/net\/tcp cannot be read \(ENOENT\)/),
    });
    expect(portHolders(8001, fakeProc({ tcp: [] }))).toEqual({ kind: 'free' });
  });
});

describe('port-guard: the matrix on a fake /proc', () => {
  test('a port that cannot be inspected is PORT_PROBE_FAILED, exit 42, nothing signalled (G3)', async () => {
    const root = fakeProc({
      tcp: [row(LOOPBACK4, 8001, '0A', 1001)],
      procs: [
        { pid: 4100, argv: ['vllm', 'serve'], comm: 'vllm', start: 7, fds: { '5': 'socket:[1001]' } },
        { pid: 4200, argv: ['other'], comm: 'other', start: 8, fds: 'unreadable' },
      ],
    });
    // 4100 holds a second listener of the port that only an unreadable process could hold too.
    writeFileSync(join(root, 'net/tcp6'), `header\n${row(LOOPBACK6, 8001, '0A', 1002)}\n`);
    const sent: string[] = [];
    const events: GuardEvent[] = [];
    const report = await guardPort({
      port: 8001,
      known: knownHolderPatterns(),
      graceMs: 0,
      io: recorded(procIo(root), sent),
      onEvent: (e) => events.push(e),
    });
    expect(report).toMatchObject({ outcome: 'PORT_PROBE_FAILED', exit_code: EXIT_PORT_HELD, actions: [] });
    expect(events.map(formatGuardEvent)).toEqual([
      expect.stringMatching(/^PORT_PROBE_FAILED port=8001 reason=".*could not be read.*"$/),
    ]);
    expect(sent).toEqual([]);
  });

  test('a known holder beside an unknown one is not signalled either (G1)', async () => {
    const root = fakeProc({
      tcp: [row(LOOPBACK4, 8001, '0A', 1001)],
      procs: [
        { pid: 4100, argv: ['vllm', 'serve'], comm: 'vllm', start: 7, fds: { '5': 'socket:[1001]' } },
        { pid: 4200, argv: ['nginx:', 'worker'], comm: 'nginx', start: 8, fds: { '5': 'socket:[1001]' } },
      ],
    });
    const sent: string[] = [];
    const events: GuardEvent[] = [];
    const report = await guardPort({
      port: 8001,
      known: knownHolderPatterns(),
      graceMs: 0,
      io: recorded(procIo(root), sent),
      onEvent: (e) => events.push(e),
    });
    expect(report.outcome).toBe('PORT_HELD_UNKNOWN');
    expect(events.map(formatGuardEvent)).toEqual([
      'PORT_HELD_UNKNOWN pid=4200 cmd="nginx: worker"',
      'PORT_HELD_KNOWN pid=4100 cmd="vllm serve"',
    ]);
    expect(sent).toEqual([]);
  });

  test('a model server of another user, the guard running as root: unknown, exit 42, never signalled (G1)', async () => {
    const root = fakeProc({
      tcp: [row(LOOPBACK4, 8001, '0A', 1001)],
      procs: [
        {
          pid: 4100,
          argv: ['vllm', 'serve'],
          comm: 'vllm',
          start: 7,
          fds: { '5': 'socket:[1001]' },
          uid: 65534,
        },
      ],
    });
    const sent: string[] = [];
    const events: GuardEvent[] = [];
    const report = await guardPort({
      port: 8001,
      known: knownHolderPatterns(),
      graceMs: 0,
      euid: 0,
      io: recorded(procIo(root), sent),
      onEvent: (e) => events.push(e),
    });
    expect(report).toMatchObject({ outcome: 'PORT_HELD_UNKNOWN', exit_code: EXIT_PORT_HELD });
    expect(events.map(formatGuardEvent)).toEqual([
      'PORT_HELD_UNKNOWN pid=4100 cmd="vllm serve" reason="it runs as uid 65534, not as this guard\'s uid 0; never signalled"',
    ]);
    expect(sent).toEqual([]);
  });
});

describe('port-guard: who is known', () => {
  const defaults = knownHolderPatterns();
  test.each([
    ['vllm serve Qwen/Qwen2.5-7B-Instruct --port 8001', 'vllm'],
    ['/home/u/.venv/bin/python3 /home/u/.venv/bin/vllm serve m --port 8001', 'vllm'],
    ['/usr/bin/python3.11 -u -m vllm.entrypoints.openai.api_server --model m', 'python3.11'],
    ['VLLM::EngineCore', 'VLLM::EngineCor'],
    ['[python3]', 'VLLM::Worker'],
    ['vllm-stray -m http.server 8001', 'python3'],
    ['/opt/llama.cpp/build/bin/llama-server -m model.gguf --port 8080', 'llama-server'],
  ])('known: %s', (cmd, name) => {
    expect(isKnownHolder({ pid: 4100, cmd, name, uid: EUID }, defaults)).toBe(true);
  });

  test.each([
    ['python3 -m http.server 8001', 'python3'],
    ['grep vllm', 'grep'],
    ['grep vllm serve', 'grep'],
    ['vim vllm.log', 'vim'],
    ['bash -c vllm serve m', 'bash'],
    ['tail -f /var/log/llama-server.log', 'tail'],
    ['unknown-holder -m http.server 8001', 'python3'],
    ['python3 /srv/not-vllm/app.py serve', 'python3'],
  ])('not known: %s', (cmd, name) => {
    expect(isKnownHolder({ pid: 4100, cmd, name, uid: EUID }, defaults)).toBe(false);
  });

  test('known_holders replaces the defaults, extra_known_holders adds; pid 1 is never known (G5)', () => {
    const vllm = { pid: 4100, cmd: 'vllm serve m', name: 'vllm', uid: EUID };
    const ollama = { pid: 4200, cmd: '/usr/local/bin/ollama serve', name: 'ollama', uid: EUID };
    expect(isKnownHolder(ollama, knownHolderPatterns({ extra_known_holders: ['^\\S*ollama serve'] }))).toBe(
      true,
    );
    expect(isKnownHolder(vllm, knownHolderPatterns({ extra_known_holders: ['^\\S*ollama serve'] }))).toBe(
      true,
    );
    expect(isKnownHolder(vllm, knownHolderPatterns({ known_holders: ['^\\S*ollama serve'] }))).toBe(false);
    expect(isKnownHolder({ ...vllm, pid: 1 }, knownHolderPatterns({ known_holders: ['.*'] }))).toBe(false);
    expect(DEFAULT_KNOWN_HOLDERS.length).toBeGreaterThan(0);
  });

  test("another user's process, or one whose owner cannot be read, is never known, whatever its name (G1)", () => {
    const vllm = { pid: 4100, cmd: 'vllm serve m', name: 'vllm' };
    const all = knownHolderPatterns({ known_holders: ['.*'] });
    expect(isKnownHolder({ ...vllm, uid: EUID + 1 }, all)).toBe(false);
    expect(isKnownHolder({ ...vllm, uid: null }, all)).toBe(false);
    expect(isKnownHolder({ ...vllm, uid: 0 }, all, 0)).toBe(true);
    expect(isKnownHolder({ ...vllm, uid: 65534 }, all, 0)).toBe(false);
  });
});

describe('port-guard: a line stays one line', () => {
  test('quotes, backslashes and control characters in a command line are escaped', () => {
    const line = formatGuardEvent({
      token: 'PORT_RECLAIM',
      pid: 12,
      cmd: 'vllm "x"\\ \n\r\t\u001b[2J\u0085\u2028end',
    });
    expect(line).toBe('PORT_RECLAIM pid=12 cmd="vllm \\"x\\"\\\\ \\n\\r\\t\\u001b[2J\\u0085\\u2028end"');
    expect(line.split(/[\n\r\u0085\u2028\u2029]/)).toHaveLength(1);
  });
});

describe('port-guard: a pid whose identity changed is never signalled (G2)', () => {
  /** The real io, but `identity` reports another start time for `pid` once `after()` is true. */
  function reusedIo(pid: number, after: () => boolean, sent: string[]): Partial<PortGuardIo> {
    const real = procIo();
    return {
      identity: (p): ProcessIdentity | undefined => {
        const id = real.identity(p);
        return id && p === pid && after() ? { pid, start_ticks: id.start_ticks + 1 } : id;
      },
      signal: (p, sig) => {
        sent.push(`${sig} ${p}`);
        real.signal(p, sig);
      },
    };
  }

  test('checked before SIGTERM: skipped, and the process lives on', async () => {
    const port = await freePort();
    const l = await startHttpServer('vllm-reused', '127.0.0.1', port, tmp());
    const sent: string[] = [];
    const events: string[] = [];
    const report = await guardPort({
      port,
      known: knownHolderPatterns(),
      graceMs: 200,
      io: reusedIo(l.id.pid, () => true, sent),
      onEvent: (e) => events.push(formatGuardEvent(e)),
    });
    expect(sent).toEqual([]);
    expect(events).toContain(`PORT_SKIP pid=${l.id.pid} signal=SIGTERM reason="pid reused"`);
    expect(events).not.toContainEqual(expect.stringMatching(/^PORT_(RECLAIM|KILL) /));
    expect(report).toMatchObject({ outcome: 'PORT_STILL_HELD', exit_code: EXIT_PORT_HELD });
    expect(isAlive(l.id)).toBe(true);
    expect(await isListening('127.0.0.1', port)).toBe(true);
  });

  test('checked again before SIGKILL: a process that ignored SIGTERM is not killed once its pid looks reused', async () => {
    const port = await freePort();
    const l = await startListener('vllm-stubborn', '127.0.0.1', port, tmp(), ['ignore-term']);
    const sent: string[] = [];
    const events: string[] = [];
    const report = await guardPort({
      port,
      known: knownHolderPatterns(),
      graceMs: 300,
      io: reusedIo(l.id.pid, () => sent.length > 0, sent),
      onEvent: (e) => events.push(formatGuardEvent(e)),
    });
    expect(sent).toEqual([`SIGTERM ${l.id.pid}`]);
    expect(events).not.toContainEqual(expect.stringMatching(/^PORT_KILL /));
    expect(events).toContain(`PORT_SKIP pid=${l.id.pid} signal=SIGKILL reason="pid reused"`);
    expect(report.exit_code).toBe(EXIT_PORT_HELD);
    expect(isAlive(l.id)).toBe(true);
  });
});
