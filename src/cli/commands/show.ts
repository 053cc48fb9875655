import type { Command as Program } from 'commander';
import { RefusedError } from '../../errors.js';
import { jobView } from '../../replay/report.js';
import { timelineEntry, type TimelineEntry } from '../../replay/timeline.js';
import { homeOption, jsonOption, ledgerOption } from '../options.js';
import { openForRead } from '../open.js';
import { printJson, printLines } from '../output.js';

export function register(program: Program): void {
  program
    .command('show')
    .description("print a job's timeline: every event for it, and the state each left it in")
    .argument('<job_id>')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `\nExamples:\n  execplane show job-01jd8x7q2m4k5n6p7r8s9t0v1w\n  execplane show job-01jd8x7q2m4k5n6p7r8s9t0v1w --json`,
    )
    .action((jobId: string, opts: { home: string; ledger?: string; json?: boolean }, cmd: Program) => {
      const timeline: TimelineEntry[] = [];
      const plane = openForRead(
        { ...opts, homeGiven: cmd.getOptionValueSource('home') === 'cli' },
        {
          useCheckpoint: false,
          onEvent: (ev, line, state) => {
            if (ev.job_id === jobId) timeline.push(timelineEntry(ev, line, state));
          },
        },
      );
      try {
        const snap = plane.state.get(jobId);
        if (!snap)
          throw new RefusedError(
            'E_UNKNOWN_JOB',
            `no job ${jobId} in this ledger; list jobs with \`execplane replay\``,
            jobId,
          );
        const job = jobView(snap);
        if (opts.json) return printJson({ job_id: jobId, job, timeline });
        printLines(
          `${jobId}  ${job.job_type}  ${job.state}  attempt ${job.attempt}/${job.max_attempts}  priority ${job.priority}`,
          ...timeline.map(
            (t) =>
              `  ${String(t.seq).padStart(6)}  ${t.ts_utc}  ${t.event.padEnd(9)} → ${t.state.padEnd(9)}` +
              `${t.worker_id ? ` ${t.worker_id}#${t.attempt}` : ''}  ${t.detail}`,
          ),
        );
      } finally {
        plane.close();
      }
    });
}
