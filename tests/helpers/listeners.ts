/**
 * Real TCP listeners for the port guard's tests: Python processes started under a name of the
 * test's choosing (`exec -a NAME`), on a free port of 127.0.0.1 or ::1. Everything started is
 * recorded by pid and start time and killed by `stopListeners` (call it in afterEach), only while
 * that pid still has that start time.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { hasEnded, runningIdentity, type ProcessIdentity } from '../../src/ops/proc.js';

/**
 * The Python interpreter itself, not a wrapper: `exec -a` names what it execs, and a pyenv shim
 * is a shell script that would exec the real interpreter under its own name.
 */
export const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
}).trim();

/** A listener that can ignore SIGTERM, share its port (SO_REUSEPORT) or fork after listen. */
const LISTEN_PY = `
import os, signal, socket, sys, time
port, host, opts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(',')
if 'ignore-term' in opts:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if 'reuseport' in opts:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((host, port))
s.listen(16)
if 'fork' in opts:
    child = os.fork()
    if child:
        print(child, flush=True)
time.sleep(3600)
`;

export interface Listener {
  readonly child: ChildProcess;
  /** The listening process (bash exec'd into it, so the child's own pid). */
  readonly id: ProcessIdentity;
  /** With `fork`: the forked child that holds the socket too. */
  readonly forked?: ProcessIdentity;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ProcessIdentity[] = [];
const children: ChildProcess[] = [];

/** A port nothing listens on now (the kernel's pick for port 0, released again). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether this machine can listen on `host` (::1 needs an IPv6 loopback). */
export async function canListen(host: string): Promise<boolean> {
  return freePort(host).then(
    () => true,
    () => false,
  );
}

/** Resolves once something accepts a TCP connection on host:port; rejects after `ms`. */
export async function untilListening(host: string, port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether something accepts connections on host:port right now. */
export function isListening(host: string, port: number): Promise<boolean> {
  return untilListening(host, port, 0).then(
    () => true,
    () => false,
  );
}

/**
 * Starts `argv` as a process named `name` (its argv[0]) and waits until host:port accepts
 * connections. `argv` is what follows the name, e.g. ['-m', 'http.server', '8000'].
 */
export async function startNamed(
  name: string,
  argv: readonly string[],
  host: string,
  port: number,
  options: { cwd?: string; readsForkedPid?: boolean; asNobody?: boolean } = {},
): Promise<Listener> {
  const named = ['-c', 'n=$1; shift; exec -a "$n" "$@"', 'bash', name];
  // As user nobody (setpriv, root only): the system's Python, which nobody may run (PYTHON may lie
  // under a /root it cannot enter); exec keeps the pid through setpriv, bash and Python.
  const [cmd, args] = options.asNobody
    ? ['setpriv', [...NOBODY_SETPRIV, 'bash', ...named, SYSTEM_PYTHON, ...argv]]
    : ['bash', [...named, PYTHON, ...argv]];
  const child = spawn(cmd, args, {
    cwd: options.asNobody ? '/' : options.cwd,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const early = exited.then((r) => {
    throw new Error(`${name} exited (${r.code ?? r.signal}) before it listened on ${host}:${port}`);
  });
  // It ends that way in every test (stopListeners): only the race below wants to hear of it.
  early.catch(() => {});
  await Promise.race([untilListening(host, port), early]);
  const id = runningIdentity(child.pid!);
  if (!id) throw new Error(`${name} (pid ${child.pid}) has no /proc entry`);
  started.push(id);
  let forked: ProcessIdentity | undefined;
  if (options.readsForkedPid) {
    const deadline = Date.now() + 30_000;
    while (!/^[0-9]+\n/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    forked = runningIdentity(Number.parseInt(out, 10));
    if (!forked) throw new Error(`${name}: its forked child (${out.trim()}) cannot be found`);
    started.push(forked);
  }
  return { child, id, ...(forked ? { forked } : {}), exited };
}

/** `exec -a NAME python3 -m http.server PORT --bind HOST`; with `asNobody`, as user nobody. */
export function startHttpServer(
  name: string,
  host: string,
  port: number,
  cwd: string,
  o: { asNobody?: boolean } = {},
): Promise<Listener> {
  return startNamed(name, ['-m', 'http.server', String(port), '--bind', host], host, port, {
    cwd,
    ...(o.asNobody ? { asNobody: true } : {}),
  });
}

const NOBODY_SETPRIV = ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];
const SYSTEM_PYTHON = '/usr/bin/python3';

/** Whether a listener can run as user nobody here: root, setpriv, and a system Python. */
export function canRunAsNobody(): boolean {
  try {
    execFileSync('setpriv', [...NOBODY_SETPRIV, SYSTEM_PYTHON, '-c', ''], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/** `exec -a NAME python3 listen.py PORT HOST OPTS`: opts among ignore-term, reuseport, fork. */
export function startListener(
  name: string,
  host: string,
  port: number,
  dir: string,
  opts: readonly ('ignore-term' | 'reuseport' | 'fork')[] = [],
): Promise<Listener> {
  const script = join(dir, 'listen.py');
  writeFileSync(script, LISTEN_PY);
  return startNamed(name, [script, String(port), host, opts.join(',') || 'none'], host, port, {
    readsForkedPid: opts.includes('fork'),
  });
}

/** Whether the process `id` names is still running (a zombie is not). */
export function isAlive(id: ProcessIdentity): boolean {
  return !hasEnded(id);
}

/** Resolves once `id` is no longer running; rejects after `ms`. */
export async function untilGone(id: ProcessIdentity, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (isAlive(id)) {
    if (Date.now() > deadline) throw new Error(`pid ${id.pid} is still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills every process started here that still runs under its identity, and waits for the children. */
export async function stopListeners(): Promise<void> {
  for (const id of started.splice(0)) {
    if (isAlive(id)) {
      try {
        process.kill(id.pid, 'SIGKILL');
      } catch {
        // Gone between the check and the signal.
      }
    }
  }
  await Promise.all(
    children
      .splice(0)
      .map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise((resolve) => c.once('exit', resolve)),
      ),
  );
}
