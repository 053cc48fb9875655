/**
 * Property tests (issue 2, point 8): random command sequences from several simulated workers,
 * with an injected clock that moves forward by random steps (and whose reading sometimes goes
 * backwards), through `plane.submit` on real files. Then:
 *   (a) replaying the ledger from scratch gives the live plane's report;
 *   (b) replaying twice gives the same state_digest (and --at SEQ gives the live state then);
 *   (c) every invariant of docs/spec.md §4 holds on every prefix, checked by an independent model of
 *       the spec written here over the parsed events — never by the machine's own guards — and
 *       `audit` (its own rules again) finds nothing;
 *   (d) every refused command leaves the file byte-identical and the state unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { EVENT_TYPES } from '../src/schema/names.js';
import { describe, expect, it } from 'vitest';
import { WALL_TIME_GRACE_MS } from '../machines/job.guards.js';
import type { JobStateValue } from '../machines/job.types.js';
import type { Command } from '../src/core/commands.js';
import { auditBytes } from '../src/audit/audit.js';
import { isExecplaneError } from '../src/errors.js';
import { xstateEngine } from '../machines/job.machine.js';
import { tableEngine } from '../machines/job.table.js';
import { Plane } from '../src/plane.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import type { JobSpec } from '../src/schema/job-spec.js';
import { ManualClock, T0 } from './helpers/clock.js';
import { chainViolations, ledgerEvents, ledgerLines } from './helpers/ledger.js';
import { agentSpec, SHA_A } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-prop-');

const WORKERS = ['w0', 'w1', 'w2', 'w3'] as const;
const JOB_IDS = ['job-prop00000', 'job-prop00001', 'job-prop00002', 'job-prop00003'] as const;
const TOOLS = ['read_file', 'search', 'fetch', 'shell'] as const;

// ---------------------------------------------------------------------------------------------
// The world of one run, and the commands of its workers.

const jobArb = fc.record({
  max_wall_time_sec: fc.integer({ min: 1, max: 20 }),
  max_tool_calls: fc.integer({ min: 0, max: 3 }),
  max_output_bytes: fc.constantFrom(1024, 2048),
  max_concurrency_slots: fc.integer({ min: 1, max: 3 }),
  allow_network: fc.boolean(),
  allow_subprocess: fc.boolean(),
  allowed_tools: fc.subarray(['read_file', 'search', 'fetch']),
  max_attempts: fc.integer({ min: 1, max: 3 }),
  priority: fc.integer({ min: -1, max: 1 }),
});

const worldArb = fc.record({
  jobs: fc.array(jobArb, { minLength: 2, maxLength: 4 }),
  workerSlots: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 4 }),
  /** How many jobs are enqueued (in one batch) before the random commands. */
  enqueuedFirst: fc.integer({ min: 1, max: 4 }),
});
type World = ReturnType<typeof worldArb.generate>['value'];

const intentArb = fc.record({
  kind: fc.oneof(
    { arbitrary: fc.constant('enqueue' as const), weight: 3 },
    { arbitrary: fc.constant('claim' as const), weight: 8 },
    { arbitrary: fc.constant('start' as const), weight: 6 },
    { arbitrary: fc.constant('heartbeat' as const), weight: 4 },
    { arbitrary: fc.constant('tool_call' as const), weight: 8 },
    { arbitrary: fc.constant('complete' as const), weight: 4 },
    { arbitrary: fc.constant('fail' as const), weight: 2 },
    { arbitrary: fc.constant('expire' as const), weight: 4 },
    { arbitrary: fc.constant('retry' as const), weight: 4 },
    { arbitrary: fc.constant('cancel' as const), weight: 1 },
  ),
  /** Most commands go to a job in a state that takes them; the rest to any job. */
  aimed: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, fc.constant(false)),
  job: fc.nat(3),
  /** Most commands come from the lease holder; some from a random (often wrong) worker. */
  fromHolder: fc.constantFrom(true, true, true, false),
  worker: fc.nat(3),
  attempt: fc.oneof(
    { arbitrary: fc.constant('current' as const), weight: 8 },
    fc.constant('previous' as const),
    fc.constant('next' as const),
  ),
  /** Two planes on one home: two processes sharing the ledger. */
  via: fc.nat(1),
  /**
   * How far the clock moves first. `toLeaseExpiry` lands exactly on the next lease expiry, the
   * boundary of invariants 2, 3 and 6 (the holder may still write; expire and slots turn there).
   */
  advanceMs: fc.oneof(
    { arbitrary: fc.constant(0), weight: 3 },
    { arbitrary: fc.constantFrom(500, 1000, 2000, 5000), weight: 5 },
    { arbitrary: fc.integer({ min: 1, max: 999 }), weight: 2 },
    { arbitrary: fc.constantFrom(10_000, 30_000, 60_000), weight: 1 },
    { arbitrary: fc.constant('toLeaseExpiry' as const), weight: 2 },
  ),
  /** Sometimes the clock reading is behind the previous one: the store must clamp. */
  clockBehindMs: fc.option(fc.integer({ min: 1, max: 120_000 }), { freq: 8 }),
  leaseSec: fc.constantFrom(1, 5, 10, 30, 60),
  backoffSec: fc.constantFrom(0, 0, 1, 10),
  tool: fc.constantFrom(...TOOLS),
  requestedBy: fc.constantFrom('handler' as const, 'model' as const),
  needs: fc.oneof(
    { arbitrary: fc.constant([] as ('subprocess' | 'network')[]), weight: 2 },
    fc.subarray(['subprocess', 'network'] as const),
  ),
  honestUsage: fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, fc.constant(false)),
  outputBytes: fc.constantFrom(0, 100, 500, 1000, 1024, 2048, 4096),
  /** An enqueue of a different spec under the same id (must be refused). */
  variant: fc.boolean(),
});
type Intent = ReturnType<typeof intentArb.generate>['value'];

const runArb = fc.record({
  world: worldArb,
  // Mostly one command per submit; some pairs, committed together or not at all.
  steps: fc.array(fc.oneof({ arbitrary: fc.tuple(intentArb), weight: 4 }, fc.tuple(intentArb, intentArb)), {
    minLength: 10,
    maxLength: 60,
    size: 'max',
  }),
  checkpointAfter: fc.nat(60),
});

function specOf(world: World, i: number, variant = false): JobSpec {
  const j = world.jobs[i]!;
  return agentSpec({
    job_id: JOB_IDS[i]!,
    budgets: {
      max_wall_time_sec: j.max_wall_time_sec,
      max_tool_calls: j.max_tool_calls,
      max_output_bytes: j.max_output_bytes,
      max_concurrency_slots: j.max_concurrency_slots,
    },
    tool_policy: {
      allow_network: j.allow_network,
      allow_subprocess: j.allow_subprocess,
      allowed_tools: j.allowed_tools,
    },
    max_attempts: j.max_attempts,
    priority: j.priority + (variant ? 10 : 0),
  });
}

/** The states in which each command can be accepted (used only to aim commands). */
const TAKES: Record<Intent['kind'], readonly JobStateValue[]> = {
  enqueue: ['queued', 'claimed', 'running', 'complete', 'failed', 'expired', 'cancelled'],
  claim: ['queued'],
  start: ['claimed'],
  heartbeat: ['claimed', 'running'],
  tool_call: ['running'],
  complete: ['running'],
  fail: ['claimed', 'running'],
  expire: ['claimed', 'running'],
  retry: ['failed', 'expired'],
  cancel: ['queued', 'claimed', 'running'],
};

/**
 * An aimed intent goes to a job in a state that takes its command, or — when none does — turns
 * into a command some job takes; an unaimed one goes to any job, existing or not.
 */
function aim(intent: Intent, world: World, plane: Plane): { kind: Intent['kind']; job_id: string } {
  const ids = JOB_IDS.slice(0, world.jobs.length);
  const anyJob = ids[intent.job % ids.length]!;
  if (!intent.aimed || intent.kind === 'enqueue') return { kind: intent.kind, job_id: anyJob };
  const takers = (kind: Intent['kind']) =>
    ids.filter((id) => {
      const snap = plane.state.get(id);
      if (!snap || !TAKES[kind].includes(snap.value)) return false;
      return kind !== 'retry' || snap.context.attempt < snap.context.max_attempts;
    });
  const own = takers(intent.kind);
  if (own.length > 0) return { kind: intent.kind, job_id: own[intent.job % own.length]! };
  const kinds = (Object.keys(TAKES) as Intent['kind'][]).filter(
    (k) => k !== 'enqueue' && k !== 'cancel' && takers(k).length,
  );
  if (kinds.length === 0) return { kind: intent.kind, job_id: anyJob };
  const kind = kinds[intent.job % kinds.length]!;
  const jobs = takers(kind);
  return { kind, job_id: jobs[intent.job % jobs.length]! };
}

/**
 * Turns an intent into a command. It peeks at the plane's state only to aim commands where they
 * can matter (the holder, the current attempt, an honest usage); the intent then spoils them.
 */
function commandOf(intent: Intent, world: World, plane: Plane): Command {
  const { kind, job_id } = aim(intent, world, plane);
  const i = JOB_IDS.indexOf(job_id as (typeof JOB_IDS)[number]);
  const ctx = plane.state.get(job_id)?.context;
  const w = intent.worker % world.workerSlots.length;
  const worker_id = (intent.fromHolder && ctx?.lease?.worker_id) || WORKERS[w]!;
  const current = ctx?.attempt ?? 1;
  const attempt = Math.max(
    1,
    intent.attempt === 'current' ? current : intent.attempt === 'next' ? current + 1 : current - 1,
  );
  const toolCalls = ctx?.tool_calls ?? 0;
  const usage = {
    tool_calls: intent.honestUsage ? toolCalls : toolCalls + 1,
    output_bytes: intent.outputBytes,
    wall_ms: 5,
  };
  const fenced = { job_id, worker_id, attempt };
  switch (kind) {
    case 'enqueue':
      return { type: 'enqueue', spec: specOf(world, i, intent.variant) };
    case 'claim':
      return {
        type: 'claim',
        job_id,
        worker_id: WORKERS[w]!,
        worker_slots: world.workerSlots[w]!,
        lease_sec: intent.leaseSec,
      };
    case 'start':
      return { type: 'start', ...fenced, run_header_sha256: SHA_A };
    case 'heartbeat':
      return { type: 'heartbeat', ...fenced, lease_sec: intent.leaseSec };
    case 'tool_call':
      return {
        type: 'tool_call',
        ...fenced,
        tool: intent.tool,
        args_sha256: SHA_A,
        requested_by: intent.requestedBy,
        needs: intent.needs,
      };
    case 'complete':
      return { type: 'complete', ...fenced, result: { ok: true }, usage };
    case 'fail':
      return { type: 'fail', ...fenced, error: { code: 'boom', message: 'handler failed' }, usage };
    case 'expire':
      return { type: 'expire', job_id, reaper: 'prop' };
    case 'retry':
      return { type: 'retry', job_id, backoff_sec: intent.backoffSec, by: 'reaper' };
    case 'cancel':
      return { type: 'cancel', job_id, reason: 'prop' };
  }
}

function advance(now: number, by: Intent['advanceMs'], plane: Plane): number {
  if (by !== 'toLeaseExpiry') return now + by;
  const expiries = [...plane.state.ids()]
    .map((id) => plane.state.get(id)!)
    .map((snap) => (snap.context.lease ? snap.context.lease.expires_unix * 1000 : -1))
    .filter((ms) => ms >= now);
  return expiries.length ? Math.min(...expiries) : now;
}

// ---------------------------------------------------------------------------------------------
// An independent model of docs/spec.md §4 over parsed events. It knows nothing of the machine.

interface JobModel {
  readonly spec: JobSpec;
  state: JobStateValue;
  attempt: number;
  lease: { worker: string; expiresMs: number } | null;
  notBeforeMs: number;
  toolCalls: number;
  startMs: number | null;
  completes: number;
}

const LEASED: readonly JobStateValue[] = ['claimed', 'running'];

/** Violations of invariants 1–7 (8 is chainViolations), each prefixed by its number. */
function invariantViolations(events: readonly LedgerEvent[]): string[] {
  const out: string[] = [];
  const jobs = new Map<string, JobModel>();
  for (const e of events) {
    const ts = Date.parse(e.ts_utc);
    const v = (n: number, what: string) =>
      out.push(`invariant ${n}: seq ${e.seq} ${e.event} ${e.job_id}: ${what}`);
    if (e.event === 'enqueue') {
      if (jobs.has(e.job_id)) v(7, 'a second enqueue of an existing job');
      else
        jobs.set(e.job_id, {
          spec: e.job,
          state: 'queued',
          attempt: 0,
          lease: null,
          notBeforeMs: 0,
          toolCalls: 0,
          startMs: null,
          completes: 0,
        });
      continue;
    }
    const m = jobs.get(e.job_id);
    if (!m) {
      v(7, 'event for a job never enqueued');
      continue;
    }
    const maxAttempts = m.spec.max_attempts ?? 3;
    const b = m.spec.budgets;
    if (m.state === 'complete' || m.state === 'cancelled') v(7, `event after ${m.state}`);
    if (m.state === 'failed' && m.attempt >= maxAttempts) v(7, 'event after failing for good');

    if ('worker_id' in e && e.event !== 'claim' && e.event !== 'expire') {
      // Invariant 2: only the holder, with the current attempt, no later than the lease expiry.
      if (!LEASED.includes(m.state) || !m.lease) v(2, 'worker event without a live lease');
      else {
        if (e.worker_id !== m.lease.worker) v(2, `from ${e.worker_id}, lease held by ${m.lease.worker}`);
        if (e.attempt !== m.attempt) v(2, `attempt ${e.attempt}, current ${m.attempt}`);
        if (ts > m.lease.expiresMs) v(2, 'after the lease expiry');
      }
    }

    switch (e.event) {
      case 'claim': {
        if (m.state !== 'queued') v(1, `claim in state ${m.state}`);
        if (ts < m.notBeforeMs) v(1, 'claim before not_before_unix');
        if (e.attempt !== m.attempt + 1) v(2, `claim attempt ${e.attempt} after ${m.attempt}`);
        if (e.attempt > maxAttempts) v(2, 'claim past max_attempts');
        if (e.lease_expires_unix * 1000 <= ts) v(2, 'lease not in the future');
        let held = 0;
        for (const [id, other] of jobs) {
          if (id !== e.job_id && LEASED.includes(other.state) && other.lease?.worker === e.worker_id)
            if (ts <= other.lease.expiresMs) held += other.spec.budgets.max_concurrency_slots;
        }
        if (held + b.max_concurrency_slots > e.worker_slots)
          v(6, `${held} held + ${b.max_concurrency_slots} > worker_slots ${e.worker_slots}`);
        Object.assign(m, {
          state: 'claimed',
          attempt: e.attempt,
          lease: { worker: e.worker_id, expiresMs: e.lease_expires_unix * 1000 },
          toolCalls: 0,
          startMs: null,
        });
        break;
      }
      case 'start':
        if (m.state !== 'claimed') v(7, `start in state ${m.state}`);
        m.state = 'running';
        m.startMs = ts;
        break;
      case 'heartbeat':
        if (!LEASED.includes(m.state)) v(7, `heartbeat in state ${m.state}`);
        if (e.lease_expires_unix * 1000 <= ts) v(2, 'heartbeat lease not in the future');
        if (m.lease) m.lease.expiresMs = e.lease_expires_unix * 1000;
        break;
      case 'tool_call': {
        if (m.state !== 'running') v(7, `tool_call in state ${m.state}`);
        m.toolCalls += 1;
        if (m.toolCalls > b.max_tool_calls) v(4, `tool call ${m.toolCalls} of max ${b.max_tool_calls}`);
        const p = m.spec.tool_policy;
        if (e.needs.includes('subprocess') && !p.allow_subprocess) v(5, 'subprocess not allowed');
        if (e.needs.includes('network') && !p.allow_network) v(5, 'network not allowed');
        if (e.requested_by === 'model' && !p.allowed_tools.includes(e.tool)) v(5, `${e.tool} not allowed`);
        break;
      }
      case 'complete':
      case 'fail':
        if (e.event === 'complete' && m.state !== 'running') v(7, `complete in state ${m.state}`);
        if (e.event === 'fail' && !LEASED.includes(m.state)) v(7, `fail in state ${m.state}`);
        if (e.usage.output_bytes > b.max_output_bytes) v(4, 'output_bytes over budget');
        if (e.usage.tool_calls !== m.toolCalls) v(4, 'usage.tool_calls differs from the tool_call events');
        if (m.startMs !== null && ts - m.startMs > b.max_wall_time_sec * 1000 + WALL_TIME_GRACE_MS)
          v(4, 'wall time over budget + grace');
        m.state = e.event === 'complete' ? 'complete' : 'failed';
        m.lease = null;
        if (e.event === 'complete' && ++m.completes > 1) v(7, 'completed twice');
        break;
      case 'expire':
        if (!LEASED.includes(m.state) || !m.lease) v(3, `expire without a lease (state ${m.state})`);
        else {
          if (ts < m.lease.expiresMs) v(3, 'expire before the lease expiry');
          if (e.lease_expires_unix * 1000 !== m.lease.expiresMs) v(3, 'expire names another lease');
          if (e.worker_id !== m.lease.worker || e.attempt !== m.attempt) v(3, 'expire of another holder');
        }
        m.state = m.attempt >= maxAttempts ? 'failed' : 'expired';
        m.lease = null;
        break;
      case 'retry':
        if (m.state !== 'failed' && m.state !== 'expired') v(7, `retry in state ${m.state}`);
        if (m.attempt >= maxAttempts) v(2, 'retry with no attempts left');
        if (e.attempt !== m.attempt + 1) v(2, `retry names attempt ${e.attempt} after ${m.attempt}`);
        m.state = 'queued';
        m.notBeforeMs = e.not_before_unix * 1000;
        break;
      case 'cancel':
        m.state = 'cancelled';
        m.lease = null;
        break;
    }
  }
  return out;
}

/** The state and attempt of each job by the spec's transitions alone, to compare with replay. */
function modelStates(events: readonly LedgerEvent[]): Record<string, { state: string; attempt: number }> {
  const jobs: Record<string, { state: string; attempt: number }> = {};
  const maxAttempts = new Map<string, number>();
  for (const e of events) {
    if (e.event === 'enqueue') {
      jobs[e.job_id] = { state: 'queued', attempt: 0 };
      maxAttempts.set(e.job_id, e.job.max_attempts ?? 3);
      continue;
    }
    const m = jobs[e.job_id]!;
    if (e.event === 'claim') m.attempt = e.attempt;
    const exhausted = m.attempt >= maxAttempts.get(e.job_id)!;
    const to: Partial<Record<LedgerEvent['event'], string>> = {
      claim: 'claimed',
      start: 'running',
      complete: 'complete',
      fail: 'failed',
      expire: exhausted ? 'failed' : 'expired',
      retry: 'queued',
      cancel: 'cancelled',
    };
    m.state = to[e.event] ?? m.state;
  }
  return jobs;
}

// ---------------------------------------------------------------------------------------------

describe('plane: random commands from several workers', () => {
  const seenRefusals = new Map<string, number>();
  const seenEvents = new Map<string, number>();
  const count = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
  const seenEngines = new Map<string, number>();
  const ENGINE_OF = [xstateEngine.name, tableEngine.name];

  it('replay equals the live state, digests are stable, invariants 1–8 hold on every prefix, refusals change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async ({ world, steps, checkpointAfter }) => {
        const home = tmp();
        const ledger = join(home, 'jobs.jsonl');
        const clock = new ManualClock(T0);
        let now = T0;
        // The two writers decide with the two engines of the job machine (XState's own transition
        // and the table compiled from it), interleaved on one ledger; replay folds with the table.
        const planes = [
          Plane.open(home, { clock, engine: xstateEngine }),
          Plane.open(home, { clock, engine: tableEngine }),
        ]; // in ENGINE_OF order
        const liveDigestAt = new Map<number, string>();
        try {
          const first = world.jobs.slice(0, world.enqueuedFirst).map((_, i) => specOf(world, i));
          if (first.length) await planes[0]!.submit(first.map((spec) => ({ type: 'enqueue', spec })));

          for (const [n, batch] of steps.entries()) {
            const plane = planes[batch[0].via]!;
            plane.refresh();
            now = advance(now, batch[0].advanceMs, plane);
            clock.ms = now - (batch[0].clockBehindMs ?? 0);
            const commands = batch.map((intent) => commandOf(intent, world, plane));
            const bytesBefore = existsSync(ledger) ? readFileSync(ledger) : Buffer.alloc(0);
            const digestBefore = plane.report().state_digest;
            try {
              const { events } = await plane.submit(commands);
              for (const e of events) count(seenEvents, e.event);
              count(seenEngines, ENGINE_OF[batch[0].via]!, events.length);
              const r = plane.report();
              liveDigestAt.set(r.last_seq, r.state_digest);
            } catch (err) {
              // (d) a refusal is a coded error, and leaves the file and the state as they were.
              if (!isExecplaneError(err)) throw err;
              expect(err.code).not.toBe('E_EVENT_SCHEMA');
              count(seenRefusals, err.code);
              const bytesAfter = existsSync(ledger) ? readFileSync(ledger) : Buffer.alloc(0);
              expect(bytesAfter.equals(bytesBefore)).toBe(true);
              expect(plane.report().state_digest).toBe(digestBefore);
            }
            if (n === checkpointAfter) plane.maybeCheckpoint(true);
          }

          for (const p of planes) p.refresh();
          const live = planes[0]!.report();
          expect(planes[1]!.report()).toEqual(live);

          // (a) replay from line 1 equals the live state; so does a start from the checkpoint.
          const replayed = Plane.open(home, { useCheckpoint: false });
          expect(replayed.report()).toEqual(live);
          replayed.close();
          const resumed = Plane.open(home);
          expect(resumed.checkpointRejected).toBeNull();
          expect(resumed.report()).toEqual(live);
          resumed.close();

          // (b) replaying again, and from the bare file, gives the same digest.
          const again = Plane.openLedgerFile(ledger);
          expect(again.report().state_digest).toBe(live.state_digest);
          again.close();
          const seqs = [...liveDigestAt.keys()];
          for (const seq of [seqs[0], seqs[Math.floor(seqs.length / 2)], seqs.at(-2)]) {
            if (seq === undefined) continue;
            const past = Plane.open(home, { atSeq: seq, useCheckpoint: false });
            expect(past.report().state_digest).toBe(liveDigestAt.get(seq));
            past.close();
          }

          // (c) invariants on every prefix: the model checks each event against the prefix before it.
          const events = existsSync(ledger) ? ledgerEvents(ledger) : [];
          expect(chainViolations(existsSync(ledger) ? ledgerLines(ledger) : [])).toEqual([]);
          expect(invariantViolations(events)).toEqual([]);
          if (existsSync(ledger)) expect(auditBytes(readFileSync(ledger)).findings).toEqual([]);
          const fromModel = modelStates(events);
          const fromReplay = Object.fromEntries(
            Object.entries(live.jobs).map(([id, j]) => [id, { state: j.state, attempt: j.attempt }]),
          );
          expect(fromReplay).toEqual(fromModel);
        } finally {
          for (const p of planes) p.close();
        }
      }),
      { numRuns: 100 },
    );

    // Both writers wrote: each engine decided events that the other's plane and replay then folded.
    for (const name of ENGINE_OF)
      expect(seenEngines.get(name) ?? 0, `events decided by ${name}`).toBeGreaterThan(0);
    // The generator reached every event type and the common refusals: the property is not vacuous.
    for (const e of EVENT_TYPES) expect(seenEvents.get(e) ?? 0, `accepted ${e} events`).toBeGreaterThan(0);
    const common = [
      'E_LEASE_LOST',
      'E_ILLEGAL_TRANSITION',
      'E_JOB_EXISTS',
      'E_SLOTS_EXCEEDED',
      'E_LEASE_NOT_LAPSED',
      'E_BACKOFF',
      'E_POLICY_DENIED',
      'E_BUDGET_TOOL_CALLS',
      'E_BUDGET_OUTPUT',
      'E_USAGE_MISMATCH',
      'E_ATTEMPTS_EXHAUSTED',
    ];
    for (const code of common) expect(seenRefusals.get(code) ?? 0, `refusals ${code}`).toBeGreaterThan(0);
  });
});
