/**
 * What `status` and `health` share: open the plane from its checkpoint (T2 of ops/status.ts),
 * read config.json's model endpoints, and probe them with `execplane models`' own probe.
 */
import { Option } from 'commander';
import { loadPlaneConfig } from '../config/plane-config.js';
import { assertPlaneExists } from '../ledger/paths.js';
import { Plane } from '../plane.js';
import { knownHolderPatterns, portHint } from '../ops/port-guard.js';
import { planeStatus, type PlaneStatus } from '../ops/status.js';
import { parsePositiveInt } from './options.js';

/** The longest a probe may take (as `models --timeout-ms`). */
const MAX_PROBE_MS = 30_000;
export const DEFAULT_STATUS_PROBE_MS = 2000;

export function probeTimeoutOption(): Option {
  return new Option('--timeout-ms <ms>', 'how long each model endpoint probe may take')
    .default(DEFAULT_STATUS_PROBE_MS)
    .argParser(parsePositiveInt('--timeout-ms', MAX_PROBE_MS));
}

export function noProbeOption(): Option {
  return new Option('--no-probe', 'do not probe the model endpoints (they are listed as not probed)');
}

export interface GatherOptions {
  readonly home: string;
  readonly timeoutMs: number;
  readonly probe: boolean;
}

export async function gatherStatus(opts: GatherOptions): Promise<PlaneStatus> {
  assertPlaneExists(opts.home);
  // Before the fold: a malformed config.json is a usage error whatever the ledger holds.
  const { config } = loadPlaneConfig(opts.home);
  const { probeModel } = await import('../model/probe.js');
  const patterns = knownHolderPatterns(config.port_guard ?? {});
  const plane = Plane.open(opts.home);
  try {
    return await planeStatus(plane, {
      home: opts.home,
      nowMs: Date.now(),
      models: config.models ?? [],
      probeTimeoutMs: opts.timeoutMs,
      ...(opts.probe ? { probe: (e, ms) => probeModel(e, process.env, ms) } : {}),
      portHint: (port, code) => portHint(port, patterns, code),
    });
  } finally {
    plane.close();
  }
}
