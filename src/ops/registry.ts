/**
 * Who is working: each running worker holds `<home>/workers/<worker_id>.json` (a held pid file,
 * pid-file.ts) with what `status` needs to know of it and the ledger cannot say — its slots
 * while idle, and which jobs it refuses and why (S1 of sandbox/sandbox.ts).
 *
 * R1. A worker is listed as alive exactly while its process lives (H1, H2 of pid-file.ts): an idle
 *     worker that writes nothing to the ledger is still seen, a `kill -9`ed one is not.
 * R2. Two live workers never share an id: the second is refused at start (E_WORKER_ID_IN_USE),
 *     because leases, slots and fencing are counted per worker id.
 * R3. The registry is advice for operators, never an input of a decision: claims, leases and
 *     audit read only the ledger.
 * R4. A live worker that claims nothing says why (`not_claiming`: shutting down, a spent --once,
 *     degraded), rewritten as that changes; a stopped process (SIGSTOP) is listed as such.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isExecplaneError, RefusedError } from '../errors.js';
import type { PlanePaths } from '../ledger/paths.js';
import { processStat } from './proc.js';
import {
  holdPidFile,
  inspectPidFile,
  removeStalePidFile,
  type HeldPidFile,
  type PidRecord,
} from './pid-file.js';

/** Why a worker does not claim jobs of a kind, or null when it runs them. */
export interface WorkerRefusals {
  /** Jobs that start processes (sandbox.ts, startsProcesses) with allow_network: true. */
  readonly processes: string | null;
  /** Jobs that start processes with allow_network: false. */
  readonly processes_without_network: string | null;
}

/** What a worker records of itself. */
export interface WorkerPresence {
  readonly worker_id: string;
  readonly host: string;
  readonly slots: number;
  readonly lease_sec: number;
  readonly workspace: string;
  readonly version: string;
  readonly refuses?: WorkerRefusals;
  /** Why it claims nothing now, or null (R4). */
  readonly not_claiming?: string | null;
}

export interface ListedWorker {
  readonly file: string;
  /** R1: its process holds the file and is the one that wrote it. */
  readonly alive: boolean;
  /** Why it is not alive, when it is not. */
  readonly why?: string;
  readonly presence: WorkerPresence | null;
  readonly record: PidRecord | null;
}

export function registryFile(paths: PlanePaths, workerId: string): string {
  return join(paths.workers, `${workerId}.json`);
}

/** Registers this process as `presence.worker_id` for as long as it lives (R1, R2). */
export function registerWorker(paths: PlanePaths, presence: WorkerPresence): HeldPidFile {
  try {
    const held = holdPidFile(registryFile(paths, presence.worker_id), { worker: presence });
    sweepStale(paths);
    return held;
  } catch (err) {
    if (!isExecplaneError(err) || err.code !== 'E_PID_FILE_HELD') throw err;
    const other = inspectPidFile(registryFile(paths, presence.worker_id));
    const pid = other.kind === 'live' ? ` (pid ${other.record.pid})` : '';
    throw new RefusedError(
      'E_WORKER_ID_IN_USE',
      `a worker with id ${presence.worker_id} is already running on this plane${pid}; give this one another --worker-id`,
    );
  }
}

/** Every worker file under `workers/`, alive or left behind by a worker that died. */
export function listWorkers(paths: PlanePaths): ListedWorker[] {
  let names: string[];
  try {
    names = readdirSync(paths.workers).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().flatMap((name): ListedWorker[] => {
    const file = join(paths.workers, name);
    const st = inspectPidFile(file);
    if (st.kind === 'absent') return [];
    const record = st.record ?? null;
    const presence = presenceOf(record);
    // A reader that cannot see another user's /proc/PID/fd still sees a held file and a live pid:
    // for a listing (R3), that worker is running.
    if (record && (st.kind === 'live' || (st.kind === 'unverified' && st.holderUnseen))) {
      // R4: a process stopped by a signal holds its file and claims nothing.
      const stopped = ['T', 't'].includes(processStat(record.pid)?.state ?? '');
      const listed =
        stopped && presence ? { ...presence, not_claiming: 'stopped by a signal (SIGSTOP)' } : presence;
      return [{ file, alive: true, presence: listed, record }];
    }
    const why =
      st.kind === 'stale' ? 'its process is gone' : st.kind === 'unverified' ? st.why : 'unverified';
    return [{ file, alive: false, why, presence, record }];
  });
}

/** Files of workers gone for a minute or more (their leases are the ledger's business, R3). */
const STALE_KEEP_MS = 60_000;

/**
 * Removes the files dead workers left (a `kill -9`, a crash), so `workers/` does not grow with
 * every pid: only those untouched for STALE_KEEP_MS, so a worker taking its file right now (it
 * opened it, not yet locked) never loses it.
 */
function sweepStale(paths: PlanePaths): void {
  for (const w of listWorkers(paths)) {
    if (w.alive || w.why !== 'its process is gone') continue;
    try {
      // Removed under its lock, and only while the path still names that file (H5 of pid-file.ts).
      if (Date.now() - statSync(w.file).mtimeMs >= STALE_KEEP_MS) removeStalePidFile(w.file);
    } catch {
      // Gone already, or not ours to remove: it stays listed as not alive.
    }
  }
}

function presenceOf(record: PidRecord | null): WorkerPresence | null {
  const w = record?.worker as Partial<WorkerPresence> | undefined;
  return w && typeof w.worker_id === 'string' && typeof w.slots === 'number' ? (w as WorkerPresence) : null;
}
