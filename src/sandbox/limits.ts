/**
 * Per-job resource limits the kernel enforces (docs/sandbox.md, "Resources"): memory, number of
 * processes, CPU time, file size and open files — each a budget of the spec
 * (`budgets.max_memory_bytes`, …) with defaults in config.json (`sandbox.limits`) and below.
 *
 * L1. Every command of a job starts under its limits, applied before bubblewrap runs (so they
 *     hold for everything inside): rlimits always — RLIMIT_AS (memory), RLIMIT_NPROC
 *     (processes), RLIMIT_CPU (seconds of CPU per process), RLIMIT_FSIZE (bytes per file
 *     written), RLIMIT_NOFILE (open files) — and, where the worker may create them, a cgroup of
 *     its own whose memory and pids controllers cap the whole tree together.
 * L2. A limit that stopped the command ends the job with its code, never as an ordinary
 *     non-zero exit: E_BUDGET_CPU (killed by SIGXCPU), E_BUDGET_FILE_SIZE (SIGXFSZ), and with a
 *     cgroup E_BUDGET_MEMORY (the memory controller hit its limit) and E_BUDGET_PROCESSES (a fork
 *     refused at pids.max). Without a cgroup, memory and processes are still capped by their
 *     rlimits, and a command that hits one fails the way the program reports it; open files are
 *     capped and never attributed.
 */
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Budgets } from '../schema/types.generated.js';

export interface JobLimits {
  readonly max_memory_bytes: number;
  readonly max_processes: number;
  readonly max_cpu_sec: number;
  readonly max_file_size_bytes: number;
  readonly max_open_files: number;
}

/** The defaults a job gets when neither its spec nor config.json says otherwise. */
export const DEFAULT_LIMITS: JobLimits = {
  max_memory_bytes: 4 * 1024 ** 3,
  max_processes: 512,
  max_cpu_sec: 3600,
  max_file_size_bytes: 4 * 1024 ** 3,
  max_open_files: 4096,
};

export const LIMIT_FIELDS = Object.keys(DEFAULT_LIMITS) as (keyof JobLimits)[];

/** The limits a job runs under: its spec's, else config.json's, else the defaults. */
export function effectiveLimits(budgets: Budgets, configured: Partial<JobLimits> = {}): JobLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const field of LIMIT_FIELDS) out[field] = budgets[field] ?? configured[field] ?? DEFAULT_LIMITS[field];
  return out;
}

/**
 * The `ulimit` commands of the launcher's shell, one resource each (as dash takes them): -t
 * seconds, -f 512-byte blocks, -n files, and -v KiB and -p processes. With a cgroup, memory and
 * processes are the cgroup's to cap (and to attribute, L2): an address-space limit would make a
 * program fail its allocation before the cgroup could see the breach. Each failure exits 125.
 */
export function ulimitScript(l: JobLimits, cgroup: boolean): string {
  const kib = Math.max(1, Math.floor(l.max_memory_bytes / 1024));
  const blocks = Math.max(1, Math.floor(l.max_file_size_bytes / 512));
  // CPU: the soft limit sends SIGXCPU (attributed, L2); the hard one, 2 s later, SIGKILL for a
  // program that ignores it.
  const set = [
    `-S -t ${l.max_cpu_sec}`,
    `-H -t ${l.max_cpu_sec + 2}`,
    `-f ${blocks}`,
    `-n ${l.max_open_files}`,
  ];
  if (!cgroup) set.push(`-v ${kib}`, `-p ${l.max_processes}`);
  // A limit above the hard limit the worker itself runs under is lowered to it: only root may raise.
  const lim =
    'lim() { h=$(ulimit -H $2); v=$3; if [ "$h" != unlimited ] && [ "$h" -lt "$3" ]; then v=$h; fi; ulimit $1 $2 $v || exit 125; }';
  return [lim, ...set.map((s) => `lim ${s.startsWith('-H') || s.startsWith('-S') ? s : `'' ${s}`}`)].join(
    '; ',
  );
}

/** Where this worker can make cgroups for its jobs (L1), or why it cannot. */
export type CgroupSupport =
  | { readonly kind: 'v1'; readonly memory: string; readonly pids: string }
  | { readonly kind: 'none'; readonly reason: string };

/** A cgroup (v1: one directory under each controller) holding one command's tree. */
export interface JobCgroup {
  /** The files the launcher writes its own pid to, before it execs bubblewrap. */
  readonly procsFiles: readonly string[];
  /** What the controllers saw, read once the tree is gone. */
  verdict(): { readonly memoryExceeded: boolean; readonly processesExceeded: boolean };
  remove(): void;
}

/**
 * Finds cgroup v1 memory and pids hierarchies this worker may create children in (as root, in
 * the cgroup it is in): a trial child is made and removed. cgroup v2 is not used yet: a v2
 * subtree needs delegation (systemd's Delegate=) that the worker cannot arrange itself.
 */
export function probeCgroups(procSelfCgroup = '/proc/self/cgroup', root = '/sys/fs/cgroup'): CgroupSupport {
  let lines: string[];
  try {
    lines = readFileSync(procSelfCgroup, 'utf8').trim().split('\n');
  } catch {
    return { kind: 'none', reason: 'no /proc/self/cgroup (not Linux?)' };
  }
  const own = (controller: string) => {
    for (const line of lines) {
      const [, list, path] = line.split(':');
      if (list?.split(',').includes(controller) && path !== undefined) return join(root, controller, path);
    }
    return undefined;
  };
  const memory = own('memory');
  const pids = own('pids');
  if (!memory || !pids)
    return { kind: 'none', reason: 'no cgroup v1 memory and pids controllers (cgroup v2 is not used yet)' };
  const trial = `execplane-probe-${process.pid}`;
  for (const dir of [memory, pids]) {
    try {
      mkdirSync(join(dir, trial));
      rmdirSync(join(dir, trial));
    } catch (err) {
      return {
        kind: 'none',
        reason: `cannot create cgroups under ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      };
    }
  }
  for (const dir of [memory, pids]) sweepLeftCgroups(dir);
  return { kind: 'v1', memory, pids };
}

/**
 * Removes the cgroups of workers that are gone (a `kill -9` between create and remove, or a kernel
 * that still counted a process at `remove`): an empty cgroup is removed by rmdir, one with a
 * process in it refuses (EBUSY) and stays. Only ours (`execplane-<pid>-…`), only of dead pids.
 */
function sweepLeftCgroups(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^execplane-(\d+)-/.exec(name)?.[1];
    if (pid === undefined || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(dir, name));
    } catch {
      // busy, or not ours to remove: left as it is
    }
  }
}

let made = 0;
/**
 * Part of every cgroup name this process makes: a pid alone repeats once the kernel reuses it, and
 * a cgroup left by the earlier holder of that pid would make mkdir fail with EEXIST.
 */
const NONCE = randomBytes(4).toString('hex');

/**
 * A cgroup for one command under `limits`; undefined where there is no support. `owner`: the user
 * the launcher runs as (a root worker's sandbox.uid/gid), who must be able to join it.
 */
export function createJobCgroup(
  support: CgroupSupport,
  limits: JobLimits,
  owner?: { readonly uid: number; readonly gid: number },
): JobCgroup | undefined {
  if (support.kind !== 'v1') return undefined;
  const name = `execplane-${process.pid}-${NONCE}-${++made}`;
  const memory = join(support.memory, name);
  const pids = join(support.pids, name);
  mkdirSync(memory);
  try {
    mkdirSync(pids);
  } catch (err) {
    rmdirSync(memory);
    throw err;
  }
  try {
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.max_memory_bytes));
    // Swap counts as memory too where the kernel accounts it (memsw); absent without swap accounting.
    try {
      writeFileSync(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.max_memory_bytes));
    } catch {
      // no swap accounting here: memory.limit_in_bytes alone caps the tree
    }
    writeFileSync(join(pids, 'pids.max'), String(limits.max_processes));
    if (owner) for (const dir of [memory, pids]) chownSync(join(dir, 'cgroup.procs'), owner.uid, owner.gid);
  } catch (err) {
    rmdirSync(memory);
    rmdirSync(pids);
    throw err;
  }
  return {
    procsFiles: [join(memory, 'cgroup.procs'), join(pids, 'cgroup.procs')],
    verdict: () => ({
      // failcnt also counts page cache the kernel reclaimed at the limit: only an OOM kill is a breach.
      memoryExceeded: oomKills(memory) > 0,
      processesExceeded: eventCount(join(pids, 'pids.events'), 'max') > 0,
    }),
    remove: () => {
      for (const dir of [memory, pids]) {
        try {
          rmdirSync(dir);
        } catch {
          // a process still in it (the tree is gone by now, so only a kernel lag): leave the
          // empty cgroup for the next start rather than fail the job for it
        }
      }
    },
  };
}

function eventCount(path: string, key: string): number {
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === key) return Number(v) || 0;
    }
  } catch {
    // no such file: no events
  }
  return 0;
}

/** `oom_kill N` of memory.oom_control (kernels that count it). */
function oomKills(memoryDir: string): number {
  return eventCount(join(memoryDir, 'memory.oom_control'), 'oom_kill');
}
