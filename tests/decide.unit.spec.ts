/** decide for enqueue (docs/spec.md §3): generated ids, idempotent repeats, and no silent re-queue (§9). */
import { describe, expect, it } from 'vitest';
import { decide, type IdSource } from '../src/core/decide.js';
import { PlaneState } from '../src/core/plane-state.js';
import { SchemaError } from '../src/errors.js';
import { monotonicJobIds } from '../src/ids.js';
import type { EventBody } from '../src/core/commands.js';
import { toTsUtc } from '../src/time.js';
import { T0 } from './helpers/clock.js';
import { at, given, type Step } from './helpers/given.js';
import { agentSpec, cmd } from './helpers/specs.js';

const J = 'job-decide0001';
const LOWER_ULID = /^job-[0-9a-hjkmnp-tv-z]{26}$/;

describe('enqueue: completing the spec', () => {
  it('generates job_id (job- + lowercase ULID) and created_at_utc when absent', () => {
    const ev = given()
      .when(at(5, cmd.enqueue(agentSpec())))
      .thenAppends({ event: 'enqueue' }, 'queued');
    if (ev.event !== 'enqueue') throw new Error('not an enqueue');
    expect(ev.job_id).toMatch(LOWER_ULID);
    expect(ev.job.job_id).toBe(ev.job_id);
    expect(ev.job.created_at_utc).toBe(toTsUtc(T0 + 5000));
    expect(ev.job.created_at_utc).toBe(ev.ts_utc);
  });

  it('generated ids sort in time order, also within one millisecond', () => {
    const source = monotonicJobIds();
    const bodies = [T0, T0 + 1, T0 + 1, T0 + 1, T0 + 60_000].map(
      (ts) => (decide(cmd.enqueue(agentSpec()), new PlaneState(), ts, source) as { body: EventBody }).body,
    );
    const ids = bodies.map((b) => b.job_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps a given job_id and created_at_utc as submitted', () => {
    const created = '2029-12-31T23:00:00Z';
    given()
      .when(at(5, cmd.enqueue(agentSpec({ job_id: J, created_at_utc: created }))))
      .thenAppends({ job_id: J, job: { job_id: J, created_at_utc: created } });
  });

  it('refuses an invalid spec with a SchemaError before looking at the state', () => {
    const bad = { ...agentSpec({ job_id: 'job-UPPER' }), extra: 1 };
    expect(() => decide(cmd.enqueue(bad), new PlaneState(), T0, monotonicJobIds())).toThrow(SchemaError);
  });

  it('is pure: deciding changes nothing in the state', () => {
    const s = given(at(0, cmd.enqueue(agentSpec({ job_id: J }))));
    const before = s.digest();
    decide(cmd.enqueue(agentSpec()), s.state, T0 + 1000, monotonicJobIds());
    decide(cmd.enqueue(agentSpec({ job_id: J })), s.state, T0 + 1000, monotonicJobIds());
    expect(s.digest()).toBe(before);
  });

  it('is pure: the same command, state, time and id source give the same event, every time', () => {
    // The ids come from the injected source, never from module state or randomness of decide's own.
    const fixed = (): IdSource => {
      let n = 0;
      return { jobId: (tsMs) => `job-fixed${String(tsMs % 1000).padStart(3, '0')}${n++}` };
    };
    const once = () =>
      [T0, T0 + 1, T0 + 1].map((ts) => decide(cmd.enqueue(agentSpec()), new PlaneState(), ts, fixed()));
    expect(once()).toEqual(once());
    expect(once().map((d) => (d as { body: EventBody }).body.job_id)).toEqual([
      'job-fixed0000',
      'job-fixed0010',
      'job-fixed0010',
    ]);
  });
});

describe('enqueue: a job_id that exists', () => {
  const spec = agentSpec({ job_id: J });
  const first = at(0, cmd.enqueue(spec));

  it('a byte-identical repeat reports the existing job (its enqueue seq) and appends nothing', () => {
    const s = given(at(0, cmd.enqueue(agentSpec({ job_id: 'job-decide0000' }))), first);
    const o = s.apply(at(10, cmd.enqueue(structuredClone(spec))));
    expect(o).toEqual({ kind: 'exists', job_id: J, seq: 2 });
    expect(s.events).toHaveLength(2);
  });

  it('key order does not matter: the spec is compared in canonical form', () => {
    const reordered = Object.fromEntries(Object.entries(spec).reverse());
    expect(given(first).apply(at(10, cmd.enqueue(reordered)))).toMatchObject({ kind: 'exists' });
  });

  it('a repeat without created_at_utc is the same job (re-running the same file is a no-op)', () => {
    const withCreated = agentSpec({ job_id: J, created_at_utc: '2029-12-31T23:00:00Z' });
    expect(given(at(0, cmd.enqueue(withCreated))).apply(at(10, cmd.enqueue(spec)))).toMatchObject({
      kind: 'exists',
    });
    expect(given(first).apply(at(10, cmd.enqueue(spec)))).toMatchObject({ kind: 'exists' });
  });

  it('a repeat with the created_at_utc the plane filled in is the same job; another one is not', () => {
    const s = given(first);
    const filled = s.context(J).created_at_utc;
    expect(s.apply(at(10, cmd.enqueue({ ...spec, created_at_utc: filled })))).toMatchObject({
      kind: 'exists',
    });
    s.when(at(10, cmd.enqueue({ ...spec, created_at_utc: '2031-01-01T00:00:00Z' }))).thenRefuses(
      'E_JOB_EXISTS',
    );
  });

  const others: [string, Step[]][] = [
    ['queued', [first]],
    ['claimed', [first, at(1, cmd.claim(J))]],
    ['running', [first, at(1, cmd.claim(J)), at(2, cmd.start(J))]],
    ['complete', [first, at(1, cmd.claim(J)), at(2, cmd.start(J)), at(3, cmd.complete(J))]],
    ['failed', [first, at(1, cmd.claim(J)), at(2, cmd.fail(J))]],
    ['cancelled', [first, at(1, cmd.cancel(J))]],
  ];

  it.each(others)(
    'a different spec for a %s job is refused E_JOB_EXISTS naming the id and state',
    (state, steps) => {
      const different = agentSpec({ job_id: J, prompt: 'something else' });
      given(...steps)
        .when(at(10, cmd.enqueue(different)))
        .thenRefuses('E_JOB_EXISTS', new RegExp(`job ${J} already exists in state ${state}`));
    },
  );

  it('a finished job is never re-queued by enqueue (docs/spec.md §9)', () => {
    const done = given(...others[3]![1]);
    expect(done.jobState(J)).toBe('complete');
    expect(done.apply(at(10, cmd.enqueue(spec)))).toMatchObject({ kind: 'exists' });
    done
      .when(at(10, cmd.enqueue(agentSpec({ job_id: J, priority: 9 }))))
      .thenRefuses('E_JOB_EXISTS', /state complete/);
    expect(done.jobState(J)).toBe('complete');
    expect(done.events.filter((e) => e.event === 'enqueue')).toHaveLength(1);
  });

  it('replay refuses a second enqueue event for the same id, even one written by hand', () => {
    const done = given(...others[3]![1]);
    const forged: EventBody = {
      event: 'enqueue',
      job_id: J,
      job: { ...spec, job_id: J, created_at_utc: '2030-01-01T00:00:00.000Z' },
    };
    done.when(at(10, forged)).thenRefuses('E_JOB_EXISTS', /state complete/);
  });
});
