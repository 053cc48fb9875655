/**
 * The files a repo_index_task considers: git-tracked files when the workspace is a git checkout
 * (`git ls-files -z`), else a walk of the workspace. Either way `/`-separated paths relative to
 * the workspace, sorted by code unit, so the same tree always gives the same list.
 *
 * Running git here is the worker's own bookkeeping, not a job's tool call: it appends no
 * `tool_call`, needs no allow_subprocess (an indexing job with no tools must still index), runs
 * with PATH only and never in the job's name. The workspace is the job's, so its git
 * configuration is too: git runs with `core.fsmonitor` off and, where the worker has the OS
 * sandbox (isolation.ts), inside it — workspace read-only, no network. The walk does not follow
 * symlinked directories and skips `.git`; symlinked files are listed and left to the path
 * sandbox when opened.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { newScratch, removeScratch, sandboxArgv } from './isolation.js';
import { findProgram } from './program-lookup.js';
import type { Sandbox } from './sandbox.js';

export interface WorkspaceFiles {
  readonly source: 'git' | 'walk';
  readonly paths: readonly string[];
  /** The walk stopped at MAX_WALK_ENTRIES. */
  readonly truncated: boolean;
}

export const MAX_WALK_ENTRIES = 200_000;

/** The plane's home is never inside the workspace (a worker refuses that), so nothing of it is listed. */
export async function listWorkspaceFiles(
  workspace: string,
  signal: AbortSignal,
  sandbox?: Sandbox,
): Promise<WorkspaceFiles> {
  const tracked = await gitTracked(workspace, signal, sandbox);
  if (tracked) return { source: 'git', paths: tracked.sort(byCodeUnit), truncated: false };
  const paths: string[] = [];
  let entries = 0;
  const walk = async (dir: string): Promise<boolean> => {
    signal.throwIfAborted();
    const list = await readdir(join(workspace, dir), { withFileTypes: true }).catch(() => []);
    for (const d of list.sort((a, b) => byCodeUnit(a.name, b.name))) {
      if (++entries > MAX_WALK_ENTRIES) return false;
      const rel = dir === '' ? d.name : `${dir}/${d.name}`;
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

async function gitTracked(workspace: string, signal: AbortSignal, sandbox: Sandbox | undefined) {
  const pathVar = sandbox?.env.PATH ?? process.env.PATH;
  const git = await findProgram('git', pathVar);
  if (!git) return undefined;
  const iso = sandbox?.isolation.ok ? sandbox.isolation.isolation : undefined;
  const scratch = iso ? await newScratch(iso) : undefined;
  try {
    const prefix =
      iso && scratch
        ? sandboxArgv(iso, { workspace, cwd: workspace, writeWorkspace: false, network: false, scratch })
        : [];
    const argv = [...prefix, git, '-c', 'core.fsmonitor=false', 'ls-files', '-z', '--cached'];
    const r = await execa(argv[0]!, argv.slice(1), {
      cwd: workspace,
      env: { PATH: pathVar ?? '' },
      extendEnv: false,
      stdin: 'ignore',
      encoding: 'buffer',
      reject: false,
      cancelSignal: signal,
      maxBuffer: 256 * 1024 * 1024,
      ...(iso?.runAs ? { uid: iso.runAs.uid, gid: iso.runAs.gid } : {}),
    });
    if (r.exitCode !== 0) return undefined; // not a checkout (or no usable git): walk instead
    return Buffer.from(r.stdout)
      .toString('utf8')
      .split('\0')
      .filter((p) => p !== '');
  } finally {
    if (scratch) await removeScratch(scratch);
  }
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
