import { ExecplaneError } from '../errors.js';
import { describeFault, machineFaultCode } from './faults.js';

/**
 * Why a job was stopped from outside its handler. `writeFail` is false for a lost lease: a
 * worker that lost its lease never writes again for that attempt (invariant 2).
 */
export class JobAbort extends ExecplaneError {
  constructor(
    code: 'E_LEASE_LOST' | 'kill_switch' | 'shutdown' | 'E_BUDGET_WALL_TIME' | 'E_BUDGET_OUTPUT',
    message: string,
    readonly retryable: boolean,
    readonly writeFail = code !== 'E_LEASE_LOST',
  ) {
    super(code, message, 1);
  }
}

/** A handler's failure with a code of its own choosing (path_rejected:…, E_BUDGET_TOOL_CALLS, …). */
export class JobError extends ExecplaneError {
  constructor(
    code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(code, message, 1);
  }
}

/**
 * Maps anything a handler threw — of any kind — to the error a `fail` event carries. A fault of
 * the machine (faults.ts, F1; `ownPaths` are the worker's own directories) is `E_WORKER_FAULT`,
 * retryable: the job did nothing wrong.
 */
export function failureOf(
  err: unknown,
  ownPaths: readonly string[] = [],
): { code: string; message: string; retryable: boolean } {
  if (err instanceof JobAbort || err instanceof JobError) {
    return { code: err.code, message: err.message.slice(0, 2000), retryable: err.retryable };
  }
  if (machineFaultCode(err, ownPaths)) {
    return {
      code: 'E_WORKER_FAULT',
      message: `the worker's machine failed: ${describeFault(err)}`.slice(0, 2000),
      retryable: true,
    };
  }
  if (err instanceof ExecplaneError)
    return { code: err.code, message: err.message.slice(0, 2000), retryable: false };
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      code: typeof code === 'string' && /^[A-Za-z0-9_:.-]{1,64}$/.test(code) ? code : 'E_HANDLER',
      message: `${err.name}: ${err.message}`.slice(0, 2000),
      retryable: false,
    };
  }
  let text: string;
  try {
    text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return {
    code: 'E_HANDLER_THREW',
    message: `the handler threw a non-Error value: ${text}`.slice(0, 2000),
    retryable: false,
  };
}
