import { join, resolve } from 'node:path';

/** The files of a plane under its home (SPEC §1). None has to exist beforehand. */
export interface PlanePaths {
  readonly home: string;
  readonly ledger: string;
  readonly lock: string;
  readonly checkpoint: string;
  readonly killSwitch: string;
  readonly config: string;
  readonly evidence: string;
  readonly workers: string;
}

export const DEFAULT_HOME = '.execplane';

export function planePaths(home: string): PlanePaths {
  const h = resolve(home);
  return {
    home: h,
    ledger: join(h, 'jobs.jsonl'),
    lock: join(h, 'jobs.lock'),
    checkpoint: join(h, 'checkpoint.json'),
    killSwitch: join(h, 'KILL_SWITCH'),
    config: join(h, 'config.json'),
    evidence: join(h, 'evidence'),
    workers: join(h, 'workers'),
  };
}
