/**
 * The job machine (docs/spec.md §4) as a table: every state × event, and every guard's refusal code,
 * through the pure core (decide → evolve). Tests are named after the invariant they pin down.
 */
import { describe, expect, it } from 'vitest';
import { WALL_TIME_GRACE_MS } from '../machines/job.guards.js';
import { JOB_STATES, type JobStateValue } from '../machines/job.types.js';
import type { Command } from '../src/core/commands.js';
import { T0 } from './helpers/clock.js';
import { at, given, type Step } from './helpers/given.js';
import { agentSpec, cmd } from './helpers/specs.js';

const J = 'job-machine001';
const K = 'job-machine002';
const spec = agentSpec({ job_id: J, max_attempts: 2 });
/** Unix seconds of T0 + `sec`. */
const unix = (sec: number) => T0 / 1000 + sec;

// How to reach each state. Leases run 60 s, so the first claim (at 1 s) lapses at 61 s.
const queued: Step[] = [at(0, cmd.enqueue(spec))];
const claimed: Step[] = [...queued, at(1, cmd.claim(J))];
const running: Step[] = [...claimed, at(2, cmd.start(J))];
const reach: Record<JobStateValue, Step[]> = {
  queued,
  claimed,
  running,
  complete: [...running, at(3, cmd.complete(J))],
  failed: [...running, at(3, cmd.fail(J))],
  expired: [...claimed, at(61, cmd.expire(J))],
  cancelled: [...queued, at(1, cmd.cancel(J))],
};

/** A well-formed command of each type from the lease holder: only the state decides its fate. */
const probes: Record<string, Step> = {
  claim: at(10, cmd.claim(J, 'w1')),
  start: at(10, cmd.start(J)),
  heartbeat: at(10, cmd.heartbeat(J)),
  tool_call: at(10, cmd.toolCall(J)),
  complete: at(10, cmd.complete(J)),
  fail: at(10, cmd.fail(J)),
  expire: at(200, cmd.expire(J)),
  retry: at(10, cmd.retry(J)),
  cancel: at(10, cmd.cancel(J)),
};

// docs/spec.md §4: the transitions the machine accepts; everything else is an illegal transition.
const legal: Record<JobStateValue, Partial<Record<keyof typeof probes, JobStateValue>>> = {
  queued: { claim: 'claimed', cancel: 'cancelled' },
  claimed: { start: 'running', heartbeat: 'claimed', fail: 'failed', expire: 'expired', cancel: 'cancelled' },
  running: {
    heartbeat: 'running',
    tool_call: 'running',
    complete: 'complete',
    fail: 'failed',
    expire: 'expired',
    cancel: 'cancelled',
  },
  complete: {},
  failed: { retry: 'queued', cancel: 'cancelled' },
  expired: { retry: 'queued', cancel: 'cancelled' },
  cancelled: {},
};

describe('the job machine: every state × event', () => {
  it('the scenarios reach every state of the spec', () => {
    for (const state of JOB_STATES) expect(given(...reach[state]).jobState(J)).toBe(state);
  });

  const table = JOB_STATES.flatMap((state) =>
    Object.keys(probes).map((event) => ({ state, event, to: legal[state][event] })),
  );

  it.each(table.filter((r) => r.to !== undefined))('$state + $event → $to', ({ state, event, to }) => {
    given(...reach[state])
      .when(probes[event]!)
      .thenAppends({ event }, to);
  });

  it.each(table.filter((r) => r.to === undefined))(
    '$state + $event → refused E_ILLEGAL_TRANSITION',
    ({ state, event }) => {
      given(...reach[state])
        .when(probes[event]!)
        .thenRefuses('E_ILLEGAL_TRANSITION', new RegExp(state));
    },
  );

  it('commands for a job that does not exist are refused E_UNKNOWN_JOB', () => {
    for (const probe of Object.values(probes))
      given().when(probe).thenRefuses('E_UNKNOWN_JOB', new RegExp(J));
  });
});

describe('invariant 1: single lease', () => {
  it('a job with a lease cannot be claimed again, by anyone', () => {
    for (const w of ['w1', 'w2']) {
      given(...claimed)
        .when(at(5, cmd.claim(J, w)))
        .thenRefuses('E_ILLEGAL_TRANSITION');
      given(...running)
        .when(at(5, cmd.claim(J, w)))
        .thenRefuses('E_ILLEGAL_TRANSITION');
    }
  });

  it('a retried job is not claimed before not_before_unix (E_BACKOFF), and is at that instant', () => {
    const backingOff = given(...reach.failed, at(10, cmd.retry(J, 30)));
    expect(backingOff.context(J).not_before_unix).toBe(unix(40));
    backingOff.when(at(39.999, cmd.claim(J, 'w2'))).thenRefuses('E_BACKOFF');
    backingOff.when(at(40, cmd.claim(J, 'w2'))).thenAppends({ attempt: 2, worker_id: 'w2' }, 'claimed');
  });

  it('a claim whose lease does not end after its own time is refused E_LEASE_INVALID', () => {
    given(...queued)
      .when(at(1, cmd.claim(J, 'w1', { lease_sec: 0 })))
      .thenRefuses('E_LEASE_INVALID');
  });
});

describe('invariant 2: fencing', () => {
  it('attempt increases by one on each claim', () => {
    const s = given(...reach.expired, at(62, cmd.retry(J)));
    s.when(at(63, cmd.claim(J, 'w2'))).thenAppends({ event: 'claim', attempt: 2 });
    expect(s.context(J).attempt).toBe(2);
  });

  it('a claim that skips or repeats an attempt is refused E_STALE_ATTEMPT', () => {
    const s = given(...reach.expired, at(62, cmd.retry(J)));
    for (const attempt of [1, 3]) {
      s.when(
        at(63, {
          event: 'claim',
          job_id: J,
          worker_id: 'w2',
          attempt,
          lease_expires_unix: unix(120),
          worker_slots: 1,
        }),
      ).thenRefuses('E_STALE_ATTEMPT');
    }
  });

  // Each worker event, in the state where the holder may send it.
  const fenced: { event: string; from: Step[]; make: (w: string, attempt: number) => Command }[] = [
    { event: 'start', from: claimed, make: (w, a) => cmd.start(J, w, a) },
    { event: 'heartbeat', from: claimed, make: (w, a) => cmd.heartbeat(J, w, a) },
    { event: 'heartbeat', from: running, make: (w, a) => cmd.heartbeat(J, w, a) },
    { event: 'tool_call', from: running, make: (w, a) => cmd.toolCall(J, w, a) },
    { event: 'complete', from: running, make: (w, a) => cmd.complete(J, w, a) },
    { event: 'fail', from: claimed, make: (w, a) => cmd.fail(J, w, a) },
    { event: 'fail', from: running, make: (w, a) => cmd.fail(J, w, a) },
  ];

  describe.each(fenced)('$event', ({ from, make }) => {
    it('from a worker that does not hold the lease → E_LEASE_LOST', () => {
      given(...from)
        .when(at(10, make('w2', 1)))
        .thenRefuses('E_LEASE_LOST', /does not hold the lease/);
    });
    it('with an attempt that is not the current one → E_LEASE_LOST', () => {
      for (const attempt of [2, 3]) {
        given(...from)
          .when(at(10, make('w1', attempt)))
          .thenRefuses('E_LEASE_LOST', /not the current attempt/);
      }
    });
    it('at a time after the lease expiry → E_LEASE_LOST (even before any expire is written)', () => {
      given(...from)
        .when(at(61.001, make('w1', 1)))
        .thenRefuses('E_LEASE_LOST', /expired/);
    });
    it('from the holder with the current attempt, up to the expiry instant itself → accepted', () => {
      given(...from)
        .when(at(61, make('w1', 1)))
        .thenAppends({ worker_id: 'w1', attempt: 1 });
    });
  });

  it('a worker that lost its lease can never write again for the job, even after a re-claim', () => {
    const reclaimed = given(...reach.expired, at(62, cmd.retry(J)), at(63, cmd.claim(J, 'w2')));
    const stale = [cmd.heartbeat(J, 'w1', 1), cmd.start(J, 'w1', 1), cmd.fail(J, 'w1', 1)];
    for (const c of stale) reclaimed.when(at(64, c)).thenRefuses('E_LEASE_LOST');
    // The new holder with the old attempt is fenced too.
    reclaimed.when(at(64, cmd.start(J, 'w2', 1))).thenRefuses('E_LEASE_LOST');
    reclaimed.when(at(64, cmd.start(J, 'w2', 2))).thenAppends({ attempt: 2 }, 'running');
    for (const c of [cmd.toolCall(J, 'w1', 1), cmd.complete(J, 'w1', 1), cmd.complete(J, 'w1', 2)])
      reclaimed.when(at(65, c)).thenRefuses('E_LEASE_LOST');
    reclaimed.when(at(65, cmd.complete(J, 'w2', 2))).thenAppends({ worker_id: 'w2' }, 'complete');
  });

  it('the same worker re-claiming gets a new attempt; its old attempt is fenced', () => {
    const s = given(...reach.expired, at(62, cmd.retry(J)), at(63, cmd.claim(J, 'w1')));
    s.when(at(64, cmd.heartbeat(J, 'w1', 1))).thenRefuses('E_LEASE_LOST', /not the current attempt/);
    s.when(at(64, cmd.heartbeat(J, 'w1', 2))).thenAppends({ attempt: 2 }, 'claimed');
  });

  it('a heartbeat extends the lease: the holder may write until the new expiry', () => {
    const s = given(...running, at(50, cmd.heartbeat(J, 'w1', 1, 60)));
    expect(s.context(J).lease?.expires_unix).toBe(unix(110));
    s.when(at(100, cmd.toolCall(J))).thenAppends({ event: 'tool_call' }, 'running');
  });

  it('a heartbeat whose lease does not end after its time is refused E_LEASE_INVALID', () => {
    given(...running)
      .when(at(10, cmd.heartbeat(J, 'w1', 1, 0)))
      .thenRefuses('E_LEASE_INVALID');
  });
});

describe('invariant 3: expiry is an event', () => {
  it('expire before the lease expiry is refused E_LEASE_NOT_LAPSED', () => {
    given(...running)
      .when(at(60.999, cmd.expire(J)))
      .thenRefuses('E_LEASE_NOT_LAPSED');
  });

  it('expire at the lease expiry is accepted and records the lapsed lease', () => {
    const ev = given(...running)
      .when(at(61, cmd.expire(J)))
      .thenAppends({ attempt: 1, worker_id: 'w1', lease_expires_unix: unix(61) }, 'expired');
    expect(ev.event).toBe('expire');
  });

  it('expire respects a lease extended by heartbeat', () => {
    const s = given(...running, at(50, cmd.heartbeat(J)));
    s.when(at(109.999, cmd.expire(J))).thenRefuses('E_LEASE_NOT_LAPSED');
    s.when(at(110, cmd.expire(J))).thenAppends({ lease_expires_unix: unix(110) }, 'expired');
  });

  it('an expire event that names another lease, worker or attempt is refused', () => {
    const body = (o: { worker_id?: string; attempt?: number; lease_expires_unix?: number }) =>
      at(100, {
        event: 'expire',
        job_id: J,
        worker_id: o.worker_id ?? 'w1',
        attempt: o.attempt ?? 1,
        lease_expires_unix: o.lease_expires_unix ?? unix(61),
      });
    given(...running)
      .when(body({ lease_expires_unix: unix(60) }))
      .thenRefuses('E_LEASE_MISMATCH');
    given(...running)
      .when(body({ worker_id: 'w2' }))
      .thenRefuses('E_LEASE_LOST');
    given(...running)
      .when(body({ attempt: 2 }))
      .thenRefuses('E_LEASE_LOST');
    given(...running)
      .when(body({}))
      .thenAppends({}, 'expired');
  });

  it('without an expire event a lapsed lease stays claimed, however late the next event', () => {
    const s = given(...claimed, at(0, cmd.enqueue(agentSpec({ job_id: K }))), at(86_400, cmd.cancel(K)));
    expect(s.jobState(J)).toBe('claimed');
    expect(s.context(J).lease).toEqual({ worker_id: 'w1', expires_unix: unix(61) });
  });

  it('expire of the last attempt ends the job failed with E_ATTEMPTS_EXHAUSTED, never queued again', () => {
    const last = given(...reach.expired, at(62, cmd.retry(J)), at(63, cmd.claim(J, 'w2')));
    last.when(at(123, cmd.expire(J))).thenAppends({ attempt: 2 }, 'failed');
    expect(last.context(J).error).toMatchObject({ code: 'E_ATTEMPTS_EXHAUSTED', retryable: false });
    last.when(at(124, cmd.retry(J))).thenRefuses('E_ATTEMPTS_EXHAUSTED');
    last.when(at(124, cmd.cancel(J))).thenRefuses('E_ATTEMPTS_EXHAUSTED');
    last.when(at(124, cmd.claim(J, 'w3'))).thenRefuses('E_ILLEGAL_TRANSITION');
  });

  it('a retry after the last attempt failed is refused E_ATTEMPTS_EXHAUSTED', () => {
    const s = given(
      ...reach.failed,
      at(10, cmd.retry(J)),
      at(11, cmd.claim(J, 'w1')),
      at(12, cmd.start(J, 'w1', 2)),
      at(13, cmd.fail(J, 'w1', 2)),
    );
    s.when(at(14, cmd.retry(J))).thenRefuses('E_ATTEMPTS_EXHAUSTED');
  });
});

describe('invariant 4: budgets', () => {
  it('a tool_call past max_tool_calls is refused E_BUDGET_TOOL_CALLS', () => {
    const s = given(...running, at(3, cmd.toolCall(J)), at(4, cmd.toolCall(J)));
    s.when(at(5, cmd.toolCall(J))).thenRefuses('E_BUDGET_TOOL_CALLS');
    s.when(at(5, cmd.complete(J, 'w1', 1, { tool_calls: 2 }))).thenAppends({}, 'complete');
  });

  it('max_tool_calls 0 allows no tool_call at all', () => {
    given(
      at(0, cmd.enqueue(agentSpec({ job_id: J, budgets: { max_tool_calls: 0 } }))),
      at(1, cmd.claim(J)),
      at(2, cmd.start(J)),
    )
      .when(at(3, cmd.toolCall(J)))
      .thenRefuses('E_BUDGET_TOOL_CALLS');
  });

  it('the tool_call count restarts with each attempt', () => {
    const s = given(
      ...running,
      at(3, cmd.toolCall(J)),
      at(4, cmd.toolCall(J)),
      at(61, cmd.expire(J)),
      at(62, cmd.retry(J)),
      at(63, cmd.claim(J)),
      at(64, cmd.start(J, 'w1', 2)),
      at(65, cmd.toolCall(J, 'w1', 2)),
    );
    s.when(at(66, cmd.toolCall(J, 'w1', 2))).thenAppends({ attempt: 2 });
    s.when(at(67, cmd.toolCall(J, 'w1', 2))).thenRefuses('E_BUDGET_TOOL_CALLS');
  });

  it.each(['complete', 'fail'] as const)(
    '%s with usage.output_bytes over max_output_bytes is refused E_BUDGET_OUTPUT',
    (event) => {
      given(...running)
        .when(at(5, cmd[event](J, 'w1', 1, { output_bytes: 4097 })))
        .thenRefuses('E_BUDGET_OUTPUT');
      given(...running)
        .when(at(5, cmd[event](J, 'w1', 1, { output_bytes: 4096 })))
        .thenAppends({ event });
    },
  );

  it.each(['complete', 'fail'] as const)(
    '%s later than max_wall_time_sec + grace after start is refused E_BUDGET_WALL_TIME',
    (event) => {
      // start at 2 s; max_wall_time_sec 60; a heartbeat keeps the lease live past the budget.
      const s = given(...running, at(50, cmd.heartbeat(J, 'w1', 1, 120)));
      const limit = 2 + 60 + WALL_TIME_GRACE_MS / 1000;
      s.when(at(limit + 0.001, cmd[event](J))).thenRefuses('E_BUDGET_WALL_TIME');
      s.when(at(limit, cmd[event](J))).thenAppends({ event });
    },
  );

  it.each(['complete', 'fail'] as const)(
    '%s whose usage.tool_calls differs from the tool_call events is refused E_USAGE_MISMATCH',
    (event) => {
      const s = given(...running, at(3, cmd.toolCall(J)));
      for (const tool_calls of [0, 2]) {
        s.when(at(4, cmd[event](J, 'w1', 1, { tool_calls }))).thenRefuses('E_USAGE_MISMATCH');
      }
      s.when(at(4, cmd[event](J, 'w1', 1, { tool_calls: 1 }))).thenAppends({ event });
    },
  );
});

describe('invariant 5: policy', () => {
  const policies = {
    closed: { allow_network: false, allow_subprocess: false, allowed_tools: ['read_file'] },
    subprocess: { allow_network: false, allow_subprocess: true, allowed_tools: ['read_file'] },
    network: { allow_network: true, allow_subprocess: false, allowed_tools: ['read_file'] },
  };
  type Call = Parameters<typeof cmd.toolCall>[3];
  const cases: { policy: keyof typeof policies; call: Call; allowed: boolean }[] = [
    { policy: 'closed', call: { requested_by: 'handler', tool: 'walk', needs: [] }, allowed: true },
    { policy: 'closed', call: { requested_by: 'model', tool: 'read_file', needs: [] }, allowed: true },
    { policy: 'closed', call: { requested_by: 'model', tool: 'write_file', needs: [] }, allowed: false },
    {
      policy: 'closed',
      call: { requested_by: 'handler', tool: 'run', needs: ['subprocess'] },
      allowed: false,
    },
    {
      policy: 'closed',
      call: { requested_by: 'handler', tool: 'fetch', needs: ['network'] },
      allowed: false,
    },
    {
      policy: 'subprocess',
      call: { requested_by: 'handler', tool: 'run', needs: ['subprocess'] },
      allowed: true,
    },
    {
      policy: 'subprocess',
      call: { requested_by: 'handler', tool: 'run', needs: ['subprocess', 'network'] },
      allowed: false,
    },
    {
      policy: 'network',
      call: { requested_by: 'handler', tool: 'fetch', needs: ['network'] },
      allowed: true,
    },
    { policy: 'network', call: { requested_by: 'model', tool: 'fetch', needs: ['network'] }, allowed: false },
    {
      policy: 'network',
      call: { requested_by: 'model', tool: 'read_file', needs: ['network'] },
      allowed: true,
    },
  ];

  it.each(cases)(
    '$policy policy, $call.requested_by $call.tool needs $call.needs → allowed $allowed',
    (c) => {
      const s = given(
        at(0, cmd.enqueue(agentSpec({ job_id: J, tool_policy: policies[c.policy] }))),
        at(1, cmd.claim(J)),
        at(2, cmd.start(J)),
      );
      const then = s.when(at(3, cmd.toolCall(J, 'w1', 1, c.call)));
      if (c.allowed) then.thenAppends({ event: 'tool_call', tool: c.call?.tool }, 'running');
      else then.thenRefuses('E_POLICY_DENIED', new RegExp(`tool ${c.call?.tool}`));
    },
  );
});

describe('invariant 6: slots', () => {
  const big = agentSpec({ job_id: J, budgets: { max_concurrency_slots: 2 } });
  const small = agentSpec({ job_id: K, budgets: { max_concurrency_slots: 1 } });
  const holding = [
    at(0, cmd.enqueue(big)),
    at(0, cmd.enqueue(small)),
    at(1, cmd.claim(J, 'w1', { slots: 2 })),
  ];

  it('a claim beyond the worker_slots the worker declared is refused E_SLOTS_EXCEEDED', () => {
    const s = given(...holding);
    s.when(at(2, cmd.claim(K, 'w1', { slots: 2 }))).thenRefuses('E_SLOTS_EXCEEDED', /holds 2 slot/);
    s.when(at(2, cmd.claim(K, 'w1', { slots: 3 }))).thenAppends({ worker_slots: 3 }, 'claimed');
  });

  it('a job larger than the worker is refused E_SLOTS_EXCEEDED', () => {
    given(at(0, cmd.enqueue(big)))
      .when(at(1, cmd.claim(J, 'w1', { slots: 1 })))
      .thenRefuses('E_SLOTS_EXCEEDED');
  });

  it("slots are per worker: another worker's leases do not count", () => {
    given(...holding)
      .when(at(2, cmd.claim(K, 'w2', { slots: 1 })))
      .thenAppends({}, 'claimed');
  });

  it('slots come back when the lease ends (complete, fail, expire, cancel)', () => {
    const ends: Step[][] = [
      [at(2, cmd.start(J)), at(3, cmd.complete(J))],
      [at(2, cmd.fail(J))],
      [at(61, cmd.expire(J))],
      [at(2, cmd.cancel(J))],
    ];
    for (const end of ends) {
      given(...holding, ...end)
        .when(at(70, cmd.claim(K, 'w1', { slots: 2 })))
        .thenAppends({}, 'claimed');
    }
  });

  it('a lease is held up to and including its expiry instant, as for fencing; after it, slots are free', () => {
    // The holder may still write at exactly 61 s (invariant 2), so the slots are still in use then.
    const s = given(...holding);
    s.when(at(61, cmd.claim(K, 'w1', { slots: 2 }))).thenRefuses('E_SLOTS_EXCEEDED');
    s.when(at(61.001, cmd.claim(K, 'w1', { slots: 2 }))).thenAppends({}, 'claimed');
  });
});

describe('invariant 7: terminal is terminal', () => {
  it('complete and cancelled accept nothing', () => {
    for (const state of ['complete', 'cancelled'] as const) {
      const s = given(...reach[state]);
      for (const probe of Object.values(probes)) s.when(probe).thenRefuses('E_ILLEGAL_TRANSITION');
    }
  });

  it('a job completes at most once', () => {
    const s = given(...reach.complete);
    s.when(at(4, cmd.complete(J))).thenRefuses('E_ILLEGAL_TRANSITION', /complete/);
    expect(s.events.filter((e) => e.event === 'complete')).toHaveLength(1);
  });

  it('cancel of a claimed or running job ends its lease', () => {
    for (const from of [claimed, running]) {
      const s = given(...from);
      s.when(at(5, cmd.cancel(J, 'superseded'))).thenAppends({ reason: 'superseded' }, 'cancelled');
      expect(s.context(J).lease).toBeNull();
      expect(s.context(J).cancel_reason).toBe('superseded');
    }
  });
});
