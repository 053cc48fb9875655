/**
 * The path sandbox (docs/spec.md §7): every path a job names is resolved inside the workspace, and a
 * file is read only through a descriptor proven to lie inside it.
 *
 * P1. A job path is relative: an absolute path is rejected before the file system is touched.
 * P2. Lexically, the normalised path stays in the workspace: a `..` that climbs out is rejected.
 * P3. The real path (every symlink resolved) is the workspace or below it.
 * P4. Files are opened from the real path with O_NOFOLLOW, and the opened descriptor's own path
 *     (/proc/self/fd/N on Linux; elsewhere its device and inode against a fresh realpath) must
 *     satisfy P3 again. So a symlink swapped in after the check — at the last component or at
 *     any directory above it — is caught: what is checked is what was opened.
 *
 * Rejections are JobErrors with code `path_rejected:<reason>`, reason one of REJECT_REASONS.
 * Scope: this confines what the worker reads on a job's behalf. A subprocess a job starts is
 * confined by the network namespace and the process group, not by these rules (docs/sandbox.md).
 */
import { constants, realpathSync, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, posix, sep } from 'node:path';
import { JobError } from '../worker/errors.js';

export const REJECT_REASONS = [
  'invalid',
  'absolute',
  'outside_workspace',
  'symlink_escape',
  'not_found',
  'not_a_file',
  'not_a_directory',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export class PathRejectedError extends JobError {
  constructor(
    readonly reason: RejectReason,
    readonly jobPath: string,
    why: string,
  ) {
    super(`path_rejected:${reason}`, `path ${JSON.stringify(jobPath.slice(0, 300))}: ${why}`);
  }
}

export interface OpenedFile {
  readonly handle: FileHandle;
  /** The file's real path (inside the workspace). */
  readonly realPath: string;
  /** Its path relative to the workspace, `/`-separated. */
  readonly relPath: string;
  readonly stats: Stats;
}

/** Test seam: runs between the check and the open, where a swapped symlink would strike. */
export interface OpenHooks {
  readonly beforeOpen?: (realPath: string) => Promise<void> | void;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

function isInside(workspace: string, real: string): boolean {
  return real === workspace || real.startsWith(workspace.endsWith(sep) ? workspace : workspace + sep);
}

/** P1, P2: the job path as a normalised relative path, or a rejection. */
export function normaliseJobPath(jobPath: string): string {
  if (jobPath.length === 0 || jobPath.includes('\0')) {
    throw new PathRejectedError(
      'invalid',
      jobPath,
      'empty or contains a NUL byte; name a path relative to the workspace',
    );
  }
  if (isAbsolute(jobPath) || posix.isAbsolute(jobPath) || /^[A-Za-z]:[\\/]/.test(jobPath)) {
    throw new PathRejectedError(
      'absolute',
      jobPath,
      'absolute paths are not allowed; name a path relative to the workspace',
    );
  }
  const norm = posix.normalize(jobPath.replaceAll('\\', '/'));
  if (norm === '..' || norm.startsWith('../')) {
    throw new PathRejectedError('outside_workspace', jobPath, '".." leads outside the workspace');
  }
  return norm === '.' || norm === './' ? '.' : norm.replace(/\/+$/, '');
}

/** P1–P3: the real path of `jobPath` inside `workspace` (itself a real path). */
export async function resolveInWorkspace(workspace: string, jobPath: string): Promise<string> {
  const rel = normaliseJobPath(jobPath);
  let real: string;
  try {
    real = await realpath(join(workspace, rel));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new PathRejectedError('symlink_escape', jobPath, 'a symlink loop');
    throw new PathRejectedError('not_found', jobPath, `does not exist in the workspace (${code ?? 'error'})`);
  }
  if (!isInside(workspace, real)) {
    throw new PathRejectedError('symlink_escape', jobPath, 'a symlink leads outside the workspace');
  }
  return real;
}

/** A directory inside the workspace (e.g. a command's cwd), as its real path. */
export async function resolveDirInWorkspace(workspace: string, jobPath: string): Promise<string> {
  const real = await resolveInWorkspace(workspace, jobPath);
  if (!(await stat(real)).isDirectory()) {
    throw new PathRejectedError('not_a_directory', jobPath, 'is not a directory');
  }
  return real;
}

/** P1–P4: opens a regular file inside the workspace for reading. The caller closes `handle`. */
export async function openInWorkspace(
  workspace: string,
  jobPath: string,
  hooks: OpenHooks = {},
): Promise<OpenedFile> {
  const real = await resolveInWorkspace(workspace, jobPath);
  await hooks.beforeOpen?.(real);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted in the workspace must not hang the worker on open.
    handle = await open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      throw new PathRejectedError('symlink_escape', jobPath, 'became a symlink after it was checked');
    }
    throw new PathRejectedError('not_found', jobPath, `cannot be opened (${code ?? 'error'})`);
  }
  try {
    const opened = await openedPath(handle, real);
    if (opened === null || !isInside(workspace, opened)) {
      throw new PathRejectedError(
        'symlink_escape',
        jobPath,
        'was swapped for a path outside the workspace while opening',
      );
    }
    const stats = await handle.stat();
    if (!stats.isFile()) throw new PathRejectedError('not_a_file', jobPath, 'is not a regular file');
    return {
      handle,
      realPath: opened,
      relPath: opened
        .slice(workspace.length + 1)
        .split(sep)
        .join('/'),
      stats,
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

const procFd = (() => {
  try {
    realpathSync('/proc/self/fd');
    return true;
  } catch {
    return false;
  }
})();

/** Where the descriptor really points, or null when that cannot be established. */
async function openedPath(handle: FileHandle, real: string): Promise<string | null> {
  if (procFd) return readlink(`/proc/self/fd/${handle.fd}`);
  // Without /proc: the file we hold must be the one the real path names now.
  const [held, now] = await Promise.all([
    handle.stat(),
    realpath(real).then((p) => stat(p).then((s) => ({ p, s }))),
  ]);
  return held.dev === now.s.dev && held.ino === now.s.ino ? now.p : null;
}

/** At most `max` bytes from the start of an opened file: the read never goes past them. */
export async function readPrefix(file: OpenedFile, max: number): Promise<Buffer> {
  const want = Math.max(0, Math.min(file.stats.size, max));
  const buf = Buffer.allocUnsafe(want);
  let filled = 0;
  while (filled < want) {
    const { bytesRead } = await file.handle.read(buf, filled, want - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}
