/**
 * Errors are values with stable codes. Every error execplane reports to a user is an
 * ExecplaneError whose `code` is documented in docs/cli.md and whose message says what to do.
 * `exitCode` is what the CLI exits with: 2 for usage or invalid input, 1 for a refusal or a
 * finding (a corrupt ledger is a finding about the file, not a usage mistake).
 */
export type ExitCode = 1 | 2;

export class ExecplaneError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, a missing file, malformed JSON, a spec that does not match its schema. */
export class UsageError extends ExecplaneError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 2, options);
  }
}

/** A spec or event that fails its JSON Schema; `problems` holds one line per violation. */
export class SchemaError extends ExecplaneError {
  constructor(
    readonly problems: readonly string[],
    what: string,
  ) {
    super('E_SCHEMA', `${what} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`, 2);
  }
}

/** A command the job machine does not accept in the job's current state. Nothing was appended. */
export class RefusedError extends ExecplaneError {
  constructor(
    code: string,
    message: string,
    readonly jobId?: string,
    readonly jobState?: string,
  ) {
    super(code, message, 1);
  }
}

/** The ledger cannot be trusted past `line`; writers refuse to append, readers stop there. */
export class LedgerCorruptError extends ExecplaneError {
  constructor(
    readonly line: number,
    readonly reason: string,
    file: string,
  ) {
    super(
      'E_LEDGER_CORRUPT',
      `${file}: line ${line}: ${reason}. The ledger is corrupt from this line on; nothing was written. ` +
        'Run `execplane audit` for the full list of findings and restore the file from a copy.',
      1,
    );
  }
}

/**
 * The ledger's path no longer names the file this process holds open: it was deleted, replaced
 * (a restore by `mv`), or its directory re-pointed while the process ran. Writing on would write
 * to a file nobody reads; the process stops instead (S7 of src/ledger/store.ts).
 */
export class LedgerReplacedError extends ExecplaneError {
  constructor(file: string, what: string) {
    super(
      'E_LEDGER_REPLACED',
      `${file}: ${what} while this process had it open; nothing more is written to it. ` +
        'Stop every worker before restoring, moving or deleting a ledger, then start them again (docs/operations.md).',
      1,
    );
  }
}

/**
 * This process's clock disagrees with the machine's by more than the plane allows (S8 of
 * src/ledger/store.ts): what it wrote would move the ledger's time (and every lease decided on
 * it) by its error, so it writes nothing.
 */
export class ClockSkewError extends ExecplaneError {
  constructor(ownMs: number, machineMs: number, maxMs: number) {
    const skew = ownMs - machineMs;
    super(
      'E_CLOCK_SKEW',
      `this process's clock reads ${new Date(ownMs).toISOString()}, the machine's ${new Date(machineMs).toISOString()} ` +
        `(${skew > 0 ? 'ahead' : 'behind'} by ${Math.abs(Math.round(skew))} ms; at most ${maxMs} ms is allowed); ` +
        "nothing was written. Fix what sets this process's clock (a faked or patched Date.now, a time-travel library), then retry",
      1,
    );
  }
}

/**
 * checkpoint.json's ended-jobs region, read when first needed (src/ledger/checkpoint.ts, C2), no
 * longer matches the hash its verified index recorded: the file was damaged after it was written.
 */
export class CheckpointDamagedError extends ExecplaneError {
  constructor(reason: string) {
    super(
      'E_CHECKPOINT_DAMAGED',
      `checkpoint.json: ${reason}. Delete checkpoint.json (it is a cache, rebuilt from the ledger) and run the command again.`,
      1,
    );
  }
}

/** A line would exceed the 64 KiB maximum; large outputs belong in evidence files. */
export class LineTooLargeError extends ExecplaneError {
  constructor(bytes: number, max: number) {
    super(
      'E_LINE_TOO_LARGE',
      `an event of ${bytes} bytes exceeds the ${max}-byte line limit; put large data in evidence files and record their SHA-256`,
      2,
    );
  }
}

export function isExecplaneError(e: unknown): e is ExecplaneError {
  return e instanceof ExecplaneError;
}

/** `Plane.waitFor` gave up: the job had not ended for good within `timeoutMs`. Nothing changed. */
export class WaitTimeoutError extends ExecplaneError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    readonly jobState: string | undefined,
  ) {
    super(
      'E_WAIT_TIMEOUT',
      `job ${jobId} had not ended after ${timeoutMs} ms (it is ${jobState ?? 'unknown'}); ` +
        'wait longer, or see what holds it with `execplane show`',
      1,
    );
  }
}
