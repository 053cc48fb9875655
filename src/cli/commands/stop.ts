import type { Command as Program } from 'commander';
import { defaultDaemonFiles } from '../../ops/daemon.js';
import { checkOwnFilePath } from '../../ops/pid-file.js';
import { stopPidFileHolder, type StopOutcome } from '../../ops/stop.js';
import { homeOption, jsonOption, parseSeconds } from '../options.js';
import { EXIT_OK, EXIT_REFUSED, printJson, printLines } from '../output.js';

export function register(program: Program): void {
  program
    .command('stop')
    .description('stop the process a pid file names (work --daemon), after verifying it is that process')
    .addOption(homeOption())
    .option(
      '--pid-file <file>',
      'the pid file (default: <home>/workers/daemon.pid, where work --daemon keeps it)',
    )
    .option(
      '--timeout-sec <s>',
      'how long to wait for it to end after SIGTERM (default: its --grace-sec + 15, else 30)',
      parseSeconds('--timeout-sec'),
    )
    .option('--kill', 'after the timeout, SIGKILL it (identity checked again) instead of giving up')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane stop                      # the default home's work --daemon
  execplane stop --pid-file /run/w1.pid --timeout-sec 120 --kill

Only a live pid file is acted on: held under its lock by a running process whose pid, start time
and lock all match the record (docs/operations.md, "Services"). That process gets SIGTERM (a
worker then lets its running jobs finish for its --grace-sec) and stop waits until it has ended.
A missing, stale (a pid record nobody holds: the holder died; the file is removed) or unverified
file (held by another process, or no pid record at all: left as it is) is reported and nothing
is signalled.
Refused (exit 2) before anything is read: a file of the plane at --home (jobs.jsonl, config.json,
…, anything under evidence/), a symbolic link, a FIFO or device, a path under /proc, /sys, /dev.
Exit codes: 0 stopped; 1 nothing stopped (no file, stale, unverified, not permitted, or still
running after --timeout-sec); 2 usage, or a --pid-file that is refused.`,
    )
    .action(
      async (opts: {
        home: string;
        pidFile?: string;
        timeoutSec?: number;
        kill?: boolean;
        json?: boolean;
      }) => {
        // Plane files, symlinks, FIFOs and devices are refused before anything is opened (S0).
        const pidFile = checkOwnFilePath(opts.pidFile ?? defaultDaemonFiles(opts.home).pidFile, {
          flag: '--pid-file',
          code: 'E_PID_FILE',
          home: opts.home,
        });
        const outcome = await stopPidFileHolder(pidFile, {
          ...(opts.timeoutSec === undefined ? {} : { timeoutSec: opts.timeoutSec }),
          kill: opts.kill === true,
        });
        const stopped = outcome.kind === 'stopped';
        if (opts.json) printJson({ pid_file: pidFile, ...outcome, stopped });
        else printLines(describe(pidFile, outcome));
        process.exitCode = stopped ? EXIT_OK : EXIT_REFUSED;
      },
    );
}

function describe(file: string, o: StopOutcome): string {
  const who = (r: { pid: number; started_at_utc: string }) => `pid ${r.pid}, started ${r.started_at_utc}`;
  switch (o.kind) {
    case 'stopped':
      return `stopped ${who(o.record)} (${o.signal})${o.removedStale ? `; it left ${file} behind, removed` : ''}`;
    case 'absent':
      return `${file} does not exist: nothing to stop`;
    case 'stale':
      return `${file} is stale: nobody holds it (its holder, ${who(o.record)}, is gone); nothing signalled${o.removed ? '; the file was removed' : ''}`;
    case 'unverified':
      return `${file}: ${o.why}; nothing signalled${o.why.startsWith('held') ? ` (find its holder with \`fuser ${file}\`)` : ''}`;
    case 'ended-before-signal':
      return `${file}: pid ${o.record.pid} ended (or is another process now) before it could be signalled; nothing signalled`;
    case 'signal-failed':
      return `${file}: pid ${o.record.pid} could not be signalled (${o.code}); is it another user's?`;
    case 'still-running':
      return o.killed
        ? `${who(o.record)} is still running ${o.waitedSec} s after SIGTERM and SIGKILL (stuck in the kernel?); look at it (ps, /proc/${o.record.pid}/stack)`
        : `${who(o.record)} is still running ${o.waitedSec} s after SIGTERM; wait longer (--timeout-sec) or add --kill`;
  }
}
