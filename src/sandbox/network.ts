/**
 * `allow_network: false`, enforced by the operating system (docs/spec.md §7, §9: the predecessor never
 * blocked the network). Commands of such jobs run in a fresh network namespace, which has no
 * interface but its own loopback: nothing on the host — not even the host's 127.0.0.1 — and
 * nothing beyond it is reachable.
 *
 * N1. Enforcement is probed once, at worker start, by actually doing it: a command is run
 *     through `unshare --net` (as root) or `unshare --net --map-root-user` (unprivileged, user
 *     namespaces) and must report a network namespace different from the worker's own.
 * N2. Where the probe fails, the worker claims no job that would need it, unless started with
 *     --unenforced-network-ok; the run header says which enforcement each attempt had.
 * N3. The namespace's own loopback is brought up (`ip link set lo up`) when `ip` is available,
 *     so test suites that listen on 127.0.0.1 inside it keep working.
 */
import { readlinkSync } from 'node:fs';
import { execa } from 'execa';
import { findProgram } from './program-lookup.js';

export type NetworkEnforcement =
  | {
      readonly kind: 'netns';
      /** How: e.g. `unshare --net`. */
      readonly method: string;
      readonly loopback: boolean;
      /** argv prefix that runs a program inside a fresh namespace (ends with the program to come). */
      readonly prefix: readonly string[];
    }
  | { readonly kind: 'none'; readonly reason: string };

const PROBE_TIMEOUT_MS = 10_000;

export async function probeNetworkEnforcement(pathVar = process.env.PATH): Promise<NetworkEnforcement> {
  let ownNs: string;
  try {
    ownNs = readlinkSync('/proc/self/ns/net');
  } catch {
    return { kind: 'none', reason: 'no network namespaces here (/proc/self/ns/net is missing: not Linux?)' };
  }
  const unshare = await findProgram('unshare', pathVar);
  if (!unshare) return { kind: 'none', reason: 'unshare (util-linux) is not on PATH' };
  const nsReader = await nsReaderArgv(pathVar);
  const root = process.getuid?.() === 0;
  const variants = root
    ? [['--net'], ['--net', '--map-root-user']]
    : [['--net', '--map-root-user'], ['--net']];
  const failures: string[] = [];
  for (const flags of variants) {
    const base = [unshare, ...flags, '--'];
    const why = await probe(base, nsReader, ownNs, pathVar);
    if (why !== undefined) {
      failures.push(`unshare ${flags.join(' ')}: ${why}`);
      continue;
    }
    const withLoopback = await loopbackPrefix(base, pathVar);
    const loopback =
      withLoopback !== undefined &&
      (await probe(withLoopback, nsReader, ownNs, pathVar)) === undefined &&
      (await leavesEnvAlone(withLoopback, pathVar));
    return {
      kind: 'netns',
      method: `unshare ${flags.join(' ')}`,
      loopback,
      prefix: loopback && withLoopback ? withLoopback : base,
    };
  }
  return { kind: 'none', reason: failures.join('; ') };
}

/** Runs the namespace reader under `prefix`; undefined when it reported a namespace of its own. */
/** Runs a probe command with only PATH in its environment, bounded in time, never throwing. */
function runProbe(argv: readonly string[], pathVar: string | undefined) {
  const [file, ...args] = argv;
  return execa(file as string, args, {
    reject: false,
    timeout: PROBE_TIMEOUT_MS,
    env: { PATH: pathVar ?? '' },
    extendEnv: false,
    stdin: 'ignore',
  });
}

async function probe(
  prefix: readonly string[],
  reader: readonly string[],
  ownNs: string,
  pathVar: string | undefined,
): Promise<string | undefined> {
  const r = await runProbe([...prefix, ...reader], pathVar);
  if (r.exitCode !== 0) return `exit ${r.exitCode ?? r.signal}: ${String(r.stderr).trim().slice(0, 200)}`;
  const ns = String(r.stdout).trim();
  if (!/^net:\[\d+\]$/.test(ns)) return `unexpected output ${JSON.stringify(ns.slice(0, 80))}`;
  return ns === ownNs ? 'the command stayed in the worker’s network namespace' : undefined;
}

async function nsReaderArgv(pathVar: string | undefined): Promise<string[]> {
  const readlink = await findProgram('readlink', pathVar);
  return readlink
    ? [readlink, '/proc/self/ns/net']
    : [process.execPath, '-p', "require('fs').readlinkSync('/proc/self/ns/net')"];
}

/**
 * `prefix` plus a fixed shell script that brings the namespace's loopback up, then execs the
 * program. Our own script, not job input: the program and its argv follow as "$@". The shell's
 * own variables are unset so the child still gets exactly PATH + env_allow (checked by
 * leavesEnvAlone); dash is preferred because bash re-exports SHLVL.
 */
async function loopbackPrefix(
  prefix: readonly string[],
  pathVar: string | undefined,
): Promise<string[] | undefined> {
  const [sh, ip] = await Promise.all([
    findProgram('dash', pathVar).then(async (d) => d ?? (await findProgram('sh', pathVar))),
    findProgram('ip', pathVar),
  ]);
  if (!sh || !ip || /['\\]/.test(ip)) return undefined;
  return [...prefix, sh, '-c', `'${ip}' link set lo up && unset PWD OLDPWD SHLVL _ && exec "$@"`, 'sh'];
}

/** The wrapper passes the environment through untouched: `env` run under it sees only PATH. */
async function leavesEnvAlone(prefix: readonly string[], pathVar: string | undefined): Promise<boolean> {
  const env = await findProgram('env', pathVar);
  if (!env) return false;
  const r = await runProbe([...prefix, env], pathVar);
  return r.exitCode === 0 && String(r.stdout).trim() === `PATH=${pathVar ?? ''}`;
}

/** One line for logs and the run header. */
export function describeEnforcement(e: NetworkEnforcement): string {
  return e.kind === 'netns'
    ? `${e.method} (fresh network namespace${e.loopback ? ', its own loopback up' : ', no interfaces up'})`
    : `none: ${e.reason}`;
}
