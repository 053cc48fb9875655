/**
 * How every command reports: JSON on stdout with --json (one object), a short readable summary
 * otherwise, warnings and errors on stderr as one `execplane: …` line, never a stack trace
 * (set EXECPLANE_DEBUG=1 for one). Human-readable text has its control characters escaped
 * (escape.ts); JSON is printed as it is. Exit codes: 0 ok, 1 refused or findings, 2 usage or invalid
 * input (docs/cli.md).
 */
import { isExecplaneError } from '../errors.js';
import { escapeControls, escapeLines } from './escape.js';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * Human-readable lines on stdout, each with its control and bidi characters escaped (escape.ts):
 * they quote ledger text, and a line break inside one prints as `\x0a`, never as a line of its own.
 */
export function printLines(...lines: string[]): void {
  process.stdout.write(lines.map(escapeControls).join('\n') + '\n');
}

let committed = false;

/**
 * Says that the command has changed the plane (appended, set the kill switch): from here on its
 * exit code reports that, whatever becomes of its output (`installStdoutGuard`).
 */
export function noteCommitted(): void {
  committed = true;
}

let finishOnBrokenPipe = false;

/**
 * Says that the command must run to its end even when its reader goes away (EPIPE), and exit with
 * its own code: `port-guard`, whose exit 0 means "the port is free" only once it has verified it
 * (G4 of src/ops/port-guard.ts), not when `| head -1` has read its first line.
 */
export function finishDespiteBrokenPipe(): void {
  finishOnBrokenPipe = true;
}

/**
 * How a broken stdout ends a command: a reader that went away (`execplane replay | head`, EPIPE)
 * ends it quietly with the code it had (or, after `finishDespiteBrokenPipe`, lets it finish with
 * its own, its further output dropped); any other failure (a full disk under a redirect) is one
 * line on stderr and exit 1 — unless the command had already changed the plane, whose success
 * its exit code then still reports (a retry of an `enqueue` that did append would duplicate it).
 */
export function installStdoutGuard(): void {
  let reported = false;
  let broken = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // After EPIPE every write fails too (ERR_STREAM_DESTROYED): nobody is reading; nothing to say.
    if (broken) return;
    if (err.code === 'EPIPE') {
      broken = true;
      if (!finishOnBrokenPipe) process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      return;
    }
    if (reported) return;
    reported = true;
    process.stderr.write(
      `execplane: E_IO: ${err.code ?? 'error'}: the output could not be written to stdout; ` +
        (committed
          ? 'the command itself succeeded and the plane was changed (do not rerun it; `execplane replay` shows the change)\n'
          : 'it is incomplete\n'),
    );
    if (!committed) process.exitCode = EXIT_REFUSED;
  });
}

export function warn(message: string): void {
  process.stderr.write(`execplane: warning: ${escapeLines(message)}\n`);
}

/** I/O faults of the machine, and what an operator does about each. */
const IO_FIXES: Record<string, string> = {
  ENOSPC: 'the disk is full; free space (nothing was acknowledged that is not on disk)',
  EDQUOT: 'the disk quota is used up; free space or raise the quota',
  EROFS: 'the filesystem is read-only; remount it read-write, or use a --home on a writable one',
  EACCES: 'permission denied; check who owns the plane’s home and its files',
  EPERM: 'operation not permitted; check who owns the plane’s home and its files',
  EIO: 'the disk reported an I/O error; check the device, then audit the ledger',
  EMFILE: 'this process has too many files open; raise its limit (ulimit -n)',
  ENFILE: 'the system has too many files open; try again when fewer are',
};

/** Prints `err` as the CLI's one error report and returns the exit code for it. */
export function reportError(err: unknown): number {
  if (isExecplaneError(err)) {
    // The message may quote ledger text or an argument: escaped as stdout is (escape.ts).
    process.stderr.write(`execplane: ${err.code}: ${escapeLines(err.message)}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || e?.code === 'EISDIR' || e?.code === 'ENOTDIR' || e?.code === 'EEXIST') {
    // Node's message is "ENOTDIR: not a directory, mkdir '…'": its middle says what is wrong.
    const what = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.code;
    process.stderr.write(
      `execplane: ${e.code}: ${escapeControls(e.path ?? '')}: ${what}; check the path${e.code === 'ENOTDIR' || e.code === 'EEXIST' ? ' (a directory is needed there)' : ''}\n`,
    );
    return EXIT_USAGE;
  }
  const fix = e?.code ? IO_FIXES[e.code] : undefined;
  if (fix) {
    // A fault of the machine, not of the command: one line naming the path and what to do.
    process.stderr.write(
      `execplane: E_IO: ${e.code}${e.path ? ` on ${escapeControls(e.path)}` : ''}: ${fix}\n`,
    );
    return EXIT_REFUSED;
  }
  process.stderr.write(
    `execplane: internal error: ${escapeLines(e?.message ?? String(err))} (rerun with EXECPLANE_DEBUG=1 for details, and please report it)\n`,
  );
  if (process.env.EXECPLANE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  return EXIT_REFUSED;
}
