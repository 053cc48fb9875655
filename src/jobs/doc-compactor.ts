/**
 * doc_compactor_task: reads the inputs, in order, within max_input_bytes in total, and writes a
 * compacted markdown summary (compact-markdown.ts) of at most payload.max_output_bytes — and
 * never more than the job's remaining max_output_bytes — to evidence as summary.md.
 *
 * An input the path sandbox rejects, or that does not exist, is recorded (result and
 * inputs.json) and skipped: one bad path does not lose the summary of the others. Inputs past
 * the max_input_bytes total are recorded as skipped; the one it cuts is read up to it.
 */
import { openInWorkspace, PathRejectedError, readPrefix } from '../sandbox/paths.js';
import type { DocCompactorPayload } from '../schema/types.generated.js';
import type { JobHandler } from '../worker/types.js';
import { compactMarkdown, type SourceDoc } from './compact-markdown.js';

interface InputRecord {
  readonly path: string;
  readonly status: 'read' | 'truncated' | 'skipped' | 'rejected';
  readonly bytes: number;
  readonly code?: string;
  readonly message?: string;
}

export function docCompactorHandler(): JobHandler<DocCompactorPayload> {
  return async (ctx) => {
    const job = ctx.job;
    const p = job.payload;
    const inputs: InputRecord[] = [];
    const docs: SourceDoc[] = [];
    let left = p.max_input_bytes;
    for (const path of p.inputs) {
      ctx.signal.throwIfAborted();
      if (left <= 0) {
        inputs.push({ path, status: 'skipped', bytes: 0, message: 'max_input_bytes reached' });
        continue;
      }
      try {
        const opened = await openInWorkspace(ctx.workspace, path);
        try {
          const buf = await readPrefix(opened, left);
          const filled = buf.length;
          left -= filled;
          docs.push({ path, text: buf.toString('utf8') });
          inputs.push({ path, status: opened.stats.size > filled ? 'truncated' : 'read', bytes: filled });
        } finally {
          await opened.handle.close();
        }
      } catch (err) {
        if (!(err instanceof PathRejectedError)) throw err;
        inputs.push({ path, status: 'rejected', bytes: 0, code: err.code, message: err.message });
      }
    }

    const maxOut = Math.min(p.max_output_bytes, ctx.remainingOutputBytes());
    const summary = compactMarkdown(docs, p.title ?? 'Summary', maxOut);
    const summaryFile = await ctx.writeEvidence('summary.md', summary.markdown);
    ctx.addOutputBytes(summaryFile.bytes);
    await ctx.writeEvidence('inputs.json', JSON.stringify(inputs, null, 2) + '\n');
    const count = (s: InputRecord['status']) => inputs.filter((i) => i.status === s).length;
    return {
      result: {
        inputs_read: count('read') + count('truncated'),
        inputs_rejected: inputs
          .filter((i) => i.status === 'rejected')
          .slice(0, 16)
          .map((i) => ({ path: i.path.slice(0, 200), code: i.code })),
        inputs_rejected_count: count('rejected'),
        inputs_skipped: count('skipped'),
        input_bytes: p.max_input_bytes - left,
        input_truncated: count('truncated') + count('skipped') > 0,
        summary: summaryFile.path,
        summary_bytes: summary.bytes,
        summary_truncated: summary.truncated,
      },
    };
  };
}
