/**
 * `execplane work --daemon`: a worker in the background where no service manager runs it
 * (containers, WSL, no user bus; docs/operations.md, "Services"), found and stopped again through
 * its pid file (pid-file.ts; `execplane stop --pid-file FILE`, stop.ts).
 *
 * D1. Nothing is spawned while the pid file is held (E_PID_FILE_HELD): checked before the spawn,
 *     and again by the child itself, which cannot take a held file (H3 of pid-file.ts).
 * D2. The parent reports success only once the file is live under the child's own pid; a child
 *     that exits first, or does not take the file in time, is reported with its log's new lines
 *     and the parent exits non-zero (2 when the child did: a usage or config error).
 * D3. The child holds the file from before it claims anything until it exits; any exit that runs
 *     JavaScript removes it, and one that does not (kill -9) leaves it stale, never live (H1).
 * D4. The child takes the file only once everything that can refuse the start (exit 2: flags, the
 *     home inside the workspace, config.json, the pid and log paths) has been checked — and the
 *     parent checks the same before it spawns — so a live file means a worker that got past them.
 * D5. A process is the daemon's child only if its parent says so and is still that parent: the
 *     parent sets EXECPLANE_DAEMON_CHILD to its own pid and start time (I1 of proc.ts), and the
 *     child believes it only if its parent process has that identity. The variable in a user's
 *     environment changes nothing: it names the user's shell (or nobody) only by a deliberate act.
 *     The child's argv is the parent's, `--daemon` included: no flag is removed by value.
 * D6. The log is only ever appended to, and only to a regular file reached without a symlink
 *     (O_NOFOLLOW, fstat): never a plane file, a FIFO or a device (checkOwnFilePath of pid-file.ts).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ExecplaneError, RefusedError, UsageError } from '../errors.js';
import { planePaths } from '../ledger/paths.js';
import { holdPidFile, inspectPidFile, type HeldPidFile } from './pid-file.js';
import { runningIdentity, selfIdentity } from './proc.js';

/** Set by the parent in the child's environment to `PID:START_TICKS` of the parent (D5). */
export const DAEMON_CHILD_ENV = 'EXECPLANE_DAEMON_CHILD';

/**
 * Whether this process is the child a `work --daemon` started (D5); removes the variable either
 * way, so that nothing this process starts (a job) inherits it. Call it once, first.
 */
export function takeDaemonChildMark(): boolean {
  const mark = process.env[DAEMON_CHILD_ENV];
  delete process.env[DAEMON_CHILD_ENV];
  if (mark === undefined) return false;
  const parent = runningIdentity(process.ppid);
  return parent !== undefined && mark === `${parent.pid}:${parent.start_ticks}`;
}

/** How long the parent waits for the child to take its pid file (a loaded machine starts Node slowly). */
export const DAEMON_START_TIMEOUT_MS = 15_000;

/** `<home>/workers/daemon.pid` and `daemon.log`: where `work --daemon` keeps them unless told. */
export function defaultDaemonFiles(home: string): { pidFile: string; logFile: string } {
  const dir = planePaths(home).workers;
  return { pidFile: join(dir, 'daemon.pid'), logFile: join(dir, 'daemon.log') };
}

export interface DaemonStarted {
  readonly pid: number;
  readonly pidFile: string;
  readonly logFile: string;
}

export interface StartDaemonOptions {
  /** The worker's own command line (process.argv from index 1 on, so the script first; D5). */
  readonly args: readonly string[];
  readonly pidFile: string;
  readonly logFile: string;
  readonly timeoutMs?: number;
}

/** Spawns the worker detached, its output appended to the log, and waits for D2. */
export async function startDaemon(o: StartDaemonOptions): Promise<DaemonStarted> {
  const pidFile = resolve(o.pidFile);
  const logFile = resolve(o.logFile);
  refuseIfHeld(pidFile); // D1
  const out = openLog(logFile);
  const logStart = fstatSync(out).size;
  const self = selfIdentity();
  const child = spawn(process.execPath, [...process.execArgv, ...o.args], {
    detached: true, // its own session: no terminal, no SIGHUP when the shell that started it goes
    stdio: ['ignore', out, out],
    env: { ...process.env, [DAEMON_CHILD_ENV]: `${self.pid}:${self.start_ticks}` },
  });
  closeSync(out);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  child.once('error', (err) => (spawnError = err));
  const deadline = Date.now() + (o.timeoutMs ?? DAEMON_START_TIMEOUT_MS);
  for (;;) {
    if (spawnError)
      throw new RefusedError('E_DAEMON_START', `cannot start the worker: ${spawnError.message}`);
    const held = inspectPidFile(pidFile);
    if (held.kind === 'live' && held.record.pid === child.pid) break;
    if (exited) {
      const how = exited.signal ? `was killed by ${exited.signal}` : `exited with code ${exited.code}`;
      throw new ExecplaneError(
        'E_DAEMON_START',
        `the worker ${how} before it took ${pidFile}; its log (${logFile}) says:\n${logTail(logFile, logStart)}`,
        exited.code === 2 ? 2 : 1,
      );
    }
    if (Date.now() > deadline) {
      // Our own child, not yet reaped: its pid cannot have been reused.
      child.kill('SIGTERM');
      throw new RefusedError(
        'E_DAEMON_START',
        `the worker (pid ${child.pid}) did not take ${pidFile} within ${Math.round((o.timeoutMs ?? DAEMON_START_TIMEOUT_MS) / 1000)} s and was sent SIGTERM; its log (${logFile}) says:\n${logTail(logFile, logStart)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.removeAllListeners();
  child.unref();
  return { pid: child.pid, pidFile, logFile };
}

/**
 * In the worker: the pid file this process holds for its life (D3), or undefined when it has
 * none — neither `--pid-file` nor the daemon's child (`isDaemon`, D5).
 */
export function holdWorkerPidFile(o: {
  home: string;
  isDaemon: boolean;
  pidFile?: string;
  logFile?: string;
  facts: Record<string, unknown>;
}): HeldPidFile | undefined {
  const { isDaemon } = o;
  const defaults = defaultDaemonFiles(o.home);
  const path = o.pidFile ?? (isDaemon ? defaults.pidFile : undefined);
  if (path === undefined) return undefined;
  const held = holdPidFile(resolve(path), {
    command: 'work',
    home: resolve(o.home),
    ...(isDaemon ? { log_file: resolve(o.logFile ?? defaults.logFile) } : {}),
    ...o.facts,
  });
  process.once('exit', () => held.release());
  return held;
}

function refuseIfHeld(pidFile: string): void {
  const found = inspectPidFile(pidFile);
  if (found.kind === 'live')
    throw new RefusedError(
      'E_PID_FILE_HELD',
      `${pidFile} is held by a running worker (pid ${found.record.pid}); stop it first (execplane stop --pid-file ${pidFile}) or give another --pid-file`,
    );
  if (found.kind === 'unverified' && found.why.startsWith('held'))
    throw new RefusedError(
      'E_PID_FILE_HELD',
      `${pidFile} is held by a live process (${found.why}); give another --pid-file`,
    );
}

/** Opens the log to append to (D6); its directory is made if need be. */
function openLog(logFile: string): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const { O_RDWR, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
  let fd: number;
  try {
    // Read too: its first line is checked before anything is appended (looksLikeWorkerLog).
    fd = openSync(logFile, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new UsageError(
        'E_LOG_FILE',
        `--log-file ${logFile} is a symbolic link; give the path of the file itself`,
      );
    throw err;
  }
  const st = fstatSync(fd);
  const refuse = (why: string) => {
    closeSync(fd);
    throw new UsageError('E_LOG_FILE', `--log-file ${logFile} ${why}`);
  };
  if (!st.isFile()) refuse('is not a regular file; give the path of a file');
  // D6: a log is appended only to a file that is nothing else — not another name of some file (a
  // hard link to a ledger, an evidence file, a pid file), not a file that holds anything but a
  // worker's log lines (another plane's ledger, a pid or registry record: JSON that is no log).
  if (st.nlink > 1)
    refuse(`has ${st.nlink} names (hard links): it may be another file's; give a log of its own`);
  if (st.size > 0 && !looksLikeWorkerLog(fd))
    refuse(
      'already holds something that is not a worker log (its first line is no log line); give a log of its own',
    );
  return fd;
}

/**
 * A worker's log line starts with its UTC timestamp (text), `{"ts":"` (--log-format json), or
 * `execplane` (the one-line error a worker that stopped writes on stderr).
 */
function looksLikeWorkerLog(fd: number): boolean {
  const head = Buffer.alloc(32);
  const n = readSync(fd, head, 0, head.length, 0);
  const text = head.toString('latin1', 0, n);
  return /^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d|\{"ts":"\d{4}-|execplane[: ])/.test(text);
}

/** The last lines the child wrote to its log since `from` (at most 4 KiB). */
function logTail(logFile: string, from: number): string {
  try {
    const size = statSync(logFile).size;
    const start = Math.max(from, size - 4096);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(logFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    const text = buf.toString('utf8').trimEnd();
    return text
      ? text
          .split('\n')
          .slice(-10)
          .map((l) => `  ${l}`)
          .join('\n')
      : '  (nothing)';
  } catch {
    return '  (the log cannot be read)';
  }
}
