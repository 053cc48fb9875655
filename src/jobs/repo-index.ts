/**
 * repo_index_task: which files match the job's globs, and where its keywords occur in them.
 *
 * R1. Globs have picomatch's standard semantics (`**` spans directories, `*` stays within one;
 *     neither matches a dot-file or dot-directory unless the pattern names the dot), matched
 *     against `/`-separated workspace-relative paths; a file is considered when it matches some
 *     include glob and no exclude glob.
 * R2. At most max_files files are read (the first in code-unit order), each through the path
 *     sandbox, and of each at most max_file_bytes bytes: the read stops there, the rest of the
 *     file is never touched. A file with a NUL byte in what was read counts as binary, unsearched.
 * R3. Keywords match case-insensitively within one line. The index (JSONL: a `file` record per
 *     file read, a `hit` record per keyword occurrence) is evidence and output: it is written
 *     whole lines at a time only while it fits the job's remaining max_output_bytes.
 * R4. Matching the globs runs off the worker's event loop (glob-match.ts, G1); reading and
 *     searching yield to it between files, so heartbeats and aborts are never starved.
 * Reading files is the handler's own work, not a tool call (docs/sandbox.md).
 */
import { openInWorkspace, PathRejectedError, readPrefix } from '../sandbox/paths.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { RepoIndexPayload } from '../schema/types.generated.js';
import type { JobHandler } from '../worker/types.js';
import { matchGlobs } from '../sandbox/glob-match.js';
import { listWorkspaceFiles } from '../sandbox/workspace-files.js';

const SNIPPET_CHARS = 160;

export interface RepoIndexOptions {
  /** Where `git ls-files` runs: inside the OS boundary when the worker has it (workspace-files.ts). */
  readonly sandbox?: Sandbox;
}

export function repoIndexHandler(options: RepoIndexOptions = {}): JobHandler<RepoIndexPayload> {
  return async (ctx) => {
    const job = ctx.job;
    const p = job.payload;
    const listing = await listWorkspaceFiles(ctx.workspace, ctx.signal, options.sandbox);
    const matched = await matchGlobs(listing.paths, p.include_globs, p.exclude_globs ?? [], ctx.signal);
    const chosen = matched.slice(0, p.max_files);
    const keywords = [...new Set(p.keywords ?? [])];
    const lowered = keywords.map((k) => k.toLowerCase());

    const budget = Math.max(0, ctx.remainingOutputBytes());
    const lines: string[] = [];
    let indexBytes = 0;
    let indexTruncated = false;
    const emit = (record: Record<string, unknown>) => {
      if (indexTruncated) return;
      const line = JSON.stringify(record) + '\n';
      const n = Buffer.byteLength(line);
      if (indexBytes + n > budget) {
        indexTruncated = true;
        return;
      }
      lines.push(line);
      indexBytes += n;
    };

    let indexed = 0;
    let rejected = 0;
    let binary = 0;
    let cut = 0;
    let bytesRead = 0;
    let hits = 0;
    for (const path of chosen) {
      ctx.signal.throwIfAborted();
      let content: Buffer;
      let size: number;
      try {
        const opened = await openInWorkspace(ctx.workspace, path);
        try {
          size = opened.stats.size;
          content = await readPrefix(opened, p.max_file_bytes);
        } finally {
          await opened.handle.close();
        }
      } catch (err) {
        if (!(err instanceof PathRejectedError)) throw err;
        rejected += 1;
        emit({ kind: 'rejected', path, code: err.code });
        continue;
      }
      indexed += 1;
      bytesRead += content.length;
      const truncated = size > content.length;
      if (truncated) cut += 1;
      const isBinary = content.includes(0);
      if (isBinary) binary += 1;
      emit({ kind: 'file', path, size, read: content.length, truncated, binary: isBinary });
      if (isBinary || lowered.length === 0) continue;
      const text = content.toString('utf8'); // invalid UTF-8 becomes U+FFFD; nothing throws
      text.split('\n').forEach((lineText, i) => {
        const low = lineText.toLowerCase();
        lowered.forEach((k, j) => {
          if (!low.includes(k)) return;
          hits += 1;
          emit({
            kind: 'hit',
            path,
            line: i + 1,
            keyword: keywords[j],
            text: lineText.trim().slice(0, SNIPPET_CHARS),
          });
        });
      });
    }

    const file = await ctx.writeEvidence('index.jsonl', lines.join(''));
    ctx.addOutputBytes(file.bytes);
    return {
      result: {
        source: listing.source,
        files_considered: matched.length,
        files_indexed: indexed,
        files_rejected: rejected,
        files_binary: binary,
        bytes_read: bytesRead,
        hits,
        truncated: {
          walk: listing.truncated,
          files: matched.length > chosen.length,
          file_bytes: cut,
          index: indexTruncated,
        },
        index: file.path,
      },
    };
  };
}
