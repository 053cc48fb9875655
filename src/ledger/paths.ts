import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** The files of a plane under its home (docs/spec.md §1). None has to exist beforehand. */
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

/** A ledger path given by the user must be a readable file: otherwise a UsageError (exit 2). */
export function assertReadableFile(path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new UsageError('E_INPUT', `cannot read ${path} (${code}); check the path`);
  }
  if (!isFile)
    throw new UsageError('E_INPUT', `${path} is not a file; pass a ledger file (jobs.jsonl) or --home DIR`);
}

/** Commands that act on an existing plane refuse a home that is not there (a typo must not create one). */
export function assertPlaneExists(home: string): void {
  if (!existsSync(planePaths(home).ledger)) {
    throw new UsageError(
      'E_INPUT',
      `no plane at ${home} (no jobs.jsonl); pass --home DIR (or set EXECPLANE_HOME), or enqueue a job first`,
    );
  }
}
