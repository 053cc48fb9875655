/**
 * Issue 2's acceptance list, tried as a user would: real `node bin/execplane.js` processes on
 * real files. Each test says which acceptance point it pins down.
 */
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { JOB_STATES } from '../machines/job.types.js';
import { execplane, requireDist, type CliResult } from './helpers/cli.js';
import { chainViolations, ledgerLines } from './helpers/ledger.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-cli-');
beforeAll(requireDist);

const J = 'job-cli0000001';

/** A fresh home with a spec file (spec.json) beside it; nothing enqueued yet. */
function workspace(spec: unknown = agentSpec({ job_id: J })) {
  const dir = tmp();
  const home = join(dir, 'home');
  const file = join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return { dir, home, file, ledger: join(home, 'jobs.jsonl') };
}

const bytesOf = (path: string) => (existsSync(path) ? readFileSync(path) : null);
const json = (r: CliResult) => JSON.parse(r.stdout) as Record<string, unknown>;

/** No stack trace ever reaches a user. */
function expectNoStack(r: CliResult) {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).not.toMatch(/^\s+at /m);
}

/**
 * A home with three jobs — J enqueued then cancelled, two more queued — made once through the
 * CLI; tests get their own copy of its ledger, so they can damage it freely.
 */
let jobsLedger: string;
beforeAll(async () => {
  const w = workspace();
  await execplane(['enqueue', '--home', w.home, '--file', w.file]);
  const more = join(w.dir, 'more.json');
  writeFileSync(
    more,
    JSON.stringify([agentSpec({ job_id: 'job-cli0000002' }), agentSpec({ prompt: 'no id' })]),
  );
  await execplane(['enqueue', '--home', w.home, '--file', more]);
  await execplane(['cancel', J, '--home', w.home, '--reason', 'superseded']);
  jobsLedger = w.ledger;
});

function homeWithJobs() {
  const w = workspace();
  mkdirSync(w.home);
  copyFileSync(jobsLedger, w.ledger);
  return w;
}

/** A home whose ledger holds J, enqueued from spec.json. */
function homeWithJ() {
  const w = workspace();
  mkdirSync(w.home);
  writeFileSync(w.ledger, ledgerLines(jobsLedger)[0] + '\n');
  return w;
}

describe('enqueue', () => {
  it('--file --json prints {job_id, seq, status:"enqueued"}; a byte-identical repeat prints "exists"', async () => {
    const w = workspace();
    const first = await execplane(['enqueue', '--home', w.home, '--file', w.file, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toEqual({ job_id: J, seq: 1, status: 'enqueued' });
    expect(first.stdout.split('\n')).toHaveLength(2); // one JSON line
    const bytes = bytesOf(w.ledger);

    const repeat = await execplane(['enqueue', '--home', w.home, '--file', w.file, '--json']);
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(json(repeat)).toEqual({ job_id: J, seq: 1, status: 'exists' });
    expect(bytesOf(w.ledger)).toEqual(bytes);
  });

  it('a spec without job_id gets a generated one (job- + lowercase ULID)', async () => {
    const w = workspace(agentSpec());
    const r = await execplane(['enqueue', '--home', w.home, '--file', w.file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ job_id: expect.stringMatching(/^job-[0-9a-hjkmnp-tv-z]{26}$/), seq: 1 });
  });

  it('--file - reads the spec from standard input', async () => {
    const w = workspace();
    const r = await execplane(['enqueue', '--home', w.home, '--file', '-', '--json'], {
      input: JSON.stringify(agentSpec({ job_id: J })),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({ job_id: J, seq: 1, status: 'enqueued' });
  });

  it('the same job_id with a different spec: exit 1 naming the id and its state; ledger byte-identical', async () => {
    const w = homeWithJ();
    const other = join(w.dir, 'other.json');
    writeFileSync(other, JSON.stringify(agentSpec({ job_id: J, prompt: 'something else' })));
    const bytes = bytesOf(w.ledger);
    const r = await execplane(['enqueue', '--home', w.home, '--file', other, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${J}.*queued`));
    expect(r.stdout).toBe('');
    expectNoStack(r);
    expect(bytesOf(w.ledger)).toEqual(bytes);

    await execplane(['cancel', J, '--home', w.home]);
    const afterCancel = await execplane(['enqueue', '--home', w.home, '--file', other]);
    expect(afterCancel.code, afterCancel.stderr).toBe(1);
    expect(afterCancel.stderr).toMatch(new RegExp(`${J}.*cancelled`));
  });

  const base = agentSpec({ job_id: J });
  const invalid: { name: string; spec: unknown; path: string }[] = [
    {
      name: 'wrong type',
      spec: { ...base, budgets: { ...base.budgets, max_wall_time_sec: '60' } },
      path: '/budgets/max_wall_time_sec',
    },
    {
      name: 'missing field',
      spec: { ...base, payload: { prompt: 'x' } },
      path: '/payload',
    },
    { name: 'unknown field', spec: { ...base, colour: 'blue' }, path: '/' },
    { name: 'bad id', spec: { ...base, job_id: 'job-NOT_OK' }, path: '/job_id' },
    { name: 'out of range', spec: { ...base, max_attempts: 99 }, path: '/max_attempts' },
  ];

  it.each(invalid)(
    'an invalid spec ($name): exit 2, the problem names $path, no stack, ledger untouched',
    async (c) => {
      const w = homeWithJ();
      const bad = join(w.dir, 'bad.json');
      writeFileSync(bad, JSON.stringify(c.spec));
      const bytes = bytesOf(w.ledger);
      const r = await execplane(['enqueue', '--home', w.home, '--file', bad]);
      expect(r.code, r.stderr).toBe(2);
      expectNoStack(r);
      const problems = r.stderr.split('\n').filter((l) => l.startsWith('  '));
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.some((p) => p.startsWith(`  ${c.path}: `))).toBe(true);
      expect(bytesOf(w.ledger)).toEqual(bytes);
    },
  );

  it('a spec with several problems gets one line per problem, each naming a JSON path and what is expected', async () => {
    const w = workspace({
      ...base,
      job_id: 'bad',
      colour: 'blue',
      budgets: { max_wall_time_sec: 'x', max_tool_calls: 1, max_output_bytes: 2048 },
    });
    const r = await execplane(['enqueue', '--home', w.home, '--file', w.file]);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^execplane: E_SCHEMA: .*spec\.json is invalid:$/);
    const problems = lines.slice(1);
    // The budget left out (max_concurrency_slots) is not a problem: the job type's default fills it in.
    expect(problems).toHaveLength(3);
    for (const p of problems) expect(p).toMatch(/^ {2}\/[\w/]*: (must|missing|unknown) .+/);
    expect(problems.join('\n')).toMatch(/\/budgets\/max_wall_time_sec: must be integer/);
    expect(problems.join('\n')).toMatch(/\/job_id: must match pattern/);
    expect(problems.join('\n')).toMatch(/\/: unknown field "colour"/);
    expect(existsSync(w.ledger)).toBe(false);
  });

  it('malformed JSON: exit 2, one line, no stack trace, ledger untouched', async () => {
    const w = homeWithJ();
    const bytes = bytesOf(w.ledger);
    writeFileSync(w.file, '{"job_type": "agent_task",');
    for (const r of [
      await execplane(['enqueue', '--home', w.home, '--file', w.file]),
      await execplane(['enqueue', '--home', w.home, '--file', '-'], { input: 'not json' }),
    ]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/E_JSON: .*not valid JSON/);
      expectNoStack(r);
    }
    expect(bytesOf(w.ledger)).toEqual(bytes);
  });

  it('--demo enqueues the sample jobs in one group commit', async () => {
    const w = workspace();
    const r = await execplane(['enqueue', '--home', w.home, '--demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = (json(r) as { jobs: { status: string; seq: number }[] }).jobs;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((x) => x.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(new Set(ledgerLines(w.ledger).map((l) => (JSON.parse(l) as { ts_utc: string }).ts_utc)).size).toBe(
      1,
    );
  });
});

describe('usage errors: exit 2, one line, nothing written', () => {
  const cases: [string, (home: string, file: string) => string[]][] = [
    ['an unknown flag', (h, f) => ['enqueue', '--home', h, '--file', f, '--bogus']],
    ['--file with --demo', (h, f) => ['enqueue', '--home', h, '--file', f, '--demo']],
    ['enqueue with no input', (h) => ['enqueue', '--home', h]],
    ['an unknown command', (h) => ['frobnicate', '--home', h]],
    ['replay --at 0', (h) => ['replay', '--home', h, '--at', '0']],
    ['replay --at abc', (h) => ['replay', '--home', h, '--at', 'abc']],
    ['a missing spec file', (h) => ['enqueue', '--home', h, '--file', join(h, 'nope.json')]],
  ];
  it.each(cases)('%s', async (_name, args) => {
    const w = workspace();
    const r = await execplane(args(w.home, w.file));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^execplane: /);
    expectNoStack(r);
    expect(existsSync(w.ledger)).toBe(false);
  });
});

describe('replay', () => {
  it('--json has last_seq, last_hash, state_digest, counts per state and jobs with state and attempt', async () => {
    const w = homeWithJobs();
    const r = await execplane(['replay', '--home', w.home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = json(r) as {
      last_seq: number;
      last_hash: string;
      state_digest: string;
      counts: Record<string, number>;
      jobs: Record<string, { state: string; attempt: number }>;
    };
    const lines = ledgerLines(w.ledger);
    expect(report.last_seq).toBe(lines.length);
    expect(report.last_hash).toBe((JSON.parse(lines.at(-1)!) as { hash: string }).hash);
    expect(report.state_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(report.counts).sort()).toEqual([...JOB_STATES].sort());
    expect(report.counts).toMatchObject({ queued: 2, cancelled: 1 });
    expect(Object.keys(report.jobs)).toHaveLength(3);
    expect(report.jobs[J]).toMatchObject({ state: 'cancelled', attempt: 0 });
    expect(report.jobs['job-cli0000002']).toMatchObject({ state: 'queued', attempt: 0 });
  });

  it('prints the same bytes every time, and for a copy of the ledger in another directory', async () => {
    const w = homeWithJobs();
    const once = await execplane(['replay', '--home', w.home, '--json']);
    const twice = await execplane(['replay', '--home', w.home, '--json']);
    expect(twice.stdout).toBe(once.stdout);

    const elsewhere = join(tmp(), 'somewhere', 'else');
    mkdirSync(elsewhere, { recursive: true });
    copyFileSync(w.ledger, join(elsewhere, 'jobs.jsonl'));
    const byLedger = await execplane(['replay', '--ledger', join(elsewhere, 'jobs.jsonl'), '--json'], {
      cwd: elsewhere,
    });
    const byHome = await execplane(['replay', '--home', elsewhere, '--json'], { cwd: tmp() });
    expect(byLedger.stdout).toBe(once.stdout);
    expect(byHome.stdout).toBe(once.stdout);
  });

  it('--at SEQ gives the state as of that event: the same as a ledger cut after it', async () => {
    const w = homeWithJobs();
    const at2 = await execplane(['replay', '--home', w.home, '--at', '2', '--json']);
    expect(at2.code, at2.stderr).toBe(0);
    const cut = tmp();
    writeFileSync(join(cut, 'jobs.jsonl'), ledgerLines(w.ledger).slice(0, 2).join('\n') + '\n');
    const whole = await execplane(['replay', '--home', cut, '--json']);
    expect(at2.stdout).toBe(whole.stdout);
    expect(json(at2)).toMatchObject({ last_seq: 2, jobs: { [J]: { state: 'queued' } } });
    const past = await execplane(['replay', '--home', w.home, '--at', '99']);
    expect(past.code, past.stderr).toBe(2);
  });

  it('the readable form names every job and its state', async () => {
    const w = homeWithJobs();
    const r = await execplane(['replay', '--home', w.home]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${J}\\s+cancelled`));
    expect(r.stdout).toMatch(/state digest\s+[0-9a-f]{64}/);
  });
});

describe('show and cancel', () => {
  it('show JOB_ID prints the timeline, readable and --json', async () => {
    const w = homeWithJobs();
    const human = await execplane(['show', J, '--home', w.home]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${J}\\s+agent_task\\s+cancelled`));
    expect(human.stdout).toMatch(/enqueue\s+→ queued/);
    expect(human.stdout).toMatch(/cancel\s+→ cancelled.*superseded/);

    const r = await execplane(['show', J, '--home', w.home, '--json']);
    const shown = json(r) as {
      job_id: string;
      job: { state: string };
      timeline: { seq: number; event: string; state: string }[];
    };
    expect(shown.job_id).toBe(J);
    expect(shown.job.state).toBe('cancelled');
    expect(shown.timeline.map((t) => [t.event, t.state])).toEqual([
      ['enqueue', 'queued'],
      ['cancel', 'cancelled'],
    ]);
    const cancelSeq = ledgerLines(w.ledger).findIndex((l) => l.includes('"event":"cancel"')) + 1;
    expect(shown.timeline[1]!.seq).toBe(cancelSeq);
  });

  it('show of an unknown job exits 1 and says how to list jobs', async () => {
    const w = homeWithJobs();
    const r = await execplane(['show', 'job-nosuchjob', '--home', w.home]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/job-nosuchjob/);
  });

  it('cancel appends a cancel event; cancelling again is refused (exit 1), ledger unchanged', async () => {
    const w = homeWithJ();
    const r = await execplane(['cancel', J, '--home', w.home, '--reason', 'not needed', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({ job_id: J, seq: 2, status: 'cancelled' });
    expect(JSON.parse(ledgerLines(w.ledger)[1]!)).toMatchObject({ event: 'cancel', reason: 'not needed' });
    const bytes = bytesOf(w.ledger);
    const again = await execplane(['cancel', J, '--home', w.home]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(/E_ILLEGAL_TRANSITION/);
    expect(bytesOf(w.ledger)).toEqual(bytes);
  });
});

describe('machine', () => {
  it('prints a Mermaid stateDiagram with every state of the machine', async () => {
    const r = await execplane(['machine']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const state of JOB_STATES) expect(r.stdout).toMatch(new RegExp(`\\b${state}\\b`));
    expect(r.stdout).toMatch(/^ {2}\[\*\] --> queued/m);
    expect(r.stdout).toMatch(/^ {2}complete --> \[\*\]$/m);
    expect(r.stdout).toMatch(/^ {2}cancelled --> \[\*\]$/m);
  });
});

describe('a torn tail, by hand', () => {
  it('replay reports the complete lines and warns; the next enqueue keeps the torn bytes beside the ledger', async () => {
    const w = homeWithJobs();
    const complete = readFileSync(w.ledger);
    const clean = await execplane(['replay', '--home', w.home, '--json']);
    const torn = Buffer.from('{"event":"enqueue","hash":"0b1');
    appendFileSync(w.ledger, torn);

    const r = await execplane(['replay', '--home', w.home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: a torn tail of \d+ byte\(s\) after line 4 was ignored/);
    const report = json(r);
    expect(report).toMatchObject({
      last_seq: 4,
      state_digest: json(clean).state_digest,
      torn_tail: { line: 5, offset: complete.length, bytes: torn.length },
    });

    const next = join(w.dir, 'next.json');
    writeFileSync(next, JSON.stringify(agentSpec({ job_id: 'job-cli0000009' })));
    const e = await execplane(['enqueue', '--home', w.home, '--file', next, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(json(e)).toEqual({ job_id: 'job-cli0000009', seq: 5, status: 'enqueued' });
    expect(e.stderr).toMatch(/torn tail .* moved aside/);
    const aside = readdirSync(w.home).filter((f) => f.startsWith('jobs.jsonl.torn-'));
    expect(aside).toEqual([`jobs.jsonl.torn-${complete.length}`]);
    expect(readFileSync(join(w.home, aside[0]!))).toEqual(torn);
    const after = readFileSync(w.ledger);
    expect(after.at(-1)).toBe(10);
    expect(after.subarray(0, complete.length)).toEqual(complete);
    expect(chainViolations(ledgerLines(w.ledger))).toEqual([]);
    const replayed = await execplane(['replay', '--home', w.home, '--json']);
    expect(replayed.stderr).toBe('');
    expect(json(replayed)).toMatchObject({ last_seq: 5, torn_tail: null });
  });
});

describe('one changed byte in the middle of the ledger', () => {
  it('replay, show and enqueue exit 1 naming the line; the file is not modified', async () => {
    const w = homeWithJobs();
    const lines = ledgerLines(w.ledger);
    const mid = lines[1]!;
    const at = mid.indexOf('"prompt":"') + 10;
    lines[1] = mid.slice(0, at) + (mid[at] === 'X' ? 'Y' : 'X') + mid.slice(at + 1);
    writeFileSync(w.ledger, lines.join('\n') + '\n');
    const bytes = bytesOf(w.ledger);

    const next = join(w.dir, 'next.json');
    writeFileSync(next, JSON.stringify(agentSpec({ job_id: 'job-cli0000009' })));
    for (const args of [
      ['replay', '--home', w.home, '--json'],
      ['replay', '--ledger', w.ledger],
      ['show', J, '--home', w.home],
      ['enqueue', '--home', w.home, '--file', next],
      ['cancel', 'job-cli0000002', '--home', w.home],
    ]) {
      const r = await execplane(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/E_LEDGER_CORRUPT: .*jobs\.jsonl: line 2: /);
      expect(r.stdout).toBe('');
      expectNoStack(r);
    }
    expect(bytesOf(w.ledger)).toEqual(bytes);
    expect(readdirSync(w.home).filter((f) => f.startsWith('jobs.jsonl.'))).toEqual([]);
  });
});
