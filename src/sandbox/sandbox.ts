/**
 * What a worker can enforce, decided once at start (config.json, the bubblewrap probe, the
 * network probe, the cgroups it may make), and the facts about it that each attempt's run
 * header records.
 *
 * S1. Fail closed: a job that starts processes runs only inside the OS sandbox (isolation.ts);
 *     where the probe failed, such jobs are not claimed (`whyCannotRun` says why) unless the
 *     worker was started with --unsandboxed-ok, which gives up the boundary by name: the job's
 *     processes then run as the worker's user, in their own process group, with the network cut
 *     only where `unshare` can do it (network.ts) — and the run header says so.
 * S2. A job's environment is PATH plus the names its spec's env_allow lists, each of which must
 *     be on the worker's own list (config.json `sandbox.env_allow`): a spec cannot name an
 *     arbitrary variable of the worker (E_ENV_NOT_ALLOWED).
 */
import type { JobContext } from '../../machines/job.types.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import { startsProcesses } from '../core/job-needs.js';
import type { JobSpec } from '../schema/job-spec.js';
import type { IsolationProbe } from './isolation.js';
import type { CgroupSupport, JobLimits } from './limits.js';
import { describeEnforcement, type NetworkEnforcement } from './network.js';
import type { ProgramPolicy } from './program-policy.js';

/** The worker's variables a job may ask for when config.json does not say (S2). */
export const DEFAULT_ENV_ALLOW: readonly string[] = [
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TERM',
  'NO_COLOR',
  'CI',
];

export interface Sandbox {
  readonly policy: ProgramPolicy;
  /** The OS boundary (isolation.ts): the probe's verdict. */
  readonly isolation: IsolationProbe;
  /** --unsandboxed-ok: run process-starting jobs without the OS boundary where it failed (S1). */
  readonly unsandboxedOk: boolean;
  /** Only without the boundary: how the network is cut (network.ts). */
  readonly network: NetworkEnforcement;
  /** --unenforced-network-ok: without the boundary, run allow_network:false jobs where the network cannot be cut. */
  readonly unenforcedNetworkOk: boolean;
  /** Cgroups for memory and process limits (limits.ts). */
  readonly cgroups: CgroupSupport;
  /** config.json `sandbox.limits`: defaults for the budgets a spec does not set. */
  readonly limitDefaults: Partial<JobLimits>;
  /** The worker's variables a job may name (S2). */
  readonly envAllow: readonly string[];
  /** The worker's environment: PATH and the allowed names are taken from it, nothing else. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The shell the launcher script runs in (dash where there is one: it sets no variables of its own). */
  readonly shell: string;
}

export type NetworkMode = 'host' | 'netns' | 'unenforced';

/** How a job's processes run on this worker: inside the boundary, or (S1) without it. */
export type ProcessMode =
  | { readonly kind: 'sandbox'; readonly network: 'host' | 'netns' }
  | { readonly kind: 'unsandboxed'; readonly network: NetworkMode };

/** How a job's commands run on this worker, or undefined when they must not run here (S1). */
export function processModeFor(sandbox: Sandbox, allowNetwork: boolean): ProcessMode | undefined {
  if (sandbox.isolation.ok) return { kind: 'sandbox', network: allowNetwork ? 'host' : 'netns' };
  if (!sandbox.unsandboxedOk) return undefined;
  if (allowNetwork) return { kind: 'unsandboxed', network: 'host' };
  if (sandbox.network.kind === 'netns') return { kind: 'unsandboxed', network: 'netns' };
  return sandbox.unenforcedNetworkOk ? { kind: 'unsandboxed', network: 'unenforced' } : undefined;
}

/** Why this worker does not claim `job` (S1), or undefined when it can run it. */
export function whyCannotRun(
  sandbox: Sandbox,
  job: Pick<JobContext, 'job_type' | 'tool_policy'>,
): string | undefined {
  if (!startsProcesses(job)) return undefined;
  if (processModeFor(sandbox, job.tool_policy.allow_network) !== undefined) return undefined;
  if (sandbox.isolation.ok) return undefined;
  if (!sandbox.unsandboxedOk) {
    return `its processes need the OS sandbox, which this worker cannot provide (${sandbox.isolation.reason}); start a worker where bubblewrap works, or this one with --unsandboxed-ok`;
  }
  return `allow_network is false and this worker can neither sandbox nor cut the network (${
    sandbox.network.kind === 'none' ? sandbox.network.reason : '?'
  }); start it with --unenforced-network-ok to run such jobs on the host network`;
}

/** WorkerOptions.canRun: never claim a job this worker cannot run as its policy needs (S1). */
export function canRunJob(sandbox: Sandbox, job: Pick<JobContext, 'job_type' | 'tool_policy'>): boolean {
  return whyCannotRun(sandbox, job) === undefined;
}

/** The worker's one-line account of its sandbox, for its log. */
export function describeSandbox(sandbox: Sandbox): string {
  if (sandbox.isolation.ok) {
    const limits =
      sandbox.cgroups.kind === 'v1'
        ? 'cgroup v1 memory and pids, rlimits'
        : `rlimits only (${sandbox.cgroups.reason})`;
    return `${sandbox.isolation.isolation.version}: user, PID, mount and network namespaces; limits: ${limits}`;
  }
  const fallback = sandbox.unsandboxedOk
    ? `--unsandboxed-ok: jobs' processes run as this worker's user; network: ${describeEnforcement(sandbox.network)}`
    : 'jobs that start processes are left for other workers';
  return `none (${sandbox.isolation.reason}); ${fallback}`;
}

/** The run header's `sandbox` section for one job. */
export function sandboxFacts(
  sandbox: Sandbox,
  job: Pick<JobSpec, 'job_type' | 'tool_policy'>,
): Record<string, unknown> {
  const spawns = startsProcesses(job);
  const mode = processModeFor(sandbox, job.tool_policy.allow_network);
  const iso = sandbox.isolation.ok ? sandbox.isolation.isolation : undefined;
  return {
    paths: 'workspace-confined (realpath check, O_NOFOLLOW, /proc/self/fd re-check)',
    processes: !spawns
      ? 'none started'
      : mode?.kind === 'sandbox'
        ? `bubblewrap (${iso!.version}): ${iso!.facts.identity}; ${iso!.facts.processes}; env = PATH + env_allow`
        : mode?.kind === 'unsandboxed'
          ? 'UNSANDBOXED (--unsandboxed-ok): the worker’s user; own process group, whole tree killed; env = PATH + env_allow'
          : 'refused',
    files: !spawns
      ? 'none'
      : mode?.kind === 'sandbox'
        ? iso!.facts.files
        : mode
          ? 'UNCONFINED: what the worker’s user can reach'
          : 'refused',
    network: !spawns
      ? 'no processes: nothing to enforce'
      : mode === undefined
        ? 'refused'
        : mode.network === 'host'
          ? 'host network (allow_network: true)'
          : mode.kind === 'sandbox'
            ? iso!.facts.network
            : mode.network === 'netns'
              ? describeEnforcement(sandbox.network)
              : `UNENFORCED (--unenforced-network-ok): ${describeEnforcement(sandbox.network)}`,
    network_mode: spawns ? (mode?.network ?? 'refused') : 'none',
    isolation: !spawns ? 'none' : (mode?.kind ?? 'refused'),
    limits: !spawns
      ? 'none'
      : sandbox.cgroups.kind === 'v1'
        ? 'cgroup v1 (memory, pids) + rlimits'
        : 'rlimits',
    program_allowlist_sha256: sha256Hex(canonicalJson(sandbox.policy.allowed)),
    allow_inline_code: sandbox.policy.inlineCode,
    env_allow_sha256: sha256Hex(canonicalJson([...sandbox.envAllow].sort())),
  };
}
