/**
 * `search_workspace`: where a string occurs in the workspace's files (case-insensitive, within
 * one line), as `path:line: text`.
 *
 * Q1. The files are the ones list_files would list (git-tracked in a checkout), narrowed by the
 *     glob, in code-unit order; each is opened through the path sandbox (P1–P4) and a rejected
 *     one is skipped and counted, never read.
 * Q2. Bounded work, whatever the workspace: of each file at most SEARCH_FILE_MAX_BYTES are read,
 *     streamed in chunks (memory is one chunk and one line); a call opens at most
 *     SEARCH_MAX_FILES files and reads at most SEARCH_MAX_BYTES in all, and it stops at
 *     max_results hits or when the hits fill the result (T3). The result says which bound
 *     stopped it, so the model can narrow the search.
 * Q3. A file with a NUL byte in its first chunk is binary: skipped, counted.
 * The call is announced before the listing: it has no argument the sandbox could reject.
 */
import { StringDecoder } from 'node:string_decoder';
import { listWorkspaceFiles } from '../../sandbox/workspace-files.js';
import { openInWorkspace, PathRejectedError, type OpenedFile } from '../../sandbox/paths.js';
import type { Sandbox } from '../../sandbox/sandbox.js';
import type { ModelTool } from '../types.js';
import { clip, filterByGlob, intArg, RESULT_MAX_BYTES, stringArg } from './shared.js';

export const SEARCH_FILE_MAX_BYTES = 512 * 1024;
export const SEARCH_MAX_FILES = 10_000;
export const SEARCH_MAX_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const SNIPPET_CHARS = 200;
const MAX_RESULTS = 200;
const DEFAULT_RESULTS = 50;
/** What the hits may take of the result, leaving room for the summary and the notes. */
const HITS_MAX_BYTES = RESULT_MAX_BYTES - 1024;

type StopReason = 'results' | 'full' | 'files' | 'bytes';

interface Tally {
  files: number;
  bytes: number;
  binary: number;
  rejected: number;
  cut: number;
  withHits: number;
  readonly hits: string[];
  /** Bytes the hits take in the result; past HITS_MAX_BYTES the search stops (T3). */
  hitBytes: number;
  full: boolean;
}

export function searchWorkspaceTool(sandbox: Sandbox): ModelTool {
  return {
    name: 'search_workspace',
    description:
      'Search the workspace files for a string (case-insensitive, within one line). Returns one hit per ' +
      'line as "<path>:<line>: <text>", after a summary line. Only the first ' +
      `${SEARCH_FILE_MAX_BYTES / 1024} KiB of each file is searched, binary files are skipped, and a ` +
      'call searches a bounded number of files; the last lines say when a limit was reached. Use ' +
      '`glob` to search fewer files, e.g. "src/**/*.ts".',
    parameters: {
      type: 'object',
      properties: {
        query: {
          type: 'string',
          minLength: 1,
          maxLength: 200,
          description: 'The text to find (not a regular expression).',
        },
        glob: {
          type: 'string',
          minLength: 1,
          maxLength: 512,
          description: 'Only files whose workspace-relative path matches this glob, e.g. "**/*.py".',
        },
        max_results: {
          type: 'integer',
          minimum: 1,
          maximum: MAX_RESULTS,
          description: `Stop after this many hits; default ${DEFAULT_RESULTS}.`,
        },
      },
      required: ['query'],
      additionalProperties: false,
    },
    needs: [],
    async run(args, scope) {
      const { ctx } = scope;
      const query = stringArg(args, 'query', '');
      const glob = typeof args.glob === 'string' ? args.glob : undefined;
      const maxResults = intArg(args, 'max_results', DEFAULT_RESULTS, 1, MAX_RESULTS);
      await scope.announce();

      const listing = await listWorkspaceFiles(ctx.workspace, ctx.signal, sandbox);
      let paths = listing.paths;
      if (glob !== undefined) {
        const matched = await filterByGlob(paths, glob, ctx.signal);
        if ('refused' in matched) return matched.refused;
        paths = matched.paths;
      }
      const needle = query.toLowerCase();
      const t: Tally = {
        files: 0,
        bytes: 0,
        binary: 0,
        rejected: 0,
        cut: 0,
        withHits: 0,
        hits: [],
        hitBytes: 0,
        full: false,
      };
      let stoppedBy: StopReason | undefined;
      for (const path of paths) {
        ctx.signal.throwIfAborted();
        if (t.full || t.hits.length >= maxResults) {
          stoppedBy = t.full ? 'full' : 'results';
          break;
        }
        if (t.files >= SEARCH_MAX_FILES) {
          stoppedBy = 'files';
          break;
        }
        if (t.bytes >= SEARCH_MAX_BYTES) {
          stoppedBy = 'bytes';
          break;
        }
        let file: OpenedFile;
        try {
          file = await openInWorkspace(ctx.workspace, path);
        } catch (err) {
          if (!(err instanceof PathRejectedError)) throw err;
          t.rejected += 1;
          continue;
        }
        t.files += 1;
        try {
          const cap = Math.min(SEARCH_FILE_MAX_BYTES, SEARCH_MAX_BYTES - t.bytes);
          await searchFile(file, needle, cap, maxResults, t);
        } finally {
          await file.handle.close();
        }
      }
      if (stoppedBy === undefined && (t.full || t.hits.length >= maxResults))
        stoppedBy = t.full ? 'full' : 'results';
      return { ok: true, content: summary(query, paths.length, t, stoppedBy, maxResults).join('\n') };
    },
  };
}

/** Q2, Q3: one file, streamed, at most `cap` bytes; hits go into the tally until `maxResults`. */
async function searchFile(
  file: OpenedFile,
  needle: string,
  cap: number,
  maxResults: number,
  t: Tally,
): Promise<void> {
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, cap)));
  let pos = 0;
  let carry = '';
  let lineNo = 0;
  let found = false;
  const check = (line: string): boolean => {
    lineNo += 1;
    const low = line.toLowerCase();
    const at = low.indexOf(needle);
    if (at < 0) return true;
    found = true;
    const start = Math.max(0, at - 60);
    const text = clip(line.slice(start).replace(/\r$/, '').trim(), SNIPPET_CHARS);
    const hit = `${file.relPath}:${lineNo}: ${start > 0 ? '…' : ''}${text}`;
    t.hitBytes += Buffer.byteLength(hit) + 1;
    if (t.hitBytes > HITS_MAX_BYTES) {
      t.full = true;
      return false;
    }
    t.hits.push(hit);
    return t.hits.length < maxResults;
  };
  const finish = () => {
    if (found) t.withHits += 1;
  };
  while (pos < cap) {
    const { bytesRead } = await file.handle.read(buf, 0, Math.min(buf.length, cap - pos), pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    if (pos === 0 && chunk.includes(0)) {
      t.binary += 1;
      t.bytes += bytesRead;
      return;
    }
    pos += bytesRead;
    t.bytes += bytesRead;
    const lines = (carry + decoder.write(chunk)).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) {
      if (!check(line)) return finish();
    }
  }
  if (pos < file.stats.size) t.cut += 1;
  const last = carry + decoder.end();
  if (last !== '') check(last);
  finish();
}

function summary(
  query: string,
  considered: number,
  t: Tally,
  stoppedBy: StopReason | undefined,
  maxResults: number,
): string[] {
  const head =
    `${t.hits.length} hit${t.hits.length === 1 ? '' : 's'} for ${JSON.stringify(query)} (case-insensitive) ` +
    `in ${t.withHits} file${t.withHits === 1 ? '' : 's'}; searched ${t.files} of ${considered} files, ${t.bytes} bytes`;
  const notes: string[] = [];
  if (stoppedBy === 'results')
    notes.push(`stopped: max_results (${maxResults}) reached; more hits may exist`);
  if (stoppedBy === 'full')
    notes.push('stopped: the result is full; narrow the search with glob or a longer query');
  if (stoppedBy === 'files')
    notes.push(
      `stopped: a call searches at most ${SEARCH_MAX_FILES} files; narrow with glob to search the rest`,
    );
  if (stoppedBy === 'bytes')
    notes.push(
      `stopped: a call reads at most ${SEARCH_MAX_BYTES} bytes; narrow with glob to search the rest`,
    );
  if (t.cut) notes.push(`${t.cut} file(s) searched only in their first ${SEARCH_FILE_MAX_BYTES} bytes`);
  if (t.binary) notes.push(`${t.binary} binary file(s) skipped`);
  if (t.rejected)
    notes.push(`${t.rejected} file(s) skipped: their path leaves the workspace or cannot be opened`);
  return [head, ...t.hits, ...notes];
}
