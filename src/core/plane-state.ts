/**
 * The state of a whole plane: every job's machine state and context plus the chain position. It
 * changes only through `evolve`, which runs the event through the job machine — with XState's own
 * transition when the store decides what to write (SPEC §4), with the transition table compiled
 * from the same machine when folding what is written (machines/job.table.ts) — so replay, audit
 * and the write path cannot disagree.
 */
import { firstFailingGuard } from '../../machines/job.guards.js';
import {
  acceptsEvent,
  ENDED_STATES,
  tableEngine,
  type JobRecord,
  type MachineEngine,
} from '../../machines/job.table.js';
import {
  JOB_STATES,
  type JobContext,
  type JobMachineEvent,
  type JobStateValue,
} from '../../machines/job.types.js';
import { canonicalJson, sha256Hex, ZERO_HASH } from '../canonical.js';
import type { JobSpec, LedgerEvent } from '../schema/types.generated.js';
import { parseTsUtc } from '../time.js';
import { QueuedIndex } from './queued-index.js';

/** A job's machine state `value` and `context`, as an XState snapshot carries them. */
export type JobSnapshot = JobRecord;

/** A job restored from a checkpoint that carries where its enqueue line is (checkpoint.ts). */
export interface StoredJobRecord extends JobRecord {
  readonly enqueueOffset: number;
}

export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly jobState?: JobStateValue;
}

const LEASED: ReadonlySet<JobStateValue> = new Set(['claimed', 'running']);

export class PlaneState {
  readonly jobs = new Map<string, JobSnapshot>();
  /** worker_id → jobs it holds a lease on (claimed or running), for invariant 6. */
  private readonly leasesByWorker = new Map<string, Set<string>>();
  /**
   * state → its jobs, so the claimer and the reaper look at candidates only, not at history.
   * Only states a job can still leave: the ended ones (complete, cancelled) would be most of a
   * big plane's jobs, kept in a set nobody reads.
   */
  private readonly byState = new Map<JobStateValue, Set<string>>(
    JOB_STATES.filter((s) => !ENDED_STATES.has(s)).map((s) => [s, new Set<string>()]),
  );
  /** The queued jobs in claim order, for the claimer (claim-order.ts). */
  private readonly queued = new QueuedIndex();
  /**
   * Failed or expired jobs the reaper may retry (attempts left; expired, or failed with a
   * retryable error): the reaper looks at these, never at every job that ever failed.
   */
  private readonly retryable = new Set<string>();
  /**
   * job_id → byte offset of its enqueue line, so a worker can read the full spec in O(1); jobs
   * restored by `restoreEnded` carry theirs instead (see `enqueueOffset`).
   */
  readonly enqueueOffsets = new Map<string, number>();
  private readonly closers: (() => void)[] = [];
  lastSeq = 0;
  lastHash = ZERO_HASH;
  lastTsMs = 0;

  job(jobId: string): JobSnapshot | undefined {
    return this.jobs.get(jobId);
  }

  /**
   * Slots of the jobs `workerId` holds a live lease on at `tsMs`. Live up to and including the
   * expiry instant, as for fencing (the holder may still write then), so a worker is never
   * over its slots even at that instant.
   */
  heldSlots(workerId: string, tsMs: number): number {
    let slots = 0;
    for (const id of this.leasesByWorker.get(workerId) ?? []) {
      const ctx = this.jobs.get(id)?.context;
      if (ctx?.lease && ctx.lease.expires_unix * 1000 >= tsMs) slots += ctx.budgets.max_concurrency_slots;
    }
    return slots;
  }

  /** Ids of the jobs now in `state`, one a job can leave (live view: do not mutate). */
  inState(state: JobStateValue): ReadonlySet<string> {
    const ids = this.byState.get(state);
    if (!ids) throw new Error(`jobs in ${state} are not indexed: nothing leaves that state`);
    return ids;
  }

  /** Queued job ids, highest priority first, then oldest enqueue (queued-index.ts, Q1). */
  queuedInClaimOrder(): Iterable<string> {
    return this.queued.inClaimOrder((id) => this.jobs.get(id)!.context.enqueued_seq);
  }

  /** Queued jobs a retry gave a not_before_unix: the only ones that can be backing off (Q2). */
  queuedRetried(): ReadonlySet<string> {
    return this.queued.retried();
  }

  /** See `retryable`: ids of the jobs a reaper may retry now or after their backoff. */
  retryCandidates(): ReadonlySet<string> {
    return this.retryable;
  }

  /** Byte offset of the job's enqueue line, if the job is known. */
  enqueueOffset(jobId: string): number | undefined {
    const offset = this.enqueueOffsets.get(jobId);
    if (offset !== undefined) return offset;
    const snap = this.jobs.get(jobId) as Partial<StoredJobRecord> | undefined;
    return snap?.enqueueOffset;
  }

  /**
   * Adds a job a checkpoint restores in a state nothing leaves (complete, cancelled), that carries
   * its own enqueue offset: what `setJob` would do for it, without the indexes such a job is never
   * in (by state, queued, retryable, leases) — a checkpoint restores 100,000 of them at start.
   */
  restoreEnded(jobId: string, snap: StoredJobRecord): void {
    if (!ENDED_STATES.has(snap.value)) throw new Error(`restoreEnded: ${jobId} is ${snap.value}`);
    this.jobs.set(jobId, snap);
  }

  /** Runs `fn` when the state is released (`close`): e.g. a checkpoint's descriptor. */
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  close(): void {
    for (const fn of this.closers.splice(0)) fn();
  }

  /** Replaces a job's snapshot (or removes it), keeping the indexes in step. */
  setJob(jobId: string, snap: JobSnapshot | undefined): void {
    const old = this.jobs.get(jobId);
    if (old === snap) return; // e.g. a rollback of a job the batch never changed
    if (snap && mayRetry(snap)) this.retryable.add(jobId);
    else this.retryable.delete(jobId);
    const before = old?.context.lease?.worker_id;
    if (old?.value !== snap?.value) {
      if (old) this.byState.get(stateOf(old))?.delete(jobId);
      if (snap) this.byState.get(stateOf(snap))?.add(jobId);
    }
    if (old?.value === 'queued') this.queued.remove(old.context);
    if (snap?.value === 'queued') this.queued.add(snap.context);
    if (snap) this.jobs.set(jobId, snap);
    else this.jobs.delete(jobId);
    const after = snap && LEASED.has(snap.value as JobStateValue) ? snap.context.lease?.worker_id : undefined;
    if (before === after) return;
    if (before !== undefined) {
      const set = this.leasesByWorker.get(before);
      set?.delete(jobId);
      if (set?.size === 0) this.leasesByWorker.delete(before);
    }
    if (after !== undefined) {
      let set = this.leasesByWorker.get(after);
      if (!set) this.leasesByWorker.set(after, (set = new Set()));
      set.add(jobId);
    }
  }
}

function mayRetry(job: JobSnapshot): boolean {
  // The state first: a checkpoint restores ended jobs with their context parsed lazily, and
  // touching it here would parse every one of them at start.
  if (job.value !== 'expired' && job.value !== 'failed') return false;
  const c = job.context;
  return c.attempt < c.max_attempts && (job.value === 'expired' || c.error?.retryable === true);
}

/** SHA-256 of a spec's canonical JSON without created_at_utc (see JobContext.spec_sha256). */
export function specDigest(spec: JobSpec): string {
  return sha256Hex(canonicalJson({ ...spec, created_at_utc: undefined }));
}

export function stateOf(snap: JobSnapshot): JobStateValue {
  return snap.value as JobStateValue;
}

/** Builds a snapshot from a persisted (value, context) pair, e.g. from a checkpoint. */
export function restoreJobSnapshot(value: JobStateValue, context: JobContext): JobSnapshot {
  return { value, context };
}

/**
 * Applies one sealed event to `state` if the job machine accepts it; otherwise leaves `state`
 * untouched and says why. Chain position (seq/prev/hash) is the store's check, not this one's.
 */
export function evolve(
  state: PlaneState,
  ev: LedgerEvent,
  engine: MachineEngine = tableEngine,
): Refusal | undefined {
  const tsMs = parseTsUtc(ev.ts_utc);
  if (!(tsMs >= state.lastTsMs)) {
    return { code: 'E_TS_BACKWARDS', message: `ts_utc ${ev.ts_utc} is before the previous event's time` };
  }
  const prev = state.jobs.get(ev.job_id);
  let next: JobSnapshot;
  if (ev.event === 'enqueue') {
    if (prev) {
      return {
        code: 'E_JOB_EXISTS',
        message: `job ${ev.job_id} already exists (state ${stateOf(prev)})`,
        jobState: stateOf(prev),
      };
    }
    if (ev.job.job_id !== ev.job_id)
      return { code: 'E_JOB_ID_MISMATCH', message: 'job.job_id differs from job_id' };
    const input = { ev, spec_sha256: specDigest(ev.job) };
    next = engine.initial(input);
  } else {
    if (!prev) return { code: 'E_UNKNOWN_JOB', message: `no job ${ev.job_id} in this ledger` };
    const mev = {
      type: ev.event,
      ev,
      ts_ms: tsMs,
      held_slots: ev.event === 'claim' ? state.heldSlots(ev.worker_id, tsMs) : 0,
    } as JobMachineEvent;
    const accepted = engine.step(prev, mev);
    if (!accepted) return explainRefusal(prev, mev);
    next = accepted;
  }
  state.setJob(ev.job_id, next);
  state.lastSeq = ev.seq;
  state.lastHash = ev.hash;
  state.lastTsMs = tsMs;
  return undefined;
}

function explainRefusal(snap: JobSnapshot, mev: JobMachineEvent): Refusal {
  const jobState = stateOf(snap);
  const accepts = acceptsEvent(jobState, mev.type);
  const failing = accepts ? firstFailingGuard(snap.context, mev) : undefined;
  if (failing) return { code: failing.code, message: `${mev.type} refused: ${failing.message}`, jobState };
  if (accepts && mev.type === 'cancel') {
    return {
      code: 'E_ATTEMPTS_EXHAUSTED',
      message: `job ${mev.ev.job_id} is ${jobState} for good`,
      jobState,
    };
  }
  return {
    code: 'E_ILLEGAL_TRANSITION',
    message: `${mev.type} is not accepted for job ${mev.ev.job_id} in state ${jobState}`,
    jobState,
  };
}
