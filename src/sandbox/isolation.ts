/**
 * The OS boundary of every process a job starts: bubblewrap (`bwrap`), probed at worker start
 * (docs/sandbox.md, "The boundary"). The argv policy (program-policy.ts) says what a spec asks
 * for; this is what holds when the program is an interpreter that runs whatever it is given.
 *
 * B1. Identity: a user namespace of its own, uid/gid 65534 inside, every capability dropped and
 *     no_new_privs: it can enter no other namespace (setns) and gain nothing by exec. When the
 *     worker runs as root and config.json names `sandbox.uid`/`gid`, bubblewrap itself starts as
 *     that user, so the job is that unprivileged user on the host too.
 * B2. Processes: a PID namespace with its own /proc — no other process is visible (not the
 *     worker, not its environment, not other jobs) — that dies whole when its command exits, when
 *     the attempt stops it, and when the worker dies (`--die-with-parent`): a setsid() daemon or a
 *     double fork cannot outlive the attempt.
 * B3. Files: a root of its own in which only these exist: the system directories (/usr, /etc with
 *     its root-only files masked, /opt, the /bin, /lib… links) and the toolchains on the
 *     worker's PATH (or config's `sandbox.read_only_paths`), read-only; a fresh /proc, a minimal
 *     /dev and an empty scratch directory as /tmp; and the workspace, read-write (read-only when
 *     the job's policy has `write_workspace: false`). The plane's home, other jobs' evidence,
 *     /root, /home, /run, /var and every host socket under them do not exist in it.
 * B4. Network: a network namespace of its own (loopback only) unless the policy allows network.
 *     With network, the host's filesystem sockets stay out of sight (B3); its abstract unix
 *     sockets belong to the network namespace and are reachable.
 * B5. Probed, never assumed: at start a probe runs through the same arguments and checks B1–B4
 *     from inside (uid, capabilities, /proc, the home's absence, a read-only /usr, the network
 *     namespace); what held is recorded in every run header, and a job that needs a process is
 *     not claimed where the probe failed, unless the worker was started with --unsandboxed-ok.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { findProgram } from './program-lookup.js';

/** The uid and gid a job has inside its user namespace (the conventional "nobody"). */
export const SANDBOX_ID = 65534;

/** Top-level system directories shown read-only (or recreated as the links they are). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];

export interface Isolation {
  readonly kind: 'bwrap';
  /** The bubblewrap binary. */
  readonly bwrap: string;
  /** `env`, which runs the program without the PWD bubblewrap sets (or undefined: PWD stays). */
  readonly env: string | undefined;
  readonly version: string;
  /** Mount arguments every job shares (B3): system dirs, toolchains, masks. */
  readonly mounts: readonly string[];
  /** Paths shown read-only beyond the system directories (toolchains, config). */
  readonly readOnlyPaths: readonly string[];
  /** Files and directories of /etc that only their owner can read, hidden (B3). */
  readonly masked: readonly string[];
  /** uid/gid bubblewrap starts as (root workers with sandbox.uid/gid), else undefined. */
  readonly runAs: { readonly uid: number; readonly gid: number } | undefined;
  /** What the probe saw from inside (B5), for run headers and logs. */
  readonly facts: IsolationFacts;
}

export interface IsolationFacts {
  readonly identity: string;
  readonly processes: string;
  readonly files: string;
  readonly network: string;
}

export type IsolationProbe =
  { readonly ok: true; readonly isolation: Isolation } | { readonly ok: false; readonly reason: string };

export interface ProbeOptions {
  /** The worker's PATH: where bwrap and the toolchains are found. */
  readonly pathVar: string | undefined;
  /** The plane's home: the probe checks that it is not visible inside. */
  readonly home: string;
  /** Extra read-only paths from config.json (`sandbox.read_only_paths`). */
  readonly readOnlyPaths?: readonly string[];
  /** For root workers: the unprivileged user bubblewrap starts as (config.json `sandbox.uid/gid`). */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

/** What one command's sandbox needs besides the shared mounts. */
export interface SandboxRun {
  readonly workspace: string;
  readonly cwd: string;
  readonly writeWorkspace: boolean;
  readonly network: boolean;
  /** A fresh empty directory outside the workspace and the home, mounted as /tmp. */
  readonly scratch: string;
  /** The file descriptor bwrap reports the sandbox's first process on (`--info-fd`). */
  readonly infoFd?: number;
  /**
   * More directories or files shown read-only for this command alone (B3), e.g. where an MCP
   * server is installed; absolute. Missing ones and those under the system directories (shown
   * already, and re-binding /etc would undo its masks) are left out.
   */
  readonly extraReadOnly?: readonly string[];
}

const PROBE_TIMEOUT_MS = 10_000;

/** Runs the probe (B5); never throws. */
export async function probeIsolation(options: ProbeOptions): Promise<IsolationProbe> {
  const bwrap = await findProgram('bwrap', options.pathVar);
  if (!bwrap) {
    return {
      ok: false,
      reason: 'bubblewrap (bwrap) is not on PATH: install it (Debian: apt-get install bubblewrap)',
    };
  }
  const sh = (await findProgram('dash', options.pathVar)) ?? (await findProgram('sh', options.pathVar));
  if (!sh) return { ok: false, reason: 'no sh on PATH to run the sandbox probe with' };
  const version = await execa(bwrap, ['--version'], { reject: false, timeout: PROBE_TIMEOUT_MS });
  const readOnlyPaths = toolchainPaths(options.pathVar, options.readOnlyPaths ?? []);
  const masked = ownerOnlyEntries('/etc');
  const mounts = sharedMounts(readOnlyPaths, masked);
  const isolation: Isolation = {
    kind: 'bwrap',
    bwrap,
    env: await findProgram('env', options.pathVar),
    version: String(version.stdout).trim() || 'bubblewrap',
    mounts,
    readOnlyPaths,
    masked,
    runAs: process.getuid?.() === 0 ? options.runAs : undefined,
    facts: { identity: '', processes: '', files: '', network: '' },
  };
  // The probe's workspace and /tmp: both must be writable from inside.
  let workspace: string | undefined;
  let scratch: string | undefined;
  try {
    workspace = await newScratch(isolation);
    scratch = await newScratch(isolation);
    const argv = sandboxArgv(isolation, {
      workspace,
      cwd: workspace,
      writeWorkspace: true,
      network: false,
      scratch,
    });
    const script = [
      'echo uid=$(id -u)',
      'grep "^CapEff:" /proc/self/status | tr -d "\\t" | sed "s/CapEff:/caps=/"',
      'echo pids=$(ls /proc | grep -c "^[0-9]")',
      'echo net=$(readlink /proc/self/ns/net)',
      '[ -e "$1" ] && echo home=visible || echo home=absent',
      '( : > /usr/.execplane-probe ) 2>/dev/null && echo usr=writable || echo usr=readonly',
      '( : > "$2/.probe" ) 2>/dev/null && echo workspace=writable || echo workspace=readonly',
      'grep "^NoNewPrivs:" /proc/self/status | tr -d "\t" | sed "s/NoNewPrivs:/nnp=/"',
    ].join('; ');
    const r = await execa(
      argv[0]!,
      [...argv.slice(1), sh, '-c', script, 'probe', resolve(options.home), workspace],
      {
        reject: false,
        timeout: PROBE_TIMEOUT_MS,
        env: { PATH: options.pathVar ?? '' },
        extendEnv: false,
        stdin: 'ignore',
        ...(isolation.runAs ? { uid: isolation.runAs.uid, gid: isolation.runAs.gid } : {}),
      },
    );
    if (r.exitCode !== 0) {
      return {
        ok: false,
        reason: `the bubblewrap probe failed (exit ${r.exitCode ?? r.signal}): ${firstLine(String(r.stderr))}`,
      };
    }
    const seen = Object.fromEntries(
      String(r.stdout)
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
    const ownNet = readlinkSync('/proc/self/ns/net');
    const problems = [
      seen.uid !== String(SANDBOX_ID) && `runs as uid ${seen.uid}, not ${SANDBOX_ID}`,
      !/^0+$/.test(seen.caps ?? '') && `keeps capabilities ${seen.caps}`,
      // bubblewrap's init, the shell, and the pipeline counting them.
      !(Number(seen.pids) <= 8) && `sees ${seen.pids} processes in /proc`,
      (seen.net === ownNet || !seen.net) && 'shares the worker’s network namespace',
      seen.home !== 'absent' && 'sees the plane’s home',
      seen.usr !== 'readonly' && 'can write /usr',
      seen.workspace !== 'writable' && 'cannot write its workspace',
      seen.nnp !== '1' && 'may gain privileges (no_new_privs is not set)',
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length)
      return { ok: false, reason: `the bubblewrap probe's command ${problems.join('; ')}` };
    const who = isolation.runAs ? `host uid ${isolation.runAs.uid}` : `host uid ${process.getuid?.() ?? '?'}`;
    return {
      ok: true,
      isolation: {
        ...isolation,
        facts: {
          identity: `user namespace, uid ${SANDBOX_ID} inside (${who}), no capabilities, no_new_privs`,
          processes:
            'own PID namespace and /proc; the whole tree dies with the command, the attempt and the worker',
          files: `read-only system and toolchain directories; workspace ${'read-write unless write_workspace: false'}; scratch /tmp; the plane's home absent`,
          network: 'own network namespace (loopback only) unless allow_network',
        },
      },
    };
  } catch (err) {
    return { ok: false, reason: `the bubblewrap probe could not run: ${(err as Error).message}` };
  } finally {
    if (workspace) await removeScratch(workspace);
    if (scratch) await removeScratch(scratch);
  }
}

/** bwrap's arguments for one command, up to and including `--` (the program follows). */
export function sandboxArgv(iso: Isolation, run: SandboxRun): string[] {
  return [
    iso.bwrap,
    '--unshare-user',
    '--uid',
    String(SANDBOX_ID),
    '--gid',
    String(SANDBOX_ID),
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(run.network ? [] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    // /tmp first: a toolchain the worker's PATH points into under /tmp (a Node unpacked there)
    // is then mounted on top of the scratch directory, not hidden by it.
    '--bind',
    run.scratch,
    '/tmp',
    ...iso.mounts,
    // Before the workspace: a read-only path that contains it does not hide its own mode.
    ...extraMounts(run.extraReadOnly ?? []),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    run.writeWorkspace ? '--bind' : '--ro-bind',
    run.workspace,
    run.workspace,
    // DNS for jobs with network, where /etc/resolv.conf points into /run (systemd-resolved).
    ...(run.network ? resolvConfMount() : []),
    '--chdir',
    run.cwd,
    ...(run.infoFd !== undefined ? ['--info-fd', String(run.infoFd)] : []),
    '--',
    // bubblewrap sets PWD for its --chdir; the program gets exactly PATH + env_allow (E1).
    ...(iso.env ? [iso.env, '-u', 'PWD'] : []),
  ];
}

/** The mounts every job shares (B3). */
function sharedMounts(readOnlyPaths: readonly string[], masked: readonly string[]): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  for (const path of readOnlyPaths) args.push('--ro-bind', path, path);
  for (const path of masked) {
    const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory();
    if (isDir) args.push('--tmpfs', path);
    else args.push('--ro-bind', '/dev/null', path);
  }
  return args;
}

/** `--ro-bind p p` for each of a command's own read-only paths (SandboxRun.extraReadOnly). */
function extraMounts(paths: readonly string[]): string[] {
  const args: string[] = [];
  for (const path of paths) {
    if (!isAbsolute(path) || !existsSync(path)) continue;
    const real = realpathSync(path);
    if (!underSystemDir(real)) args.push('--ro-bind', real, real);
  }
  return args;
}

/**
 * The toolchains the worker's PATH points into outside the system directories (e.g. a
 * ~/.pyenv, ~/.cargo), shown read-only so the programs jobs may run are there. A PATH entry
 * named bin, sbin or shims shows its parent (the toolchain's root: its libraries come with it),
 * unless that parent is a home directory or `/`, which are never shown whole.
 */
export function toolchainPaths(pathVar: string | undefined, extra: readonly string[]): string[] {
  const homes = new Set(['/', '/root', '/home', homedir()].map((p) => resolve(p)));
  const out = new Set<string>();
  for (const entry of (pathVar ?? '').split(delimiter)) {
    if (!entry || !isAbsolute(entry) || !existsSync(entry)) continue;
    const real = realpathSync(entry);
    if (underSystemDir(real)) continue;
    const parent = dirname(real);
    const root = ['bin', 'sbin', 'shims'].includes(basename(real)) && !homes.has(parent) ? parent : real;
    out.add(root);
  }
  for (const path of extra) if (isAbsolute(path) && existsSync(path)) out.add(realpathSync(path));
  // A path inside another one is shown with it.
  const sorted = [...out].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(q.endsWith(sep) ? q : q + sep)));
}

function underSystemDir(path: string): boolean {
  return SYSTEM_DIRS.some((d) => path === d || path.startsWith(d + sep));
}

/**
 * Entries of `dir` (two levels deep) that only their owner may read: /etc/shadow, private keys.
 * A job's host identity may be that owner (a root worker without sandbox.uid), so they are
 * masked rather than left to their permissions.
 */
function ownerOnlyEntries(dir: string, depth = 2): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) continue;
    if ((st.mode & 0o004) === 0 && (st.isFile() || st.isDirectory())) out.push(path);
    else if (st.isDirectory() && depth > 1) out.push(...ownerOnlyEntries(path, depth - 1));
  }
  return out;
}

function resolvConfMount(): string[] {
  try {
    const target = realpathSync('/etc/resolv.conf');
    if (underSystemDir(target)) return [];
    return ['--ro-bind-try', dirname(target), dirname(target)];
  } catch {
    return [];
  }
}

const firstLine = (s: string) => s.trim().split('\n')[0]?.slice(0, 300) ?? '';

/**
 * A fresh empty directory for one command's /tmp (B3): outside the workspace and the home, owned
 * by the user bubblewrap starts as.
 */
export async function newScratch(iso: Pick<Isolation, 'runAs'>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'execplane-scratch-'));
  try {
    if (iso.runAs) await chown(dir, iso.runAs.uid, iso.runAs.gid);
  } catch (err) {
    await removeScratch(dir);
    throw err;
  }
  return dir;
}

export async function removeScratch(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
