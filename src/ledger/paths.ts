import { existsSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
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

/**
 * The default home: `$XDG_STATE_HOME/execplane`, else `~/.local/state/execplane` — the user's
 * state directory, never the current directory, which is the default workspace (docs/spec.md §1:
 * a job must not be able to reach the plane's files).
 */
export function defaultHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const state = env.XDG_STATE_HOME;
  return join(state && isAbsolute(state) ? state : join(homedir(), '.local', 'state'), 'execplane');
}

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

/** `path` with its symlinks resolved as far as it exists (a home need not exist yet). */
export function realPathSoFar(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPathSoFar(parent), relative(parent, abs));
  }
}

const within = (inner: string, outer: string) => {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * A worker refuses a home that lies inside its workspace, or a workspace inside its home
 * (docs/spec.md §1): a job's processes may write their workspace, and the plane's ledger,
 * config and evidence must be out of their reach.
 */
export function assertHomeOutsideWorkspace(home: string, workspace: string): void {
  const h = realPathSoFar(home);
  const w = realPathSoFar(workspace);
  if (within(h, w)) {
    throw new UsageError(
      'E_HOME_IN_WORKSPACE',
      `the plane's home ${h} lies inside the workspace ${w}, where jobs could change it; ` +
        'put the home elsewhere (--home DIR, default $XDG_STATE_HOME/execplane) or pick another --workspace',
    );
  }
  if (within(w, h)) {
    throw new UsageError(
      'E_HOME_IN_WORKSPACE',
      `the workspace ${w} lies inside the plane's home ${h}; pick a --workspace outside it`,
    );
  }
}

/** Commands that act on an existing plane refuse a home that is not there (a typo must not create one). */
export function assertPlaneExists(home: string): void {
  const ledger = planePaths(home).ledger;
  try {
    statSync(ledger);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw new UsageError(
        'E_INPUT',
        `cannot read ${ledger} (${code ?? 'error'}); check who owns the plane's home and its permissions`,
      );
  }
  if (!existsSync(ledger)) {
    throw new UsageError(
      'E_INPUT',
      `no plane at ${home} (no jobs.jsonl); pass --home DIR (or set EXECPLANE_HOME), or enqueue a job first`,
    );
  }
}
