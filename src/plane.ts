/**
 * openPlane(home): the library API the CLI and the worker share. A Plane is a ledger store plus
 * the state folded from it; `submit` decides commands under the lock and appends their events.
 */
import { basename, dirname } from 'node:path';
import type { JobContext, JobRecord } from '../machines/job.types.js';
import { pickClaims } from './core/claim-order.js';
import type { Command, CommandOutcome, EventBody } from './core/commands.js';
import { reapCommands, type RetryPolicy } from './core/reap.js';
import { ExecplaneError, LedgerCorruptError, RefusedError } from './errors.js';
import { decide, type IdSource } from './core/decide.js';
import type { MachineEngine } from '../machines/job.types.js';
import type { PlaneState } from './core/plane-state.js';
import { monotonicJobIds } from './ids.js';
import { checkpointLines, loadCheckpoint, writeCheckpoint } from './ledger/checkpoint/checkpoint.js';
import { planePaths, type PlanePaths } from './ledger/paths.js';
import { LedgerStore, type Sealer, type TornTailMoved } from './ledger/store.js';
import type { VerifyOptions } from './ledger/verify-pool.js';
import { buildReport, type ReplayReport } from './replay/report.js';
import { readEventAtSeq } from './ledger/seek.js';
import { LedgerWatch } from './ledger/watch.js';
import { isFinal } from './core/final.js';
import { jobInfo, type JobInfo } from './replay/job-info.js';
import { JobWaits, type WaitOptions } from './replay/wait.js';
import type { ClaimEvent, EvidenceFile, LedgerEvent, StartEvent } from './schema/types.generated.js';
import { BUILTIN_JOB_TYPE_SET } from './schema/builtin-job-types.js';
import type { JobSpecInput, StoredJob } from './schema/job-spec.js';
import { JobTypeSet, type JobTypeSchema } from './schema/job-types.js';
import { toTsUtc, type Clock } from './time.js';
import { sha256Hex } from './canonical.js';

/** A process that folded at least this many lines past the checkpoint writes a new one. */
export const CHECKPOINT_INTERVAL_LINES = 10_000;

export interface OpenOptions {
  readonly clock?: Clock;
  /** Where job ids come from for specs without one (default: monotonic ULIDs, src/ids.ts). */
  readonly ids?: IdSource;
  /** Start from checkpoint.json when it verifies (default true). */
  readonly useCheckpoint?: boolean;
  /** Fold only up to this seq (time travel); such a plane is read-only. */
  readonly atSeq?: number;
  /**
   * How commands are decided: by default with XState's own `transition` on the job machine
   * (`xstateEngine`, docs/spec.md §4); `tableEngine` (machines/job.table.ts) runs the transition
   * table compiled from the same machine, which folding uses — the same decisions (a differential
   * property test holds them equal) for less CPU per event (docs/benchmarks.md).
   */
  readonly engine?: MachineEngine;
  /** Worker threads checking a long fold's lines ahead of it (src/ledger/verify-pool.ts). */
  readonly verify?: VerifyOptions;
  /** What `clock` is checked against before each append (S8 of src/ledger/store.ts). */
  readonly referenceClock?: Clock | null;
  /** Called for each event the initial fold applies, after it is applied (`offset`: its line's first byte). */
  readonly onEvent?: (ev: LedgerEvent, line: number, state: PlaneState, offset: number) => void;
  /**
   * The job types enqueue accepts, and whose defaults complete a spec (src/schema/job-types.ts);
   * default the built-in ones. Job types of your own (defineJobType, src/jobs/define.ts) are
   * given as a list, the built-in ones then added, or as a complete JobTypeSet.
   */
  readonly jobTypes?: JobTypeSet<JobTypeSchema<string, unknown>> | Iterable<JobTypeSchema<string, unknown>>;
}

export { BUILTIN_JOB_TYPE_SET };

export type EachResult =
  | { readonly ok: true; readonly outcome: CommandOutcome; readonly event?: LedgerEvent }
  | { readonly ok: false; readonly error: ExecplaneError };

export interface ClaimRequest {
  readonly worker_id: string;
  readonly worker_slots: number;
  readonly lease_sec: number;
  /** At most this many jobs in this claim. */
  readonly max_jobs: number;
  /** Jobs this worker can run (e.g. it cannot enforce allow_network: false); default all. */
  readonly canRun?: (job: JobContext) => boolean;
}

export type { StoredJob } from './schema/job-spec.js';

/** A claim whose attempts start in the same commit (Plane.submitAndClaim). */
export interface StartRequest extends ClaimRequest {
  /**
   * The run header of a claimed attempt (its file's text), built under the lock at the commit's
   * time; the start sealed after the claim pins its SHA-256. It must not write anything: the
   * commit is not yet durable. A header it throws on leaves that attempt claimed, not started.
   */
  readonly runHeader: (claim: ClaimEvent, job: StoredJob, tsUtc: string) => string;
}

/**
 * What a claim under the lock took. C1: with a StartRequest, an attempt whose run header could be
 * built is claimed and started in one commit (`started`): its run header is not on disk yet, and
 * the worker writes it before anything of the attempt runs (src/worker/job-run.ts). Otherwise it
 * is only claimed (`headerError` says why, when a header was asked for).
 */
export interface ClaimedAttempt {
  readonly claim: ClaimEvent;
  readonly started?: { readonly start: StartEvent; readonly job: StoredJob; readonly runHeader: string };
  readonly headerError?: unknown;
}

export interface SubmitResult {
  readonly outcomes: readonly CommandOutcome[];
  readonly events: readonly LedgerEvent[];
  readonly tornTailMoved: TornTailMoved | null;
}

export class Plane {
  /** Why checkpoint.json was not used, when it exists but did not verify. */
  checkpointRejected: string | null = null;
  private linesAtCheckpoint = 0;

  private constructor(
    readonly store: LedgerStore,
    readonly paths: PlanePaths | undefined,
    private readonly ids: IdSource = monotonicJobIds(),
    /** The job types enqueue accepts here (OpenOptions.jobTypes). */
    readonly jobTypes: JobTypeSet<JobTypeSchema<string, unknown>> = BUILTIN_JOB_TYPE_SET,
  ) {}

  /** Opens the plane in `home` (nothing needs to exist) and folds its ledger. */
  static open(home: string, options: OpenOptions = {}): Plane {
    const paths = planePaths(home);
    const useCheckpoint = options.useCheckpoint ?? true;
    const loaded = useCheckpoint ? loadCheckpoint(paths.checkpoint, paths.ledger) : undefined;
    const usable = loaded?.ok && (options.atSeq === undefined || loaded.state.head.seq <= options.atSeq);
    if (loaded?.ok && !usable) loaded.ended?.close();
    const store = new LedgerStore({
      ledgerPath: paths.ledger,
      paths: options.atSeq === undefined ? paths : undefined,
      clock: options.clock,
      start: usable ? loaded : undefined,
      engine: options.engine,
      verify: options.verify,
      ...(options.referenceClock !== undefined ? { referenceClock: options.referenceClock } : {}),
    });
    const plane = new Plane(store, paths, options.ids, jobTypesOf(options.jobTypes));
    if (loaded && !loaded.ok) plane.checkpointRejected = loaded.reason;
    // A plane that folds from line 1 still knows how far the existing checkpoint reaches, so a
    // full `replay` does not rewrite a checkpoint that is already current.
    plane.linesAtCheckpoint = usable ? store.position.lines : checkpointLines(paths.checkpoint);
    foldOrClose(store, options);
    return plane;
  }

  /** Opens a ledger file read-only, without a home (for `--ledger FILE`). */
  static openLedgerFile(
    path: string,
    options: Pick<OpenOptions, 'atSeq' | 'onEvent' | 'verify'> = {},
  ): Plane {
    const store = new LedgerStore({ ledgerPath: path, verify: options.verify });
    foldOrClose(store, options);
    return new Plane(store, undefined);
  }

  get state(): PlaneState {
    return this.store.state;
  }

  /**
   * Folds what other processes appended since the last look; `onEvent` sees each new event, the
   * line it is, the state it left, and its byte offset.
   */
  refresh(onEvent?: (ev: LedgerEvent, line: number, state: PlaneState, offset: number) => void): void {
    this.store.catchUp(undefined, onEvent && ((ev, line, offset) => onEvent(ev, line, this.state, offset)));
  }

  /**
   * Reads every ended job's context that checkpoint.json holds apart (P4 of
   * src/core/plane-state.ts), so every job's record can be read: for a long-lived reader that
   * lists them all (the web view).
   */
  loadEndedJobs(): void {
    this.store.loadEnded();
  }

  /**
   * Decides `commands` in order against the current state and appends their events in one
   * group commit: all are accepted or none is (RefusedError, file untouched).
   */
  async submit(input: readonly Command[]): Promise<SubmitResult> {
    const commands = input.map((c) => this.complete(c));
    this.store.loadEnded(namedJobs(commands));
    const { value, events, tornTailMoved } = await this.store.commit((tsMs, seal) =>
      commands.map((command): CommandOutcome => {
        const d = decide(command, this.state, tsMs, this.ids);
        if (d.kind === 'exists')
          return { command: command.type, job_id: d.job_id, status: 'exists', seq: d.seq };
        const ev = seal(d.body);
        return { command: command.type, job_id: ev.job_id, status: 'appended', seq: ev.seq };
      }),
    );
    return { outcomes: value, events, tornTailMoved };
  }

  /**
   * Like submit, but each command stands alone: refused ones report their error and append
   * nothing, accepted ones share one group commit (how a worker coalesces its slots' events).
   */
  async submitEach(
    input: readonly Command[],
  ): Promise<{ results: EachResult[]; tornTailMoved: TornTailMoved | null }> {
    const { results, tornTailMoved } = await this.submitAndClaim(input);
    return { results, tornTailMoved };
  }

  /**
   * submitEach, then — in the same commit, against the state those commands left (so the slots
   * their `complete`s free count) — a claim as `claimNext` makes it, each claimed attempt
   * started at once when `claim.runHeader` builds its run header (ClaimedAttempt). One write, one
   * fdatasync for a worker's finished jobs and its next ones (docs/decisions.md, "Throughput").
   */
  async submitAndClaim(
    input: readonly Command[],
    claim?: StartRequest,
  ): Promise<{ results: EachResult[]; attempts: ClaimedAttempt[]; tornTailMoved: TornTailMoved | null }> {
    const commands = input.map((c): Command | ExecplaneError => {
      try {
        return this.complete(c);
      } catch (err) {
        if (err instanceof ExecplaneError) return err;
        throw err;
      }
    });
    this.store.loadEnded(namedJobs(commands.filter((c): c is Command => !(c instanceof ExecplaneError))));
    const { value, tornTailMoved } = await this.store.commit((tsMs, seal) => {
      const results = commands.map((command): EachResult => {
        if (command instanceof ExecplaneError) return { ok: false, error: command };
        try {
          const d = decide(command, this.state, tsMs, this.ids);
          if (d.kind === 'exists') {
            return {
              ok: true,
              outcome: { command: command.type, job_id: d.job_id, status: 'exists', seq: d.seq },
            };
          }
          const ev = seal(d.body);
          return {
            ok: true,
            outcome: { command: command.type, job_id: ev.job_id, status: 'appended', seq: ev.seq },
            event: ev,
          };
        } catch (err) {
          if (err instanceof ExecplaneError) return { ok: false, error: err };
          throw err;
        }
      });
      return { results, attempts: claim ? this.claimUnderLock(claim, tsMs, seal) : [] };
    });
    return { ...value, tornTailMoved };
  }

  /**
   * Claims, in one commit, the best queued jobs that fit the worker's free slots (claim-order.ts),
   * chosen under the lock against the current state so concurrent workers never collide.
   */
  async claimNext(request: ClaimRequest): Promise<ClaimEvent[]> {
    const { value } = await this.store.commit((tsMs, seal) => this.claimUnderLock(request, tsMs, seal));
    return value.map((a) => a.claim);
  }

  /**
   * The claims of claimNext, under the lock; with `runHeader`, each claim's start too (C1 of
   * ClaimedAttempt). A run header that cannot be built leaves its attempt claimed, not started.
   */
  private claimUnderLock(request: ClaimRequest | StartRequest, tsMs: number, seal: Sealer): ClaimedAttempt[] {
    const free = request.worker_slots - this.state.heldSlots(request.worker_id, tsMs);
    const { worker_id, worker_slots, lease_sec } = request;
    const runHeader = 'runHeader' in request ? request.runHeader : undefined;
    const tsUtc = toTsUtc(tsMs);
    return pickClaims(this.state, tsMs, free, request.max_jobs, request.canRun).map((job_id) => {
      const command = { type: 'claim', job_id, worker_id, worker_slots, lease_sec } as const;
      const d = decide(command, this.state, tsMs, this.ids);
      const claim = seal((d as { body: EventBody }).body) as ClaimEvent;
      if (!runHeader) return { claim };
      let header: string;
      let job: StoredJob;
      try {
        job = this.jobSpec(job_id);
        header = runHeader(claim, job, tsUtc);
      } catch (err) {
        return { claim, headerError: err };
      }
      const run_header_sha256 = sha256Hex(header);
      const started = {
        type: 'start',
        job_id,
        worker_id,
        attempt: claim.attempt,
        run_header_sha256,
      } as const;
      const start = seal(
        (decide(started, this.state, tsMs, this.ids) as { body: EventBody }).body,
      ) as StartEvent;
      return { claim, started: { start, job, runHeader: header } };
    });
  }

  /** One reaper pass under the lock: expire lapsed leases, retry what may run again (reap.ts). */
  async reap(policy: RetryPolicy, reaper: string): Promise<LedgerEvent[]> {
    const { events } = await this.store.commit((tsMs, seal) => {
      for (const command of reapCommands(this.state, tsMs, policy, reaper)) {
        const d = decide(command, this.state, tsMs, this.ids);
        if (d.kind === 'append') seal(d.body);
      }
    });
    return [...events];
  }

  /**
   * Enqueues one job (docs/job-spec.md: only job_type and payload are required) and returns its
   * id — the one the spec gives, or a new one. Enqueuing a spec already here with the same id
   * and the same spec returns that id and appends nothing (docs/spec.md §3); throws SchemaError
   * for an invalid spec, RefusedError (E_JOB_EXISTS) for an id taken by another spec.
   */
  async enqueue<T extends string, P>(spec: JobSpecInput<T, P>): Promise<string> {
    const { outcomes } = await this.submit([{ type: 'enqueue', spec }]);
    return outcomes[0]!.job_id;
  }

  /** An enqueue's spec completed and checked before the lock (decide then needs no job type). */
  private complete(command: Command): Command {
    return command.type === 'enqueue' ? { ...command, spec: this.jobTypes.resolve(command.spec) } : command;
  }

  /** The full spec of a job, read from its enqueue line. */
  jobSpec(jobId: string): StoredJob {
    this.store.loadEnded([jobId]);
    const offset = this.state.enqueueOffset(jobId);
    if (offset === undefined) throw new RefusedError('E_UNKNOWN_JOB', `no job ${jobId} in this plane`, jobId);
    const ev = this.store.readEventAt(offset);
    if (ev.event !== 'enqueue' || ev.job_id !== jobId) {
      throw new LedgerCorruptError(0, `the enqueue line of ${jobId} is not at byte ${offset}`, 'jobs.jsonl');
    }
    return ev.job;
  }

  /** The replayed state and its digest (every ended job a checkpoint restored is read first). */
  report(): ReplayReport {
    this.store.loadEnded();
    return buildReport(this.state, this.store.torn, this.store.position.lines);
  }

  /** Writes checkpoint.json if enough lines were folded since the last one (or `force`). */
  maybeCheckpoint(force = false): boolean {
    if (!this.paths || this.store.torn) return false;
    const behind = this.store.position.lines - this.linesAtCheckpoint;
    // A checkpoint said to reach past our end is stale (the ledger was replaced): refresh it.
    if (!force && behind >= 0 && behind < CHECKPOINT_INTERVAL_LINES) return false;
    writeCheckpoint(
      this.paths.checkpoint,
      this.state,
      this.store.position,
      this.store.endedRegion,
      this.store.prefixSegments,
    );
    this.linesAtCheckpoint = this.store.position.lines;
    return true;
  }

  close(): void {
    this.waits?.close();
    this.store.close();
  }

  // Reading and waiting for jobs (docs/library.md, "Waiting for jobs and worker events").

  private waits: JobWaits | undefined;

  /**
   * The job as the library reports it (JobInfo, src/replay/job-info.ts), or undefined for a job
   * this plane does not have; `{ spec: true }` adds its full stored spec (read from its enqueue
   * line). It reads the state this plane has folded: `refresh()` first to see what other processes
   * appended since, or `waitFor` the job.
   */
  getJob(jobId: string): JobInfo | undefined;
  getJob(jobId: string, options: { readonly spec: true }): JobInfoWithSpec | undefined;
  getJob(jobId: string, options?: { readonly spec?: boolean }): JobInfo | JobInfoWithSpec | undefined;
  getJob(jobId: string, options: { readonly spec?: boolean } = {}): JobInfo | JobInfoWithSpec | undefined {
    if (!this.state.has(jobId)) return undefined;
    this.store.loadEnded([jobId]);
    const job = this.state.get(jobId)!;
    const info = jobInfo(job, isFinal(this.state, jobId), this.endingEvidence(job));
    return options.spec ? { ...info, spec: this.jobSpec(jobId) } : info;
  }

  /**
   * Resolves to the job's JobInfo once it has ended for good (complete, cancelled, or failed with
   * no retry to come: `isFinal`), however many attempts that takes, whichever process writes it;
   * rejects on `timeoutMs` (E_WAIT_TIMEOUT), on `signal`, for an unknown job (E_UNKNOWN_JOB), or
   * with the store's error when the ledger can no longer be read (J1 of src/replay/wait.ts).
   * Every wait of one plane shares one watch of its directory (src/ledger/watch.ts).
   */
  waitFor(jobId: string, options?: WaitOptions): Promise<JobInfo> {
    if (!this.waits) {
      const lock = this.paths?.lock ?? `${this.store.ledgerPath}.lock`;
      this.waits = new JobWaits(this, new LedgerWatch(dirname(this.store.ledgerPath), basename(lock)));
    }
    return this.waits.wait(jobId, options);
  }

  /** The evidence of the complete or fail event a complete or failed job's last line is. */
  private endingEvidence(job: JobRecord): readonly EvidenceFile[] {
    if (job.value !== 'complete' && job.value !== 'failed') return [];
    const c = job.context;
    const from = { offset: this.state.enqueueOffset(c.job_id) ?? 0, seq: c.enqueued_seq };
    const end = { offset: this.store.position.offset, seq: this.state.head.seq + 1 };
    const ev = readEventAtSeq(this.store.ledgerPath, from, end, c.updated_seq);
    if (ev.job_id !== c.job_id) {
      throw new LedgerCorruptError(
        ev.seq,
        `line ${ev.seq} is not an event of ${c.job_id}`,
        basename(this.store.ledgerPath),
      );
    }
    // A last attempt that expired ends the job failed with no fail event (E_ATTEMPTS_EXHAUSTED).
    return ev.event === 'complete' || ev.event === 'fail' ? (ev.evidence ?? []) : [];
  }
}

/** What `getJob(jobId, { spec: true })` returns. */
export type JobInfoWithSpec = JobInfo & { readonly spec: StoredJob };

/** The initial fold of a new plane; a corrupt ledger closes what the store opened before it throws. */
function foldOrClose(store: LedgerStore, options: Pick<OpenOptions, 'atSeq' | 'onEvent'>): void {
  try {
    store.catchUp(
      options.atSeq,
      options.onEvent && ((ev, line, offset) => options.onEvent!(ev, line, store.state, offset)),
    );
  } catch (err) {
    store.close();
    throw err;
  }
}

/**
 * The jobs `commands` name, so their contexts are loaded before deciding (P4 of
 * src/core/plane-state.ts): an enqueue names the job_id its spec gives, if any.
 */
function* namedJobs(commands: readonly Command[]): Generator<string> {
  for (const c of commands) {
    if (c.type !== 'enqueue') yield c.job_id;
    else if (typeof c.spec === 'object' && c.spec !== null) {
      const id = (c.spec as { job_id?: unknown }).job_id;
      if (typeof id === 'string') yield id;
    }
  }
}

function jobTypesOf(given: OpenOptions['jobTypes']): JobTypeSet<JobTypeSchema<string, unknown>> | undefined {
  if (given === undefined || given instanceof JobTypeSet) return given;
  // A JobTypeSet of another copy of this package (a user's module resolving its own) is one too.
  if (typeof (given as Partial<JobTypeSet>).resolve === 'function') return given as JobTypeSet;
  return BUILTIN_JOB_TYPE_SET.with(given);
}

export function openPlane(home: string, options?: OpenOptions): Plane {
  return Plane.open(home, options);
}
