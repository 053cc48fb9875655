/**
 * The kill switch (docs/spec.md §6): the presence of <home>/KILL_SWITCH stops all claiming; workers abort
 * running jobs (fail, code kill_switch) and exit with EXIT_KILL_SWITCH. Its content is the reason.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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

export function setKillSwitch(paths: PlanePaths, on: boolean, reason?: string): void {
  if (on) {
    mkdirSync(paths.home, { recursive: true });
    writeFileAtomicSync(paths.killSwitch, `${reason ?? ''}\n`, { fsync: true });
  } else {
    rmSync(paths.killSwitch, { force: true });
  }
}
