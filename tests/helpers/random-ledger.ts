/**
 * Random ledgers written by the engine itself: a random program of steps, each the next thing
 * that could happen to a random job in its state (claim, start, tool calls, heartbeats, complete,
 * fail, expire once the lease lapsed, retry, cancel), from several workers, submitted one by one
 * through Plane.submit on a real file with an injected clock that random waits move on. Commands
 * the machine refuses (budgets, slots, backoff, attempts) are simply not written, so whatever
 * comes out is a ledger the engine wrote.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Command } from '../../src/core/commands.js';
import { RefusedError } from '../../src/errors.js';
import { Plane } from '../../src/plane.js';
import type { JobSpec } from '../../src/schema/job-spec.js';
import { toTsUtc } from '../../src/time.js';
import { ManualClock, T0 } from './clock.js';

const WORKERS = ['w0', 'w1', 'w2'];

const opArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('enqueue' as const),
      slots: fc.integer({ min: 1, max: 2 }),
      tools: fc.integer({ min: 0, max: 3 }),
      attempts: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant('step' as const),
      job: fc.nat(5),
      variant: fc.nat(9),
      worker: fc.nat(2),
      slots: fc.integer({ min: 1, max: 4 }),
      lease: fc.integer({ min: 5, max: 60 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('wait' as const), sec: fc.integer({ min: 1, max: 90 }) }),
  },
);

/** A program: what happens, in order. */
export const programArb = fc.array(opArb, { minLength: 20, maxLength: 80, size: 'max' });
export type Program = ReturnType<typeof programArb.generate>['value'];

function spec(id: string, o: { slots: number; tools: number; attempts: number }): JobSpec {
  return {
    job_id: id,
    created_at_utc: toTsUtc(T0),
    job_type: 'agent_task',
    budgets: {
      max_wall_time_sec: 60,
      max_tool_calls: o.tools,
      max_output_bytes: 4096,
      max_concurrency_slots: o.slots,
    },
    tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: ['read_file'] },
    payload: { prompt: 'random', max_turns: 1 },
    max_attempts: o.attempts,
  };
}

/** Runs `program` through the engine in a fresh home and returns the ledger's bytes. */
export async function engineLedger(program: Program): Promise<Buffer> {
  const home = mkdtempSync(join(tmpdir(), 'execplane-random-'));
  const clock = new ManualClock(T0);
  const plane = Plane.open(home, { clock, useCheckpoint: false });
  const ids: string[] = [];
  try {
    for (const op of program) {
      clock.advance(op.k === 'wait' ? op.sec * 1000 : 250);
      const command = commandFor(op, plane, ids, clock.ms);
      if (!command) continue;
      try {
        await plane.submit([command]);
        if (command.type === 'enqueue') ids.push((command.spec as JobSpec).job_id!);
      } catch (err) {
        if (!(err instanceof RefusedError)) throw err;
      }
    }
    const ledger = join(home, 'jobs.jsonl');
    return existsSync(ledger) ? readFileSync(ledger) : Buffer.alloc(0);
  } finally {
    plane.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** The next thing that would happen to the job in its state, picked by `variant`. */
function commandFor(op: Program[number], plane: Plane, ids: string[], nowMs: number): Command | undefined {
  if (op.k === 'wait') return undefined;
  if (op.k === 'enqueue')
    return { type: 'enqueue', spec: spec(`job-random${String(ids.length).padStart(4, '0')}`, op) };
  const job_id = ids[op.job % Math.max(ids.length, 1)];
  const snap = job_id === undefined ? undefined : plane.state.get(job_id);
  if (!job_id || !snap) return undefined;
  const ctx = snap.context;
  const state = snap.value as string;
  const v = op.variant;
  const fenced = { job_id, worker_id: ctx.lease?.worker_id ?? WORKERS[op.worker]!, attempt: ctx.attempt };
  const usage = { tool_calls: ctx.tool_calls, output_bytes: 100, wall_ms: 10 };
  const lapsed = ctx.lease !== null && nowMs >= ctx.lease.expires_unix * 1000;
  if ((state === 'claimed' || state === 'running') && lapsed)
    return { type: 'expire', job_id, reaper: 'random' };
  if (v === 9) return { type: 'cancel', job_id, reason: 'random' };
  switch (state) {
    case 'queued':
      return {
        type: 'claim',
        job_id,
        worker_id: WORKERS[op.worker]!,
        worker_slots: op.slots,
        lease_sec: op.lease,
      };
    case 'claimed':
    case 'running':
      if (state === 'claimed' && v < 6)
        return { type: 'start', ...fenced, run_header_sha256: 'b'.repeat(64) };
      if (v < 4)
        return {
          type: 'tool_call',
          ...fenced,
          tool: v % 2 ? 'read_file' : 'grep',
          args_sha256: 'c'.repeat(64),
          requested_by: v % 2 ? 'model' : 'handler',
          needs: [],
        };
      if (v === 4 || v === 6) return { type: 'heartbeat', ...fenced, lease_sec: op.lease };
      if (v === 5 || v === 7) return { type: 'complete', ...fenced, result: { n: ctx.tool_calls }, usage };
      return { type: 'fail', ...fenced, error: { code: 'boom', message: 'random failure' }, usage };
    case 'failed':
    case 'expired':
      return { type: 'retry', job_id, backoff_sec: v, by: 'reaper' };
    default:
      return { type: 'cancel', job_id, reason: 'after the end' };
  }
}
