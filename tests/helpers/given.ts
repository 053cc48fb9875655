/**
 * given(steps).when(step).then…: the job machine as a table, through the pure core only —
 * decide → seal → schema → evolve, exactly the path `LedgerStore.commit` runs under its lock,
 * minus the file. A step is a command (decided at its time) or a raw event body (for events a
 * command can never produce, such as a claim with a skipped attempt).
 *
 * Every event runs through both engines of the job machine: the compiled table (the scenario's
 * `state`) and XState's own transition (a shadow state fed the same events), and each step
 * requires both to accept or refuse it alike — the same refusal, the same job afterwards. So every
 * scenario test is also a differential test of XState against its table (T3 of job.table.ts).
 */
import { expect } from 'vitest';
import { xstateEngine } from '../../machines/job.machine.js';
import type { JobStateValue } from '../../machines/job.types.js';
import type { Command } from '../../src/core/commands.js';
import { decide, type IdSource } from '../../src/core/decide.js';
import { PlaneState } from '../../src/core/plane-state.js';
import { monotonicJobIds } from '../../src/ids.js';
import { RefusedError } from '../../src/errors.js';
import type { EventBody } from '../../src/core/commands.js';
import { sealEvent } from '../../src/ledger/line.js';
import { buildReport } from '../../src/replay/report.js';
import type { LedgerEvent } from '../../src/schema/types.generated.js';
import { eventSchemaProblems } from '../../src/schema/validate.js';
import { toTsUtc } from '../../src/time.js';
import { T0 } from './clock.js';

export interface Step {
  /** Clock reading for this step (the store clamps it to the previous event's time). */
  readonly atMs: number;
  readonly what: Command | EventBody;
}

/** `what` happens at T0 + `sec` seconds. */
export const at = (sec: number, what: Command | EventBody): Step => ({ atMs: T0 + sec * 1000, what });

export type Outcome =
  | { readonly kind: 'appended'; readonly event: LedgerEvent }
  | { readonly kind: 'exists'; readonly job_id: string; readonly seq: number }
  | { readonly kind: 'refused'; readonly code: string; readonly message: string; readonly jobState?: string };

export class Scenario {
  readonly state = new PlaneState();
  /** The same events decided by XState's own transition (see the header). */
  readonly xstate = new PlaneState();
  readonly events: LedgerEvent[] = [];
  /** Bytes of the lines sealed so far: the offset the next line would have in a file. */
  private bytes = 0;

  constructor(private readonly ids: IdSource = monotonicJobIds()) {}

  apply(step: Step): Outcome {
    const tsMs = Math.max(step.atMs, this.state.head.tsMs);
    let body: EventBody;
    if ('type' in step.what) {
      try {
        const d = decide(step.what, this.state, tsMs, this.ids);
        if (d.kind === 'exists') return { kind: 'exists', job_id: d.job_id, seq: d.seq };
        body = d.body;
      } catch (err) {
        if (err instanceof RefusedError)
          return { kind: 'refused', code: err.code, message: err.message, jobState: err.jobState };
        throw err;
      }
    } else {
      body = step.what;
    }
    const { seq, hash } = this.state.head;
    const { event, text } = sealEvent(body, seq + 1, toTsUtc(tsMs), hash);
    const problems = eventSchemaProblems(event);
    if (problems.length) return { kind: 'refused', code: 'E_EVENT_SCHEMA', message: problems.join('; ') };
    const refusal = this.state.evolve(event, { offset: this.bytes });
    const byXState = this.xstate.evolve(event, { engine: xstateEngine, offset: this.bytes });
    expect(byXState, `XState and the table decide ${event.event} of ${event.job_id} alike`).toEqual(refusal);
    expect(this.xstate.get(event.job_id), 'XState and the table leave the job alike').toStrictEqual(
      this.state.get(event.job_id),
    );
    if (refusal) return { kind: 'refused', ...refusal };
    this.events.push(event);
    this.bytes += Buffer.byteLength(text);
    return { kind: 'appended', event };
  }

  digest(): string {
    return buildReport(this.state, null, this.events.length).state_digest;
  }

  jobState(jobId: string): JobStateValue | undefined {
    return this.state.jobState(jobId);
  }

  context(jobId: string) {
    const job = this.state.get(jobId);
    if (!job) throw new Error(`no job ${jobId} in the scenario`);
    return job.context;
  }

  when(step: Step): Then {
    const before = this.digest();
    return new Then(this, this.apply(step), before);
  }
}

export class Then {
  constructor(
    readonly scenario: Scenario,
    readonly outcome: Outcome,
    private readonly digestBefore: string,
  ) {}

  /** The event was appended; the job is now in `state` and the event carries `fields`. */
  thenAppends(fields: Partial<Record<string, unknown>> = {}, state?: JobStateValue): LedgerEvent {
    expect(this.outcome, summary(this.outcome)).toMatchObject({ kind: 'appended' });
    const event = (this.outcome as { event: LedgerEvent }).event;
    expect(event).toMatchObject(fields);
    if (state) expect(this.scenario.jobState(event.job_id)).toBe(state);
    return event;
  }

  /** Refused with `code` (and a message matching `message`); the state did not move. */
  thenRefuses(code: string, message?: RegExp): void {
    expect(this.outcome, summary(this.outcome)).toMatchObject({ kind: 'refused', code });
    if (message) expect((this.outcome as { message: string }).message).toMatch(message);
    expect(this.scenario.digest()).toBe(this.digestBefore);
  }
}

const summary = (o: Outcome) =>
  o.kind === 'refused' ? `refused ${o.code}: ${o.message}` : o.kind === 'exists' ? 'exists' : 'appended';

/** Applies `steps` in order; each must be accepted (a scenario's premise cannot be refused). */
export function given(...steps: Step[]): Scenario {
  const s = new Scenario();
  for (const step of steps) {
    const o = s.apply(step);
    if (o.kind === 'refused')
      throw new Error(`given: step ${JSON.stringify(step.what)} was refused: ${o.code} ${o.message}`);
  }
  return s;
}
