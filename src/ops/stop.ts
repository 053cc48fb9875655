/**
 * `execplane stop --pid-file FILE`: ends the process a held pid file names (pid-file.ts), and only
 * that process.
 *
 * S1. A signal goes only to a `live` file's pid (H1, H2 of pid-file.ts), its identity re-read from
 *     /proc immediately before each signal: an absent, stale or unverified file, or a pid whose
 *     start time changed, is reported and never signalled. (Between that read and kill(2) the
 *     pid could in theory be reused; Node has no pidfd to close that last microsecond.)
 * S0. Only a pid file is acted on (H6 of pid-file.ts): a file with no pid record, held or not, is
 *     `unverified` and left as it is; the CLI refuses plane files, symlinks and anything that is
 *     not a regular file before this runs (checkOwnFilePath).
 * S2. "Stopped" means the process has ended — gone, reused or a zombie (hasEnded of proc.ts) —
 *     not merely that it was signalled; waiting for it is bounded.
 */
import { hasEnded, type ProcessIdentity } from './proc.js';
import { inspectPidFile, removeStalePidFile, type PidRecord } from './pid-file.js';
import { STOP_MARGIN_SEC } from './service-units.js';

/** What `stop` waits for a record with no `grace_sec` (one that has it: grace_sec + STOP_MARGIN_SEC). */
export const STOP_DEFAULT_TIMEOUT_SEC = 30;
/** How long a SIGKILLed process is given to disappear (`--kill`). */
const KILL_WAIT_MS = 10_000;

export type StopOutcome =
  | {
      readonly kind: 'stopped';
      readonly record: PidRecord;
      readonly signal: 'SIGTERM' | 'SIGKILL';
      readonly removedStale: boolean;
    }
  | { readonly kind: 'absent' }
  | { readonly kind: 'stale'; readonly record: PidRecord; readonly removed: boolean }
  | { readonly kind: 'unverified'; readonly why: string; readonly record?: PidRecord }
  /** Live when inspected, but its pid no longer had its start time at the signal (S1). */
  | { readonly kind: 'ended-before-signal'; readonly record: PidRecord }
  | { readonly kind: 'signal-failed'; readonly record: PidRecord; readonly code: string }
  | {
      readonly kind: 'still-running';
      readonly record: PidRecord;
      readonly waitedSec: number;
      /** SIGKILL was sent too (--kill), and the process is still there. */
      readonly killed?: true;
    };

export interface StopOptions {
  /** How long to wait after SIGTERM; default: the record's grace_sec + 15 s, else 30 s. */
  readonly timeoutSec?: number;
  /** After the timeout, SIGKILL (identity re-checked) instead of giving up. */
  readonly kill?: boolean;
}

export async function stopPidFileHolder(path: string, o: StopOptions = {}): Promise<StopOutcome> {
  const found = inspectPidFile(path);
  switch (found.kind) {
    case 'absent':
      return found;
    case 'unverified':
      return found;
    case 'stale':
      return { kind: 'stale', record: found.record, removed: removeStalePidFile(path) };
    case 'live':
      break;
  }
  const record = found.record;
  const grace = typeof record.grace_sec === 'number' ? record.grace_sec : undefined;
  const timeoutSec =
    o.timeoutSec ?? (grace === undefined ? STOP_DEFAULT_TIMEOUT_SEC : grace + STOP_MARGIN_SEC);
  const term = signal(record, 'SIGTERM');
  if (term) return term;
  if (!(await ended(record, timeoutSec * 1000))) {
    if (!o.kill) return { kind: 'still-running', record, waitedSec: timeoutSec };
    const kill = signal(record, 'SIGKILL');
    if (kill?.kind === 'signal-failed') return kill;
    if (kill === undefined && !(await ended(record, KILL_WAIT_MS)))
      return { kind: 'still-running', record, waitedSec: timeoutSec + KILL_WAIT_MS / 1000, killed: true };
    // kill set: it ended on its own between the timeout and the SIGKILL.
    return {
      kind: 'stopped',
      record,
      signal: kill ? 'SIGTERM' : 'SIGKILL',
      removedStale: removeStalePidFile(path),
    };
  }
  // A clean exit removed the file (D3 of daemon.ts); a holder that died otherwise left it stale.
  return { kind: 'stopped', record, signal: 'SIGTERM', removedStale: removeStalePidFile(path) };
}

/** Sends `sig` if `id` is still the process it was (S1); an outcome only when it was not sent. */
function signal(record: PidRecord, sig: 'SIGTERM' | 'SIGKILL'): StopOutcome | undefined {
  if (hasEnded(record)) return { kind: 'ended-before-signal', record };
  try {
    process.kill(record.pid, sig);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ESRCH') return { kind: 'ended-before-signal', record };
    return { kind: 'signal-failed', record, code };
  }
  return undefined;
}

async function ended(id: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasEnded(id)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
