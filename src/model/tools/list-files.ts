/**
 * `list_files`: the workspace's files under a directory — git-tracked ones in a git checkout,
 * else a walk (workspace-files.ts) — one per line with its size.
 *
 * The directory is resolved through the path sandbox (P1–P3) before the call is announced; a
 * rejection is a refusal. Sizes are lstat'ed, never followed: a symlink shows as `symlink`, and
 * a file whose directory resolves outside the workspace shows as `outside`, without its size.
 */
import { lstat, realpath } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { listWorkspaceFiles } from '../../sandbox/workspace-files.js';
import { resolveDirInWorkspace } from '../../sandbox/paths.js';
import type { Sandbox } from '../../sandbox/sandbox.js';
import type { ModelTool } from '../types.js';
import {
  filterByGlob,
  intArg,
  linesThatFit,
  pathParameter,
  pathRefusal,
  RESULT_MAX_BYTES,
  stringArg,
} from './shared.js';

export const LIST_FILES_MAX_ENTRIES = 2000;
const DEFAULT_ENTRIES = 200;

export function listFilesTool(sandbox: Sandbox): ModelTool {
  return {
    name: 'list_files',
    description:
      'List the files of the workspace under a directory, one per line as "<path>\\t<size in bytes>", ' +
      'sorted by path. In a git checkout only git-tracked files are listed. Paths are relative to the ' +
      'workspace root and can be passed to read_file as they are. Use `glob` to narrow the list ' +
      '(matched against that workspace-relative path, e.g. "src/**/*.ts"; `*` does not cross "/" and ' +
      'does not match dot-files). The last line says whether the list was truncated.',
    parameters: {
      type: 'object',
      properties: {
        path: pathParameter('Directory relative to the workspace root; default "." (the whole workspace).'),
        glob: {
          type: 'string',
          minLength: 1,
          maxLength: 512,
          description: 'Only files whose workspace-relative path matches this glob, e.g. "**/*.md".',
        },
        max_entries: {
          type: 'integer',
          minimum: 1,
          maximum: LIST_FILES_MAX_ENTRIES,
          description: `At most this many files are listed; default ${DEFAULT_ENTRIES}.`,
        },
      },
      additionalProperties: false,
    },
    needs: [],
    async run(args, scope) {
      const { ctx } = scope;
      const path = stringArg(args, 'path', '.');
      const glob = typeof args.glob === 'string' ? args.glob : undefined;
      const max = intArg(args, 'max_entries', DEFAULT_ENTRIES, 1, LIST_FILES_MAX_ENTRIES);
      let dir: string;
      try {
        dir = await resolveDirInWorkspace(ctx.workspace, path);
      } catch (err) {
        return pathRefusal(err);
      }
      await scope.announce();

      const listing = await listWorkspaceFiles(ctx.workspace, ctx.signal, sandbox);
      const rel =
        dir === ctx.workspace
          ? ''
          : dir
              .slice(ctx.workspace.length + 1)
              .split(sep)
              .join('/');
      let paths = rel === '' ? [...listing.paths] : listing.paths.filter((p) => p.startsWith(`${rel}/`));
      if (glob !== undefined) {
        const matched = await filterByGlob(paths, glob, ctx.signal);
        if ('refused' in matched) return matched.refused;
        paths = matched.paths;
      }
      const kind = listing.source === 'git' ? 'git-tracked files' : 'files (not a git checkout: walked)';
      const where = rel === '' ? 'the workspace' : JSON.stringify(rel);
      const head = `${paths.length} ${kind} under ${where}${glob ? ` matching ${JSON.stringify(glob)}` : ''}`;
      const described = await describeFiles(ctx.workspace, paths.slice(0, max));
      // The first lines that fit the result, with room for the head and the truncated line (T3).
      const lines = described.slice(
        0,
        linesThatFit(described, RESULT_MAX_BYTES - Buffer.byteLength(head) - 200),
      );
      const truncated = paths.length > lines.length || listing.truncated;
      const tail = truncated
        ? `truncated: true (${lines.length} of ${paths.length}${listing.truncated ? '+' : ''} shown; ` +
          'narrow `path` or `glob`' +
          (lines.length < described.length ? ')' : ', or raise `max_entries`)')
        : 'truncated: false';
      return { ok: true, content: [head, ...lines, tail].join('\n') };
    },
  };
}

/** `<path>\t<size>` per file; directories are checked once each (P3) before a size is shown. */
async function describeFiles(workspace: string, paths: readonly string[]): Promise<string[]> {
  const dirInside = new Map<string, Promise<boolean>>();
  const inside = (dir: string) => {
    let known = dirInside.get(dir);
    if (!known) {
      known = realpath(join(workspace, dir)).then(
        (real) => real === workspace || real.startsWith(workspace + sep),
        () => false,
      );
      dirInside.set(dir, known);
    }
    return known;
  };
  const lines: string[] = [];
  for (const p of paths) {
    if (!(await inside(posix.dirname(p)))) {
      lines.push(`${p}\toutside`);
      continue;
    }
    const st = await lstat(join(workspace, p)).catch(() => undefined);
    const size = !st
      ? 'missing'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isFile()
          ? String(st.size)
          : 'not a file';
    lines.push(`${p}\t${size}`);
  }
  return lines;
}
