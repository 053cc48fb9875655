/** The no-op job of the drain and latency figures, and waiting on a plane's ledger for events. */
import { watch } from 'node:fs';
import { join } from 'node:path';
import type { JobSpec } from '../../src/schema/job-spec.js';
import { LedgerTail } from './ledger-read.js';

/**
 * agent_task with the offline stub model: one canned turn, no tools, no network — the nearest
 * thing to a no-op that still runs the whole worker path (run header, start, handler, evidence,
 * complete).
 */
export function noopSpec(jobId: string): JobSpec {
  return {
    job_id: jobId,
    job_type: 'agent_task',
    budgets: { max_wall_time_sec: 60, max_tool_calls: 0, max_output_bytes: 65_536, max_concurrency_slots: 1 },
    tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
    payload: { prompt: 'ping', max_turns: 1 },
  };
}

const eventOf = (line: string) => /"event":"([a-z_]+)"/.exec(line)?.[1];
const jobOf = (line: string) => /"job_id":"(job-[a-z0-9]+)"/.exec(line)?.[1];

/** Follows <home>/jobs.jsonl and resolves waits as soon as the lines they need appear (fs.watch). */
export class LedgerWatch {
  private readonly tail: LedgerTail;
  private readonly watcher;
  private wake: (() => void) | undefined;
  /** Counts of events seen so far, by type. */
  readonly counts = new Map<string, number>();
  private readonly seen = new Set<string>();

  constructor(home: string) {
    this.tail = new LedgerTail(join(home, 'jobs.jsonl'));
    this.watcher = watch(home, () => this.wake?.());
  }

  /** Reads what was appended; returns true if anything was. */
  poll(): boolean {
    const lines = this.tail.read();
    for (const line of lines) {
      const ev = eventOf(line) ?? '?';
      this.counts.set(ev, (this.counts.get(ev) ?? 0) + 1);
      if (ev === 'start' || ev === 'complete' || ev === 'fail') this.seen.add(`${ev}:${jobOf(line)}`);
    }
    return lines.length > 0;
  }

  count(event: string): number {
    return this.counts.get(event) ?? 0;
  }

  /**
   * Resolves with process.hrtime.bigint() at the moment `done()` first holds after a read. With
   * `minIntervalMs`, reads are at least that far apart: a drain's observer that read on every
   * append took ≈ 10% of the two vCPUs the workers it measures need (the end it reports is then
   * up to that late, ≤ 0.5% of a drain).
   */
  async until(done: () => boolean, timeoutMs: number, what: string, minIntervalMs = 0): Promise<bigint> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const readAt = performance.now();
      this.poll();
      if (done()) return process.hrtime.bigint();
      if (performance.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(20, minIntervalMs)); // fs.watch may coalesce
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          setTimeout(resolve, Math.max(0, readAt + minIntervalMs - performance.now()));
        };
      });
    }
  }

  has(event: 'start' | 'complete' | 'fail', jobId: string): boolean {
    return this.seen.has(`${event}:${jobId}`);
  }

  close(): void {
    this.watcher.close();
    this.tail.close();
  }
}
