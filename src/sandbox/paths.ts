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
 * Writes (openForWriteInWorkspace) keep P1–P4 and these:
 *
 * W1. Every directory on the way to the file is held open and proven inside the workspace by its
 *     descriptor's own path (P4), and the next name is looked up from that descriptor
 *     (/proc/self/fd/N/<name>): a directory swapped for a symlink after its check redirects
 *     nothing. An existing directory that is a symlink is followed only to a directory inside.
 * W2. A missing directory is created only by name under a directory held as in W1, never through
 *     a symlink: one found in its place is taken as in W1, and one that leads nowhere refuses the
 *     write.
 * W3. The file is never a symlink: it is opened with O_NOFOLLOW (create: O_CREAT|O_EXCL, so an
 *     existing file refuses) and without O_TRUNC; the descriptor must be a regular file with one
 *     link (another may be outside) whose own path is inside the workspace — only then is it
 *     truncated. A refused write removes nothing: what it opened may not be ours to remove.
 * W4. `beforeWrite` (a tool's announce) runs after every check that can be made without writing,
 *     before the first directory or file is created.
 * Without /proc (not Linux) W1–W2 are checked after the fact, by device and inode, as P4 is.
 *
 * Rejections are JobErrors with code `path_rejected:<reason>`, reason one of REJECT_REASONS.
 * Scope: this confines what the worker reads and writes on a job's behalf. A subprocess a job starts is
 * confined by the network namespace and the process group, not by these rules (docs/sandbox.md).
 */
import { constants, realpathSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
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
  'exists',
  'hard_link',
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

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

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
      relPath: relativeTo(workspace, opened),
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
export function readPrefix(file: OpenedFile, max: number): Promise<Buffer> {
  return readRange(file, 0, max);
}

/** At most `max` bytes of an opened file from byte `offset` (of the size it had when opened). */
export async function readRange(file: OpenedFile, offset: number, max: number): Promise<Buffer> {
  const want = Math.max(0, Math.min(file.stats.size - offset, max));
  const buf = Buffer.allocUnsafe(want);
  let filled = 0;
  while (filled < want) {
    const { bytesRead } = await file.handle.read(buf, filled, want - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

export interface WriteOptions {
  /** create: refuse an existing file (path_rejected:exists); overwrite: replace its content. */
  readonly mode: 'create' | 'overwrite';
  /** W4: runs once every check that writes nothing has passed; a throw stops the write. */
  readonly beforeWrite?: () => Promise<void>;
}

export interface OpenedForWrite {
  /** Open for writing at offset 0, the file empty. The caller closes it. */
  readonly handle: FileHandle;
  readonly realPath: string;
  readonly relPath: string;
  /** The file did not exist before (else its old content was dropped). */
  readonly created: boolean;
}

/** A directory held open (W1): `ref` is where names below it are looked up. */
interface HeldDir {
  readonly handle: FileHandle;
  readonly real: string;
  readonly ref: string;
}

/** `real` (a path inside `workspace`, both real) as a workspace-relative path with `/`. */
const relativeTo = (workspace: string, real: string) =>
  real
    .slice(workspace.length + 1)
    .split(sep)
    .join('/');

const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** W1–W4: opens `jobPath` for writing, creating it and missing directories inside the workspace. */
export async function openForWriteInWorkspace(
  workspace: string,
  jobPath: string,
  options: WriteOptions,
): Promise<OpenedForWrite> {
  const rel = normaliseJobPath(jobPath);
  if (rel === '.')
    throw new PathRejectedError('not_a_file', jobPath, 'names the workspace itself, not a file');
  const parts = rel.split('/');
  const name = parts.pop() as string;
  let dir = await holdDir(workspace, jobPath, await open(workspace, DIR_FLAGS), workspace);
  try {
    let i = 0;
    for (; i < parts.length; i++) {
      const next = await stepInto(workspace, jobPath, dir, parts[i] as string, false);
      if (next === undefined) break; // missing: created after beforeWrite
      await dir.handle.close();
      dir = next;
    }
    if (i === parts.length) await checkTarget(jobPath, `${dir.ref}/${name}`, options.mode);
    await options.beforeWrite?.();
    for (; i < parts.length; i++) {
      const next = (await stepInto(workspace, jobPath, dir, parts[i] as string, true)) as HeldDir;
      await dir.handle.close();
      dir = next;
    }
    return await openTarget(workspace, jobPath, dir, name, options.mode);
  } finally {
    await dir.handle.close();
  }
}

/** Proves an opened directory inside the workspace (W1), or closes it and refuses. */
async function holdDir(
  workspace: string,
  jobPath: string,
  handle: FileHandle,
  expected: string,
): Promise<HeldDir> {
  const real = await openedPath(handle, expected).catch(() => null);
  if (real === null || !isInside(workspace, real)) {
    await handle.close();
    throw new PathRejectedError(
      'symlink_escape',
      jobPath,
      'a directory on its way leads outside the workspace',
    );
  }
  return { handle, real, ref: procFd ? `/proc/self/fd/${handle.fd}` : real };
}

/** The directory `name` under `dir` (W1), created when missing and `create` (W2); undefined when missing. */
async function stepInto(
  workspace: string,
  jobPath: string,
  dir: HeldDir,
  name: string,
  create: boolean,
): Promise<HeldDir | undefined> {
  const at = `${dir.ref}/${name}`;
  const expected = join(dir.real, name);
  for (let made = false; ; made = true) {
    let handle: FileHandle;
    try {
      handle = await open(at, DIR_FLAGS);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' && !create) return undefined;
      if (code === 'ENOENT' && !made) {
        // mkdir does not follow a symlink at its last component: one put there makes it EEXIST (W2).
        await mkdir(at).catch((e: unknown) => {
          if (errnoOf(e) !== 'EEXIST') throw e;
        });
        continue;
      }
      if (code === 'ENOENT') {
        throw new PathRejectedError('not_found', jobPath, 'a directory on its way went away as it was made');
      }
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw err; // EACCES, EMFILE, …: not about the path
      const link = await lstat(at).then(
        (st) => st.isSymbolicLink(),
        () => false,
      );
      if (!link) {
        throw new PathRejectedError(
          'not_a_directory',
          jobPath,
          `${JSON.stringify(name)} on its way is not a directory`,
        );
      }
      return followDirLink(workspace, jobPath, at);
    }
    return holdDir(workspace, jobPath, handle, expected);
  }
}

/** An existing directory symlink on the way: followed only to a directory inside (W1, P3). */
async function followDirLink(workspace: string, jobPath: string, at: string): Promise<HeldDir> {
  let target: string;
  try {
    target = await realpath(at);
  } catch {
    throw new PathRejectedError(
      'symlink_escape',
      jobPath,
      'a symlink on its way leads nowhere; no directory is made through it',
    );
  }
  if (!isInside(workspace, target)) {
    throw new PathRejectedError(
      'symlink_escape',
      jobPath,
      'a symlink on its way leads outside the workspace',
    );
  }
  let handle: FileHandle;
  try {
    handle = await open(target, DIR_FLAGS);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOTDIR')
      throw new PathRejectedError('not_a_directory', jobPath, 'a symlink on its way is not to a directory');
    throw new PathRejectedError(
      'symlink_escape',
      jobPath,
      `a symlink on its way changed while it was followed (${code ?? 'error'})`,
    );
  }
  return holdDir(workspace, jobPath, handle, target);
}

/** The checks of W3 that need no write: what is at the file's name now. */
async function checkTarget(jobPath: string, at: string, mode: WriteOptions['mode']): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(at);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw err;
  }
  refuseExisting(jobPath, st, mode);
}

function refuseExisting(jobPath: string, st: Stats, mode: WriteOptions['mode']): void {
  if (st.isSymbolicLink()) {
    throw new PathRejectedError(
      'symlink_escape',
      jobPath,
      'is a symlink; files are written only where no symlink is',
    );
  }
  if (!st.isFile()) throw new PathRejectedError('not_a_file', jobPath, 'exists and is not a regular file');
  if (mode === 'create') {
    throw new PathRejectedError('exists', jobPath, 'exists already; use mode "overwrite" to replace it');
  }
  if (st.nlink > 1) {
    throw new PathRejectedError(
      'hard_link',
      jobPath,
      `has ${st.nlink} hard links, one of which may be outside the workspace`,
    );
  }
}

/** W3: the file itself, opened under the held directory and proven before it is emptied. */
async function openTarget(
  workspace: string,
  jobPath: string,
  dir: HeldDir,
  name: string,
  mode: WriteOptions['mode'],
): Promise<OpenedForWrite> {
  const at = `${dir.ref}/${name}`;
  const base = O_WRONLY | O_NOFOLLOW | O_NONBLOCK;
  let handle: FileHandle;
  let created = true;
  try {
    handle = await open(at, base | O_CREAT | O_EXCL, 0o666);
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'EEXIST' || mode === 'create') throw rejectOpen(jobPath, err, mode);
    created = false;
    try {
      handle = await open(at, base);
    } catch (again) {
      throw rejectOpen(jobPath, again, mode);
    }
  }
  try {
    const opened = await openedPath(handle, join(dir.real, name)).catch(() => null);
    if (opened === null || !isInside(workspace, opened)) {
      throw new PathRejectedError(
        'symlink_escape',
        jobPath,
        'was swapped for a path outside the workspace while opening',
      );
    }
    const st = await handle.stat();
    if (!created) refuseExisting(jobPath, st, mode);
    else if (!st.isFile()) throw new PathRejectedError('not_a_file', jobPath, 'is not a regular file');
    if (!created) await handle.truncate(0);
    return {
      handle,
      realPath: opened,
      relPath: relativeTo(workspace, opened),
      created,
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Why the file could not be opened for writing: a rejection, or `err` itself (EACCES, EROFS, …). */
function rejectOpen(jobPath: string, err: unknown, mode: WriteOptions['mode']): unknown {
  const code = errnoOf(err);
  switch (code) {
    case 'EEXIST':
      return mode === 'create'
        ? new PathRejectedError('exists', jobPath, 'exists already; use mode "overwrite" to replace it')
        : new PathRejectedError('symlink_escape', jobPath, 'changed while it was opened');
    case 'ELOOP':
      return new PathRejectedError(
        'symlink_escape',
        jobPath,
        'is a symlink; files are written only where no symlink is',
      );
    case 'EISDIR':
    case 'ENXIO': // a FIFO nobody reads
      return new PathRejectedError('not_a_file', jobPath, 'exists and is not a regular file');
    case 'ENOENT':
    case 'ENOTDIR':
      return new PathRejectedError('not_found', jobPath, `changed while it was opened (${code})`);
    default:
      return err;
  }
}
