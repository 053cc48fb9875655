/**
 * A worker's sandbox, set up once at start: the plane's config.json (a malformed one refuses
 * the start with E_CONFIG, exit 2) and the network probe (network.ts, N1).
 */
import { loadPlaneConfig } from '../config/plane-config.js';
import { probeNetworkEnforcement } from './network.js';
import { programPolicyOf } from './program-policy.js';
import type { Sandbox } from './sandbox.js';

export interface PrepareSandboxOptions {
  readonly home: string;
  readonly unenforcedNetworkOk?: boolean;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export async function prepareSandbox(options: PrepareSandboxOptions): Promise<Sandbox> {
  const { config } = loadPlaneConfig(options.home);
  const env = options.env ?? process.env;
  return {
    policy: programPolicyOf(config),
    network: await probeNetworkEnforcement(env.PATH),
    unenforcedNetworkOk: options.unenforcedNetworkOk ?? false,
    env,
  };
}
