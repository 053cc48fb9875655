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
import { warn } from './output.js';

/** The longest a probe may take, for `models`, `status` and `health` alike (docs/model-lane.md). */
export const MAX_PROBE_MS = 30_000;
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
  // The model client's modules load only when there is something to probe.
  const probeModel =
    opts.probe && config.models?.length ? (await import('../model/probe.js')).probeModel : undefined;
  const patterns = knownHolderPatterns(config.port_guard ?? {});
  const plane = Plane.open(opts.home);
  try {
    if (plane.checkpointRejected)
      warn(`checkpoint.json ignored (${plane.checkpointRejected}); folded from line 1`);
    const status = await planeStatus(plane, {
      home: opts.home,
      nowMs: Date.now(),
      models: config.models ?? [],
      probeTimeoutMs: opts.timeoutMs,
      ...(probeModel ? { probe: (e, ms) => probeModel(e, process.env, ms) } : {}),
      portHint: (port, code) => portHint(port, patterns, code),
    });
    refreshCheckpoint(plane);
    return status;
  } finally {
    plane.close();
  }
}

/**
 * As `replay` does: a fold of 10,000+ lines past the checkpoint (none, a stale one, or one another
 * version wrote) leaves a new one, so the next `status` starts from it. A cache, not the ledger:
 * a home it cannot write (read-only, full) only costs the next call the same fold.
 */
function refreshCheckpoint(plane: Plane): void {
  try {
    plane.maybeCheckpoint();
  } catch {
    // Not ours to fix here: workers and replay report a checkpoint they cannot write.
  }
}
