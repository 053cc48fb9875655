/**
 * The golden ledgers of fixtures/ledgers/ and the legacy ledgers of fixtures/legacy/, generated
 * deterministically: valid ledgers by the engine itself (Plane.submit with a fixed injected clock
 * and explicit job ids), invalid ones by sealing event bodies by hand (a chain the machine never
 * saw) or by damaging a valid one. Each fixture declares by hand what it must give: the job states
 * of a valid ledger, the findings (line and code) of an invalid one, the anomalies of a legacy one.
 * Replay's state_digest of each valid ledger is recorded as a golden value.
 *
 * tests/golden.e2e.spec.ts regenerates everything and requires the committed files to be
 * byte-identical; after an intended change, rewrite them with `npm run fixtures`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { JobStateValue } from '../../machines/job.types.js';
import { canonicalJson, sha256Hex, ZERO_HASH } from '../../src/canonical.js';
import type { Command } from '../../src/core/commands.js';
import type { AnomalyCode } from '../../src/legacy/anomalies.js';
import { importLegacy } from '../../src/legacy/import-legacy.js';
import type { EventBody } from '../../src/core/commands.js';
import { sealEvent } from '../../src/ledger/line.js';
import { Plane } from '../../src/plane.js';
import type { Usage } from '../../src/schema/types.generated.js';
import type { JobSpec } from '../../src/schema/job-spec.js';
import { toTsUtc } from '../../src/time.js';
import { ManualClock } from './clock.js';

/** 2030-01-01T00:00:00.000Z: every generated v1 ledger starts here. */
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (sec: number) => T0 + sec * 1000;
const unix = (sec: number) => at(sec) / 1000;
const SHA = (s: string) => sha256Hex(s);

export interface ValidFixture {
  readonly file: string;
  readonly about: string;
  readonly states: Record<string, JobStateValue>;
}
export interface InvalidFixture {
  readonly file: string;
  readonly about: string;
  /** `line code`, in the order the audit reports them. */
  readonly findings: readonly string[];
  readonly expect_head?: string;
  readonly evidence?: boolean;
}
export interface LedgerManifest {
  readonly valid: Record<string, ValidFixture & { readonly state_digest: string; readonly last_seq: number }>;
  readonly invalid: Record<string, InvalidFixture>;
}
export interface LegacyManifest {
  readonly [file: string]: {
    readonly about: string;
    /** `line code` of every anomaly import-legacy must report, in line order. */
    readonly anomalies: readonly string[];
    /** The imported v1 ledger (a valid golden ledger). */
    readonly imported: string;
  };
}

// ---------------------------------------------------------------------------------------------
// Specs and event bodies

interface SpecOptions {
  readonly tools?: number;
  readonly slots?: number;
  readonly wall?: number;
  readonly output?: number;
  readonly attempts?: number;
  readonly subprocess?: boolean;
  readonly allowed?: string[];
  readonly modelTokens?: number;
}

function spec(id: string, o: SpecOptions = {}): JobSpec {
  return {
    job_id: id,
    created_at_utc: toTsUtc(T0),
    job_type: 'agent_task',
    budgets: {
      max_wall_time_sec: o.wall ?? 60,
      max_tool_calls: o.tools ?? 4,
      max_output_bytes: o.output ?? 8192,
      max_concurrency_slots: o.slots ?? 1,
      ...(o.modelTokens !== undefined ? { max_model_tokens: o.modelTokens } : {}),
    },
    tool_policy: {
      allow_network: false,
      allow_subprocess: o.subprocess ?? false,
      allowed_tools: o.allowed ?? ['read_file', 'search'],
    },
    payload: { prompt: `golden ledger job ${id}`, max_turns: 2 },
    ...(o.attempts !== undefined ? { max_attempts: o.attempts } : {}),
  };
}

const usage = (tool_calls = 0, output_bytes = 512, wall_ms = 1000): Usage => ({
  tool_calls,
  output_bytes,
  wall_ms,
});

/** Commands, so a scenario reads as "claim J as w1". */
const c = {
  enqueue: (s: JobSpec): Command => ({ type: 'enqueue', spec: s }),
  claim: (job_id: string, worker_id: string, worker_slots = 1, lease_sec = 60): Command => ({
    type: 'claim',
    job_id,
    worker_id,
    worker_slots,
    lease_sec,
  }),
  start: (job_id: string, worker_id: string, attempt = 1): Command => ({
    type: 'start',
    job_id,
    worker_id,
    attempt,
    run_header_sha256: SHA(`run header ${job_id} ${attempt}`),
  }),
  heartbeat: (job_id: string, worker_id: string, attempt = 1, lease_sec = 60): Command => ({
    type: 'heartbeat',
    job_id,
    worker_id,
    attempt,
    lease_sec,
  }),
  tool: (
    job_id: string,
    worker_id: string,
    tool: string,
    o: { attempt?: number; by?: 'handler' | 'model'; needs?: ('subprocess' | 'network')[] } = {},
  ): Command => ({
    type: 'tool_call',
    job_id,
    worker_id,
    attempt: o.attempt ?? 1,
    tool,
    args_sha256: SHA(`${tool} args`),
    requested_by: o.by ?? 'handler',
    needs: o.needs ?? [],
  }),
  complete: (job_id: string, worker_id: string, attempt = 1, u = usage()): Command => ({
    type: 'complete',
    job_id,
    worker_id,
    attempt,
    result: { summary: `done ${job_id}` },
    usage: u,
  }),
  fail: (
    job_id: string,
    worker_id: string,
    attempt = 1,
    code = 'handler_error',
    retryable = true,
  ): Command => ({
    type: 'fail',
    job_id,
    worker_id,
    attempt,
    error: { code, message: `${job_id} attempt ${attempt} failed`, retryable },
    usage: usage(),
  }),
  expire: (job_id: string, reaper = 'reap'): Command => ({ type: 'expire', job_id, reaper }),
  retry: (job_id: string, backoff_sec = 0): Command => ({ type: 'retry', job_id, backoff_sec, by: 'reaper' }),
  cancel: (job_id: string, reason = 'superseded'): Command => ({ type: 'cancel', job_id, reason }),
};

// ---------------------------------------------------------------------------------------------
// Valid ledgers: written by the engine

type Step = readonly [sec: number, ...commands: Command[]];

async function engineLedger(steps: readonly Step[]): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'execplane-fixture-'));
  const clock = new ManualClock(T0);
  const plane = Plane.open(home, { clock, useCheckpoint: false });
  try {
    for (const [sec, ...commands] of steps) {
      clock.ms = at(sec);
      await plane.submit(commands);
    }
    return readFileSync(join(home, 'jobs.jsonl'), 'utf8');
  } finally {
    plane.close();
    rmSync(home, { recursive: true, force: true });
  }
}

interface ValidScenario extends ValidFixture {
  readonly steps: readonly Step[];
}

const VALID: readonly ValidScenario[] = [
  {
    file: 'valid/complete-with-tools.jsonl',
    about: 'claim, start, two tool calls (model and handler), a heartbeat, complete',
    states: { 'job-basic00001': 'complete' },
    steps: [
      [0, c.enqueue(spec('job-basic00001'))],
      [1, c.claim('job-basic00001', 'w1'), c.start('job-basic00001', 'w1')],
      [2, c.tool('job-basic00001', 'w1', 'read_file', { by: 'model' })],
      [3, c.tool('job-basic00001', 'w1', 'search')],
      [20, c.heartbeat('job-basic00001', 'w1')],
      [30, c.complete('job-basic00001', 'w1', 1, usage(2, 1200, 29_000))],
    ],
  },
  {
    file: 'valid/retry-with-backoff.jsonl',
    about: 'a retryable fail, a retry with 30 s backoff, a second attempt claimed after it that completes',
    states: { 'job-retry00001': 'complete' },
    steps: [
      [0, c.enqueue(spec('job-retry00001'))],
      [1, c.claim('job-retry00001', 'w1'), c.start('job-retry00001', 'w1')],
      [5, c.fail('job-retry00001', 'w1')],
      [6, c.retry('job-retry00001', 30)],
      [36, c.claim('job-retry00001', 'w1'), c.start('job-retry00001', 'w1', 2)],
      [40, c.complete('job-retry00001', 'w1', 2)],
    ],
  },
  {
    file: 'valid/lease-expiry-reclaim.jsonl',
    about:
      'w1 claims with a 20 s lease and goes silent; the reaper expires it, retries, w2 reclaims and completes',
    states: { 'job-lease00001': 'complete' },
    steps: [
      [0, c.enqueue(spec('job-lease00001'))],
      [1, c.claim('job-lease00001', 'w1', 1, 20), c.start('job-lease00001', 'w1')],
      [21, c.expire('job-lease00001', 'w2')],
      [21, c.retry('job-lease00001', 5)],
      [30, c.claim('job-lease00001', 'w2'), c.start('job-lease00001', 'w2', 2)],
      [60, c.heartbeat('job-lease00001', 'w2', 2)],
      [70, c.complete('job-lease00001', 'w2', 2)],
    ],
  },
  {
    file: 'valid/cancel.jsonl',
    about: 'cancel of a queued job, of a running job, and of a failed job with attempts left',
    states: { 'job-cancel0001': 'cancelled', 'job-cancel0002': 'cancelled', 'job-cancel0003': 'cancelled' },
    steps: [
      [
        0,
        c.enqueue(spec('job-cancel0001')),
        c.enqueue(spec('job-cancel0002')),
        c.enqueue(spec('job-cancel0003')),
      ],
      [1, c.cancel('job-cancel0001', 'not needed')],
      [2, c.claim('job-cancel0002', 'w1', 2), c.start('job-cancel0002', 'w1')],
      [2, c.claim('job-cancel0003', 'w1', 2), c.start('job-cancel0003', 'w1')],
      [4, c.fail('job-cancel0003', 'w1')],
      [5, c.cancel('job-cancel0002', 'operator abort'), c.cancel('job-cancel0003', 'no retry wanted')],
    ],
  },
  {
    file: 'valid/workers-and-slots.jsonl',
    about:
      'two workers (3 and 2 slots) filling their slots exactly, group-committed claims, jobs of 1 and 2 slots',
    states: {
      'job-slots00001': 'complete',
      'job-slots00002': 'complete',
      'job-slots00003': 'complete',
      'job-slots00004': 'complete',
      'job-slots00005': 'running',
    },
    steps: [
      [
        0,
        c.enqueue(spec('job-slots00001')),
        c.enqueue(spec('job-slots00002', { slots: 2 })),
        c.enqueue(spec('job-slots00003')),
        c.enqueue(spec('job-slots00004', { slots: 2 })),
        c.enqueue(spec('job-slots00005')),
      ],
      [
        1,
        c.claim('job-slots00001', 'w1', 3),
        c.claim('job-slots00002', 'w1', 3),
        c.claim('job-slots00004', 'w2', 2),
      ],
      [2, c.start('job-slots00001', 'w1'), c.start('job-slots00002', 'w1'), c.start('job-slots00004', 'w2')],
      [10, c.complete('job-slots00001', 'w1')],
      [11, c.claim('job-slots00003', 'w1', 3), c.start('job-slots00003', 'w1')],
      [12, c.complete('job-slots00004', 'w2')],
      [13, c.claim('job-slots00005', 'w2', 2), c.start('job-slots00005', 'w2')],
      [20, c.complete('job-slots00002', 'w1'), c.complete('job-slots00003', 'w1')],
      [30, c.heartbeat('job-slots00005', 'w2')],
    ],
  },
  {
    file: 'valid/budget-tool-calls.jsonl',
    about:
      'tool calls up to max_tool_calls (subprocess allowed, a model tool in allowed_tools), a job with none allowed, and one that fails at its budget',
    states: { 'job-budget0001': 'complete', 'job-budget0002': 'complete', 'job-budget0003': 'failed' },
    steps: [
      [
        0,
        c.enqueue(spec('job-budget0001', { tools: 3, subprocess: true, allowed: ['grep'] })),
        c.enqueue(spec('job-budget0002', { tools: 0 })),
        c.enqueue(spec('job-budget0003', { tools: 2, attempts: 1 })),
      ],
      [
        1,
        c.claim('job-budget0001', 'w1', 4),
        c.claim('job-budget0002', 'w1', 4),
        c.claim('job-budget0003', 'w1', 4),
      ],
      [2, c.start('job-budget0001', 'w1'), c.start('job-budget0002', 'w1'), c.start('job-budget0003', 'w1')],
      [3, c.tool('job-budget0001', 'w1', 'run_tests', { needs: ['subprocess'] })],
      [
        4,
        c.tool('job-budget0001', 'w1', 'grep', { by: 'model' }),
        c.tool('job-budget0003', 'w1', 'read_file'),
      ],
      [5, c.tool('job-budget0001', 'w1', 'read_file'), c.tool('job-budget0003', 'w1', 'search')],
      [6, c.complete('job-budget0001', 'w1', 1, usage(3, 4096, 4000)), c.complete('job-budget0002', 'w1')],
      [
        7,
        {
          ...c.fail('job-budget0003', 'w1', 1, 'E_BUDGET_TOOL_CALLS', false),
          usage: usage(2, 100, 5000),
        } as Command,
      ],
    ],
  },
  {
    file: 'valid/attempts-exhausted.jsonl',
    about: 'max_attempts 2: both leases lapse; the second expire ends the job failed (E_ATTEMPTS_EXHAUSTED)',
    states: { 'job-exhaust001': 'failed' },
    steps: [
      [0, c.enqueue(spec('job-exhaust001', { attempts: 2 }))],
      [1, c.claim('job-exhaust001', 'w1', 1, 10), c.start('job-exhaust001', 'w1')],
      [20, c.expire('job-exhaust001')],
      [20, c.retry('job-exhaust001', 2)],
      [30, c.claim('job-exhaust001', 'w2', 1, 10), c.start('job-exhaust001', 'w2', 2)],
      [50, c.expire('job-exhaust001')],
    ],
  },
];

// ---------------------------------------------------------------------------------------------
// Invalid ledgers: sealed by hand, or damaged copies

/** A chain sealed by hand: correct seq, prev and hash, whatever the machine would say. */
class Chain {
  readonly lines: string[] = [];
  private prev = ZERO_HASH;

  add(sec: number, body: EventBody | Record<string, unknown>): this {
    const { event, text } = sealEvent(body as EventBody, this.lines.length + 1, toTsUtc(at(sec)), this.prev);
    this.prev = event.hash;
    this.lines.push(text);
    return this;
  }

  /** Seals an event exactly as written (for lines sealEvent would refuse, or with chosen fields). */
  addRaw(fields: Record<string, unknown>): this {
    const hash = sha256Hex(canonicalJson(fields));
    this.prev = hash;
    this.lines.push(canonicalJson({ ...fields, hash }) + '\n');
    return this;
  }

  get nextSeq(): number {
    return this.lines.length + 1;
  }
  get prevHash(): string {
    return this.prev;
  }
  text(): string {
    return this.lines.join('');
  }
}

const b = {
  enqueue: (s: JobSpec) => ({ event: 'enqueue', job_id: s.job_id, job: s }),
  claim: (job_id: string, worker_id: string, attempt: number, leaseSec: number, worker_slots = 1) => ({
    event: 'claim',
    job_id,
    worker_id,
    attempt,
    lease_expires_unix: unix(leaseSec),
    worker_slots,
  }),
  start: (job_id: string, worker_id: string, attempt = 1) => ({
    event: 'start',
    job_id,
    worker_id,
    attempt,
    run_header_sha256: SHA('run header'),
  }),
  heartbeat: (job_id: string, worker_id: string, attempt: number, leaseSec: number) => ({
    event: 'heartbeat',
    job_id,
    worker_id,
    attempt,
    lease_expires_unix: unix(leaseSec),
  }),
  tool: (
    job_id: string,
    worker_id: string,
    tool: string,
    by: 'handler' | 'model' = 'handler',
    needs: string[] = [],
  ) => ({
    event: 'tool_call',
    job_id,
    worker_id,
    attempt: 1,
    tool,
    args_sha256: SHA('args'),
    requested_by: by,
    needs,
  }),
  complete: (
    job_id: string,
    worker_id: string,
    attempt = 1,
    u = usage(),
    extra: Record<string, unknown> = {},
  ) => ({
    event: 'complete',
    job_id,
    worker_id,
    attempt,
    result: { ok: true },
    usage: u,
    ...extra,
  }),
  fail: (job_id: string, worker_id: string, attempt = 1) => ({
    event: 'fail',
    job_id,
    worker_id,
    attempt,
    error: { code: 'handler_error', message: 'it broke', retryable: true },
    usage: usage(),
  }),
  expire: (job_id: string, worker_id: string, attempt: number, leaseSec: number) => ({
    event: 'expire',
    job_id,
    worker_id,
    attempt,
    lease_expires_unix: unix(leaseSec),
  }),
  retry: (job_id: string, attempt: number, notBeforeSec: number) => ({
    event: 'retry',
    job_id,
    attempt,
    not_before_unix: unix(notBeforeSec),
    by: 'reaper',
  }),
  cancel: (job_id: string) => ({ event: 'cancel', job_id, reason: 'superseded' }),
};

const J = 'job-invalid001';
const K = 'job-invalid002';

/** enqueue J, claim by w1 (attempt 1, lease until 60 s), start: lines 1–3. */
function running(o: SpecOptions = {}): Chain {
  return new Chain()
    .add(0, b.enqueue(spec(J, o)))
    .add(1, b.claim(J, 'w1', 1, 60))
    .add(2, b.start(J, 'w1'));
}

const ILLEGAL = 'E_AUDIT_ILLEGAL_TRANSITION';

interface InvalidScenario extends InvalidFixture {
  readonly content: () => string | Buffer | Promise<string | Buffer>;
}

/** Lines of a valid golden ledger, for the damaged copies. */
const validLines = async (file: string) => {
  const text = await engineLedger(VALID.find((v) => v.file === file)!.steps);
  return text.split('\n').slice(0, -1);
};
const joinLines = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');
function editOrThrow(line: string, from: string, to: string): string {
  if (!line.includes(from)) throw new Error(`make-fixtures: ${from} is not in ${line}`);
  return line.replace(from, to);
}

/** Reseals lines[from..] after an edit: the chain is valid again, only a head anchor can tell. */
export function reseal(
  lines: readonly string[],
  from: number,
  edit: (ev: Record<string, unknown>) => void,
): string[] {
  const out = lines.slice(0, from);
  let prev = from === 0 ? ZERO_HASH : (JSON.parse(lines[from - 1]!) as { hash: string }).hash;
  for (const line of lines.slice(from)) {
    const ev = JSON.parse(line) as Record<string, unknown>;
    if (out.length === from) edit(ev);
    ev.prev = prev;
    delete ev.hash;
    const hash = sha256Hex(canonicalJson(ev));
    out.push(canonicalJson({ ...ev, hash }));
    prev = hash;
  }
  return out;
}

const INVALID: readonly InvalidScenario[] = [
  {
    file: 'invalid/parse.jsonl',
    about: 'a line of garbage inserted between two valid lines (the chain goes on around it)',
    findings: ['3 E_AUDIT_PARSE'],
    content: async () => {
      const lines = await validLines('valid/cancel.jsonl');
      return joinLines([...lines.slice(0, 2), '{"event": "claim", oops', ...lines.slice(2)]);
    },
  },
  {
    file: 'invalid/line-too-long.jsonl',
    about: 'a correctly chained complete whose result makes the line 70 KB, over the 64 KiB limit',
    findings: ['4 E_AUDIT_LINE_TOO_LONG'],
    content: () => {
      const chain = running();
      return chain
        .addRaw({
          ...b.complete(J, 'w1'),
          result: { blob: 'x'.repeat(70_000) },
          v: 1,
          seq: chain.nextSeq,
          ts_utc: toTsUtc(at(10)),
          prev: chain.prevHash,
        })
        .text();
    },
  },
  {
    file: 'invalid/not-canonical.jsonl',
    about: 'line 2 rewritten with its keys in another order (its hash, over the canonical form, still holds)',
    findings: ['2 E_AUDIT_NOT_CANONICAL'],
    content: async () => {
      const lines = await validLines('valid/retry-with-backoff.jsonl');
      const ev = JSON.parse(lines[1]!) as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(ev).reverse());
      return joinLines([lines[0]!, JSON.stringify(reordered), ...lines.slice(2)]);
    },
  },
  {
    file: 'invalid/schema.jsonl',
    about: 'a correctly chained start with a field the schema does not allow',
    findings: ['3 E_AUDIT_SCHEMA'],
    content: () =>
      new Chain()
        .add(0, b.enqueue(spec(J)))
        .add(1, b.claim(J, 'w1', 1, 60))
        .add(2, { ...b.start(J, 'w1'), note: 'not in the schema' })
        .text(),
  },
  {
    file: 'invalid/seq-gap.jsonl',
    about: 'the last line carries seq 5 after seq 3 (prev and hash correct)',
    findings: ['4 E_AUDIT_SEQ_GAP'],
    content: () => {
      const chain = running();
      return chain
        .addRaw({
          ...b.heartbeat(J, 'w1', 1, 90),
          v: 1,
          seq: 5,
          ts_utc: toTsUtc(at(10)),
          prev: chain.prevHash,
        })
        .text();
    },
  },
  {
    file: 'invalid/prev-mismatch.jsonl',
    about: 'the last line links to a hash that is not the previous line’s',
    findings: ['4 E_AUDIT_PREV_MISMATCH'],
    content: () => {
      const chain = running();
      return chain
        .addRaw({
          ...b.heartbeat(J, 'w1', 1, 90),
          v: 1,
          seq: 4,
          ts_utc: toTsUtc(at(10)),
          prev: SHA('elsewhere'),
        })
        .text();
    },
  },
  {
    file: 'invalid/hash-mismatch.jsonl',
    about: 'the cancel reason on line 4 edited in place, its hash left as it was',
    findings: ['4 E_AUDIT_HASH_MISMATCH'],
    content: async () => {
      const lines = await validLines('valid/cancel.jsonl');
      return joinLines(lines.map((l, i) => (i === 3 ? editOrThrow(l, '"not needed"', '"NOT needed"') : l)));
    },
  },
  {
    file: 'invalid/ts-backwards.jsonl',
    about: 'a correctly chained heartbeat dated 5 s before the line before it',
    findings: ['4 E_AUDIT_TS_BACKWARDS'],
    content: () =>
      running()
        .add(-3, b.heartbeat(J, 'w1', 1, 90))
        .text(),
  },
  {
    file: 'invalid/torn-tail.jsonl',
    about: 'a valid ledger whose last write was cut: 40 bytes of a line, no newline',
    findings: ['8 E_AUDIT_TORN_TAIL'],
    content: async () => {
      const lines = await validLines('valid/complete-with-tools.jsonl');
      const next = running().lines[1]!;
      return joinLines(lines) + next.slice(0, 40);
    },
  },
  {
    file: 'invalid/rewritten-chain.jsonl',
    about:
      'cancel.jsonl rewritten from line 4 (another cancel reason) with the chain recomputed: clean, except against the head recorded before',
    findings: ['11 E_AUDIT_HEAD_MISMATCH'],
    expect_head: '@cancel.jsonl',
    content: async () => {
      const lines = await validLines('valid/cancel.jsonl');
      return joinLines(
        reseal(lines, 3, (ev) => (ev.reason = editOrThrow(String(ev.reason), 'not needed', 'rewritten'))),
      );
    },
  },
  {
    file: 'invalid/illegal-transition.jsonl',
    about: 'a tool_call by the holder before its start (claimed, not running): only the machine objects',
    findings: [`3 ${ILLEGAL}`],
    content: () =>
      new Chain()
        .add(0, b.enqueue(spec(J)))
        .add(1, b.claim(J, 'w1', 1, 60))
        .add(2, b.tool(J, 'w1', 'read_file'))
        .text(),
  },
  {
    file: 'invalid/unknown-job.jsonl',
    about: 'a claim of a job that was never enqueued',
    findings: [`2 ${ILLEGAL}`, '2 E_AUDIT_UNKNOWN_JOB'],
    content: () =>
      new Chain()
        .add(0, b.enqueue(spec(J)))
        .add(1, b.claim(K, 'w1', 1, 60))
        .text(),
  },
  {
    file: 'invalid/duplicate-enqueue.jsonl',
    about: 'a completed job enqueued again (the predecessor reset it to queued)',
    findings: [`5 ${ILLEGAL}`, '5 E_AUDIT_DUPLICATE_ENQUEUE'],
    content: () =>
      running()
        .add(5, b.complete(J, 'w1'))
        .add(6, b.enqueue(spec(J)))
        .text(),
  },
  {
    file: 'invalid/inv1-not-queued.jsonl',
    about: 'w2 claims attempt 2 while w1 holds a live lease on attempt 1',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV1_NOT_QUEUED'],
    content: () =>
      running()
        .add(5, b.claim(J, 'w2', 2, 65))
        .text(),
  },
  {
    file: 'invalid/inv1-backoff.jsonl',
    about: 'a claim 10 s before the not_before_unix of the retry',
    findings: [`6 ${ILLEGAL}`, '6 E_AUDIT_INV1_BACKOFF'],
    content: () =>
      running()
        .add(5, b.fail(J, 'w1'))
        .add(6, b.retry(J, 2, 36))
        .add(26, b.claim(J, 'w1', 2, 86))
        .text(),
  },
  {
    file: 'invalid/inv2-attempt.jsonl',
    about: 'a first claim that carries attempt 2',
    findings: [`2 ${ILLEGAL}`, '2 E_AUDIT_INV2_ATTEMPT'],
    content: () =>
      new Chain()
        .add(0, b.enqueue(spec(J)))
        .add(1, b.claim(J, 'w1', 2, 60))
        .text(),
  },
  {
    file: 'invalid/inv2-not-holder.jsonl',
    about: 'a heartbeat from w2 while w1 holds the lease',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV2_NOT_HOLDER'],
    content: () =>
      running()
        .add(5, b.heartbeat(J, 'w2', 1, 65))
        .text(),
  },
  {
    file: 'invalid/inv2-lease-lapsed.jsonl',
    about: 'the holder completes 5 s after its lease expired, no expire written',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV2_LEASE_LAPSED'],
    content: () => running().add(65, b.complete(J, 'w1')).text(),
  },
  {
    file: 'invalid/inv3-early-expire.jsonl',
    about: 'an expire of the lease on record, 50 s before it lapses',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV3_EARLY_EXPIRE'],
    content: () =>
      running()
        .add(10, b.expire(J, 'w1', 1, 60))
        .text(),
  },
  {
    file: 'invalid/inv3-lease-mismatch.jsonl',
    about: 'an expire that names w2, not the holder w1',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV3_LEASE_MISMATCH'],
    content: () =>
      running()
        .add(70, b.expire(J, 'w2', 1, 60))
        .text(),
  },
  {
    file: 'invalid/inv4-tool-calls.jsonl',
    about: 'a third tool_call with max_tool_calls 2',
    findings: [`6 ${ILLEGAL}`, '6 E_AUDIT_INV4_TOOL_CALLS'],
    content: () =>
      running({ tools: 2 })
        .add(3, b.tool(J, 'w1', 'read_file'))
        .add(4, b.tool(J, 'w1', 'read_file'))
        .add(5, b.tool(J, 'w1', 'read_file'))
        .text(),
  },
  {
    file: 'invalid/inv4-output.jsonl',
    about: 'a complete whose usage.output_bytes exceeds max_output_bytes (8192)',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV4_OUTPUT'],
    content: () =>
      running()
        .add(5, b.complete(J, 'w1', 1, usage(0, 9000)))
        .text(),
  },
  {
    file: 'invalid/inv4-model-tokens.jsonl',
    about: 'a complete whose usage.model_tokens (900) exceeds max_model_tokens (500)',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV4_MODEL_TOKENS'],
    content: () =>
      running({ modelTokens: 500 })
        .add(5, b.complete(J, 'w1', 1, { ...usage(), model_tokens: 900 }))
        .text(),
  },
  {
    file: 'invalid/inv4-wall-time.jsonl',
    about:
      'start → complete 75 s with max_wall_time_sec 60 and 10 s grace, the lease kept alive by a heartbeat',
    findings: [`5 ${ILLEGAL}`, '5 E_AUDIT_INV4_WALL_TIME'],
    content: () =>
      running()
        .add(50, b.heartbeat(J, 'w1', 1, 110))
        .add(77, b.complete(J, 'w1'))
        .text(),
  },
  {
    file: 'invalid/inv4-usage-mismatch.jsonl',
    about: 'a complete that reports 3 tool calls after one tool_call event',
    findings: [`5 ${ILLEGAL}`, '5 E_AUDIT_INV4_USAGE_MISMATCH'],
    content: () =>
      running()
        .add(3, b.tool(J, 'w1', 'search'))
        .add(5, b.complete(J, 'w1', 1, usage(3)))
        .text(),
  },
  {
    file: 'invalid/inv5-policy.jsonl',
    about: 'a model-requested tool that is not in allowed_tools',
    findings: [`4 ${ILLEGAL}`, '4 E_AUDIT_INV5_POLICY'],
    content: () =>
      running()
        .add(3, b.tool(J, 'w1', 'shell', 'model'))
        .text(),
  },
  {
    file: 'invalid/inv6-slots.jsonl',
    about: 'a worker that declared 1 slot claims a second job while holding a live lease on the first',
    findings: [`5 ${ILLEGAL}`, '5 E_AUDIT_INV6_SLOTS'],
    content: () =>
      new Chain()
        .add(0, b.enqueue(spec(J)))
        .add(0, b.enqueue(spec(K)))
        .add(1, b.claim(J, 'w1', 1, 60))
        .add(2, b.start(J, 'w1'))
        .add(3, b.claim(K, 'w1', 1, 63))
        .text(),
  },
  {
    file: 'invalid/inv7-after-terminal.jsonl',
    about: 'a cancel after the job completed',
    findings: [`5 ${ILLEGAL}`, '5 E_AUDIT_INV7_AFTER_TERMINAL'],
    content: () => running().add(5, b.complete(J, 'w1')).add(6, b.cancel(J)).text(),
  },
];

/** The evidence fixture: a valid ledger in a home whose evidence/ differs from what it records. */
const EVIDENCE_JOB = 'job-evidence01';
const evidenceFiles = { 'summary.txt': '# summary\nall good\n', 'changed.txt': 'as written by the worker\n' };
const EVIDENCE: InvalidScenario = {
  file: 'invalid/evidence-home/jobs.jsonl',
  about:
    'a complete recording four evidence files: one intact, one changed since, one missing, one outside its directory',
  findings: ['4 E_AUDIT_EVIDENCE_MISMATCH', '4 E_AUDIT_EVIDENCE_MISSING', '4 E_AUDIT_EVIDENCE_PATH'],
  evidence: true,
  content: () => {
    const rec = (path: string, text: string) => ({ path, sha256: SHA(text), bytes: Buffer.byteLength(text) });
    const evidence = [
      rec('summary.txt', evidenceFiles['summary.txt']),
      rec('changed.txt', evidenceFiles['changed.txt']),
      rec('gone.txt', 'deleted later\n'),
      rec('../escape.txt', 'outside\n'),
    ];
    return new Chain()
      .add(0, b.enqueue(spec(EVIDENCE_JOB)))
      .add(1, b.claim(EVIDENCE_JOB, 'w1', 1, 60))
      .add(2, b.start(EVIDENCE_JOB, 'w1'))
      .add(5, b.complete(EVIDENCE_JOB, 'w1', 1, usage(), { evidence }))
      .text();
  },
};

// ---------------------------------------------------------------------------------------------
// Legacy ledgers (docs/spec.md §10): Python's JSON spacing, microsecond timestamps, float lease seconds

const L0 = Date.parse('2026-02-22T12:00:00.000Z');

/** Python's json.dumps: ", " and ": " separators. */
function py(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}

/** `datetime.utcnow().isoformat() + "Z"` at L0 + sec, with microseconds. */
const pyTs = (sec: number) =>
  toTsUtc(L0 + Math.floor(sec * 1000)).replace(
    'Z',
    `${String(Math.round(sec * 1e6) % 1000).padStart(3, '0')}Z`,
  );
/** time.time() + lease, as the old system wrote it: float seconds with sub-millisecond digits. */
const pyLease = (sec: number, leaseSec: number) => (L0 + (sec + leaseSec) * 1000) / 1000 + 0.0000397;

const legacyJob = (id: string, type: 'repo' | 'doc', extra: Record<string, unknown> = {}) => ({
  job_id: id,
  job_type: type === 'repo' ? 'repo_index_task' : 'doc_compactor_task',
  created_at_utc: '2026-02-22T11:59:59.123456Z',
  budgets: { max_wall_time_sec: 180, max_tool_calls: 8, max_output_bytes: 131072, max_concurrency_slots: 1 },
  tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
  meta: { source: 'synthetic' },
  payload:
    type === 'repo'
      ? { include_globs: ['src/**/*.py'], max_files: 60, max_file_bytes: 16384 }
      : { inputs: ['docs/ops.md'], max_input_bytes: 32768, max_output_bytes: 8192 },
  ...extra,
});

type LegacyLine = readonly [text: string, ...expect: AnomalyCode[]];

function legacyAnomalies(): { lines: LegacyLine[]; about: string } {
  const e = (sec: number, job: Record<string, unknown>) =>
    py({ ts_utc: pyTs(sec), event: 'enqueue', validator_mode: 'jsonschema', job });
  const w = (
    sec: number,
    event: string,
    job_id: string,
    worker_id: string,
    more: Record<string, unknown> = {},
  ) => py({ ts_utc: pyTs(sec), event, job_id, worker_id, ...more });
  const claim = (sec: number, id: string, worker: string, lease = 60) =>
    w(sec, 'claim', id, worker, { lease_expires_unix: pyLease(sec, lease) });
  const hb = (sec: number, id: string, worker: string, lease = 60) =>
    w(sec, 'heartbeat', id, worker, { lease_expires_unix: pyLease(sec, lease) });
  const done = (sec: number, id: string, worker: string) =>
    w(sec, 'complete', id, worker, { result: { files: 3 } });
  const A = 'job-legacya0001';
  const B = 'job-legacyb0001';
  const C = 'job-legacyc0001';
  const D = 'job-legacyd0001';
  const E = 'job-legacye0001';
  const F = 'job-legacyf0001';
  const G = 'job-legacyg0001';
  const H = 'job-legacyh0001';
  const lines: LegacyLine[] = [
    [e(0.000101, legacyJob(A, 'repo'))],
    [e(1.000202, legacyJob(B, 'doc'))],
    [e(2.000303, legacyJob(A, 'repo')), 'LEGACY_DUPLICATE_ENQUEUE'],
    [claim(3.000404, A, 'w1')],
    [hb(23.000505, A, 'w1')],
    ['{"ts_utc": "2026-02-22T12:00:24.000606Z", "event": "claim", "job_id": ', 'LEGACY_UNPARSEABLE'],
    [claim(25.000707, B, 'w2', 30)],
    [claim(70.000808, B, 'w3'), 'LEGACY_LEASE_LAPSED'],
    [hb(71.000909, B, 'w2'), 'LEGACY_NON_HOLDER'],
    [done(72.001001, A, 'w1')],
    [done(73.001102, B, 'w3')],
    [e(80.001203, legacyJob(A, 'repo', { priority: 5 })), 'LEGACY_DUPLICATE_ENQUEUE'],
    [claim(81.001304, A, 'w2'), 'LEGACY_FINISHED_JOB'],
    [done(82.001405, A, 'w2'), 'LEGACY_FINISHED_JOB'],
    [hb(83.001506, 'job-neverenqueued', 'w1'), 'LEGACY_UNKNOWN_JOB'],
    [e(90.001607, legacyJob(C, 'repo', { retries: 2 })), 'LEGACY_SPEC_REPAIRED'],
    [claim(91.001708, C, 'w1')],
    [w(92.001809, 'fail', C, 'w1', { error: 'Traceback (most recent call last): boom' })],
    [claim(93.00191, C, 'w2'), 'LEGACY_RETRY_SYNTHESIZED'],
    [done(94.002011, C, 'w2')],
    [
      e(100.002112, {
        ...legacyJob(D, 'doc'),
        created_at_utc: '2026-02-22T12:01:40.002112',
      }),
    ],
    [claim(101.002213, D, 'w1', 10), 'LEGACY_LEASE_LAPSED'],
    [
      e(
        110.002314,
        legacyJob(E, 'repo', {
          budgets: {
            max_wall_time_sec: 99999,
            max_tool_calls: 8,
            max_output_bytes: 131072,
            max_concurrency_slots: 1,
          },
        }),
      ),
      'LEGACY_SPEC_INVALID',
    ],
    [claim(111.002415, E, 'w1'), 'LEGACY_UNKNOWN_JOB'],
    [py({ ts_utc: pyTs(112.002516), event: 'requeue', job_id: A }), 'LEGACY_UNKNOWN_EVENT'],
    ['[1, 2]', 'LEGACY_UNPARSEABLE'],
    ['', 'LEGACY_UNPARSEABLE'],
    [e(120.002617, legacyJob(F, 'doc'))],
    [claim(121.002718, F, 'w1')],
    [claim(122.002819, F, 'w2'), 'LEGACY_CLAIM_WHILE_LEASED'],
    [done(123.00292, F, 'w2'), 'LEGACY_NON_HOLDER'],
    [done(124.003021, F, 'w1')],
    [e(123.003122, legacyJob(G, 'repo')), 'LEGACY_TS_BACKWARDS'],
    [e(130.003223, legacyJob(H, 'doc'))],
    [claim(131.003324, H, 'w1', 5)],
    [done(150.003425, H, 'w1'), 'LEGACY_LEASE_LAPSED'],
    ['{"ts_utc": "2026-02-22T12:02:31.0039', 'LEGACY_UNPARSEABLE'],
  ];
  return {
    lines,
    about:
      'repeated enqueues of one id (before and after it completed), an unparseable line, a lapsed lease re-claimed, ' +
      'a late heartbeat, events for unknown jobs, a spec with an unknown field and one out of range, a re-claim after a ' +
      'fail, a double claim and a non-holder completion, a timestamp going backwards, a late completion, a lease still ' +
      'lapsed at the end, and a last line cut mid-write',
  };
}

// ---------------------------------------------------------------------------------------------
// Generation

/** Relative path under fixtures/ → content. */
export type FixtureFiles = Map<string, string | Buffer>;

export async function generateFixtures(root: string): Promise<FixtureFiles> {
  const files: FixtureFiles = new Map();
  const ledgers: LedgerManifest = { valid: {}, invalid: {} };
  const work = mkdtempSync(join(tmpdir(), 'execplane-fixtures-'));
  try {
    const addValid = (fixture: ValidFixture, text: string) => {
      files.set(`ledgers/${fixture.file}`, text);
      const path = join(work, 'replay.jsonl');
      writeFileSync(path, text);
      const plane = Plane.openLedgerFile(path);
      const report = plane.report();
      plane.close();
      ledgers.valid[fixture.file] = {
        ...fixture,
        state_digest: report.state_digest,
        last_seq: report.last_seq,
      };
    };
    for (const { steps, ...fixture } of VALID) addValid(fixture, await engineLedger(steps));
    addValid(
      { file: 'valid/empty.jsonl', about: 'an empty ledger (a plane before its first event)', states: {} },
      '',
    );

    for (const { content, ...fixture } of [...INVALID, EVIDENCE]) {
      let expect_head = fixture.expect_head;
      if (expect_head?.startsWith('@')) {
        const entry = ledgers.valid[`valid/${expect_head.slice(1)}`]!;
        const lines = (files.get(`ledgers/valid/${expect_head.slice(1)}`) as string).split('\n');
        const last = JSON.parse(lines[lines.length - 2]!) as { hash: string };
        expect_head = `${last.hash}@${entry.last_seq}`;
      }
      files.set(`ledgers/${fixture.file}`, await content());
      ledgers.invalid[fixture.file] = { ...fixture, ...(expect_head ? { expect_head } : {}) };
    }
    for (const [name, text] of Object.entries(evidenceFiles)) {
      const written = name === 'changed.txt' ? text.replace('worker', 'someone else') : text;
      files.set(`ledgers/invalid/evidence-home/evidence/${EVIDENCE_JOB}/${name}`, written);
    }
    files.set('ledgers/invalid/evidence-home/evidence/escape.txt', 'outside\n');

    const legacy: Record<string, LegacyManifest[string]> = {};
    const synthetic = legacyAnomalies();
    const sources: [string, string, string[], string, Record<string, JobStateValue>][] = [
      [
        'legacy-sample.jsonl',
        // Copied from the spec (../shared/spec/legacy-sample.jsonl); taken as committed.
        readFileSync(join(root, 'legacy/legacy-sample.jsonl'), 'utf8'),
        [],
        'the sample of the predecessor’s ledger from the spec (docs/spec.md §10)',
        {
          'job-sleeprun11122201': 'complete',
          'job-sleeprun11123202': 'complete',
          'job-samplefail0001': 'failed',
        },
      ],
      [
        'legacy-anomalies.jsonl',
        synthetic.lines.map(([text]) => text).join('\n'),
        synthetic.lines.flatMap(([, ...codes], i) => codes.map((code) => `${i + 1} ${code}`)),
        synthetic.about,
        {
          'job-legacya0001': 'complete',
          'job-legacyb0001': 'complete',
          'job-legacyc0001': 'complete',
          'job-legacyd0001': 'expired',
          'job-legacyf0001': 'complete',
          'job-legacyg0001': 'queued',
          'job-legacyh0001': 'complete',
        },
      ],
    ];
    for (const [name, text, anomalies, about, states] of sources) {
      files.set(`legacy/${name}`, text);
      const old = join(work, name);
      writeFileSync(old, text);
      const out = join(work, `${name}.v1`);
      await importLegacy(old, out);
      const imported = `valid/${name.replace('.jsonl', '.imported.jsonl')}`;
      addValid(
        { file: imported, about: `import-legacy of fixtures/legacy/${name}`, states },
        readFileSync(out, 'utf8'),
      );
      legacy[name] = { about, anomalies, imported };
    }

    const json = async (path: string, value: unknown) =>
      files.set(
        path,
        await format(JSON.stringify(value), {
          ...(await resolveConfig(join(root, path))),
          filepath: join(root, path),
        }),
      );
    await json('ledgers/expected.json', ledgers);
    await json('legacy/expected.json', legacy);
    return files;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
