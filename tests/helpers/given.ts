/**
 * given(steps).when(step).then…: the job machine as a table, through the pure core only —
 * decide → seal → schema → evolve, exactly the path `LedgerStore.commit` runs under its lock,
 * minus the file. A step is a command (decided at its time) or a raw event body (for events a
 * command can never produce, such as a claim with a skipped attempt).
 */
import { expect } from 'vitest';
import type { JobStateValue } from '../../machines/job.types.js';
import type { Command } from '../../src/core/commands.js';
import { decide } from '../../src/core/decide.js';
import { evolve, PlaneState, stateOf } from '../../src/core/plane-state.js';
import { RefusedError } from '../../src/errors.js';
import { sealEvent, type EventBody } from '../../src/ledger/line.js';
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
  readonly events: LedgerEvent[] = [];

  apply(step: Step): Outcome {
    const tsMs = Math.max(step.atMs, this.state.lastTsMs);
    let body: EventBody;
    if ('type' in step.what) {
      try {
        const d = decide(step.what, this.state, tsMs);
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
    const { event } = sealEvent(body, this.state.lastSeq + 1, toTsUtc(tsMs), this.state.lastHash);
    const problems = eventSchemaProblems(event);
    if (problems.length) return { kind: 'refused', code: 'E_EVENT_SCHEMA', message: problems.join('; ') };
    const refusal = evolve(this.state, event);
    if (refusal) return { kind: 'refused', ...refusal };
    this.events.push(event);
    return { kind: 'appended', event };
  }

  digest(): string {
    return buildReport(this.state, null, this.events.length).state_digest;
  }

  jobState(jobId: string): JobStateValue | undefined {
    const snap = this.state.jobs.get(jobId);
    return snap && stateOf(snap);
  }

  context(jobId: string) {
    const snap = this.state.jobs.get(jobId);
    if (!snap) throw new Error(`no job ${jobId} in the scenario`);
    return snap.context;
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
