/**
 * What a worker can enforce, decided once at start (config.json + the network probe), and the
 * facts about it that each attempt's run header records.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { JobContext } from '../../machines/job.types.js';
import type { JobSpec } from '../schema/types.generated.js';
import { describeEnforcement, type NetworkEnforcement } from './network.js';
import type { ProgramPolicy } from './program-policy.js';

export interface Sandbox {
  readonly policy: ProgramPolicy;
  readonly network: NetworkEnforcement;
  /** --unenforced-network-ok: run allow_network:false jobs even where the network cannot be cut. */
  readonly unenforcedNetworkOk: boolean;
  /** The worker's environment: PATH and the env_allow names are taken from it, nothing else. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Job types whose handlers start processes (and so need the network cut when it is not allowed). */
export const SPAWNING_JOB_TYPES: ReadonlySet<JobSpec['job_type']> = new Set(['test_runner_task']);

export type NetworkMode = 'host' | 'netns' | 'unenforced';

/** How a job's commands reach the network on this worker, or undefined when it must not run here. */
export function networkModeFor(sandbox: Sandbox, allowNetwork: boolean): NetworkMode | undefined {
  if (allowNetwork) return 'host';
  if (sandbox.network.kind === 'netns') return 'netns';
  return sandbox.unenforcedNetworkOk ? 'unenforced' : undefined;
}

/** WorkerOptions.canRun: never claim a job whose network policy this worker cannot enforce (N2). */
export function canRunJob(sandbox: Sandbox, job: Pick<JobContext, 'job_type' | 'tool_policy'>): boolean {
  return (
    !SPAWNING_JOB_TYPES.has(job.job_type) ||
    networkModeFor(sandbox, job.tool_policy.allow_network) !== undefined
  );
}

/** The run header's `sandbox` section for one job. */
export function sandboxFacts(
  sandbox: Sandbox,
  job: Pick<JobSpec, 'job_type' | 'tool_policy'>,
): Record<string, unknown> {
  const spawns = SPAWNING_JOB_TYPES.has(job.job_type);
  const mode = networkModeFor(sandbox, job.tool_policy.allow_network);
  return {
    paths: 'workspace-confined (realpath check, O_NOFOLLOW, /proc/self/fd re-check)',
    processes: spawns ? 'own process group, whole tree killed; env = PATH + env_allow' : 'none started',
    network: !spawns
      ? 'no processes: nothing to enforce'
      : mode === 'host'
        ? 'host network (allow_network: true)'
        : mode === 'netns'
          ? describeEnforcement(sandbox.network)
          : `UNENFORCED (--unenforced-network-ok): ${describeEnforcement(sandbox.network)}`,
    network_mode: spawns ? (mode ?? 'refused') : 'none',
    program_allowlist_sha256: sha256Hex(canonicalJson(sandbox.policy.allowed)),
    allow_inline_code: sandbox.policy.inlineCode,
  };
}
