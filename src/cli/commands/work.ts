import { jobsOption, loadUserJobTypes } from '../job-types.js';
import { statSync } from 'node:fs';
import { escapeLines } from '../escape.js';
import { Option, type Command as Program } from 'commander';
import { UsageError } from '../../errors.js';
import { loadPlaneConfig } from '../../config/plane-config.js';
import { assertHomeOutsideWorkspace } from '../../ledger/paths.js';
import { assertWorkerId, DEFAULT_GRACE_SEC, DEFAULT_LEASE_SEC } from '../../worker/defaults.js';
import type { LogFields } from '../../worker/worker.js';
import { defaultDaemonFiles, holdWorkerPidFile, startDaemon, takeDaemonChildMark } from '../../ops/daemon.js';
import { assertPidFileOrAbsent, checkOwnFilePath } from '../../ops/pid-file.js';
import {
  homeOption,
  parsePositiveInt,
  parseSeconds,
  retryBackoffMaxOption,
  retryBackoffOption,
} from '../options.js';

interface Opts {
  home: string;
  workspace?: string;
  workerId?: string;
  slots: number;
  leaseSec: number;
  once?: boolean;
  maxIdleSec: number;
  retryBackoffSec: number;
  retryBackoffMaxSec: number;
  graceSec: number;
  unenforcedNetworkOk?: boolean;
  unsandboxedOk?: boolean;
  quiet?: boolean;
  logFormat: 'text' | 'json';
  daemon?: boolean;
  pidFile?: string;
  logFile?: string;
  jobs?: string[];
}

export function register(program: Program): void {
  program
    .command('work')
    .description('run a worker: claim jobs under leases, run them, heartbeat, reap lapsed leases')
    .addOption(homeOption())
    .option('--workspace <dir>', 'the directory jobs work in (default: the current directory)')
    .option('--worker-id <id>', 'this worker’s id (default: host name and pid)')
    .option('--slots <n>', 'how many slots of work at once (at most 64)', parsePositiveInt('--slots', 64), 1)
    .option(
      '--lease-sec <s>',
      'lease length; heartbeats every third of it',
      parseSeconds('--lease-sec'),
      DEFAULT_LEASE_SEC,
    )
    .addOption(jobsOption())
    .option('--once', 'run at most one job, then exit')
    .option(
      '--max-idle-sec <s>',
      'exit after this long with nothing to do (0: never)',
      parseSeconds('--max-idle-sec'),
      0,
    )
    .addOption(retryBackoffOption())
    .addOption(retryBackoffMaxOption())
    .option(
      '--grace-sec <s>',
      'on SIGTERM/SIGINT, how long running jobs may finish',
      parseSeconds('--grace-sec'),
      DEFAULT_GRACE_SEC,
    )
    .option(
      '--unsandboxed-ok',
      'where the OS sandbox (bubblewrap) is missing, run jobs that start processes without it: as this worker’s user, seeing what it sees; the run header says so',
    )
    .option(
      '--unenforced-network-ok',
      'with --unsandboxed-ok, run allow_network:false jobs even where the network cannot be cut (no unshare); the run header says so',
    )
    .option('--quiet', 'log nothing but errors')
    .addOption(
      new Option(
        '--log-format <format>',
        'text (a timestamp, then the message) or json (one object a line, for log shippers)',
      )
        .choices(['text', 'json'])
        .default('text'),
    )
    .option(
      '--daemon',
      'run in the background, where no service manager can (docs/operations.md, "Services")',
    )
    .option(
      '--pid-file <file>',
      'hold this pid file while running (with --daemon, default <home>/workers/daemon.pid)',
    )
    .option('--log-file <file>', 'with --daemon: append the log here (default <home>/workers/daemon.log)')
    .addHelpText(
      'after',
      `
Examples:
  execplane work --slots 4
  execplane work --once
  execplane work --max-idle-sec 5 --worker-id ci-1

Exit codes: 0 done (--once, idle, or shut down by a signal); 1 the ledger is corrupt;
2 usage or a malformed <home>/config.json; 3 the kill switch is on (nothing was claimed
after it was seen).
Sandbox (docs/sandbox.md): every process a job starts runs under bubblewrap, in user, PID,
mount and network namespaces of its own, under its resource budgets; where bubblewrap is missing
or its probe fails, such jobs are left for other workers (each named once in the log) unless
--unsandboxed-ok is given. The home must not lie inside the workspace (exit 2).
SIGTERM/SIGINT: stop claiming, let running jobs finish for --grace-sec, then abort them
(fail, code shutdown, retryable). A second signal aborts at once.
--daemon: starts the same worker detached, waits until it holds its pid file, prints its pid and
exits 0 (1 if the file is held already, E_PID_FILE_HELD, or the worker did not start; 2 if it
exited with 2, or failed a start check, which --daemon runs itself first); stop it with
\`execplane stop --pid-file FILE\`.
--pid-file/--log-file: refused (exit 2) if a plane file, a symlink, not a regular file, or under
/proc, /sys, /dev; --pid-file also if it exists with something other than a pid record in it.`,
    )
    .action(async (opts: Opts) => {
      // First, and always (jobs must not inherit the mark): whether this process is the child a
      // `work --daemon` started (D5 of src/ops/daemon.ts).
      const isDaemonChild = takeDaemonChildMark() && opts.daemon === true;
      // Everything that can refuse the start with exit 2, before a daemon is spawned and before
      // its child takes the pid file (D4): a live pid file means a worker that got past these.
      const files = checkStart(opts);
      const userJobTypes = await loadUserJobTypes(opts.home, opts.jobs);
      if (opts.daemon && !isDaemonChild) {
        // This process only starts the worker in the background (src/ops/daemon.ts).
        const d = await startDaemon({
          args: process.argv.slice(1),
          pidFile: files.pidFile!,
          logFile: files.logFile!,
        });
        process.stdout.write(`${d.pid}\n`);
        if (!opts.quiet)
          process.stderr.write(
            `execplane work: daemon pid ${d.pid}; pid file ${d.pidFile}; log ${d.logFile}\n`,
          );
        return;
      }
      // The runtime (sandbox, execa, handlers) loads only when a worker runs, not for every command.
      const [{ jobRuntime, jobTypeSet }, { describeSandbox, whyCannotRun }, { prepareSandbox }, { Worker }] =
        await Promise.all([
          import('../../jobs/index.js'),
          import('../../sandbox/sandbox.js'),
          import('../../sandbox/prepare.js'),
          import('../../worker/worker.js'),
        ]);
      const log = opts.quiet ? undefined : workLog(opts.logFormat, () => workerId);
      let workerId = opts.workerId ?? null;
      const sandbox = await prepareSandbox({
        home: opts.home,
        unsandboxedOk: opts.unsandboxedOk,
        unenforcedNetworkOk: opts.unenforcedNetworkOk,
      });
      log?.(`sandbox: ${describeSandbox(sandbox)}`);
      const refusal = (allow_network: boolean) =>
        whyCannotRun(sandbox, {
          job_type: 'test_runner_task',
          tool_policy: { allow_network, allow_subprocess: true, allowed_tools: [] },
        }) ?? null;
      const worker = new Worker({
        home: opts.home,
        workspace: opts.workspace,
        workerId: opts.workerId,
        slots: opts.slots,
        leaseSec: opts.leaseSec,
        once: opts.once,
        maxIdleSec: opts.maxIdleSec,
        retry: { backoffBaseSec: opts.retryBackoffSec, backoffMaxSec: opts.retryBackoffMaxSec },
        graceSec: opts.graceSec,
        ...jobRuntime({ home: opts.home, sandbox, log, jobTypes: jobTypeSet(userJobTypes) }),
        log,
        presence: { refuses: { processes: refusal(true), processes_without_network: refusal(false) } },
        // Held until this process exits (D3 of src/ops/daemon.ts), taken once the worker has
        // started for real (D4): registered, its id its own, the kill switch off.
        onReady: () =>
          holdWorkerPidFile({
            home: opts.home,
            isDaemon: isDaemonChild,
            ...(files.pidFile === undefined ? {} : { pidFile: files.pidFile }),
            ...(files.logFile === undefined ? {} : { logFile: files.logFile }),
            facts: {
              argv: process.argv.slice(1),
              grace_sec: opts.graceSec,
              worker_id: opts.workerId ?? null,
            },
          }),
      });
      workerId = worker.workerId;
      const onSignal = (sig: NodeJS.Signals) => {
        log?.(`${sig} received`);
        worker.shutdown(opts.graceSec);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        const exit = await worker.run();
        if (exit.code !== 0 && exit.message)
          process.stderr.write(`execplane: ${exit.reason}: ${escapeLines(exit.message)}\n`);
        process.exitCode = exit.code;
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}

/**
 * The checks that make `work` exit 2 before it does anything (D4 of src/ops/daemon.ts), and the
 * pid and log files it will use, resolved and checked (H6 of src/ops/pid-file.ts).
 */
function checkStart(opts: Opts): { pidFile?: string; logFile?: string } {
  if (opts.leaseSec < 0.3) throw new UsageError('E_USAGE', '--lease-sec must be at least 0.3');
  if (opts.logFile !== undefined && !opts.daemon)
    throw new UsageError('E_USAGE', '--log-file goes with --daemon; in the foreground the log is stderr');
  if (opts.workerId !== undefined) assertWorkerId(opts.workerId);
  if (opts.workspace !== undefined && !isDirectory(opts.workspace))
    throw new UsageError('E_USAGE', `--workspace ${opts.workspace} is not a directory; give one that exists`);
  // Before the sandbox is probed or anything written: a home the jobs could change is refused.
  assertHomeOutsideWorkspace(opts.home, opts.workspace ?? process.cwd());
  // A malformed config.json refuses the start (E_CONFIG, exit 2) before anything is claimed.
  loadPlaneConfig(opts.home);
  const defaults = defaultDaemonFiles(opts.home);
  const pidPath = opts.pidFile ?? (opts.daemon ? defaults.pidFile : undefined);
  const logPath = opts.logFile ?? (opts.daemon ? defaults.logFile : undefined);
  const pidFile =
    pidPath === undefined
      ? undefined
      : checkOwnFilePath(pidPath, { flag: '--pid-file', code: 'E_PID_FILE', home: opts.home });
  const logFile =
    logPath === undefined
      ? undefined
      : checkOwnFilePath(logPath, { flag: '--log-file', code: 'E_LOG_FILE', home: opts.home });
  if (pidFile !== undefined && pidFile === logFile)
    throw new UsageError('E_USAGE', `--pid-file and --log-file are both ${pidFile}; give two files`);
  if (pidFile !== undefined) assertPidFileOrAbsent(pidFile);
  return { ...(pidFile === undefined ? {} : { pidFile }), ...(logFile === undefined ? {} : { logFile }) };
}

/**
 * The worker's log on stderr: `text` is a UTC timestamp and the message, its control characters
 * escaped like all human output (it quotes job data: error messages, reasons; escape.ts); `json`
 * is one object a line with the structured fields (job_id, attempt, outcome, error).
 */
function workLog(
  format: 'text' | 'json',
  workerId: () => string | null,
): (message: string, fields?: LogFields) => void {
  if (format === 'json')
    return (msg, fields) =>
      process.stderr.write(
        `${JSON.stringify({ ts: new Date().toISOString(), level: fields?.level ?? 'info', worker_id: workerId(), msg, ...fields })}\n`,
      );
  return (msg) => process.stderr.write(`${new Date().toISOString()} execplane work: ${escapeLines(msg)}\n`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
