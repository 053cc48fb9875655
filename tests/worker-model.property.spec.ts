/**
 * Model-based test (fc.commands) of several workers sharing one plane, each with its own clock
 * reading (skewed, late or jumping): claims, starts, heartbeats, tool calls, completions,
 * failures, crashes, pauses, reaps. After every step:
 *   - invariants 1–8 hold: `audit` (rules of its own, not the machine's guards) finds nothing;
 *   - no acknowledged event is lost: every event a submit reported is in the file, same seq/hash;
 *   - at most one accepted terminal event per attempt, and at most one complete per job;
 *   - a refused command leaves the file byte-identical.
 */
import { readFileSync, statSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import type { Command } from '../src/core/commands.js';
import { ExecplaneError } from '../src/errors.js';
import { planePaths } from '../src/ledger/paths.js';
import { xstateEngine } from '../machines/job.machine.js';
import { tableEngine } from '../machines/job.table.js';
import { Plane } from '../src/plane.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { T0 } from './helpers/clock.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-model-');

interface Held {
  jobId: string;
  attempt: number;
  started: boolean;
  toolCalls: number;
}

/** Events appended through each engine, over the whole property run (not vacuous: both wrote). */
const appendedByEngine = new Map<string, number>();

/** One simulated worker process: its own Plane on the shared home, its own clock reading. */
class SimWorker {
  plane: Plane;
  skewMs = 0;
  held = new Map<string, Held>();
  constructor(
    readonly id: string,
    readonly slots: number,
    private readonly world: World,
  ) {
    this.plane = this.open();
  }
  /**
   * w2 decides with the table compiled from the machine, the others with XState's own
   * transition: both engines write to one ledger, and audit and replay must agree with both.
   */
  get engine() {
    return this.id === 'w2' ? tableEngine : xstateEngine;
  }
  open(): Plane {
    return Plane.open(this.world.home, {
      clock: { nowMs: () => this.world.nowMs + this.skewMs },
      engine: this.engine,
    });
  }
  /** Counts `events` as appended by this worker's engine. */
  credit(events: readonly unknown[]): void {
    const name = this.engine.name;
    appendedByEngine.set(name, (appendedByEngine.get(name) ?? 0) + events.length);
  }
  /** kill -9: the process and everything it believed are gone; a new one starts later. */
  crash(): void {
    this.plane.close();
    this.held.clear();
    this.plane = this.open();
  }
}

class World {
  nowMs = T0;
  readonly acked = new Map<number, string>();
  readonly workers: SimWorker[];
  readonly admin: Plane;
  constructor(readonly home: string) {
    this.workers = [new SimWorker('w1', 1, this), new SimWorker('w2', 2, this), new SimWorker('w3', 3, this)];
    this.admin = Plane.open(home, { clock: { nowMs: () => this.nowMs } });
  }
  get ledger(): string {
    return planePaths(this.home).ledger;
  }
  /** Submits through `plane`; records acknowledged events; checks refusals changed nothing. */
  async submit(plane: Plane, commands: Command[]): Promise<LedgerEvent[] | undefined> {
    const before = this.bytes();
    try {
      const { events } = await plane.submit(commands);
      for (const e of events) this.acked.set(e.seq, e.hash);
      return [...events];
    } catch (err) {
      if (!(err instanceof ExecplaneError) || err.exitCode !== 1) throw err;
      expect(this.bytes().equals(before)).toBe(true);
      return undefined;
    }
  }
  bytes(): Buffer {
    try {
      return readFileSync(this.ledger);
    } catch {
      return Buffer.alloc(0);
    }
  }
  close(): void {
    for (const w of this.workers) w.plane.close();
    this.admin.close();
  }
}

type Real = World;
type Model = { jobs: number };
const fenced = (w: SimWorker, h: Held) => ({ job_id: h.jobId, worker_id: w.id, attempt: h.attempt });
const heldList = (w: SimWorker) => [...w.held.values()];

class Enqueue implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly maxToolCalls: number,
    readonly slots: number,
    readonly maxAttempts: number,
    readonly allowSubprocess: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.jobs < 6;
  async run(m: Model, r: Real) {
    const spec = agentSpec({
      budgets: {
        max_tool_calls: this.maxToolCalls,
        max_concurrency_slots: this.slots,
        max_wall_time_sec: 30,
      },
      max_attempts: this.maxAttempts,
      tool_policy: { allow_subprocess: this.allowSubprocess },
    });
    if (await r.submit(r.admin, [{ type: 'enqueue', spec }])) m.jobs++;
  }
  toString = () =>
    `enqueue(tools ${this.maxToolCalls}, slots ${this.slots}, attempts ${this.maxAttempts}, subprocess ${this.allowSubprocess})`;
}

class Claim implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly w: number,
    readonly leaseSec: number,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    const w = r.workers[this.w]!;
    const claims = await w.plane.claimNext({
      worker_id: w.id,
      worker_slots: w.slots,
      lease_sec: this.leaseSec,
      max_jobs: w.slots,
    });
    w.credit(claims);
    for (const c of claims) {
      r.acked.set(c.seq, c.hash);
      w.held.set(c.job_id, { jobId: c.job_id, attempt: c.attempt, started: false, toolCalls: 0 });
    }
  }
  toString = () => `claim(w${this.w + 1}, lease ${this.leaseSec}s)`;
}

/** start / heartbeat / tool_call / complete / fail on the worker's i-th held job. */
class Act implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly w: number,
    readonly i: number,
    readonly what: 'start' | 'heartbeat' | 'tool_call' | 'complete' | 'fail',
    readonly variant: number,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    const w = r.workers[this.w]!;
    const h = heldList(w)[this.i % Math.max(1, w.held.size)];
    if (!h) return;
    const usage = { tool_calls: h.toolCalls, output_bytes: this.variant * 700, wall_ms: 5 };
    const command: Command =
      this.what === 'start'
        ? { type: 'start', ...fenced(w, h), run_header_sha256: 'b'.repeat(64) }
        : this.what === 'heartbeat'
          ? { type: 'heartbeat', ...fenced(w, h), lease_sec: 1 + this.variant }
          : this.what === 'tool_call'
            ? {
                type: 'tool_call',
                ...fenced(w, h),
                tool: this.variant % 2 ? 'exec' : 'read_file',
                args_sha256: 'c'.repeat(64),
                requested_by: this.variant % 3 ? 'handler' : 'model',
                needs: this.variant % 2 ? ['subprocess'] : [],
              }
            : this.what === 'complete'
              ? { type: 'complete', ...fenced(w, h), result: { v: this.variant }, usage }
              : {
                  type: 'fail',
                  ...fenced(w, h),
                  error: { code: 'E_TEST', message: 'x', retryable: this.variant % 2 === 0 },
                  usage,
                };
    const ok = await r.submit(w.plane, [command]);
    if (ok) w.credit(ok);
    if (ok && this.what === 'start') h.started = true;
    if (ok && this.what === 'tool_call') h.toolCalls++;
    if (ok && (this.what === 'complete' || this.what === 'fail')) w.held.delete(h.jobId);
    // A refused fenced command means the lease is gone (or the command broke a budget):
    // a real worker aborts the attempt and never writes for it again.
    if (!ok && (this.what === 'heartbeat' || this.what === 'start')) w.held.delete(h.jobId);
  }
  toString = () => `${this.what}(w${this.w + 1}, #${this.i}, v${this.variant})`;
}

class Crash implements fc.AsyncCommand<Model, Real> {
  constructor(readonly w: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    r.workers[this.w]!.crash();
  }
  toString = () => `crash(w${this.w + 1})`;
}

/** Time passes for everyone (a paused worker simply does nothing meanwhile). */
class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    r.nowMs += this.ms;
  }
  toString = () => `advance(${this.ms} ms)`;
}

/** One worker's clock runs early or late. */
class Skew implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly w: number,
    readonly ms: number,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    r.workers[this.w]!.skewMs = this.ms;
  }
  toString = () => `skew(w${this.w + 1}, ${this.ms} ms)`;
}

class Reap implements fc.AsyncCommand<Model, Real> {
  constructor(readonly w: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    const w = r.workers[this.w]!;
    const reaped = await w.plane.reap({ backoffBaseSec: 0.5, backoffMaxSec: 4 }, w.id);
    w.credit(reaped);
    for (const e of reaped) r.acked.set(e.seq, e.hash);
  }
  toString = () => `reap(w${this.w + 1})`;
}

function checkWorld(r: Real): void {
  if (statSync(r.ledger, { throwIfNoEntry: false }) === undefined) return;
  const report = auditLedgerFile(r.ledger);
  expect(report.findings).toEqual([]);
  const lines = readFileSync(r.ledger, 'utf8').split('\n').filter(Boolean);
  const events = lines.map((l) => JSON.parse(l) as LedgerEvent);
  for (const [seq, hash] of r.acked) expect(events[seq - 1]?.hash).toBe(hash);
  const terminal = new Map<string, number>();
  const completes = new Map<string, number>();
  for (const e of events) {
    if (e.event === 'complete' || e.event === 'fail') {
      const key = `${e.job_id}#${e.attempt}`;
      terminal.set(key, (terminal.get(key) ?? 0) + 1);
    }
    if (e.event === 'complete') completes.set(e.job_id, (completes.get(e.job_id) ?? 0) + 1);
  }
  for (const n of [...terminal.values(), ...completes.values()]) expect(n).toBe(1);
}

const w = fc.integer({ min: 0, max: 2 });
const act = fc
  .tuple(
    w,
    fc.nat(3),
    fc.constantFrom('start', 'heartbeat', 'tool_call', 'complete', 'fail' as const),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([i, j, what, v]) => new Act(i, j, what, v));
// Acting on held jobs is weighted up so attempts get far enough to start, call tools and finish.
const commands = [
  fc
    .tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
    )
    .map(([t, s, a, sub]) => new Enqueue(t, s, a, sub)),
  fc.tuple(w, fc.integer({ min: 1, max: 5 })).map(([i, l]) => new Claim(i, l)),
  act,
  act,
  act,
  act,
  w.map((i) => new Crash(i)),
  fc.integer({ min: 1, max: 1500 }).map((ms) => new Advance(ms)),
  fc.tuple(w, fc.integer({ min: -3000, max: 3000 })).map(([i, ms]) => new Skew(i, ms)),
  w.map((i) => new Reap(i)),
];

describe('several workers with injected clocks (model-based)', () => {
  test('invariants 1–8, no acknowledged event lost, at most one terminal event per attempt — at every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 80, size: 'max' }), async (cmds) => {
        const world = new World(tmp());
        try {
          await fc.asyncModelRun(
            () => ({
              model: { jobs: 0 },
              real: world,
            }),
            [...cmds].map((c) => ({
              check: (m: Readonly<Model>) => c.check(m),
              run: async (m: Model, r: Real) => {
                await c.run(m, r);
                checkWorld(r);
              },
              toString: () => c.toString(),
            })),
          );
        } finally {
          world.close();
        }
      }),
      { numRuns: 60 },
    );
    expect(appendedByEngine.get('xstate') ?? 0, 'events decided by XState').toBeGreaterThan(0);
    expect(appendedByEngine.get('table') ?? 0, 'events decided by the table').toBeGreaterThan(0);
  });
});
