/**
 * Waiting for jobs to end (Plane.waitFor): each waiter looks at the ledger once when it starts
 * and then whenever the plane's one LedgerWatch (src/ledger/watch.ts) sees a change or polls, so
 * it sees what any process appends, at the cost of a catch-up of the new lines.
 *
 * J1. A wait settles exactly once: with the job's JobInfo once it is final (job-info.ts,
 *     isFinal), or with an error — WaitTimeoutError (E_WAIT_TIMEOUT), the signal's reason, a
 *     RefusedError E_UNKNOWN_JOB for a job the plane does not have when the wait starts, the error
 *     the ledger store reports (E_LEDGER_CORRUPT, E_LEDGER_REPLACED: a wait never outlives a
 *     ledger it can no longer read), or E_PLANE_CLOSED when the plane is closed under it.
 * J2. A settled wait leaves nothing behind: its timer, its abort listener and its subscription
 *     go, and with the last subscription the watch and its poll timer, so a process that waits
 *     for nothing more can exit.
 */
import { RefusedError, WaitTimeoutError } from '../errors.js';
import type { LedgerWatch } from '../ledger/watch.js';
import type { PlaneState } from '../core/plane-state.js';
import { isFinal } from '../core/final.js';
import type { JobInfo } from './job-info.js';

export interface WaitOptions {
  /** Reject with WaitTimeoutError (E_WAIT_TIMEOUT) after this many milliseconds; default: no limit. */
  readonly timeoutMs?: number;
  /** Reject with the signal's reason (an AbortError unless one was given) when it aborts. */
  readonly signal?: AbortSignal;
}

/** What a wait reads (a Plane): its state, brought up to date by `refresh`, and a job's JobInfo. */
export interface WaitSource {
  readonly state: PlaneState;
  refresh(): void;
  getJob(jobId: string): JobInfo | undefined;
}

export class JobWaits {
  private readonly closers = new Set<(err: Error) => void>();

  constructor(
    private readonly source: WaitSource,
    private readonly watch: LedgerWatch,
  ) {}

  wait(jobId: string, options: WaitOptions = {}): Promise<JobInfo> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(timeoutMs >= 0))
      throw new RangeError(`timeoutMs must be a number of milliseconds ≥ 0, not ${timeoutMs}`);
    return new Promise<JobInfo>((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      if (signal?.aborted) return reject(signal.reason);
      let timer: NodeJS.Timeout | undefined;
      let unsubscribe = () => {};
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer); // J2
        signal?.removeEventListener('abort', onAbort);
        this.closers.delete(fail);
        unsubscribe();
        outcome();
      };
      // Passed on as it is: an AbortSignal's reason may be any value its owner gave.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const fail = (err: unknown) => settle(() => reject(err));
      const onAbort = () => fail(signal?.reason);
      const look = (first: boolean) => {
        try {
          this.source.refresh();
          const state = this.source.state;
          if (first && !state.has(jobId))
            return fail(new RefusedError('E_UNKNOWN_JOB', `no job ${jobId} in this plane`, jobId));
          if (isFinal(state, jobId)) {
            const info = this.source.getJob(jobId);
            if (info) settle(() => resolve(info));
          }
        } catch (err) {
          fail(err); // J1: the store's own error, never a wait that hangs on a ledger it cannot read
        }
      };
      look(true); // a job already ended needs no watch at all
      if (settled) return;
      this.closers.add(fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined)
        timer = setTimeout(
          () => fail(new WaitTimeoutError(jobId, timeoutMs, this.source.state.jobState(jobId))),
          timeoutMs,
        );
      unsubscribe = this.watch.subscribe(() => look(false));
    });
  }

  /** Rejects every wait still pending (the plane is closing) and stops the watch. */
  close(): void {
    const error = new RefusedError('E_PLANE_CLOSED', 'the plane was closed while a waitFor was pending');
    for (const fail of [...this.closers]) fail(error);
    this.watch.stop();
  }
}
