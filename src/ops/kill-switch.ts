/**
 * The kill switch (docs/spec.md §6): the presence of <home>/KILL_SWITCH stops all claiming; workers abort
 * running jobs (fail, code kill_switch) and exit with EXIT_KILL_SWITCH. Its content is the reason.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { PlanePaths } from '../ledger/paths.js';
import { writeFileAtomicSync } from '../lazy-deps.js';

/** `execplane work` exits with this when it stops because the kill switch is on. */
export const EXIT_KILL_SWITCH = 3;

export interface KillSwitchState {
  readonly on: boolean;
  readonly reason: string | null;
}

export function killSwitchState(paths: PlanePaths): KillSwitchState {
  if (!existsSync(paths.killSwitch)) return { on: false, reason: null };
  let reason: string | null = null;
  try {
    reason = readFileSync(paths.killSwitch, 'utf8').trim() || null;
  } catch {
    // Removed between the check and the read, or unreadable: it was on when we looked.
  }
  return { on: true, reason };
}

/**
 * Turns the kill switch on or off. On a full disk (or a quota reached) the reason cannot be
 * written, but the switch still goes on: an empty file needs no data blocks, and the operator's
 * emergency stop must work exactly when the disk is full. Returns whether the reason was kept.
 */
export function setKillSwitch(paths: PlanePaths, on: boolean, reason?: string): { reasonKept: boolean } {
  if (!on) {
    rmSync(paths.killSwitch, { force: true });
    return { reasonKept: true };
  }
  mkdirSync(paths.home, { recursive: true });
  try {
    writeFileAtomicSync(paths.killSwitch, `${reason ?? ''}\n`, { fsync: true });
    return { reasonKept: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
    closeSync(openSync(paths.killSwitch, 'a')); // present is what counts
    return { reasonKept: false };
  }
}
