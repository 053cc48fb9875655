/**
 * The files a repo_index_task considers: git-tracked files when the workspace is a git checkout
 * (`git ls-files -z`), else a walk of the workspace. Either way `/`-separated paths relative to
 * the workspace, sorted by code unit, so the same tree always gives the same list.
 *
 * Running git here is the worker's own bookkeeping, not a job's tool call: it appends no
 * `tool_call`, needs no allow_subprocess (an indexing job with no tools must still index), runs
 * with PATH only and never in the job's name. The walk does not follow symlinked directories
 * and skips `.git`; symlinked files are listed and left to the path sandbox when opened.
 */
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { execa } from 'execa';
import { findProgram } from '../sandbox/program-lookup.js';

export interface WorkspaceFiles {
  readonly source: 'git' | 'walk';
  readonly paths: readonly string[];
  /** The walk stopped at MAX_WALK_ENTRIES. */
  readonly truncated: boolean;
}

export const MAX_WALK_ENTRIES = 200_000;

/**
 * @param skipDir real path of a directory never to list (the plane's home, when it lies inside
 *   the workspace: its ledger and evidence are not the job's input).
 */
export async function listWorkspaceFiles(
  workspace: string,
  signal: AbortSignal,
  skipDir?: string,
  pathVar = process.env.PATH,
): Promise<WorkspaceFiles> {
  const skipRel = skipDir ? relative(workspace, skipDir).split(sep).join('/') : '';
  const skip = skipRel && !skipRel.startsWith('..') ? skipRel : undefined;
  const keep = (p: string) => skip === undefined || (p !== skip && !p.startsWith(`${skip}/`));
  const tracked = await gitTracked(workspace, signal, pathVar);
  if (tracked) return { source: 'git', paths: tracked.filter(keep).sort(byCodeUnit), truncated: false };
  const paths: string[] = [];
  let entries = 0;
  const walk = async (dir: string): Promise<boolean> => {
    signal.throwIfAborted();
    const list = await readdir(join(workspace, dir), { withFileTypes: true }).catch(() => []);
    for (const d of list.sort((a, b) => byCodeUnit(a.name, b.name))) {
      if (++entries > MAX_WALK_ENTRIES) return false;
      const rel = dir === '' ? d.name : `${dir}/${d.name}`;
      if (!keep(rel)) continue;
      if (d.isDirectory()) {
        if (d.name === '.git') continue;
        if (!(await walk(rel))) return false;
      } else if (d.isFile() || d.isSymbolicLink()) {
        paths.push(rel);
      }
    }
    return true;
  };
  const complete = await walk('');
  return { source: 'walk', paths: paths.sort(byCodeUnit), truncated: !complete };
}

async function gitTracked(workspace: string, signal: AbortSignal, pathVar: string | undefined) {
  const git = await findProgram('git', pathVar);
  if (!git) return undefined;
  const r = await execa(git, ['ls-files', '-z', '--cached'], {
    cwd: workspace,
    env: { PATH: pathVar ?? '' },
    extendEnv: false,
    stdin: 'ignore',
    encoding: 'buffer',
    reject: false,
    cancelSignal: signal,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.exitCode !== 0) return undefined; // not a checkout (or no usable git): walk instead
  return Buffer.from(r.stdout)
    .toString('utf8')
    .split('\0')
    .filter((p) => p !== '');
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
