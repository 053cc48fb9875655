/**
 * Faults of the machine a worker runs on, told apart from failures of the jobs it runs (docs/
 * operations.md, "A degraded worker").
 *
 * F1. An I/O error that says the machine cannot do its part — the disk is full, a filesystem is
 *     read-only or failing, descriptors or memory ran out — is a machine fault wherever it
 *     happens; a refused, missing or mistyped path (EACCES, EPERM, ENOENT, ENOTDIR) is one when
 *     the path is the worker's own (its home, the evidence directory). An attempt that fails
 *     while the machine check below finds a problem (the workspace gone mid-run) is one too.
 *     The attempt ends retryable (`E_WORKER_FAULT`, the cause in the message), because the job
 *     itself did nothing wrong.
 * F2. A worker that meets a machine fault, or finds its workspace gone, is degraded: it claims
 *     nothing, backs off (1 s, doubling to 60 s), and before each claim checks the machine again
 *     — the workspace is a directory, a file can be written and removed in the evidence
 *     directory. When that passes it says so and claims again. A healthy worker makes the same
 *     check before each claim it would make, so a fault already there starts no attempt (and
 *     spends none of a job's max_attempts). A commit that fails on a machine fault degrades the
 *     worker too, instead of ending it.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

/** errno codes that are the machine's, not the job's, wherever they happen (F1). */
export const MACHINE_FAULT_CODES: ReadonlySet<string> = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EIO',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
]);

/** errno codes that are the machine's when the path they name is the worker's own (F1). */
export const OWN_PATH_FAULT_CODES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR']);

/**
 * The errno code of `err` when it is a machine fault (F1). `ownPaths` are the directories that
 * are the worker's (its home): a path error under one of them is the machine's.
 */
export function machineFaultCode(err: unknown, ownPaths: readonly string[] = []): string | undefined {
  const e = err as NodeJS.ErrnoException | null;
  const code = e?.code;
  if (typeof code !== 'string') return undefined;
  if (MACHINE_FAULT_CODES.has(code)) return code;
  if (!OWN_PATH_FAULT_CODES.has(code) || typeof e?.path !== 'string') return undefined;
  const path = resolve(e.path);
  return ownPaths.some((dir) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep))
    ? code
    : undefined;
}

/** One line saying what failed: `ENOSPC: no space left on device, write '…'`. */
export function describeFault(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e?.message ?? String(err)).slice(0, 500);
}

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

/** F2: whether the worker may claim, and when it looks at the machine again. */
export class FaultState {
  private cause: string | undefined;
  private backoffMs = 0;
  private retryAtMs = 0;

  constructor(
    private readonly workspace: string,
    private readonly evidenceRoot: string,
    private readonly log: (m: string) => void,
  ) {}

  get degraded(): string | undefined {
    return this.cause;
  }

  /**
   * Records a machine fault (F2). The backoff doubles only when a fault comes after the last
   * one's wait is over: several faults of one moment (every running attempt's) wait once.
   */
  fault(cause: string, nowMs: number): void {
    if (!this.cause) this.log(`degraded: ${cause}; claiming nothing until the machine recovers`);
    else if (nowMs < this.retryAtMs) return;
    this.backoffMs = this.cause ? Math.min(this.backoffMs * 2, MAX_BACKOFF_MS) : MIN_BACKOFF_MS;
    this.cause = cause;
    this.retryAtMs = nowMs + this.backoffMs;
  }

  /** When a degraded worker next checks the machine, for its wake-up timer. */
  nextCheckMs(): number | undefined {
    return this.cause ? this.retryAtMs : undefined;
  }

  /**
   * Whether the worker may claim now: always when healthy; when degraded, once the backoff is
   * over and the machine check passes (F2).
   */
  mayClaim(nowMs: number): boolean {
    if (this.cause && nowMs < this.retryAtMs) return false;
    const problem = this.check(true);
    if (problem) {
      this.fault(problem, nowMs);
      return false;
    }
    if (!this.cause) return true;
    this.log(`recovered from: ${this.cause}`);
    this.cause = undefined;
    this.backoffMs = 0;
    return true;
  }

  /**
   * The machine check of F2: undefined when the workspace and the evidence directory work.
   * `full` also tries the evidence directory while healthy (before a claim, and when an attempt
   * failed); otherwise only a degraded worker does.
   */
  check(full = false): string | undefined {
    try {
      if (!statSync(this.workspace).isDirectory())
        return `the workspace ${this.workspace} is not a directory`;
    } catch (err) {
      return `the workspace ${this.workspace} is gone (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (!this.cause && !full) return undefined; // the attempts themselves try the evidence directory
    const probe = join(this.evidenceRoot, `.probe-${process.pid}`);
    try {
      mkdirSync(this.evidenceRoot, { recursive: true });
      writeFileSync(probe, 'probe');
      rmSync(probe, { force: true });
      return undefined;
    } catch (err) {
      try {
        rmSync(probe, { force: true });
      } catch {
        // ENOTDIR and the like: there is nothing to remove
      }
      return `the evidence directory cannot be written (${describeFault(err)})`;
    }
  }
}
