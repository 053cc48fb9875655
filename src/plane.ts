/**
 * openPlane(home): the library API the CLI and the worker share. A Plane is a ledger store plus
 * the state folded from it; `submit` decides commands under the lock and appends their events.
 */
import type { Command, CommandOutcome } from './core/commands.js';
import { decide } from './core/decide.js';
import type { PlaneState } from './core/plane-state.js';
import { loadCheckpoint, writeCheckpoint } from './ledger/checkpoint.js';
import { planePaths, type PlanePaths } from './ledger/paths.js';
import { LedgerStore, type TornTailMoved } from './ledger/store.js';
import { buildReport, type ReplayReport } from './replay/report.js';
import type { LedgerEvent } from './schema/types.generated.js';
import type { Clock } from './time.js';

/** A process that folded at least this many lines past the checkpoint writes a new one. */
export const CHECKPOINT_INTERVAL_LINES = 10_000;

export interface OpenOptions {
  readonly clock?: Clock;
  /** Start from checkpoint.json when it verifies (default true). */
  readonly useCheckpoint?: boolean;
  /** Fold only up to this seq (time travel); such a plane is read-only. */
  readonly atSeq?: number;
  /** Called for each event the initial fold applies, after it is applied. */
  readonly onEvent?: (ev: LedgerEvent, line: number, state: PlaneState) => void;
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
  ) {}

  /** Opens the plane in `home` (nothing needs to exist) and folds its ledger. */
  static open(home: string, options: OpenOptions = {}): Plane {
    const paths = planePaths(home);
    const useCheckpoint = options.useCheckpoint ?? true;
    const loaded = useCheckpoint ? loadCheckpoint(paths.checkpoint, paths.ledger) : undefined;
    const usable = loaded?.ok && (options.atSeq === undefined || loaded.state.lastSeq <= options.atSeq);
    const store = new LedgerStore(
      paths.ledger,
      options.atSeq === undefined ? paths : undefined,
      options.clock,
      usable ? loaded : undefined,
    );
    const plane = new Plane(store, paths);
    if (loaded && !loaded.ok) plane.checkpointRejected = loaded.reason;
    plane.linesAtCheckpoint = store.position.lines;
    store.catchUp(options.atSeq, options.onEvent && ((ev, line) => options.onEvent!(ev, line, store.state)));
    return plane;
  }

  /** Opens a ledger file read-only, without a home (for `--ledger FILE`). */
  static openLedgerFile(path: string, options: Pick<OpenOptions, 'atSeq' | 'onEvent'> = {}): Plane {
    const store = new LedgerStore(path, undefined);
    store.catchUp(options.atSeq, options.onEvent && ((ev, line) => options.onEvent!(ev, line, store.state)));
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

  report(): ReplayReport {
    return buildReport(this.state, this.store.torn, this.store.position.lines);
  }

  /** Writes checkpoint.json if enough lines were folded since the last one (or `force`). */
  maybeCheckpoint(force = false): boolean {
    if (!this.paths || this.store.torn) return false;
    if (!force && this.store.position.lines - this.linesAtCheckpoint < CHECKPOINT_INTERVAL_LINES)
      return false;
    writeCheckpoint(this.paths.checkpoint, this.state, this.store.position);
    this.linesAtCheckpoint = this.store.position.lines;
    return true;
  }

  close(): void {
    this.store.close();
  }
}

export function openPlane(home: string, options?: OpenOptions): Plane {
  return Plane.open(home, options);
}
