/**
 * `execplane health`: the status (status.ts) judged, for scripts, monitors and `ExecStartPre`.
 *
 * K1. Degraded (exit 1) exactly when one of these holds, each a reason with a stable code:
 *     the kill switch is on; leases lapsed past UNREAPED_GRACE_SEC that no reaper expired; a
 *     configured model endpoint does not answer; the ledger ends in a torn tail; the ledger's
 *     time is ahead of this machine's clock past the 2 s bound; queued jobs that no running
 *     worker can run (it lacks the sandbox they need, or the slots); a running worker degraded by a
 *     fault of the machine, or stopped by a signal.
 * K2. Notes (no effect on the exit code) say what is worth knowing but not wrong: a checkpoint
 *     that did not verify, queued work with no worker running or none claiming (shutting down, a
 *     spent --once), workers gone with leases held.
 * K3. "Could not check" (exit 2) is the CLI's: no plane, an unreadable home, a malformed
 *     config.json. A corrupt ledger is a finding (exit 1, E_LEDGER_CORRUPT), as everywhere.
 */
import type { PlaneStatus } from './status.js';

export interface HealthReason {
  readonly code: string;
  readonly message: string;
}

export interface Health {
  readonly healthy: boolean;
  readonly degraded: readonly HealthReason[];
  readonly notes: readonly HealthReason[];
}

export function healthOf(status: PlaneStatus): Health {
  const degraded: HealthReason[] = [];
  const notes: HealthReason[] = [];
  const ks = status.kill_switch;
  if (ks.on)
    degraded.push({
      code: 'kill_switch_on',
      message: `the kill switch is on${ks.reason ? `: ${ks.reason}` : ''} (execplane kill-switch off)`,
    });
  if (status.unreaped_leases > 0) {
    const oldest = status.leases[0]!;
    degraded.push({
      code: 'leases_unreaped',
      message: `${status.unreaped_leases} lease(s) lapsed and not reaped (oldest: ${oldest.job_id}, ${-oldest.expires_in_sec} s ago): no worker is reaping; start one or run \`execplane reap\``,
    });
  }
  for (const m of status.models) {
    if (m.ok !== false) continue; // up, or not probed (--no-probe): nothing known against it
    degraded.push({
      code: 'model_down',
      message: `model endpoint ${m.name} (${m.endpoint ?? '?'}) is down: ${m.error_code ?? '?'}: ${m.message ?? ''}${m.hint ? `; ${m.hint}` : ''}`,
    });
  }
  if (status.torn_tail)
    degraded.push({
      code: 'ledger_torn_tail',
      message: `the ledger ends in a torn tail of ${status.torn_tail.bytes} byte(s) at offset ${status.torn_tail.offset} (an interrupted write; the next append moves it aside)`,
    });
  if (status.ledger_ahead_sec !== null)
    degraded.push({
      code: 'ledger_ahead_of_clock',
      message: `the ledger's time is ${status.ledger_ahead_sec} s ahead of this machine's clock: leases, backoffs and reaping wait until the clock reaches it (docs/operations.md, "Time")`,
    });
  for (const w of status.waiting) {
    if (w.code === 'unrunnable' || w.code === 'slots') {
      degraded.push({
        code: 'jobs_unrunnable',
        message: `${w.count} queued job(s) (e.g. ${w.examples[0]}) wait for a worker that can run them: ${w.reason}`,
      });
    } else if (w.code === 'not_claiming') {
      notes.push({ code: 'no_claimer', message: `${w.count} queued job(s) and ${w.reason}` });
    } else if (w.code === 'no_worker') {
      notes.push({ code: 'no_worker', message: `${w.count} queued job(s) and ${w.reason}` });
    }
  }
  if (status.checkpoint_rejected)
    notes.push({
      code: 'checkpoint_rejected',
      message: `checkpoint.json was not used (${status.checkpoint_rejected}); the next full fold rewrites it`,
    });
  for (const w of status.workers) {
    if (w.alive === true && w.not_claiming?.startsWith('degraded'))
      degraded.push({
        code: 'worker_degraded',
        message: `worker ${w.worker_id} claims nothing: ${w.not_claiming}`,
      });
    else if (w.alive === true && w.not_claiming?.startsWith('stopped'))
      degraded.push({
        code: 'worker_stopped',
        message: `worker ${w.worker_id} (pid ${w.pid}) is stopped by a signal: continue it (kill -CONT) or stop it`,
      });
    if (w.alive === false && w.jobs_held > 0)
      notes.push({
        code: 'worker_gone',
        message: `worker ${w.worker_id} is gone and still holds ${w.jobs_held} lease(s) until they lapse; the reaper retries them`,
      });
  }
  return { healthy: degraded.length === 0, degraded, notes };
}
