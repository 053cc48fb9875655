/**
 * The worker runner (docs/spec.md §6): claims jobs under leases, runs them with heartbeats and fencing,
 * reaps lapsed leases, obeys the kill switch and shutdown signals.
 *
 * W1. Nothing is claimed while the kill switch is on or after shutdown began.
 * W2. Claims are chosen under the append lock (Plane.submitAndClaim), by priority then FIFO, as
 *     many as fit the free slots, in one commit that also starts them and holds whatever else the
 *     slots had to write — the ends of the attempts whose slots it fills (commit-batcher.ts, B1).
 * W3. An idle worker sleeps on fs.watch of the home (appends, kill switch) with a slow poll as
 *     fallback and timers for the next lease expiry or backoff end: ~0 CPU, ms wake-up.
 * W4. Every claimed job ends in exactly one of: complete, fail (any error, kill switch, shutdown,
 *     budget), or nothing because its lease was lost — never silently `running` when we stop.
 * W5. What it does, it also tells as typed events (events.ts, E1–E3): `on(name, listener)` or
 *     `for await (const ev of worker.events())`; a listener never breaks the run.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import type { MachineEngine } from '../../machines/job.types.js';
import { nextBackoffEndMs, pickClaims } from '../core/claim-order.js';
import { DEFAULT_RETRY_POLICY, nextLeaseExpiryMs, reapCommands, type RetryPolicy } from '../core/reap.js';
import type { JobContext } from '../../machines/job.types.js';
import { isExecplaneError, type ExecplaneError } from '../errors.js';
import { ClockSkewError, LedgerCorruptError, LedgerReplacedError } from '../errors.js';
import { describeFault, FaultState, machineFaultCode } from './faults.js';
import { assertHomeOutsideWorkspace, planePaths, type PlanePaths } from '../ledger/paths.js';
import { MAX_CLOCK_SKEW_MS } from '../ledger/store.js';
import { watchDir, type DirWatch } from '../ledger/watch.js';
import { EXIT_KILL_SWITCH, killSwitchState } from '../ops/kill-switch.js';
import type { HeldPidFile } from '../ops/pid-file.js';
import { registerWorker, type WorkerPresence } from '../ops/registry.js';
import { VERSION } from '../version.js';
import { Plane, type ClaimedAttempt, type StartRequest, type StoredJob } from '../plane.js';
import { buildRunHeader } from './run-header.js';
import type { ClaimEvent, ErrorInfo, LedgerEvent } from '../schema/types.generated.js';
import { systemClock, type Clock } from '../time.js';
import { CommitBatcher } from './commit-batcher.js';
import { JobAbort } from './errors.js';
import { assertWorkerId, DEFAULT_GRACE_SEC, DEFAULT_LEASE_SEC, DEFAULT_POLL_MS } from './defaults.js';
import { WorkerEmitter } from './events.js';
import { isFinal } from '../core/final.js';
import { JobRun, type JobRunEnd } from './job-run.js';
import type { HandlerRegistry } from './types.js';

export interface WorkerOptions {
  readonly home: string;
  /** Default: the current directory. */
  readonly workspace?: string;
  /** Default: host name + pid. */
  readonly workerId?: string;
  readonly slots?: number;
  readonly leaseSec?: number;
  /** Run at most one job, then exit. */
  readonly once?: boolean;
  /** Exit after this long with nothing to do; 0 = never. */
  readonly maxIdleSec?: number;
  readonly retry?: RetryPolicy;
  /** On shutdown, how long running jobs may go on before they are aborted. */
  readonly graceSec?: number;
  /** The slow poll behind fs.watch. */
  readonly pollMs?: number;
  readonly clock?: Clock;
  /**
   * How this worker's commands are decided: XState's own transition (default, docs/spec.md §4) or the
   * compiled table (`tableEngine`: the same decisions, 10–60% more 4 × 8 drain; docs/benchmarks.md).
   */
  readonly engine?: MachineEngine;
  readonly handlers: HandlerRegistry;
  readonly runHeaderExtra?: (job: StoredJob) => Record<string, unknown>;
  /** Jobs this worker may claim (e.g. not allow_network:false ones it cannot enforce). */
  readonly canRun?: (job: JobContext) => boolean;
  /** Log lines; `fields` carry what a log shipper indexes (job_id, attempt, outcome, error). */
  readonly log?: (message: string, fields?: LogFields) => void;
  /**
   * What this worker records of itself under `<home>/workers/` beyond its id, slots and lease
   * (ops/registry.ts): which jobs it refuses and why.
   */
  readonly presence?: Pick<WorkerPresence, 'refuses'>;
  /**
   * Called once the worker is started for real — registered under workers/, watching the ledger,
   * the kill switch seen off — and before its first claim: where `work --daemon` takes its pid
   * file, so a start that fails (an id in use, the kill switch) is never reported as running.
   */
  readonly onReady?: () => void;
}

/** Structured facts of a log line (`work --log-format json`). */
export interface LogFields {
  readonly level?: 'info' | 'warn' | 'error';
  readonly job_id?: string;
  readonly attempt?: number;
  readonly outcome?: string;
  readonly error?: ErrorInfo;
}

export type WorkerExitReason = 'once' | 'idle' | 'shutdown' | 'kill_switch' | 'fatal';

export interface WorkerExit {
  /** 0, EXIT_KILL_SWITCH (3) or 1 (fatal: e.g. a corrupt ledger). */
  readonly code: number;
  readonly reason: WorkerExitReason;
  readonly message?: string;
}

export { DEFAULT_GRACE_SEC, DEFAULT_LEASE_SEC, DEFAULT_POLL_MS } from './defaults.js';

/** How long a worker has had nothing to run before it refreshes checkpoint.json. */
export const CHECKPOINT_IDLE_MS = 1_000;

export function defaultWorkerId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9._:@-]/g, '-')
    .slice(0, 100)}-${process.pid}`;
}

export class Worker extends WorkerEmitter {
  readonly plane: Plane;
  readonly paths: PlanePaths;
  readonly workerId: string;
  readonly slots: number;
  readonly leaseSec: number;
  private readonly clock: Clock;
  private readonly retry: RetryPolicy;
  private readonly batcher: CommitBatcher;
  private readonly runs = new Map<string, JobRun>();
  /** The runtime facts each header built under the lock holds (claimRequest), read by startRuns. */
  private readonly headerExtras = new WeakMap<ClaimEvent, Record<string, unknown>>();
  private readonly workspace: string;
  private stopping = false;
  private claimedAny = false;
  private wakeUp: (() => void) | undefined;
  private watcher: DirWatch | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** Faults of the machine that stop claiming until it recovers (faults.ts). */
  private readonly faults: FaultState;
  private clockCheckedAt = -Infinity;
  /** Its file under workers/ (ops/registry.ts), and why it claims nothing now, as last written. */
  private registered: HeldPidFile | undefined;
  private notClaiming: string | null = null;
  /** What the events last told (W5): an `idle` since the last run, the fault it is degraded by. */
  private idleTold = false;
  private degradedTold: string | undefined;

  constructor(private readonly options: WorkerOptions) {
    super((name, err) =>
      options.log?.(
        `a '${name}' listener threw (the worker goes on): ${(err as Error)?.message ?? String(err)}`,
        {
          level: 'warn',
        },
      ),
    );
    // Before anything: the id names its file under workers/ (ops/registry.ts) and goes into every
    // claim, so one the event schema refuses is refused here, not at the first claim.
    if (options.workerId !== undefined) assertWorkerId(options.workerId);
    this.paths = planePaths(options.home);
    this.workspace = realpathSync(options.workspace ?? process.cwd());
    // Before anything is created: a home inside the workspace is the jobs' to change.
    assertHomeOutsideWorkspace(this.paths.home, this.workspace);
    mkdirSync(this.paths.home, { recursive: true });
    this.clock = options.clock ?? systemClock;
    this.plane = Plane.open(options.home, {
      clock: this.clock,
      ...(options.engine ? { engine: options.engine } : {}),
    });
    this.workerId = options.workerId ?? defaultWorkerId();
    this.slots = options.slots ?? 1;
    this.leaseSec = options.leaseSec ?? DEFAULT_LEASE_SEC;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.batcher = new CommitBatcher(this.plane, {
      request: (finishing) => this.claimRequest(finishing),
      claimed: (attempts) => this.startRuns(attempts),
    });
    this.faults = new FaultState(this.workspace, this.paths.evidence, (m) => this.options.log?.(m));
  }

  get running(): ReadonlyMap<string, JobRun> {
    return this.runs;
  }

  /**
   * Runs until --once is done, idle time is up, shutdown completes, or the kill switch is on; the
   * last event it emits is `stopped` with the same exit (E3 of events.ts).
   */
  async run(): Promise<WorkerExit> {
    // Nothing happens before this await: listeners attached right after run() miss nothing (E3).
    await Promise.resolve();
    let exit: WorkerExit;
    try {
      exit = await this.runUntilExit();
    } catch (err) {
      this.tell({
        type: 'stopped',
        code: 1,
        reason: 'fatal',
        message: (err as Error)?.message ?? String(err),
      });
      throw err;
    }
    this.tell({ type: 'stopped', ...exit });
    return exit;
  }

  private async runUntilExit(): Promise<WorkerExit> {
    try {
      // A worker is a writer: before anything, the lines before its checkpoint are shown intact
      // (S9) and its clock agrees with the machine's (S8).
      this.plane.store.checkPrefix();
      const ahead = this.plane.state.head.tsMs - this.plane.store.checkClock();
      // The ledger's time never goes back (S8): a ledger ahead of the machine (its clock stepped
      // back, or a writer's clock was wrong before S8 stopped such writers) holds time until the
      // clock reaches it. Nothing to refuse, but the operator must hear of it.
      if (ahead > MAX_CLOCK_SKEW_MS)
        this.options.log?.(
          `warning: the ledger's time is ${Math.round(ahead / 1000)} s ahead of the machine's clock; ` +
            'lapsed leases, backoffs and reaping wait until the clock reaches it (docs/operations.md, "Time")',
        );
    } catch (err) {
      this.plane.close();
      if (
        err instanceof LedgerCorruptError ||
        err instanceof LedgerReplacedError ||
        err instanceof ClockSkewError
      )
        return { code: 1, reason: 'fatal', message: `${err.code}: ${err.message}` };
      throw err;
    }
    try {
      this.registered = this.register();
    } catch (err) {
      this.plane.close();
      if (isExecplaneError(err)) return { code: 1, reason: 'fatal', message: `${err.code}: ${err.message}` };
      throw err;
    }
    this.watch();
    const idleMs = (this.options.maxIdleSec ?? 0) * 1000;
    let readyTold = false;
    let lastBusyMs = this.clock.nowMs();
    try {
      for (;;) {
        if (killSwitchState(this.paths).on) {
          this.abortAll(new JobAbort('kill_switch', 'the kill switch is on', true));
          await this.settle();
          return { code: EXIT_KILL_SWITCH, reason: 'kill_switch', message: 'the kill switch is on' };
        }
        if (!readyTold) {
          readyTold = true;
          this.options.onReady?.();
          // Logged once it watches the ledger, its start accepted (registered, the kill switch off,
          // its pid file taken): from here on an append wakes it (scripts wait for this line).
          this.options.log?.(
            `ready: ${this.workerId}, ${this.slots} slot(s), lease ${this.leaseSec}s, ledger at seq ${this.plane.state.head.seq}`,
          );
          this.tell({
            type: 'ready',
            worker_id: this.workerId,
            slots: this.slots,
            lease_sec: this.leaseSec,
            seq: this.plane.state.head.seq,
          });
        }
        try {
          // A read the disk fails (EIO) degrades the worker like a write it fails (F2).
          this.plane.refresh();
          for (const run of this.runs.values()) run.noticeLedger(this.plane.state);
          this.checkClockNow(); // S8: a clock that went wrong while it ran
          if (this.hasReapWork()) await this.reapOnce();
          if (!this.stopping && !(this.options.once && this.claimedAny)) await this.claimOnce();
        } catch (err) {
          // A commit the machine could not take (a full disk): degrade and try again later (F2).
          const code = machineFaultCode(err, [this.paths.home]);
          if (!code) throw err;
          this.faults.fault(describeFault(err), this.clock.nowMs());
        }
        const now = this.clock.nowMs();
        this.tellFaults();
        this.tellIdle(now);
        // A degraded worker with work it would claim is waiting for the machine, not idle (F2).
        if (this.runs.size > 0 || (this.faults.degraded && this.hasWorkWaiting(now))) lastBusyMs = now;
        if (this.runs.size === 0) {
          if (this.stopping) return { code: 0, reason: 'shutdown' };
          if (this.options.once) return { code: 0, reason: 'once' };
          if (idleMs > 0 && now - lastBusyMs >= idleMs) return { code: 0, reason: 'idle' };
        }
        // Only after a second with nothing to run: writing a big plane's checkpoint takes tens of
        // milliseconds of CPU (docs/decisions.md, "Warm start"), which a drain would otherwise pay
        // whenever a worker's slots briefly empty.
        if (this.runs.size === 0 && now - lastBusyMs >= CHECKPOINT_IDLE_MS && !this.canClaimNow(now))
          this.checkpoint();
        this.notePresence();
        await this.sleep(this.nextWakeMs(now, idleMs > 0 ? lastBusyMs + idleMs : undefined));
      }
    } catch (err) {
      const why =
        err instanceof LedgerCorruptError
          ? 'the ledger is corrupt'
          : err instanceof LedgerReplacedError
            ? 'the ledger was replaced'
            : err instanceof ClockSkewError
              ? "this process's clock is wrong"
              : undefined;
      if (why === undefined) throw err;
      this.abortAll(new JobAbort('E_LEASE_LOST', why, false, false));
      await this.settle();
      return {
        code: 1,
        reason: 'fatal',
        message: `${(err as ExecplaneError).code}: ${(err as ExecplaneError).message}`,
      };
    } finally {
      clearTimeout(this.graceTimer);
      this.watcher?.close();
      this.plane.close();
      this.registered?.release();
    }
  }

  /** `degraded` and `recovered` as the fault state changes (F2 of faults.ts). */
  private tellFaults(): void {
    const cause = this.faults.degraded;
    if ((cause === undefined) === (this.degradedTold === undefined)) return; // a new cause is no news
    if (cause !== undefined) this.tell({ type: 'degraded', cause });
    else this.tell({ type: 'recovered', cause: this.degradedTold! });
    this.degradedTold = cause;
  }

  /** `idle` once each time nothing runs and nothing it could claim now is queued. */
  private tellIdle(now: number): void {
    if (this.runs.size > 0) this.idleTold = false;
    else if (!this.idleTold && !this.canClaimNow(now)) {
      this.idleTold = true;
      this.tell({ type: 'idle', seq: this.plane.state.head.seq });
    }
  }

  /** What its registry file says (R1 of ops/registry.ts). */
  private presence(): WorkerPresence {
    return {
      worker_id: this.workerId,
      host: hostname(),
      slots: this.slots,
      lease_sec: this.leaseSec,
      workspace: this.workspace,
      version: VERSION,
      ...this.options.presence,
      not_claiming: this.notClaiming,
    };
  }

  /**
   * Keeps its registry file true about whether it claims (R4 of ops/registry.ts): `status` must
   * not call a job "ready" that a spent --once, a draining or a degraded worker will never claim.
   */
  private notePresence(): void {
    const why = this.stopping
      ? 'shutting down'
      : this.options.once && this.claimedAny
        ? '--once: it has claimed its one job'
        : this.faults.degraded
          ? `degraded: ${this.faults.degraded}`
          : null;
    if (why === this.notClaiming) return;
    this.notClaiming = why;
    try {
      this.registered?.update({ worker: this.presence() });
    } catch {
      // A full disk costs only the listing; the worker's own log says why it claims nothing.
    }
  }

  /**
   * Its file under `<home>/workers/` for `status` (ops/registry.ts): refused for an id a live
   * worker has (R2). A fault of the machine (a full disk) only costs the listing: the worker
   * runs, and degrades on the fault as it would anyway (faults.ts).
   */
  private register(): HeldPidFile | undefined {
    try {
      return registerWorker(this.paths, this.presence());
    } catch (err) {
      if (isExecplaneError(err) || !machineFaultCode(err, [this.paths.home])) throw err;
      this.options.log?.(
        `not listed under workers/ (${describeFault(err)}); status will not show this worker as running`,
        {
          level: 'warn',
        },
      );
      return undefined;
    }
  }

  /** First SIGTERM/SIGINT: stop claiming; after the grace period abort what still runs. */
  shutdown(graceSec = this.options.graceSec ?? DEFAULT_GRACE_SEC): void {
    if (this.stopping) return this.abortNow();
    this.stopping = true;
    this.options.log?.(`shutting down: ${this.runs.size} job(s) get ${graceSec}s to finish`);
    this.notePresence();
    this.graceTimer = setTimeout(() => this.abortNow(), graceSec * 1000);
    this.wake();
  }

  /** Second signal, or the grace period is over: abort now; aborted jobs fail with code shutdown. */
  abortNow(): void {
    this.stopping = true;
    this.abortAll(new JobAbort('shutdown', 'the worker is shutting down', true));
    this.wake();
  }

  /** One reaper pass (also `execplane reap`). */
  async reapOnce(): Promise<LedgerEvent[]> {
    const events = await this.plane.reap(this.retry, this.workerId);
    for (const ev of events) {
      this.options.log?.(
        `reaped ${ev.job_id}: ${ev.event}${ev.event === 'retry' ? ` (attempt ${ev.attempt})` : ''}`,
      );
      if (ev.event === 'expire')
        this.tell({
          type: 'expired',
          job_id: ev.job_id,
          attempt: ev.attempt,
          worker_id: ev.worker_id,
          seq: ev.seq,
        });
      else if (ev.event === 'retry')
        this.tell({
          type: 'retried',
          job_id: ev.job_id,
          attempt: ev.attempt,
          not_before_unix: ev.not_before_unix,
          seq: ev.seq,
        });
    }
    return events;
  }

  /** S8 of store.ts, at most once a second: a clock that went wrong while the worker ran. */
  private checkClockNow(): void {
    const now = performance.now();
    if (now - this.clockCheckedAt < 1000) return;
    this.clockCheckedAt = now;
    this.plane.store.checkClock();
  }

  /** Jobs this worker would claim now or once their retry backoff ends. */
  private hasWorkWaiting(now: number): boolean {
    return this.canClaimNow(now) || nextBackoffEndMs(this.plane.state, now) !== undefined;
  }

  /**
   * Whether a queued job is there that this worker could claim with all its slots free (not one
   * backing off, too big for it, or one it cannot run).
   */
  private canClaimNow(now: number): boolean {
    return pickClaims(this.plane.state, now, this.slots, 1, this.options.canRun).length > 0;
  }

  /**
   * Claims what fits the free slots and starts running each claimed job: one commit, shared with
   * whatever the slots have queued (B1 of commit-batcher.ts), which also starts the attempts (C1
   * of Plane's ClaimedAttempt). Returns the runs it started.
   */
  async claimOnce(): Promise<JobRun[]> {
    if (this.claimRequest(new Set()) === undefined) return []; // nothing to claim: no commit
    const before = new Set(this.runs.values());
    await this.batcher.claim();
    return [...this.runs.values()].filter((r) => !before.has(r));
  }

  /**
   * What a commit of the batcher claims (ClaimHook.request): undefined when this worker claims
   * nothing now (W1, --once spent, nothing it could claim, a fault of the machine), else as many
   * jobs as fit the slots left once the `finishing` attempts end.
   */
  private claimRequest(finishing: ReadonlySet<string>): StartRequest | undefined {
    if (this.stopping || (this.options.once && this.claimedAny) || killSwitchState(this.paths).on)
      return undefined;
    let used = 0;
    for (const r of this.runs.values()) if (!finishing.has(r.jobId)) used += r.slots;
    const free = this.slots - used;
    const maxJobs = this.options.once ? 1 : free;
    const canRun = this.options.canRun;
    const now = this.clock.nowMs();
    if (pickClaims(this.plane.state, now, free, maxJobs, canRun).length === 0) return undefined;
    // With work to claim, the machine is checked first (F2 of faults.ts): a fault already there
    // (a full disk, an unwritable evidence/) starts no attempt, so it costs no job an attempt.
    if (!this.faults.mayClaim(now)) return undefined;
    const extra = this.options.runHeaderExtra ?? (() => ({}));
    const extras = this.headerExtras;
    return {
      worker_id: this.workerId,
      worker_slots: this.slots,
      lease_sec: this.leaseSec,
      max_jobs: maxJobs,
      canRun,
      runHeader: (claim, job, tsUtc) => {
        const facts = extra(job);
        extras.set(claim, facts);
        return buildRunHeader({
          job,
          attempt: claim.attempt,
          workerId: this.workerId,
          workspace: this.workspace,
          writtenAtUtc: tsUtc,
          extra: facts,
        });
      },
    };
  }

  /** Starts running each attempt a commit claimed (ClaimHook.claimed). */
  private startRuns(attempts: readonly ClaimedAttempt[]): void {
    for (const { claim, started, ...rest } of attempts) {
      const extra = this.headerExtras.get(claim);
      const underLock = {
        ...(extra ? { extra } : {}),
        ...('headerError' in rest ? { headerError: rest.headerError } : {}),
      };
      this.claimedAny = true;
      this.options.log?.(`claimed ${claim.job_id} (attempt ${claim.attempt})`, {
        job_id: claim.job_id,
        attempt: claim.attempt,
        outcome: 'claimed',
      });
      this.idleTold = false;
      this.tell({
        type: 'claimed',
        job_id: claim.job_id,
        job_type: this.plane.state.get(claim.job_id)!.context.job_type,
        attempt: claim.attempt,
        lease_expires_unix: claim.lease_expires_unix,
        seq: claim.seq,
      });
      const run = new JobRun(
        {
          plane: this.plane,
          batcher: this.batcher,
          clock: this.clock,
          workerId: this.workerId,
          workspace: this.workspace,
          evidenceRoot: this.paths.evidence,
          leaseSec: this.leaseSec,
          heartbeatMs: Math.max(50, Math.floor((this.leaseSec * 1000) / 3)),
          handlers: this.options.handlers,
          runHeaderExtra: this.options.runHeaderExtra ?? (() => ({})),
          log: (m) => this.options.log?.(m),
          machine: {
            ownPaths: [this.paths.home],
            check: () => this.faults.check(true),
            fault: (cause) => this.faults.fault(cause, this.clock.nowMs()),
          },
          onStart: (ev) =>
            this.tell({ type: 'started', job_id: ev.job_id, attempt: ev.attempt, seq: ev.seq }),
        },
        claim,
        started,
        underLock,
      );
      this.runs.set(claim.job_id, run);
      void run.done.then((end) => {
        this.runs.delete(claim.job_id);
        const result = end.outcome;
        const error = end.outcome === 'failed' ? end.event.error : null;
        this.options.log?.(
          `${claim.job_id} (attempt ${claim.attempt}): ${result}${error ? `: ${error.code}: ${error.message}` : ''}`,
          {
            level: result === 'complete' ? 'info' : 'warn',
            job_id: claim.job_id,
            attempt: claim.attempt,
            outcome: result,
            ...(error ? { error } : {}),
          },
        );
        this.tellEnd(end, claim.job_id, claim.attempt);
        this.wake();
      });
    }
  }

  /** `completed`, `failed` or `lost`: the one end of an attempt (E1 of events.ts). */
  private tellEnd(end: JobRunEnd, job_id: string, attempt: number): void {
    if (end.outcome === 'lost') return this.tell({ type: 'lost', job_id, attempt, reason: end.reason });
    const { event } = end;
    const common = { job_id, attempt, usage: event.usage, evidence: event.evidence ?? [], seq: event.seq };
    if (event.event === 'complete') return this.tell({ type: 'completed', ...common, result: event.result });
    this.tell({ type: 'failed', ...common, error: event.error, final: isFinal(this.plane.state, job_id) });
  }

  /**
   * While idle (nothing running, nothing it could claim, for CHECKPOINT_IDLE_MS), refresh
   * checkpoint.json once 10,000+ lines were folded past it, so the next process starts fast. A
   * failure here (disk full, a damaged checkpoint region) is logged, never fatal.
   */
  private checkpoint(): void {
    try {
      if (this.plane.maybeCheckpoint()) this.options.log?.('checkpoint.json refreshed');
    } catch (err) {
      this.options.log?.(`could not write checkpoint.json: ${(err as Error).message}`);
    }
  }

  private hasReapWork(): boolean {
    return reapCommands(this.plane.state, this.clock.nowMs(), this.retry, this.workerId).length > 0;
  }

  private abortAll(reason: JobAbort): void {
    for (const run of this.runs.values()) run.abort(reason);
  }

  private async settle(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  private nextWakeMs(now: number, idleDeadline: number | undefined): number {
    const state = this.plane.state;
    const candidates = [
      now + (this.options.pollMs ?? DEFAULT_POLL_MS),
      nextLeaseExpiryMs(state),
      nextBackoffEndMs(state, now),
      this.faults.nextCheckMs(),
      idleDeadline,
    ];
    const next = Math.min(...candidates.filter((t): t is number => t !== undefined));
    return Math.max(0, next - now);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }

  /** The home directory: appends to jobs.jsonl and the kill switch appearing both show here (A2 of watch.ts). */
  private watch(): void {
    this.watcher = watchDir(this.paths.home, basename(this.paths.lock), () => this.wake());
  }
}
