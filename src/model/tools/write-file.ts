/**
 * `write_file`: writes one file of the workspace, where the job's policy lets it write.
 *
 * Refused, without announcing: a job with `write_workspace: false` (E_POLICY_DENIED); content
 * over WRITE_FILE_MAX_BYTES (E_WRITE_TOO_LARGE) or over the output budget left
 * (E_BUDGET_OUTPUT: the model may write less, rather than lose the job); a path the sandbox
 * rejects before anything is written (path_rejected:…, W1–W3 of sandbox/paths.ts), including an
 * existing file in `create` mode (path_rejected:exists).
 * The call is announced after those checks and before the first directory or byte is written
 * (W4). A rejection found only while writing (a symlink swapped in) comes back as ok false after
 * announcing — the call is in the ledger; nothing outside the workspace was written. The bytes
 * written count as output (max_output_bytes). A file system's refusal of this file (EACCES,
 * EISDIR, …) is E_WRITE_FAILED to the model; a fault of the machine (ENOSPC, EROFS, EIO, …:
 * worker/faults.ts F1) or of the announce itself ends the attempt, for the worker to judge.
 */
import { openForWriteInWorkspace, PathRejectedError, type OpenedForWrite } from '../../sandbox/paths.js';
import { machineFaultCode } from '../../worker/faults.js';
import type { ModelTool } from '../types.js';
import { pathParameter, pathRefusal, refuse, stringArg } from './shared.js';

export const WRITE_FILE_MAX_BYTES = 1024 * 1024;

export function writeFileTool(): ModelTool {
  return {
    name: 'write_file',
    description:
      'Write a text file of the workspace (UTF-8). Missing parent directories are created. With mode ' +
      '"create" (the default) an existing file is not touched and the call fails; use "overwrite" to ' +
      'replace an existing file. Files behind symlinks are never written. Fails when the job may not ' +
      'write the workspace.',
    parameters: {
      type: 'object',
      properties: {
        path: pathParameter('File path relative to the workspace root, e.g. "notes/plan.md".'),
        content: {
          type: 'string',
          maxLength: WRITE_FILE_MAX_BYTES,
          description: 'The whole new content of the file (at most 1 MiB as UTF-8).',
        },
        mode: {
          type: 'string',
          enum: ['create', 'overwrite'],
          description: '"create" (default): only a new file; "overwrite": replace an existing one.',
        },
      },
      required: ['path', 'content'],
      additionalProperties: false,
    },
    needs: [],
    async run(args, scope) {
      const { ctx } = scope;
      if (ctx.job.tool_policy.write_workspace === false) {
        return refuse(
          'E_POLICY_DENIED',
          "this job's tool_policy has write_workspace: false; the workspace is read-only to it",
        );
      }
      const path = stringArg(args, 'path', '');
      const mode = args.mode === 'overwrite' ? 'overwrite' : 'create';
      const bytes = Buffer.from(stringArg(args, 'content', ''), 'utf8');
      if (bytes.length > WRITE_FILE_MAX_BYTES) {
        return refuse(
          'E_WRITE_TOO_LARGE',
          `the content is ${bytes.length} bytes as UTF-8; write_file writes at most ${WRITE_FILE_MAX_BYTES}`,
        );
      }
      const left = ctx.remainingOutputBytes();
      if (bytes.length > left) {
        return refuse(
          'E_BUDGET_OUTPUT',
          `the content is ${bytes.length} bytes; the job may write only ${left} more (max_output_bytes)`,
        );
      }
      let opened: OpenedForWrite;
      let announceFailed = false;
      try {
        opened = await openForWriteInWorkspace(ctx.workspace, path, {
          mode,
          beforeWrite: () =>
            scope.announce().catch((err: unknown) => {
              announceFailed = true;
              throw err;
            }),
        });
        try {
          await opened.handle.writeFile(bytes);
        } finally {
          await opened.handle.close();
        }
      } catch (err) {
        if (err instanceof PathRejectedError) return pathRefusal(err);
        // The ledger's refusal (budget, policy, lease) or fault, and a fault of the machine
        // (ENOSPC, EROFS, EIO, …: worker/faults.ts F1), end the attempt for the worker to judge.
        if (announceFailed || machineFaultCode(err)) throw err;
        const fsError = err as NodeJS.ErrnoException;
        // The file system refused this file (EACCES, EISDIR, …): the model may write elsewhere.
        if (typeof fsError.code === 'string' && typeof fsError.syscall === 'string') {
          return refuse(
            'E_WRITE_FAILED',
            `${JSON.stringify(path.slice(0, 300))}: ${fsError.syscall} ${fsError.code}`,
          );
        }
        throw err;
      }
      ctx.addOutputBytes(bytes.length);
      return {
        ok: true,
        content: `${opened.created ? 'created' : 'overwrote'} ${opened.relPath} (${bytes.length} bytes)`,
      };
    },
  };
}
