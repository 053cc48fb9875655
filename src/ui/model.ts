/**
 * What the web view knows of one plane, kept in memory and moved forward by the same O(new lines)
 * catch-up a worker uses (Plane.refresh), so no request reads the whole ledger (docs/ui.md).
 *
 * M1. One fold, started from checkpoint.json and kept current: every page reads this state, and
 *     `refresh()` folds only the lines appended since the last look.
 * M2. Every job is listable: the ended jobs' contexts are read from the checkpoint once, at start;
 *     jobs are listed newest first by their enqueue's seq, each listing a pass over ids in memory.
 * M3. The live tail is a ring of the latest RING events: seeded from the ledger's last MiB at start
 *     (parsed, not verified, as `status` reads it), then fed by the fold; an SSE client that
 *     reconnects resumes from its last seq when the ring still holds it (`since`), and is told to
 *     reload otherwise.
 * M4. For each job the fold read, the byte offsets of its lines (history.ts reads a job's page
 *     from them).
 */
import type { JobRecord, JobStateValue } from '../../machines/job.types.js';
import { JOB_STATES } from '../../machines/job.types.js';
import type { PlaneState } from '../core/plane-state.js';
import { planePaths, type PlanePaths } from '../ledger/paths.js';
import { readLedgerTail } from '../ops/status.js';
import { Plane, type OpenOptions } from '../plane.js';
import { foldJobEvents, type TimelineEntry } from '../replay/timeline.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { parseTsUtc } from '../time.js';
import { HistoryUnreadable, jobHistory, type JobHistory } from './history.js';

/** How many of the latest events the server keeps for the live tail and for resuming (M3). */
export const RING = 5000;
/** Jobs per page of the jobs list. */
export const PAGE_SIZE = 50;

/** An event as the live tail shows it. */
export interface LiveEvent {
  readonly seq: number;
  readonly event: LedgerEvent['event'];
  readonly job_id: string;
  readonly ts_utc: string;
  /** The job's state after it; null for an event seeded from the tail (M3), not folded here. */
  readonly state: JobStateValue | null;
  readonly worker_id: string | null;
}

export interface JobQuery {
  readonly state?: JobStateValue;
  readonly type?: string;
  /** A part of the job id. */
  readonly q?: string;
  /** 1-based. */
  readonly page: number;
}

export interface JobPage {
  readonly rows: readonly JobRecord[];
  readonly total: number;
  readonly page: number;
  readonly pages: number;
}

export class UiModel {
  readonly paths: PlanePaths;
  readonly plane: Plane;
  /** The offset the fold started at: offsets of lines from here on are remembered (M4). */
  readonly foldStart: number;
  private readonly order: string[] = [];
  private readonly offsets = new Map<string, number[]>();
  private readonly ring: LiveEvent[] = [];
  private readonly types = new Set<string>();
  private readonly listeners = new Set<(events: readonly LiveEvent[]) => void>();

  private readonly ringSize: number;

  constructor(home: string, options: Pick<OpenOptions, 'jobTypes'> & { readonly ringSize?: number } = {}) {
    this.paths = planePaths(home);
    this.ringSize = options.ringSize ?? RING;
    let first: number | undefined;
    const folded: LiveEvent[] = [];
    this.plane = Plane.open(home, {
      ...(options.jobTypes ? { jobTypes: options.jobTypes } : {}),
      onEvent: (ev, _line, state, offset) => {
        first ??= offset;
        this.remember(ev, offset);
        folded.push(liveEvent(ev, state));
      },
    });
    this.foldStart = first ?? this.plane.store.position.offset;
    this.plane.loadEndedJobs(); // M2
    const state = this.plane.state;
    const ids = [...state.ids()];
    const seqOf = new Map(ids.map((id) => [id, state.get(id)!.context.enqueued_seq]));
    ids.sort((a, b) => seqOf.get(a)! - seqOf.get(b)!);
    this.order.push(...ids);
    for (const id of ids) this.types.add(state.get(id)!.context.job_type);
    this.seedRing(folded);
  }

  get state(): PlaneState {
    return this.plane.state;
  }

  /** M1: folds what was appended since; tells the listeners what is new. */
  refresh(): readonly LiveEvent[] {
    const added: LiveEvent[] = [];
    this.plane.refresh((ev, _line, state, offset) => {
      this.remember(ev, offset);
      if (ev.event === 'enqueue') {
        this.order.push(ev.job_id);
        this.types.add(ev.job.job_type);
      }
      added.push(liveEvent(ev, state));
    });
    if (added.length) {
      this.push(added);
      for (const listener of this.listeners) listener(added);
    }
    return added;
  }

  /** Calls `listener` with each batch of new events until the returned function is called. */
  subscribe(listener: (events: readonly LiveEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The latest `n` events, newest first. */
  latest(n: number): readonly LiveEvent[] {
    return this.ring.slice(-n).reverse();
  }

  /** The events after `seq` in order, or undefined when the ring no longer holds them all (M3). */
  since(seq: number): readonly LiveEvent[] | undefined {
    const head = this.state.head.seq;
    if (seq >= head) return [];
    const oldest = this.ring[0]?.seq;
    if (oldest === undefined || oldest > seq + 1) return undefined;
    return this.ring.filter((e) => e.seq > seq);
  }

  /** Completed and failed events per minute over the last `minutes` minutes to `nowMs` (oldest first). */
  throughput(nowMs: number, minutes: number): { complete: number; failed: number }[] {
    const out = Array.from({ length: minutes }, () => ({ complete: 0, failed: 0 }));
    const startMs = nowMs - minutes * 60_000;
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const e = this.ring[i]!;
      const t = parseTsUtc(e.ts_utc);
      if (t < startMs) break;
      const bucket = Math.min(minutes - 1, Math.floor((t - startMs) / 60_000));
      if (e.event === 'complete') out[bucket]!.complete += 1;
      else if (e.event === 'fail' || e.event === 'expire') out[bucket]!.failed += 1;
    }
    return out;
  }

  /** Job types seen in this plane, sorted. */
  jobTypes(): string[] {
    return [...this.types].sort();
  }

  /** M2: the jobs matching `query`, newest first, one page of them. */
  jobs(query: JobQuery): JobPage {
    const state = this.state;
    const matched: string[] = [];
    for (let i = this.order.length - 1; i >= 0; i--) {
      const id = this.order[i]!;
      if (query.state && state.jobState(id) !== query.state) continue;
      if (query.q && !id.includes(query.q)) continue;
      if (query.type && state.get(id)!.context.job_type !== query.type) continue;
      matched.push(id);
    }
    const pages = Math.max(1, Math.ceil(matched.length / PAGE_SIZE));
    const page = Math.min(Math.max(1, query.page), pages);
    const rows = matched.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).map((id) => state.get(id)!);
    return { rows, total: matched.length, page, pages };
  }

  /** The job's lines and timeline (history.ts), or undefined for a job this plane does not have. */
  history(jobId: string): (JobHistory & { readonly timeline: readonly TimelineEntry[] }) | undefined {
    if (!this.state.has(jobId)) return undefined;
    const enqueueOffset = this.state.enqueueOffset(jobId);
    if (enqueueOffset === undefined)
      throw new HistoryUnreadable(`the plane does not know where ${jobId}'s enqueue is`);
    const history = jobHistory(
      { home: this.paths.home, ledgerPath: this.paths.ledger, foldStart: this.foldStart },
      jobId,
      enqueueOffset,
      this.offsets.get(jobId) ?? [],
    );
    const folded = foldJobEvents(jobId, history.lines);
    if ('refusal' in folded)
      throw new HistoryUnreadable(
        `the lines found for ${jobId} do not fold through the job machine: ${folded.refusal.code}: ${folded.refusal.message}`,
      );
    return { ...history, timeline: folded.timeline };
  }

  close(): void {
    this.listeners.clear();
    this.plane.close();
  }

  private remember(ev: LedgerEvent, offset: number): void {
    const list = this.offsets.get(ev.job_id);
    if (list) list.push(offset);
    else this.offsets.set(ev.job_id, [offset]);
  }

  private seedRing(folded: readonly LiveEvent[]): void {
    const firstFolded = folded[0]?.seq ?? this.state.head.seq + 1;
    const { events } = readLedgerTail(this.paths.ledger);
    const seeded = events
      .filter((e) => e.seq < firstFolded)
      .map((e): LiveEvent => ({
        seq: e.seq,
        event: e.event as LedgerEvent['event'],
        job_id: e.job_id,
        ts_utc: e.ts_utc,
        state: null,
        worker_id: e.worker_id ?? null,
      }));
    this.push([...seeded, ...folded]);
  }

  private push(events: readonly LiveEvent[]): void {
    this.ring.push(...events);
    if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
  }
}

function liveEvent(ev: LedgerEvent, state: PlaneState): LiveEvent {
  return {
    seq: ev.seq,
    event: ev.event,
    job_id: ev.job_id,
    ts_utc: ev.ts_utc,
    state: state.jobState(ev.job_id) ?? null,
    worker_id: 'worker_id' in ev ? ev.worker_id : null,
  };
}

export const STATES: readonly JobStateValue[] = JOB_STATES;
