/**
 * P1–P4 of src/sandbox/paths.ts with real files and symlinks: a table of escape attempts, none
 * of which reads a byte outside the workspace — including a symlink swapped in between the
 * check and the open.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openInWorkspace, readPrefix, resolveDirInWorkspace } from '../src/sandbox/paths.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-paths-');
const SECRET = 'outside-secret-content';

/** <root>/outside/secret.txt and a workspace <root>/ws with files, a dir and symlinks of every kind. */
function layout() {
  const root = realpathSync(tmp());
  const outside = join(root, 'outside');
  const ws = join(root, 'ws');
  mkdirSync(outside);
  mkdirSync(join(ws, 'docs'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(ws, 'docs', 'a.md'), 'inside');
  symlinkSync(join(outside, 'secret.txt'), join(ws, 'link-out'));
  symlinkSync('../outside', join(ws, 'dir-out'));
  symlinkSync('docs/a.md', join(ws, 'link-in'));
  symlinkSync('loop', join(ws, 'loop'));
  execFileSync('mkfifo', [join(ws, 'fifo')]);
  return { root, ws, outside };
}

async function read(ws: string, path: string): Promise<string> {
  const f = await openInWorkspace(ws, path);
  try {
    return (await readPrefix(f, 1024)).toString();
  } finally {
    await f.handle.close();
  }
}

async function outcome(ws: string, path: string): Promise<string> {
  try {
    const text = await read(ws, path);
    expect(text).not.toContain(SECRET);
    return `read:${text}`;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('P1–P3: the escape table', () => {
  test.each([
    ['docs/a.md', 'read:inside'],
    ['./docs/../docs/a.md', 'read:inside'],
    ['link-in', 'read:inside'],
    ['/etc/passwd', 'path_rejected:absolute'],
    ['ROOT/outside/secret.txt', 'path_rejected:absolute'],
    ['../outside/secret.txt', 'path_rejected:outside_workspace'],
    ['../etc/passwd', 'path_rejected:outside_workspace'],
    ['docs/../../outside/secret.txt', 'path_rejected:outside_workspace'],
    ['link-out', 'path_rejected:symlink_escape'],
    ['dir-out/secret.txt', 'path_rejected:symlink_escape'],
    ['loop', 'path_rejected:symlink_escape'],
    ['missing.md', 'path_rejected:not_found'],
    ['docs', 'path_rejected:not_a_file'],
    ['', 'path_rejected:invalid'],
    ['a\0b', 'path_rejected:invalid'],
  ])('%j → %s', async (path, expected) => {
    const { ws, root } = layout();
    expect(await outcome(ws, path.replace('ROOT', root))).toBe(expected);
  });

  test('a FIFO planted in the workspace is rejected without hanging the worker', async () => {
    const { ws } = layout();
    expect(await outcome(ws, 'fifo')).toBe('path_rejected:not_a_file');
  });

  test('a cwd must be a directory inside the workspace', async () => {
    const { ws } = layout();
    await expect(resolveDirInWorkspace(ws, 'docs')).resolves.toBe(join(ws, 'docs'));
    await expect(resolveDirInWorkspace(ws, 'dir-out')).rejects.toMatchObject({
      code: 'path_rejected:symlink_escape',
    });
    await expect(resolveDirInWorkspace(ws, 'docs/a.md')).rejects.toMatchObject({
      code: 'path_rejected:not_a_directory',
    });
  });
});

describe('P4: a symlink swapped in after the check cannot escape', () => {
  test('the file itself replaced by a symlink to outside: O_NOFOLLOW refuses it', async () => {
    const { ws, outside } = layout();
    const f = openInWorkspace(ws, 'docs/a.md', {
      beforeOpen: (real) => {
        rmSync(real);
        symlinkSync(join(outside, 'secret.txt'), real);
      },
    });
    await expect(f).rejects.toMatchObject({ code: 'path_rejected:symlink_escape' });
  });

  test('a directory above it replaced by a symlink to outside: the opened descriptor is re-checked', async () => {
    const { ws, outside } = layout();
    writeFileSync(join(outside, 'a.md'), SECRET);
    const f = openInWorkspace(ws, 'docs/a.md', {
      beforeOpen: () => {
        renameSync(join(ws, 'docs'), join(ws, 'docs-old'));
        symlinkSync(outside, join(ws, 'docs'));
      },
    });
    await expect(f).rejects.toMatchObject({ code: 'path_rejected:symlink_escape' });
  });
});
