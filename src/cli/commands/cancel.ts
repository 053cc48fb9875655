import type { Command as Program } from 'commander';
import { assertPlaneExists } from '../../ledger/paths.js';
import { openPlane } from '../../plane.js';
import { homeOption, jsonOption } from '../options.js';
import { noteCommitted, printJson, printLines, warn } from '../output.js';

export function register(program: Program): void {
  program
    .command('cancel')
    .description('cancel a job that has not completed (a running job is aborted at its next heartbeat)')
    .argument('<job_id>')
    .addOption(homeOption())
    .option('--reason <text>', 'why, recorded in the ledger', 'cancelled by operator')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `\nExamples:\n  execplane cancel job-01jd8x7q2m4k5n6p7r8s9t0v1w --reason "superseded"`,
    )
    .action(async (jobId: string, opts: { home: string; reason: string; json?: boolean }) => {
      assertPlaneExists(opts.home);
      const plane = openPlane(opts.home);
      try {
        const { outcomes, tornTailMoved } = await plane.submit([
          { type: 'cancel', job_id: jobId, reason: opts.reason },
        ]);
        noteCommitted();
        if (tornTailMoved)
          warn(`a torn tail of ${tornTailMoved.bytes} byte(s) was moved aside to ${tornTailMoved.path}`);
        const row = { job_id: jobId, seq: outcomes[0]!.seq, status: 'cancelled' };
        if (opts.json) printJson(row);
        else printLines(`${jobId}\tcancelled\tseq ${row.seq}`);
      } finally {
        plane.close();
      }
    });
}
