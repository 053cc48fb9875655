/**
 * A worker's sandbox, set up once at start: the plane's config.json (a malformed one refuses
 * the start with E_CONFIG, exit 2), the bubblewrap probe (isolation.ts, B5), the network probe
 * for the unsandboxed fallback (network.ts, N1) and the cgroups it may make (limits.ts).
 */
import { loadPlaneConfig } from '../config/plane-config.js';
import { probeIsolation } from './isolation.js';
import { probeCgroups } from './limits.js';
import { probeNetworkEnforcement } from './network.js';
import { findProgram } from './program-lookup.js';
import { programPolicyOf } from './program-policy.js';
import { DEFAULT_ENV_ALLOW, type Sandbox } from './sandbox.js';

export interface PrepareSandboxOptions {
  readonly home: string;
  /** --unsandboxed-ok: run process-starting jobs without the OS boundary where it is missing. */
  readonly unsandboxedOk?: boolean;
  readonly unenforcedNetworkOk?: boolean;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export async function prepareSandbox(options: PrepareSandboxOptions): Promise<Sandbox> {
  const { config } = loadPlaneConfig(options.home);
  const env = options.env ?? process.env;
  const sb = config.sandbox ?? {};
  const [isolation, network] = await Promise.all([
    probeIsolation({
      pathVar: env.PATH,
      home: options.home,
      readOnlyPaths: sb.read_only_paths ?? [],
      ...(sb.uid !== undefined && sb.gid !== undefined ? { runAs: { uid: sb.uid, gid: sb.gid } } : {}),
    }),
    probeNetworkEnforcement(env.PATH),
  ]);
  return {
    policy: programPolicyOf(config),
    isolation,
    unsandboxedOk: options.unsandboxedOk ?? false,
    network,
    unenforcedNetworkOk: options.unenforcedNetworkOk ?? false,
    cgroups: probeCgroups(),
    limitDefaults: sb.limits ?? {},
    envAllow: sb.env_allow ?? DEFAULT_ENV_ALLOW,
    env,
    shell: (await findProgram('dash', env.PATH)) ?? (await findProgram('sh', env.PATH)) ?? '/bin/sh',
  };
}
