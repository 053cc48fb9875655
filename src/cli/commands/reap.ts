import type { Command as Program } from 'commander';
import { assertPlaneExists } from '../../ledger/paths.js';
import { openPlane } from '../../plane.js';
import { homeOption, jsonOption, retryBackoffMaxOption, retryBackoffOption } from '../options.js';
import { noteCommitted, printJson, printLines } from '../output.js';

export function register(program: Program): void {
  program
    .command('reap')
    .description('one reaper pass: expire lapsed leases, retry (with backoff) what may run again')
    .addOption(homeOption())
    .addOption(retryBackoffOption())
    .addOption(retryBackoffMaxOption())
    .addOption(jsonOption())
    .addHelpText('after', `\nExamples:\n  execplane reap\n  execplane reap --json`)
    .action(
      async (opts: { home: string; retryBackoffSec: number; retryBackoffMaxSec: number; json?: boolean }) => {
        assertPlaneExists(opts.home);
        const plane = openPlane(opts.home);
        try {
          const events = await plane.reap(
            { backoffBaseSec: opts.retryBackoffSec, backoffMaxSec: opts.retryBackoffMaxSec },
            'reap',
          );
          if (events.length) noteCommitted();
          const rows = events.map((e) => ({ job_id: e.job_id, event: e.event, seq: e.seq }));
          if (opts.json) printJson({ events: rows });
          else if (rows.length) printLines(...rows.map((r) => `${r.job_id}\t${r.event}\tseq ${r.seq}`));
        } finally {
          plane.close();
        }
      },
    );
}
