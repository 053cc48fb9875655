/**
 * How every command reports: JSON on stdout with --json (one object), a short readable summary
 * otherwise, warnings and errors on stderr as one `execplane: …` line, never a stack trace
 * (set EXECPLANE_DEBUG=1 for one). Exit codes: 0 ok, 1 refused or findings, 2 usage or invalid
 * input (docs/cli.md).
 */
import { isExecplaneError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function printLines(...lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}

export function warn(message: string): void {
  process.stderr.write(`execplane: warning: ${message}\n`);
}

/** Prints `err` as the CLI's one error report and returns the exit code for it. */
export function reportError(err: unknown): number {
  if (isExecplaneError(err)) {
    process.stderr.write(`execplane: ${err.code}: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'ENOTDIR') {
    process.stderr.write(
      `execplane: ${e.code}: ${e.path ?? ''}: ${e.message.split(':')[0]}; check the path\n`,
    );
    return EXIT_USAGE;
  }
  process.stderr.write(
    `execplane: internal error: ${e?.message ?? String(err)} (rerun with EXECPLANE_DEBUG=1 for details, and please report it)\n`,
  );
  if (process.env.EXECPLANE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  return EXIT_REFUSED;
}
