/**
 * What a Worker tells its embedder as it runs (docs/library.md, "Waiting for jobs and worker
 * events"): typed events, through `worker.on(name, listener)` (a node EventEmitter with a typed
 * map) or as one async iterator of them all (`for await (const ev of worker.events())`).
 *
 * E1. For each attempt this worker claims: `claimed`, then `started` once its start is written
 *     (not when setting the attempt up failed), then exactly one of `completed`, `failed` or
 *     `lost` (W4 of worker.ts), each after the ledger has it (or, for `lost`, once the worker has
 *     stopped writing for it).
 * E2. A listener cannot break the worker: one that throws, or returns a promise that rejects, is
 *     reported to the worker's `log` (level warn) and the other listeners and the run go on.
 * E3. `stopped` is the last event, always, however `run()` ends; every iterator ends after it.
 *     An iterator yields what happens from the moment `events()` is called, in order, buffered
 *     until it is read; `run()` does nothing before its first await, so listeners and iterators
 *     attached right after calling it miss nothing.
 */
import { EventEmitter } from 'node:events';
import type { ErrorInfo, EvidenceFile, Usage } from '../schema/types.generated.js';
import type { WorkerExit } from './worker.js';

/** The worker is registered, watching the ledger, the kill switch off: it starts claiming. */
export interface WorkerReadyEvent {
  readonly type: 'ready';
  readonly worker_id: string;
  readonly slots: number;
  readonly lease_sec: number;
  /** The ledger's last seq when it started. */
  readonly seq: number;
}

/** It claimed an attempt of a job (its claim event is in the ledger). */
export interface WorkerClaimedEvent {
  readonly type: 'claimed';
  readonly job_id: string;
  readonly job_type: string;
  readonly attempt: number;
  readonly lease_expires_unix: number;
  readonly seq: number;
}

/** The attempt's start is written: its handler runs now. */
export interface WorkerStartedEvent {
  readonly type: 'started';
  readonly job_id: string;
  readonly attempt: number;
  readonly seq: number;
}

/** The attempt's complete event is written. */
export interface WorkerCompletedEvent {
  readonly type: 'completed';
  readonly job_id: string;
  readonly attempt: number;
  readonly result: Readonly<Record<string, unknown>>;
  readonly usage: Usage;
  readonly evidence: readonly EvidenceFile[];
  readonly seq: number;
}

/** The attempt's fail event is written. */
export interface WorkerFailedEvent {
  readonly type: 'failed';
  readonly job_id: string;
  readonly attempt: number;
  readonly error: ErrorInfo;
  readonly usage: Usage;
  readonly evidence: readonly EvidenceFile[];
  /** Whether the job has ended for good (no retry to come: JobInfo.final) as the ledger stood then. */
  readonly final: boolean;
  readonly seq: number;
}

/**
 * The attempt is no longer this worker's (the job was cancelled, its lease lapsed and was
 * expired, the ledger became unreadable): it was aborted and nothing more is written for it.
 */
export interface WorkerLostEvent {
  readonly type: 'lost';
  readonly job_id: string;
  readonly attempt: number;
  readonly reason: string;
}

/** This worker's reaper expired a lapsed lease (of any worker's attempt). */
export interface WorkerExpiredEvent {
  readonly type: 'expired';
  readonly job_id: string;
  readonly attempt: number;
  /** The holder of the lease that lapsed. */
  readonly worker_id: string;
  readonly seq: number;
}

/** This worker's reaper sent a job back to the queue for its next attempt. */
export interface WorkerRetriedEvent {
  readonly type: 'retried';
  readonly job_id: string;
  /** The attempt the next claim will be. */
  readonly attempt: number;
  readonly not_before_unix: number;
  readonly seq: number;
}

/** Nothing runs and nothing it could claim is queued: once each time it becomes so. */
export interface WorkerIdleEvent {
  readonly type: 'idle';
  readonly seq: number;
}

/** A fault of the machine (a full disk, the workspace gone): it claims nothing until it recovers. */
export interface WorkerDegradedEvent {
  readonly type: 'degraded';
  readonly cause: string;
}

/** The machine check passes again: it claims again. */
export interface WorkerRecoveredEvent {
  readonly type: 'recovered';
  /** What it had been degraded by. */
  readonly cause: string;
}

/** `run()` ended (the last event, E3): its WorkerExit. */
export type WorkerStoppedEvent = { readonly type: 'stopped' } & WorkerExit;

/** Every event a Worker emits, by name. */
export interface WorkerEventMap {
  ready: WorkerReadyEvent;
  claimed: WorkerClaimedEvent;
  started: WorkerStartedEvent;
  completed: WorkerCompletedEvent;
  failed: WorkerFailedEvent;
  lost: WorkerLostEvent;
  expired: WorkerExpiredEvent;
  retried: WorkerRetriedEvent;
  idle: WorkerIdleEvent;
  degraded: WorkerDegradedEvent;
  recovered: WorkerRecoveredEvent;
  stopped: WorkerStoppedEvent;
}

export type WorkerEventName = keyof WorkerEventMap;

/** One of the events, told apart by `type`: what `worker.events()` yields. */
export type WorkerEvent = WorkerEventMap[WorkerEventName];

/** The EventEmitter's map: each event has its one payload as its one argument. */
export type WorkerListenerArgs = { [K in WorkerEventName]: [event: WorkerEventMap[K]] };

/** A node EventEmitter of the worker's events, whose emission keeps to E2 and E3. */
export class WorkerEmitter extends EventEmitter<WorkerListenerArgs> {
  private readonly sinks = new Set<(ev: WorkerEvent) => void>();
  private stoppedEmitted = false;

  constructor(private readonly onListenerError: (name: WorkerEventName, err: unknown) => void) {
    super();
  }

  /**
   * Every event from now on, in order, until `stopped` (yielded last) — or at once done when the
   * worker has stopped already. Breaking out of the loop detaches it.
   */
  events(): AsyncIterableIterator<WorkerEvent> {
    const queue: WorkerEvent[] = [];
    let ended = this.stoppedEmitted;
    let wake: (() => void) | undefined;
    const sink = (ev: WorkerEvent) => {
      queue.push(ev);
      if (ev.type === 'stopped') ended = true;
      wake?.();
    };
    const detach = (): IteratorResult<WorkerEvent> => {
      this.sinks.delete(sink);
      ended = true;
      queue.length = 0;
      wake?.();
      return { value: undefined, done: true };
    };
    if (!ended) this.sinks.add(sink);
    const iterator: AsyncIterableIterator<WorkerEvent> = {
      next: async () => {
        while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const value = queue.shift();
        return value ? { value, done: false } : detach();
      },
      return: () => Promise.resolve(detach()),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WorkerEvent> {
    return this.events();
  }

  /** Delivers `ev` to each listener on its own (E2), then to every iterator. */
  protected tell<K extends WorkerEventName>(ev: WorkerEventMap[K] & { readonly type: K }): void {
    if (this.stoppedEmitted) return;
    const name: K = ev.type;
    for (const listener of this.rawListeners(name) as ((e: WorkerEvent) => unknown)[]) {
      try {
        const r = listener.call(this, ev);
        if (r instanceof Promise) r.catch((err: unknown) => this.onListenerError(name, err));
      } catch (err) {
        this.onListenerError(name, err);
      }
    }
    if (ev.type === 'stopped') this.stoppedEmitted = true;
    for (const sink of [...this.sinks]) sink(ev);
    if (this.stoppedEmitted) this.sinks.clear();
  }
}
