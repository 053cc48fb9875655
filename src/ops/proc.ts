/**
 * Who a process is, read from /proc (Linux): the port guard, pid files and the worker registry
 * name processes by pid **and** start time, so a pid the kernel reused for another process is
 * never taken for the one that was recorded.
 *
 * I1. A process's identity is (pid, start time in clock ticks since boot: field 22 of
 *     /proc/PID/stat). Two processes alive at different times never share both.
 * I2. Nothing here throws for a process that is gone or cannot be read: the answer is undefined,
 *     and callers treat "cannot tell" as "not the same process" (never signal on a guess).
 * I3. A zombie has ended, for every caller: it keeps its /proc entry, start time included, until
 *     its parent reaps it (in a container whose PID 1 reaps nothing, never), yet it holds no file,
 *     lock or port, runs nothing, and a signal does nothing to it. `runningIdentity` and
 *     `hasEnded` are the only two questions of identity asked of a pid (its state, uid, command
 *     line and locks are facts about a process, not who it is).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

export interface ProcessIdentity {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
  readonly start_ticks: number;
}

/** What /proc/PID/stat says of a process that the rest of ops needs: its state and start time (I1). */
export interface ProcessStat {
  /** Field 3: R, S, D, T, Z (a zombie: exited, not yet reaped), X (dead), … */
  readonly state: string;
  readonly start_ticks: number;
}

/** Fields 3 and 22 of /proc/PID/stat, or undefined when there is no such process or /proc says nothing. */
export function processStat(pid: number, procRoot = '/proc'): ProcessStat | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and ')': the fields
  // after it start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  const state = rest[0] ?? '';
  const ticks = Number(rest[19]);
  return /^[A-Za-z]$/.test(state) && Number.isSafeInteger(ticks) && ticks >= 0
    ? { state, start_ticks: ticks }
    : undefined;
}

/**
 * The identity of the process running under `pid` (I1): undefined when there is none, or it has
 * exited and is only a zombie waiting for its parent (I3).
 */
export function runningIdentity(pid: number, procRoot = '/proc'): ProcessIdentity | undefined {
  const stat = processStat(pid, procRoot);
  return stat && stat.state !== 'Z' && stat.state !== 'X'
    ? { pid, start_ticks: stat.start_ticks }
    : undefined;
}

/** Whether the process `id` names has ended (I3): gone, its pid reused (I1), or a zombie. */
export function hasEnded(id: ProcessIdentity, procRoot = '/proc'): boolean {
  return runningIdentity(id.pid, procRoot)?.start_ticks !== id.start_ticks;
}

/** This process's identity. */
export function selfIdentity(): ProcessIdentity {
  const id = runningIdentity(process.pid);
  if (!id) throw new Error('/proc/self/stat cannot be read: execplane needs Linux /proc');
  return id;
}

/**
 * The real uid of `pid` (the first figure of the `Uid:` line of /proc/PID/status), or undefined
 * when it is gone or unreadable (I2).
 */
export function processUid(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const m = /^Uid:\s+([0-9]+)/m.exec(readFileSync(`${procRoot}/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process's command line, argv joined by spaces (what `ps -o args` shows, titles set by
 * the process included), or its name in brackets when it has none (a kernel thread, a zombie);
 * undefined when it is gone or unreadable.
 */
export function processCommand(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const argv = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0');
    while (argv.length && argv[argv.length - 1] === '') argv.pop();
    if (argv.length) return argv.join(' ');
  } catch {
    return undefined;
  }
  const name = processName(pid, procRoot);
  return name === undefined ? undefined : `[${name}]`;
}

/** /proc/PID/comm: the process's name (at most 15 bytes), or undefined. */
export function processName(pid: number, procRoot = '/proc'): string | undefined {
  try {
    return readFileSync(`${procRoot}/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` holds a write lock of its own (an OFD or POSIX lock, as /proc/PID/fdinfo lists it)
 * on the file `file` names by device and inode: the kernel shows OFD locks with no owner pid
 * (`-1` in /proc/locks), so this is how a pid file's record is checked against its real holder.
 * Undefined when /proc/PID/fd cannot be read (another user's process, no /proc): cannot tell (I2).
 */
export function holdsWriteLock(
  pid: number,
  file: { readonly dev: number; readonly ino: number },
  procRoot = '/proc',
): boolean | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`${procRoot}/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    try {
      const target = statSync(`${procRoot}/${pid}/fd/${fd}`);
      if (target.ino !== file.ino || target.dev !== file.dev) continue;
      const info = readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
      if (/^lock:.*\b(OFDLCK|POSIX)\s+ADVISORY\s+WRITE\b/m.test(info)) return true;
    } catch {
      // closed meanwhile, or not a file: next
    }
  }
  return false;
}
