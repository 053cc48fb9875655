/**
 * The state of a whole plane: every job's machine state and context, where its enqueue line is,
 * and the chain position (seq, hash, time of the last event folded). Pure data: no file, no
 * clock.
 *
 * P1. Only the fold changes it. `evolve` runs one sealed event through the job machine — with
 *     XState's own transition when the store decides what to write (docs/spec.md §4), with the
 *     transition table compiled from the same machine when folding what is written
 *     (machines/job.table.ts) — and applies it, or refuses it and changes nothing. Everything
 *     else reads. (`fromCheckpoint` builds a state a fold produced earlier; `loadEnded` fills in
 *     a context that state already had.)
 * P2. A batch is undone whole. Between `mark()` and `rollback()`, every job the fold touched —
 *     its record, its enqueue offset and every index that follows from them — and the chain
 *     position return to what they were at the mark; `release()` keeps them.
 * P3. The indexes (by state, queued order, retry candidates, leases by worker) always follow
 *     the records: one private `setJob` changes both.
 * P4. Jobs a checkpoint restores in a state nothing leaves (complete, cancelled) may come with
 *     their state only: their context stays in checkpoint.json until the ledger layer reads it
 *     and hands it over (`loadEnded`). Reading such a job's record before that is a programming
 *     error and throws; its state, and every index, never need it.
 */
import { ENDED_STATES, tableEngine } from '../../machines/job.table.js';
import {
  JOB_STATES,
  type JobMachineEvent,
  type JobRecord,
  type JobStateValue,
  type MachineEngine,
  type Refusal,
} from '../../machines/job.types.js';
import { canonicalJson, sha256Hex, ZERO_HASH } from '../canonical.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import type { JobSpec } from '../schema/job-spec.js';
import { parseTsUtc } from '../time.js';
import { QueuedIndex } from './queued-index.js';

export type { Refusal } from '../../machines/job.types.js';

/** Where the fold stands in the chain: the last event folded (seq 0 and 64 zeros before any). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  readonly tsMs: number;
}

export interface EvolveOptions {
  /** How the event is run through the job machine (default: the compiled table). */
  readonly engine?: MachineEngine;
  /** Byte offset of the event's line in the ledger, recorded for an enqueue (P1). */
  readonly offset?: number;
}

/** A job a checkpoint restored with its state only (P4); `ref` says where its context is stored. */
export interface EndedStub {
  readonly value: JobStateValue;
  readonly ref: number;
}

/** What a checkpoint holds: the state a fold reached, to start from instead of line 1. */
export interface RestoredState {
  readonly head: ChainHead;
  readonly live: Iterable<readonly [jobId: string, job: JobRecord, enqueueOffset: number]>;
  readonly ended: Iterable<readonly [jobId: string, stub: EndedStub]>;
}

const LEASED: ReadonlySet<JobStateValue> = new Set(['claimed', 'running']);
const START: ChainHead = { seq: 0, hash: ZERO_HASH, tsMs: 0 };

/** What `mark()` saved: the chain position, and each touched job as it was (P2). */
interface Journal {
  readonly head: ChainHead;
  readonly jobs: Map<string, { readonly job: JobRecord | undefined; readonly offset: number | undefined }>;
}

export class PlaneState {
  readonly #jobs = new Map<string, JobRecord>();
  /** Ended jobs whose context is still in checkpoint.json (P4). */
  readonly #stubs = new Map<string, EndedStub>();
  /** job_id → byte offset of its enqueue line, so a worker reads the full spec in O(1). */
  readonly #offsets = new Map<string, number>();
  #head: ChainHead = START;
  #journal: Journal | undefined;
  /** worker_id → jobs it holds a lease on (claimed or running), for invariant 6. */
  readonly #leasesByWorker = new Map<string, Set<string>>();
  /**
   * state → its jobs, so the claimer and the reaper look at candidates only, not at history.
   * Only states a job can still leave: the ended ones (complete, cancelled) would be most of a
   * big plane's jobs, kept in a set nobody reads.
   */
  readonly #byState = new Map<JobStateValue, Set<string>>(
    JOB_STATES.filter((s) => !ENDED_STATES.has(s)).map((s) => [s, new Set<string>()]),
  );
  /** The queued jobs in claim order, for the claimer (claim-order.ts). */
  readonly #queued = new QueuedIndex();
  /**
   * Failed or expired jobs the reaper may retry (attempts left; expired, or failed with a
   * retryable error): the reaper looks at these, never at every job that ever failed.
   */
  readonly #retryable = new Set<string>();

  /** A state as a checkpoint saved it (checkpoint.ts); the indexes are rebuilt from the records. */
  static fromCheckpoint(saved: RestoredState): PlaneState {
    const state = new PlaneState();
    for (const [id, job, offset] of saved.live) {
      state.#setJob(id, job);
      state.#offsets.set(id, offset);
    }
    for (const [id, stub] of saved.ended) {
      if (!ENDED_STATES.has(stub.value)) throw new Error(`checkpoint: ${id} is ${stub.value}, not ended`);
      state.#stubs.set(id, stub);
    }
    state.#head = saved.head;
    return state;
  }

  /** The last event folded. */
  get head(): ChainHead {
    return this.#head;
  }

  /** How many jobs the plane has. */
  get size(): number {
    return this.#jobs.size + this.#stubs.size;
  }

  has(jobId: string): boolean {
    return this.#jobs.has(jobId) || this.#stubs.has(jobId);
  }

  /** The job's state, whether or not its context is loaded. */
  jobState(jobId: string): JobStateValue | undefined {
    return this.#jobs.get(jobId)?.value ?? this.#stubs.get(jobId)?.value;
  }

  /** The job's state and context; throws for an ended job whose context was not loaded (P4). */
  get(jobId: string): JobRecord | undefined {
    const job = this.#jobs.get(jobId);
    if (job !== undefined || !this.#stubs.has(jobId)) return job;
    throw new Error(
      `job ${jobId} ended before checkpoint.json was written and its context was not loaded; ` +
        'the ledger layer loads it first (LedgerStore.loadEnded)',
    );
  }

  /** How many jobs are in each state (every state named, 0 included), without loading contexts. */
  countByState(): Record<JobStateValue, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStateValue, number>;
    for (const job of this.#jobs.values()) counts[job.value] += 1;
    for (const stub of this.#stubs.values()) counts[stub.value] += 1;
    return counts;
  }

  /** Every job id, in no particular order. */
  *ids(): IterableIterator<string> {
    yield* this.#jobs.keys();
    yield* this.#stubs.keys();
  }

  /** Ended jobs whose context is not loaded yet (P4): live view, do not hold across a fold. */
  unloaded(): ReadonlyMap<string, EndedStub> {
    return this.#stubs;
  }

  /** Byte offset of the job's enqueue line; undefined for an unknown job or one not loaded. */
  enqueueOffset(jobId: string): number | undefined {
    return this.#offsets.get(jobId);
  }

  /**
   * Slots of the jobs `workerId` holds a live lease on at `tsMs`. Live up to and including the
   * expiry instant, as for fencing (the holder may still write then), so a worker is never
   * over its slots even at that instant.
   */
  heldSlots(workerId: string, tsMs: number): number {
    let slots = 0;
    for (const id of this.#leasesByWorker.get(workerId) ?? []) {
      const ctx = this.#jobs.get(id)?.context;
      if (ctx?.lease && ctx.lease.expires_unix * 1000 >= tsMs) slots += ctx.budgets.max_concurrency_slots;
    }
    return slots;
  }

  /** Ids of the jobs now in `state`, one a job can leave (live view: do not mutate). */
  inState(state: JobStateValue): ReadonlySet<string> {
    const ids = this.#byState.get(state);
    if (!ids) throw new Error(`jobs in ${state} are not indexed: nothing leaves that state`);
    return ids;
  }

  /** Queued job ids, highest priority first, then oldest enqueue (queued-index.ts, Q1). */
  queuedInClaimOrder(): Iterable<string> {
    return this.#queued.inClaimOrder((id) => this.#jobs.get(id)!.context.enqueued_seq);
  }

  /** Queued jobs a retry gave a not_before_unix: the only ones that can be backing off (Q2). */
  queuedRetried(): ReadonlySet<string> {
    return this.#queued.retried();
  }

  /** See `#retryable`: ids of the jobs a reaper may retry now or after their backoff. */
  retryCandidates(): ReadonlySet<string> {
    return this.#retryable;
  }

  /**
   * Applies one sealed event if the job machine accepts it; otherwise changes nothing and says
   * why (P1). Chain links (seq/prev/hash) are the store's check; the time order is this one's.
   */
  evolve(ev: LedgerEvent, options: EvolveOptions = {}): Refusal | undefined {
    const tsMs = parseTsUtc(ev.ts_utc);
    if (!(tsMs >= this.#head.tsMs)) {
      return { code: 'E_TS_BACKWARDS', message: `ts_utc ${ev.ts_utc} is before the previous event's time` };
    }
    const engine = options.engine ?? tableEngine;
    let next: JobRecord;
    if (ev.event === 'enqueue') {
      const existing = this.jobState(ev.job_id);
      if (existing) {
        return {
          code: 'E_JOB_EXISTS',
          message: `job ${ev.job_id} already exists (state ${existing})`,
          jobState: existing,
        };
      }
      if (ev.job.job_id !== ev.job_id)
        return { code: 'E_JOB_ID_MISMATCH', message: 'job.job_id differs from job_id' };
      next = engine.initial({ ev, spec_sha256: specDigest(ev.job) });
    } else {
      const mev = {
        type: ev.event,
        ev,
        ts_ms: tsMs,
        held_slots: ev.event === 'claim' ? this.heldSlots(ev.worker_id, tsMs) : 0,
      } as JobMachineEvent;
      const stub = this.#stubs.get(ev.job_id);
      // A stub's state has no transitions at all (P4, ENDED_STATES): its machine refuses every
      // event, and says so without the context.
      if (stub) return engine.explain(stub.value, undefined, mev);
      const prev = this.#jobs.get(ev.job_id);
      if (!prev) return { code: 'E_UNKNOWN_JOB', message: `no job ${ev.job_id} in this ledger` };
      const accepted = engine.step(prev, mev);
      if (!accepted) return engine.explain(prev.value, prev.context, mev);
      next = accepted;
    }
    this.#setJob(ev.job_id, next);
    if (ev.event === 'enqueue' && options.offset !== undefined) this.#offsets.set(ev.job_id, options.offset);
    this.#head = { seq: ev.seq, hash: ev.hash, tsMs };
    return undefined;
  }

  /** Starts a batch that `rollback()` undoes whole (P2). */
  mark(): void {
    if (this.#journal) throw new Error('PlaneState.mark: a batch is already open');
    this.#journal = { head: this.#head, jobs: new Map() };
  }

  /** Undoes everything since `mark()` (P2). */
  rollback(): void {
    const journal = this.#journal;
    if (!journal) throw new Error('PlaneState.rollback: no batch is open');
    this.#journal = undefined;
    for (const [id, { job, offset }] of journal.jobs) {
      this.#setJob(id, job);
      if (offset === undefined) this.#offsets.delete(id);
      else this.#offsets.set(id, offset);
    }
    this.#head = journal.head;
  }

  /** Keeps everything since `mark()`. */
  release(): void {
    if (!this.#journal) throw new Error('PlaneState.release: no batch is open');
    this.#journal = undefined;
  }

  /** Hands over the context of an ended job a checkpoint restored with its state only (P4). */
  loadEnded(jobId: string, job: JobRecord, enqueueOffset: number): void {
    const stub = this.#stubs.get(jobId);
    if (!stub || stub.value !== job.value) {
      throw new Error(`loadEnded: ${jobId} is not an ended job waiting for its context (${job.value})`);
    }
    this.#stubs.delete(jobId);
    this.#jobs.set(jobId, job);
    this.#offsets.set(jobId, enqueueOffset);
  }

  /** Replaces a job's record (or removes it), keeping the indexes in step (P3) and the journal (P2). */
  #setJob(jobId: string, job: JobRecord | undefined): void {
    const old = this.#jobs.get(jobId);
    if (old === job) return; // e.g. a rollback of a job the batch never changed
    if (this.#journal && !this.#journal.jobs.has(jobId)) {
      this.#journal.jobs.set(jobId, { job: old, offset: this.#offsets.get(jobId) });
    }
    if (job && mayRetry(job)) this.#retryable.add(jobId);
    else this.#retryable.delete(jobId);
    if (old?.value !== job?.value) {
      if (old) this.#byState.get(old.value)?.delete(jobId);
      if (job) this.#byState.get(job.value)?.add(jobId);
    }
    if (old?.value === 'queued') this.#queued.remove(old.context);
    if (job?.value === 'queued') this.#queued.add(job.context);
    if (job) this.#jobs.set(jobId, job);
    else this.#jobs.delete(jobId);
    const before = old && LEASED.has(old.value) ? old.context.lease?.worker_id : undefined;
    const after = job && LEASED.has(job.value) ? job.context.lease?.worker_id : undefined;
    if (before === after) return;
    if (before !== undefined) {
      const set = this.#leasesByWorker.get(before);
      set?.delete(jobId);
      if (set?.size === 0) this.#leasesByWorker.delete(before);
    }
    if (after !== undefined) {
      let set = this.#leasesByWorker.get(after);
      if (!set) this.#leasesByWorker.set(after, (set = new Set()));
      set.add(jobId);
    }
  }
}

function mayRetry(job: JobRecord): boolean {
  if (job.value !== 'expired' && job.value !== 'failed') return false;
  const c = job.context;
  return c.attempt < c.max_attempts && (job.value === 'expired' || c.error?.retryable === true);
}

/** SHA-256 of a spec's canonical JSON without created_at_utc (see JobContext.spec_sha256). */
export function specDigest(spec: JobSpec): string {
  return sha256Hex(canonicalJson({ ...spec, created_at_utc: undefined }));
}

/**
 * Every declaration of this module, for the checkpoint's code fingerprint (C1 of
 * src/ledger/checkpoint/format.ts); `tests/fold-code.unit.spec.ts` fails when one is missing here.
 */
export const PLANE_STATE_CODE = { LEASED, START, PlaneState, mayRetry, specDigest };
