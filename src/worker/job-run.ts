/**
 * One attempt of one job on this worker: run header and `start` (sealed in the claim's commit,
 * C1 of Plane's ClaimedAttempt, or committed here for a claim without one), the handler under an
 * AbortSignal with heartbeats on a timer, then exactly one `complete` or `fail` — or nothing at
 * all once the lease is lost (invariant 2: a fenced-off worker never writes again for that
 * attempt). The run header's file is written before anything of the attempt runs.
 *
 * Heartbeats run on their own timer (lease/3), independent of what the handler is doing, so a
 * long command keeps its lease (docs/spec.md §9: the predecessor beat only between steps). Any error
 * of any kind from the handler ends as a `fail` with a code (failureOf); the worker survives.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { Command } from '../core/commands.js';
import type { PlaneState } from '../core/plane-state.js';
import type { ClaimedAttempt, Plane, StoredJob } from '../plane.js';
import type {
  ClaimEvent,
  CompleteEvent,
  EvidenceFile,
  FailEvent,
  LedgerEvent,
  StartEvent,
} from '../schema/types.generated.js';
import { toTsUtc, type Clock } from '../time.js';
import type { CommitBatcher } from './commit-batcher.js';
import { failureOf, JobAbort, JobError } from './errors.js';
import { describeFault, machineFaultCode } from './faults.js';
import { attemptEvidenceDir, writeEvidenceFile } from './evidence.js';
import { buildRunHeader } from './run-header.js';
import type { HandlerRegistry, JobHandlerContext, JobOutcome, ToolCallRequest } from './types.js';

export interface JobRunEnv {
  readonly plane: Plane;
  readonly batcher: CommitBatcher;
  readonly clock: Clock;
  readonly workerId: string;
  readonly workspace: string;
  readonly evidenceRoot: string;
  readonly leaseSec: number;
  readonly heartbeatMs: number;
  readonly handlers: HandlerRegistry;
  /** Run-header facts from the runtime (sandbox mode, …) for this job. */
  readonly runHeaderExtra: (job: StoredJob) => Record<string, unknown>;
  readonly log: (message: string) => void;
  /** The worker's view of its machine (faults.ts): an attempt's machine fault degrades it. */
  readonly machine?: MachineFaults;
  /** Called once the attempt's start is written (E1 of events.ts). */
  readonly onStart?: (event: StartEvent) => void;
}

/** What a JobRun needs of the worker's FaultState (faults.ts, F1–F2). */
export interface MachineFaults {
  /** The worker's own directories: a path error under one is the machine's (F1). */
  readonly ownPaths: readonly string[];
  /** What is wrong with the machine now, if anything (the F2 check, evidence included). */
  check(): string | undefined;
  /** Records a machine fault: the worker stops claiming and backs off (F2). */
  fault(cause: string): void;
}

/** How an attempt ended here: the terminal event it wrote, or why it wrote none (W4 of worker.ts). */
export type JobRunEnd =
  | { readonly outcome: 'complete'; readonly event: CompleteEvent }
  | { readonly outcome: 'failed'; readonly event: FailEvent }
  | { readonly outcome: 'lost'; readonly reason: string };

export type JobRunResult = JobRunEnd['outcome'];

/** Codes of refusals that mean "this attempt is no longer ours". */
const LOST_CODES = new Set(['E_LEASE_LOST', 'E_ILLEGAL_TRANSITION', 'E_STALE_ATTEMPT', 'E_UNKNOWN_JOB']);

export class JobRun {
  readonly jobId: string;
  readonly attempt: number;
  readonly slots: number;
  readonly done: Promise<JobRunEnd>;
  private readonly maxOutputBytes: number;
  private readonly controller = new AbortController();
  private lost = false;
  /** Why the attempt stopped being ours, once it did. */
  private lostWhy = '';
  /** Writing the terminal event: the ledger will show the job ended, and that is us. */
  private finishing = false;
  private toolCalls = 0;
  private outputBytes = 0;
  /** Model tokens the handler reported; undefined until it reports any (usage.model_tokens). */
  private modelTokens: number | undefined;
  private readonly evidence: EvidenceFile[] = [];

  constructor(
    private readonly env: JobRunEnv,
    claim: ClaimEvent,
    /** The attempt's start, when the claim's commit wrote it (C1 of ClaimedAttempt in plane.ts). */
    private readonly started?: ClaimedAttempt['started'],
    /**
     * What building the header under the lock left: the runtime facts it put in the header (so
     * they are computed once, and the handler sees the same), or why it could not be built (the
     * attempt then fails from `claimed` with that error, as a header built here would).
     */
    private readonly underLock: {
      readonly extra?: Record<string, unknown>;
      readonly headerError?: unknown;
    } = {},
  ) {
    this.jobId = claim.job_id;
    this.attempt = claim.attempt;
    const budgets = env.plane.state.get(claim.job_id)!.context.budgets;
    this.slots = budgets.max_concurrency_slots;
    this.maxOutputBytes = budgets.max_output_bytes;
    this.done = this.run().catch((err: unknown): JobRunEnd => {
      const why = `worker error: ${(err as Error).message ?? String(err)}`;
      env.log(`${this.jobId}#${this.attempt}: ${why}`);
      return { outcome: 'lost', reason: why };
    });
  }

  /**
   * Aborts at once when the ledger shows this attempt is no longer ours (cancelled, reaped by
   * another worker) instead of waiting for the next heartbeat to be refused.
   */
  noticeLedger(state: PlaneState): void {
    if (this.finishing || this.lost) return;
    const snap = state.get(this.jobId);
    const c = snap?.context;
    const live = snap?.value === 'claimed' || snap?.value === 'running';
    if (live && c?.attempt === this.attempt && c.lease?.worker_id === this.env.workerId) return;
    this.loseLease(`the ledger shows it ${String(snap?.value ?? 'gone')} at attempt ${c?.attempt ?? '?'}`);
  }

  /** Stops the handler now; `reason` decides what (if anything) is written. */
  abort(reason: JobAbort): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private fenced(): Pick<Extract<Command, { type: 'start' }>, 'job_id' | 'worker_id' | 'attempt'> {
    return { job_id: this.jobId, worker_id: this.env.workerId, attempt: this.attempt };
  }

  /**
   * Commits a fenced command: its event, or undefined when it was not written; a refusal that
   * means the lease is gone aborts the attempt.
   */
  private async commit(command: Command): Promise<LedgerEvent | undefined> {
    if (this.lost) return undefined;
    const r = await this.env.batcher.submit(command);
    if (r.ok) return r.event;
    if (LOST_CODES.has(r.error.code)) this.loseLease(`${command.type} refused: ${r.error.message}`);
    else throw r.error;
    return undefined;
  }

  /** The end of an attempt that wrote no terminal event. */
  private lostEnd(failure?: unknown): JobRunEnd {
    const why = this.lostWhy || (failure instanceof JobAbort ? failure.message : 'its lease was lost');
    return { outcome: 'lost', reason: why };
  }

  private loseLease(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.lostWhy = why;
    this.env.log(`${this.jobId}#${this.attempt}: lease lost (${why}); aborting, writing nothing more`);
    this.abort(new JobAbort('E_LEASE_LOST', why, false));
  }

  private async run(): Promise<JobRunEnd> {
    const { env } = this;
    const heartbeat = setInterval(() => void this.beat(), env.heartbeatMs);
    let wallTimer: NodeJS.Timeout | undefined;
    try {
      let prepared: ReturnType<JobRun['prepare']>;
      try {
        if ('headerError' in this.underLock) throw this.underLock.headerError;
        prepared = this.prepare();
      } catch (err) {
        // Setting up the attempt failed (spec unreadable, evidence not writable, …): the attempt
        // still ends in the ledger — a fail — never as a lease left to lapse.
        return await this.finish(undefined, err, null);
      }
      const { job, dir, prefix, extra, headerFile } = prepared;
      const start =
        this.started?.start ??
        (await this.commit({
          type: 'start',
          ...this.fenced(),
          run_header_sha256: headerFile.sha256,
        }));
      if (!start) return this.lostEnd();
      this.env.onStart?.(start as StartEvent);
      const startedMs = env.clock.nowMs();
      wallTimer = setTimeout(
        () =>
          this.abort(
            new JobAbort(
              'E_BUDGET_WALL_TIME',
              `max_wall_time_sec ${job.budgets.max_wall_time_sec} ran out`,
              false,
            ),
          ),
        job.budgets.max_wall_time_sec * 1000,
      );
      let outcome: JobOutcome | undefined;
      let failure: unknown;
      let handler: Promise<JobOutcome> | undefined;
      try {
        handler = this.invoke(job, dir, prefix, extra);
        outcome = await untilAborted(handler, this.controller.signal);
      } catch (err) {
        failure = err;
        // An aborted handler gets a moment to stop its process tree and register that evidence,
        // so the fail event lists it and nothing of the attempt still runs when it is written.
        if (handler && this.controller.signal.aborted) await settledWithin(handler, HANDLER_SETTLE_MS);
      }
      clearTimeout(wallTimer);
      return await this.finish(outcome, failure, startedMs);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(wallTimer);
    }
  }

  /**
   * Writes the run header its start pins: the one the claim's commit built and pinned already
   * (C1: on disk before anything of the attempt runs), or one built now, before `start`.
   */
  private prepare() {
    const { env, started } = this;
    const job = started?.job ?? env.plane.jobSpec(this.jobId);
    const { dir, prefix } = attemptEvidenceDir(env.evidenceRoot, this.jobId, this.attempt);
    const extra = (started && this.underLock.extra) || env.runHeaderExtra(job);
    const header =
      started?.runHeader ??
      buildRunHeader({
        job,
        attempt: this.attempt,
        workerId: env.workerId,
        workspace: env.workspace,
        writtenAtUtc: toTsUtc(env.clock.nowMs()),
        extra,
      });
    const headerFile = writeEvidenceFile(dir, prefix, 'run-header.json', header);
    this.evidence.push(headerFile);
    return { job, dir, prefix, extra, headerFile };
  }

  /** Writes the attempt's one terminal event — or nothing, once the lease is lost. */
  private async finish(
    outcome: JobOutcome | undefined,
    failure: unknown,
    startedMs: number | null,
  ): Promise<JobRunEnd> {
    if (this.lost || (failure instanceof JobAbort && !failure.writeFail)) return this.lostEnd(failure);
    this.finishing = true;
    const usage = {
      tool_calls: this.toolCalls,
      output_bytes: Math.min(this.outputBytes, this.maxOutputBytes),
      wall_ms: startedMs === null ? 0 : Math.max(0, Math.round(this.env.clock.nowMs() - startedMs)),
      ...(this.modelTokens !== undefined ? { model_tokens: this.modelTokens } : {}),
    };
    const evidence = this.evidence.length ? { evidence: this.evidence } : {};
    if (outcome && failure === undefined) {
      try {
        const event = await this.commitTerminal({
          type: 'complete',
          ...this.fenced(),
          result: outcome.result,
          usage,
          ...evidence,
        });
        return event ? { outcome: 'complete', event: event as CompleteEvent } : this.lostEnd();
      } catch (err) {
        // The plane refused the completion on a budget (e.g. it came past the wall time):
        // the attempt fails with that code instead.
        failure = err;
      }
    }
    const error = this.failureOf(failure);
    if (error.code === 'E_WORKER_FAULT') this.env.machine?.fault(error.message);
    const event = await this.commitTerminal({ type: 'fail', ...this.fenced(), error, usage, ...evidence });
    return event ? { outcome: 'failed', event: event as FailEvent } : this.lostEnd();
  }

  /**
   * The error the attempt's `fail` carries. A failure of the job's own (not an abort from
   * outside) that comes while the machine check finds a problem — the workspace went away under
   * it — is the machine's (faults.ts, F1).
   */
  private failureOf(failure: unknown): ReturnType<typeof failureOf> {
    const machine = this.env.machine;
    const error = failureOf(failure, machine?.ownPaths);
    if (!machine || error.code === 'E_WORKER_FAULT' || failure instanceof JobAbort) return error;
    const problem = machine.check();
    if (problem === undefined) return error;
    return {
      code: 'E_WORKER_FAULT',
      message: `the attempt failed (${error.code}: ${error.message.slice(0, 500)}) while ${problem}`.slice(
        0,
        2000,
      ),
      retryable: true,
    };
  }

  /**
   * The attempt's terminal event, written even through a passing fault of the machine (a full
   * disk): retried every second while the lease may still be ours (faults.ts, F2).
   */
  private async commitTerminal(command: Command): Promise<LedgerEvent | undefined> {
    for (;;) {
      try {
        return await this.commit(command);
      } catch (err) {
        if (!machineFaultCode(err, this.env.machine?.ownPaths) || this.lost) throw err;
        this.env.machine?.fault(describeFault(err));
        this.env.log(`${this.jobId}#${this.attempt}: ${command.type} not written yet: ${describeFault(err)}`);
        await new Promise((r) => setTimeout(r, TERMINAL_RETRY_MS));
        this.noticeStale();
      }
    }
  }

  /** Gives up a terminal event once the lease it was fenced by has run out on this worker's clock. */
  private noticeStale(): void {
    const lease = this.env.plane.state.get(this.jobId)?.context.lease;
    if (!lease || lease.expires_unix * 1000 < this.env.clock.nowMs())
      this.loseLease('its lease ran out while the machine was failing');
  }

  private async beat(): Promise<void> {
    try {
      await this.commit({ type: 'heartbeat', ...this.fenced(), lease_sec: this.env.leaseSec });
    } catch (err) {
      // An I/O hiccup: the next beat retries well before the lease (3 beats per lease) lapses.
      // A fault of the machine also stops the worker claiming more (faults.ts, F2).
      if (machineFaultCode(err, this.env.machine?.ownPaths)) this.env.machine?.fault(describeFault(err));
      this.env.log(`${this.jobId}#${this.attempt}: heartbeat failed: ${(err as Error).message}`);
    }
  }

  private invoke(
    job: StoredJob,
    dir: string,
    prefix: string,
    extra: Record<string, unknown>,
  ): Promise<JobOutcome> {
    const handler = this.env.handlers[job.job_type];
    if (!handler) {
      return Promise.reject(new JobError('E_NO_HANDLER', `this worker has no handler for ${job.job_type}`));
    }
    const ctx: JobHandlerContext = {
      job,
      attempt: this.attempt,
      workerId: this.env.workerId,
      workspace: this.env.workspace,
      evidenceDir: dir,
      evidencePrefix: prefix,
      signal: this.controller.signal,
      clock: this.env.clock,
      runHeader: extra,
      toolCall: (call) => this.toolCall(call),
      addOutputBytes: (n) => {
        this.outputBytes += n;
        if (this.outputBytes > job.budgets.max_output_bytes) {
          this.abort(
            new JobAbort(
              'E_BUDGET_OUTPUT',
              `output passed max_output_bytes ${job.budgets.max_output_bytes}`,
              false,
            ),
          );
        }
      },
      addModelTokens: (n) => {
        this.modelTokens = (this.modelTokens ?? 0) + Math.max(0, Math.round(n));
      },
      remainingOutputBytes: () => Math.max(0, job.budgets.max_output_bytes - this.outputBytes),
      addEvidence: (file) => void this.evidence.push(file),
      writeEvidence: (name, data) => {
        const file = writeEvidenceFile(dir, prefix, name, data);
        this.evidence.push(file);
        return Promise.resolve(file);
      },
    };
    // A handler that throws synchronously is still a failed job, not a crashed worker.
    return Promise.resolve().then(() => handler(ctx));
  }

  private async toolCall(call: ToolCallRequest): Promise<void> {
    this.controller.signal.throwIfAborted();
    const r = await this.env.batcher.submit({
      type: 'tool_call',
      ...this.fenced(),
      tool: call.tool,
      args_sha256: sha256Hex(canonicalJson(call.args ?? null)),
      requested_by: call.requested_by ?? 'handler',
      needs: call.needs ?? [],
    });
    if (r.ok) {
      this.toolCalls += 1;
      return;
    }
    if (LOST_CODES.has(r.error.code)) {
      this.loseLease(`tool_call refused: ${r.error.message}`);
      throw this.controller.signal.reason;
    }
    throw new JobError(r.error.code, r.error.message);
  }
}

/**
 * How long an aborted handler may take to wind down (sandbox: SIGTERM, term_grace_ms ≤ 3 s,
 * SIGKILL, evidence written) before the fail is written anyway; well inside WALL_TIME_GRACE_MS.
 */
const HANDLER_SETTLE_MS = 5_000;

/** How often a terminal event a machine fault refused is tried again. */
const TERMINAL_RETRY_MS = 1_000;

/** Waits for `p` to settle, at most `ms`; never rejects. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

/** Settles with `p`, or rejects with the signal's reason as soon as it fires. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // The reason is the JobAbort (an Error) the run aborted with.
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // Passed on as it is: a handler may reject with anything, and failureOf maps any value.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(e);
      },
    );
  });
}
