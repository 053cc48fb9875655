/**
 * openPlane(home): the library API the CLI and the worker share. A Plane is a ledger store plus
 * the state folded from it; `submit` decides commands under the lock and appends their events.
 */
import type { JobContext } from '../machines/job.types.js';
import { pickClaims } from './core/claim-order.js';
import type { Command, CommandOutcome } from './core/commands.js';
import { reapCommands, type RetryPolicy } from './core/reap.js';
import { ExecplaneError, LedgerCorruptError, RefusedError } from './errors.js';
import type { EventBody } from './ledger/line.js';
import { decide } from './core/decide.js';
import type { MachineEngine } from '../machines/job.table.js';
import type { PlaneState } from './core/plane-state.js';
import { checkpointLines, loadCheckpoint, writeCheckpoint } from './ledger/checkpoint.js';
import { planePaths, type PlanePaths } from './ledger/paths.js';
import { LedgerStore, type TornTailMoved } from './ledger/store.js';
import type { VerifyOptions } from './ledger/verify-pool.js';
import { buildReport, type ReplayReport } from './replay/report.js';
import type { ClaimEvent, JobSpec, LedgerEvent } from './schema/types.generated.js';
import type { Clock } from './time.js';

/** A process that folded at least this many lines past the checkpoint writes a new one. */
export const CHECKPOINT_INTERVAL_LINES = 10_000;

export interface OpenOptions {
  readonly clock?: Clock;
  /** Start from checkpoint.json when it verifies (default true). */
  readonly useCheckpoint?: boolean;
  /** Fold only up to this seq (time travel); such a plane is read-only. */
  readonly atSeq?: number;
  /**
   * How commands are decided: by default with XState's own pure `transition` on the job machine
   * (`xstateEngine`, SPEC §4); `tableEngine` (machines/job.table.ts) runs the transition table
   * compiled from the same machine, which folding uses — the same decisions (a differential
   * property test holds them equal) at ≈ 1/10 of the CPU per event (docs/decisions.md).
   */
  readonly engine?: MachineEngine;
  /** Worker threads checking a long fold's lines ahead of it (src/ledger/verify-pool.ts). */
  readonly verify?: VerifyOptions;
  /** Called for each event the initial fold applies, after it is applied. */
  readonly onEvent?: (ev: LedgerEvent, line: number, state: PlaneState) => void;
}

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

/** A job spec as stored in its enqueue event: job_id and created_at_utc are always set. */
export type StoredJob = JobSpec & { readonly job_id: string; readonly created_at_utc: string };

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
  ) {}

  /** Opens the plane in `home` (nothing needs to exist) and folds its ledger. */
  static open(home: string, options: OpenOptions = {}): Plane {
    const paths = planePaths(home);
    const useCheckpoint = options.useCheckpoint ?? true;
    const loaded = useCheckpoint ? loadCheckpoint(paths.checkpoint, paths.ledger) : undefined;
    const usable = loaded?.ok && (options.atSeq === undefined || loaded.state.lastSeq <= options.atSeq);
    if (loaded?.ok && !usable) loaded.state.close();
    const store = new LedgerStore(
      paths.ledger,
      options.atSeq === undefined ? paths : undefined,
      options.clock,
      usable ? loaded : undefined,
      options.engine,
      options.verify,
    );
    const plane = new Plane(store, paths);
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
    const store = new LedgerStore(path, undefined, undefined, undefined, undefined, options.verify);
    foldOrClose(store, options);
    return new Plane(store, undefined);
  }

  get state(): PlaneState {
    return this.store.state;
  }

  /** Folds what other processes appended since the last look. */
  refresh(): void {
    this.store.catchUp();
  }

  /**
   * Decides `commands` in order against the current state and appends their events in one
   * group commit: all are accepted or none is (RefusedError, file untouched).
   */
  async submit(commands: readonly Command[]): Promise<SubmitResult> {
    const { value, events, tornTailMoved } = await this.store.commit((tsMs, seal) =>
      commands.map((command): CommandOutcome => {
        const d = decide(command, this.state, tsMs);
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
    commands: readonly Command[],
  ): Promise<{ results: EachResult[]; tornTailMoved: TornTailMoved | null }> {
    const { value, tornTailMoved } = await this.store.commit((tsMs, seal) =>
      commands.map((command): EachResult => {
        try {
          const d = decide(command, this.state, tsMs);
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
      }),
    );
    return { results: value, tornTailMoved };
  }

  /**
   * Claims, in one commit, the best queued jobs that fit the worker's free slots (claim-order.ts),
   * chosen under the lock against the current state so concurrent workers never collide.
   */
  async claimNext(request: ClaimRequest): Promise<ClaimEvent[]> {
    const { value } = await this.store.commit((tsMs, seal) => {
      const free = request.worker_slots - this.state.heldSlots(request.worker_id, tsMs);
      const { worker_id, worker_slots, lease_sec } = request;
      return pickClaims(this.state, tsMs, free, request.max_jobs, request.canRun).map((job_id) => {
        const d = decide({ type: 'claim', job_id, worker_id, worker_slots, lease_sec }, this.state, tsMs);
        return seal((d as { body: EventBody }).body) as ClaimEvent;
      });
    });
    return value;
  }

  /** One reaper pass under the lock: expire lapsed leases, retry what may run again (reap.ts). */
  async reap(policy: RetryPolicy, reaper: string): Promise<LedgerEvent[]> {
    const { events } = await this.store.commit((tsMs, seal) => {
      for (const command of reapCommands(this.state, tsMs, policy, reaper)) {
        const d = decide(command, this.state, tsMs);
        if (d.kind === 'append') seal(d.body);
      }
    });
    return [...events];
  }

  /** The full spec of a job, read from its enqueue line. */
  jobSpec(jobId: string): StoredJob {
    const offset = this.state.enqueueOffset(jobId);
    if (offset === undefined) throw new RefusedError('E_UNKNOWN_JOB', `no job ${jobId} in this plane`, jobId);
    const ev = this.store.readEventAt(offset);
    if (ev.event !== 'enqueue' || ev.job_id !== jobId) {
      throw new LedgerCorruptError(0, `the enqueue line of ${jobId} is not at byte ${offset}`, 'jobs.jsonl');
    }
    return ev.job as StoredJob;
  }

  report(): ReplayReport {
    return buildReport(this.state, this.store.torn, this.store.position.lines);
  }

  /** Writes checkpoint.json if enough lines were folded since the last one (or `force`). */
  maybeCheckpoint(force = false): boolean {
    if (!this.paths || this.store.torn) return false;
    const behind = this.store.position.lines - this.linesAtCheckpoint;
    // A checkpoint said to reach past our end is stale (the ledger was replaced): refresh it.
    if (!force && behind >= 0 && behind < CHECKPOINT_INTERVAL_LINES) return false;
    writeCheckpoint(this.paths.checkpoint, this.state, this.store.position);
    this.linesAtCheckpoint = this.store.position.lines;
    return true;
  }

  close(): void {
    this.store.close();
  }
}

/** The initial fold of a new plane; a corrupt ledger closes what the store opened before it throws. */
function foldOrClose(store: LedgerStore, options: Pick<OpenOptions, 'atSeq' | 'onEvent'>): void {
  try {
    store.catchUp(options.atSeq, options.onEvent && ((ev, line) => options.onEvent!(ev, line, store.state)));
  } catch (err) {
    store.close();
    throw err;
  }
}

export function openPlane(home: string, options?: OpenOptions): Plane {
  return Plane.open(home, options);
}
