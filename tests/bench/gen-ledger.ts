/**
 * A deterministic, realistic ledger for the benchmarks: `events` lines over `jobs` jobs, seeded.
 *
 * A small simulation of 4 workers × 8 slots writes what real ones would: enqueues with full
 * specs of all four job types, claims, starts, heartbeats, tool calls (policy-allowed, within
 * budget), completions with usage and evidence, and a few failures with retries, lapsed leases
 * (expire + retry) and cancels. Every line is sealed with the library's own `sealEvent`, so the
 * file replays and audits clean — but it is written in large buffered chunks, not one fsync per
 * event, so a million lines take seconds.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { sha256Hex, ZERO_HASH } from '../../src/canonical.js';
import type { EventBody } from '../../src/core/commands.js';
import { sealEvent } from '../../src/ledger/line.js';
import type { JobSpec, StoredJob } from '../../src/schema/job-spec.js';
import { seededRng, type Rng } from './rng.js';

export interface LedgerShape {
  readonly events: number;
  readonly jobs: number;
  readonly seed?: number;
}

export interface GeneratedLedger {
  readonly path: string;
  readonly events: number;
  readonly jobs: number;
  readonly bytes: number;
}

/** 2026-01-01T00:00:00.000Z: fixed, so the same seed gives the same bytes. */
export const GEN_T0_MS = Date.UTC(2026, 0, 1);
const WORKERS = ['bench-w1', 'bench-w2', 'bench-w3', 'bench-w4'] as const;
const WORKER_SLOTS = 8;
const LEASE_MS = 60_000;
/** The lease of an attempt the simulation lets lapse (its worker "crashed"). */
const SHORT_LEASE_MS = 1_500;
const FLUSH_BYTES = 4 << 20;

type Step = 'start' | 'heartbeat' | 'tool_call' | 'complete' | 'fail' | 'hang';

interface SimJob {
  readonly id: string;
  readonly spec: JobSpec;
  readonly slots: number;
  attempt: number;
  notBeforeMs: number;
  worker?: string;
  leaseExpiresMs: number;
  toolCalls: number;
  steps: Step[];
}

const unix = (ms: number) => Math.round(ms) / 1000;

export function generateLedger(path: string, shape: LedgerShape): GeneratedLedger {
  const rng = seededRng(shape.seed ?? 20260101);
  const fd = openSync(path, 'w');
  let chunks: string[] = [];
  let pending = 0;
  let bytes = 0;
  let seq = 0;
  let prev = ZERO_HASH;
  let ts = GEN_T0_MS;
  let enqueued = 0;
  const queue: SimJob[] = [];
  const active: SimJob[] = [];
  const held = new Map<string, number>(WORKERS.map((w) => [w, 0]));

  const emit = (body: EventBody) => {
    ts += rng.int(0, 2);
    seq += 1;
    const { event, text } = sealEvent(body, seq, new Date(ts).toISOString(), prev);
    prev = event.hash;
    chunks.push(text);
    pending += text.length;
    if (pending >= FLUSH_BYTES) flush();
  };
  const flush = () => {
    const buf = Buffer.from(chunks.join(''));
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    bytes += buf.length;
    chunks = [];
    pending = 0;
  };
  const release = (job: SimJob) => {
    held.set(job.worker!, held.get(job.worker!)! - job.slots);
    active.splice(active.indexOf(job), 1);
    job.worker = undefined;
  };
  const fenced = (job: SimJob) => ({ job_id: job.id, worker_id: job.worker!, attempt: job.attempt });

  const enqueue = () => {
    enqueued += 1;
    const id = jobId(rng, enqueued);
    const spec = jobSpec(rng, id, new Date(ts).toISOString());
    emit({ event: 'enqueue', job_id: id, job: spec });
    queue.push({
      id,
      spec,
      slots: spec.budgets.max_concurrency_slots,
      attempt: 0,
      notBeforeMs: 0,
      leaseExpiresMs: 0,
      toolCalls: 0,
      steps: [],
    });
  };

  const claim = (): boolean => {
    const i = queue.findIndex((j) => j.notBeforeMs <= ts);
    if (i < 0) return false;
    const job = queue[i]!;
    const worker = WORKERS.find((w) => held.get(w)! + job.slots <= WORKER_SLOTS);
    if (!worker) return false;
    if (rng.chance(0.003)) {
      queue.splice(i, 1);
      emit({ event: 'cancel', job_id: job.id, reason: 'superseded by a newer request' });
      return true;
    }
    queue.splice(i, 1);
    job.attempt += 1;
    job.worker = worker;
    job.toolCalls = 0;
    held.set(worker, held.get(worker)! + job.slots);
    active.push(job);
    job.steps = script(rng, job, shape.events / shape.jobs);
    const lapses = job.steps.at(-1) === 'hang';
    emit({ event: 'claim', ...fenced(job), worker_slots: WORKER_SLOTS, ...lease(job, lapses) });
    return true;
  };
  const lease = (job: SimJob, short = false) => {
    job.leaseExpiresMs = ts + 2 + (short ? SHORT_LEASE_MS : LEASE_MS);
    return { lease_expires_unix: unix(job.leaseExpiresMs) };
  };

  const retry = (job: SimJob) => {
    if (job.attempt >= (job.spec.max_attempts ?? 3)) return;
    job.notBeforeMs = ts + 1000 * 2 ** (job.attempt - 1);
    emit({
      event: 'retry',
      job_id: job.id,
      attempt: job.attempt + 1,
      not_before_unix: unix(job.notBeforeMs),
      by: 'reaper',
    });
    queue.push(job);
  };

  const advance = (job: SimJob) => {
    const step = job.steps[0]!;
    if (step === 'hang') {
      // A crashed worker: nothing more from it; a reaper expires the lease once it has lapsed.
      if (ts < job.leaseExpiresMs) {
        ts += 1;
        return;
      }
      const worker = job.worker!;
      release(job);
      emit({
        event: 'expire',
        job_id: job.id,
        attempt: job.attempt,
        worker_id: worker,
        lease_expires_unix: unix(job.leaseExpiresMs),
        reaper: rng.pick(WORKERS),
      });
      retry(job);
      return;
    }
    job.steps.shift();
    const usage = () => ({
      tool_calls: job.toolCalls,
      output_bytes: rng.int(200, Math.min(60_000, job.spec.budgets.max_output_bytes)),
      wall_ms: rng.int(5, 900),
    });
    switch (step) {
      case 'start':
        return emit({ event: 'start', ...fenced(job), run_header_sha256: hex(rng) });
      case 'heartbeat':
        return emit({ event: 'heartbeat', ...fenced(job), ...lease(job) });
      case 'tool_call': {
        job.toolCalls += 1;
        const model = job.spec.job_type === 'agent_task';
        const subprocess = job.spec.job_type === 'test_runner_task';
        return emit({
          event: 'tool_call',
          ...fenced(job),
          tool: model ? rng.pick(job.spec.tool_policy.allowed_tools) : subprocess ? 'exec' : 'read_file',
          args_sha256: hex(rng),
          requested_by: model ? 'model' : 'handler',
          needs: subprocess ? ['subprocess'] : [],
        });
      }
      case 'complete': {
        const body = { event: 'complete' as const, ...fenced(job), usage: usage() };
        release(job);
        return emit({ ...body, result: resultOf(rng, job.spec), evidence: evidence(rng, job.attempt) });
      }
      case 'fail': {
        const body = { event: 'fail' as const, ...fenced(job), usage: usage() };
        release(job);
        emit({
          ...body,
          error: { code: 'E_HANDLER', message: 'the handler threw: ENOENT docs/missing.md', retryable: true },
          evidence: evidence(rng, job.attempt).slice(0, 1),
        });
        return retry(job);
      }
    }
  };

  while (seq < shape.events) {
    const due = Math.ceil(((seq + 1) * shape.jobs) / shape.events);
    if (enqueued < shape.jobs && (enqueued < due || (queue.length === 0 && active.length === 0))) {
      enqueue();
    } else if (
      queue.length > 0 &&
      active.length < WORKERS.length * WORKER_SLOTS &&
      rng.chance(0.5) &&
      claim()
    ) {
      // claimed (or cancelled) a queued job
    } else if (active.length > 0) {
      advance(rng.pick(active));
    } else if (!claim()) {
      if (queue.length === 0) break; // every job has ended: the ledger is as long as it gets
      ts += 50; // everything waits on a backoff: let time pass
    }
  }
  flush();
  closeSync(fd);
  return { path, events: seq, jobs: enqueued, bytes };
}

/** What an attempt does after its claim; 'hang' = its worker dies and the lease lapses. */
function script(rng: Rng, job: SimJob, eventsPerJob: number): Step[] {
  const steps: Step[] = ['start'];
  // A worker that dies after its first tool call: no heartbeat, so its short lease lapses.
  if (rng.chance(0.004))
    return job.spec.budgets.max_tool_calls > 0 ? [...steps, 'tool_call', 'hang'] : [...steps, 'hang'];
  const calls = Math.min(job.spec.budgets.max_tool_calls, rng.int(1, 5));
  for (let i = 0; i < calls; i++) {
    steps.push('tool_call');
    if (rng.chance(0.4)) steps.push('heartbeat');
  }
  // enqueue + claim + start + 3 tool calls + 1.2 heartbeats + 1 + end ≈ 9.2 events; more
  // heartbeats (a long-running job) bring the mean to eventsPerJob.
  const extra = Math.max(0, eventsPerJob - 9.2);
  const beats = 1 + Math.floor(extra) + (rng.chance(extra % 1) ? 1 : 0);
  for (let i = 0; i < beats; i++) steps.push('heartbeat');
  steps.push(rng.chance(0.025) ? 'fail' : 'complete');
  return steps;
}

function hex(rng: Rng): string {
  return sha256Hex(String(rng.next()));
}

function jobId(rng: Rng, n: number): string {
  return `job-${n.toString(36).padStart(6, '0')}${Math.floor(rng.next() * 36 ** 8)
    .toString(36)
    .padStart(8, '0')}`;
}

const TOOLS = ['read_file', 'list_dir', 'grep', 'web_search', 'run_tests', 'summarize'];

/** A realistic spec of one of the four job types (full payloads, budgets, policies). */
export function jobSpec(rng: Rng, job_id: string, created_at_utc: string): StoredJob {
  const budgets = {
    max_wall_time_sec: rng.pick([60, 300, 600, 1800]),
    max_tool_calls: rng.pick([4, 8, 16, 32]),
    max_output_bytes: rng.pick([65_536, 262_144, 1_048_576]),
    max_concurrency_slots: rng.chance(0.8) ? 1 : 2,
  };
  const common = { job_id, created_at_utc, budgets, priority: rng.pick([0, 0, 0, 5, 10]), max_attempts: 3 };
  const meta = { source: 'bench', requested_by: rng.pick(['assistant', 'cron', 'operator']) };
  switch (rng.int(0, 3)) {
    case 0:
      return {
        ...common,
        job_type: 'repo_index_task',
        tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
        payload: {
          include_globs: ['src/**/*.ts', 'machines/**/*.ts', 'docs/**/*.md'],
          exclude_globs: ['**/*.generated.ts', 'node_modules/**'],
          max_files: rng.pick([500, 5000, 20000]),
          max_file_bytes: 65_536,
          keywords: ['lease', 'fencing', 'checkpoint', 'torn tail'],
        },
        meta,
      };
    case 1:
      return {
        ...common,
        job_type: 'doc_compactor_task',
        tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
        payload: {
          inputs: ['README.md', 'docs/architecture.md', `docs/notes/${job_id}.md`],
          max_input_bytes: 262_144,
          max_output_bytes: 16_384,
          title: `weekly notes ${rng.int(1, 52)}`,
        },
        meta,
      };
    case 2:
      return {
        ...common,
        job_type: 'test_runner_task',
        tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: [] },
        payload: {
          commands: [
            ['npm', 'test', '--', `--shard=${rng.int(1, 8)}/8`],
            ['node', '--version'],
          ],
          timeout_sec: 600,
          env_allow: ['CI', 'NODE_OPTIONS'],
        },
        meta,
      };
    default:
      return {
        ...common,
        job_type: 'agent_task',
        tool_policy: {
          allow_network: false,
          allow_subprocess: false,
          allowed_tools: TOOLS.filter(() => rng.chance(0.6))
            .concat('read_file')
            .filter((t, i, a) => a.indexOf(t) === i),
        },
        payload: {
          prompt: `Summarise the open issues touching ${rng.pick(['the ledger', 'the worker', 'replay', 'the sandbox'])} and propose next steps.`,
          system: 'You are a careful assistant working offline on a local repository.',
          model: 'stub',
          max_turns: rng.int(2, 8),
        },
        meta,
      };
  }
}

function resultOf(rng: Rng, spec: JobSpec): Record<string, unknown> {
  switch (spec.job_type) {
    case 'repo_index_task':
      return { files_indexed: rng.int(10, 5000), keyword_hits: rng.int(0, 300), skipped: rng.int(0, 20) };
    case 'doc_compactor_task':
      return {
        input_bytes: rng.int(1000, 200_000),
        output_bytes: rng.int(500, 16_000),
        sections: rng.int(1, 30),
      };
    case 'test_runner_task':
      return { commands: 2, passed: 2, failed: 0, duration_ms: rng.int(100, 90_000) };
    default:
      return { turns: rng.int(1, 8), finish_reason: 'stop', answer_sha256: hex(rng) };
  }
}

function evidence(rng: Rng, attempt: number) {
  return [
    { path: `attempt-${attempt}/run-header.json`, sha256: hex(rng), bytes: rng.int(600, 900) },
    { path: `attempt-${attempt}/output.json`, sha256: hex(rng), bytes: rng.int(200, 60_000) },
  ];
}
