/**
 * Reads that scale (issue 16, item 6), through real `node bin/execplane.js` processes on real
 * files: `show` through jobs.index reads only the job's lines (a corrupt line of another job does
 * not stop it, one of its own does), an index that lies is caught and the whole ledger read
 * instead, replay's filters, the versioned JSON shapes, and a reader that goes away early.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateLedger } from './bench/gen-ledger.js';
import { BIN, execplane, requireDist } from './helpers/cli.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-reads-');
beforeAll(requireDist);

interface Shown {
  job_id: string;
  job: { state: string };
  timeline: { seq: number; line: number; event: string; state: string }[];
  verified: { read: string; job_lines?: number; not_verified: string | null };
}

/** A plane of a generated 3,000-event ledger, replayed once so it has jobs.index. */
async function plane(seed = 7): Promise<{ home: string; ledger: string; source: string }> {
  const dir = tmp();
  const home = join(dir, 'home');
  mkdirSync(home);
  const source = join(dir, 'source.jsonl');
  generateLedger(source, { events: 3_000, jobs: 300, seed });
  const ledger = join(home, 'jobs.jsonl');
  copyFileSync(source, ledger);
  const r = await execplane(['replay', '--home', home]);
  expect(r.code, r.stderr).toBe(0);
  expect(existsSync(join(home, 'jobs.index'))).toBe(true);
  return { home, ledger, source };
}

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const jobOf = (line: string) => (JSON.parse(line) as { job_id: string }).job_id;

/** Overwrites one hex digit of line `n`'s hash (1-based), keeping every offset where it was. */
function corruptLine(path: string, n: number): void {
  const all = lines(path);
  all[n - 1] = all[n - 1]!.replace(/"hash":"(.)/, (_m, c: string) => `"hash":"${c === '0' ? '1' : '0'}`);
  writeFileSync(path, `${all.join('\n')}\n`);
}

async function show(args: string[]): Promise<{ code: number | null; stderr: string; shown?: Shown }> {
  const r = await execplane(['show', ...args, '--json']);
  return {
    code: r.code,
    stderr: r.stderr,
    shown: r.code === 0 ? (JSON.parse(r.stdout) as Shown) : undefined,
  };
}

describe('show JOB_ID through jobs.index', () => {
  it('reads the job through the index and shows what a full read shows, saying what it did not verify', async () => {
    const p = await plane();
    const job = jobOf(lines(p.ledger)[1500]!);
    const fast = await show([job, '--home', p.home]);
    const full = await show([job, '--ledger', p.ledger]);
    expect(fast.code, fast.stderr).toBe(0);
    expect(fast.stderr).toBe('');
    expect(fast.shown!.verified.read).toBe('index');
    expect(fast.shown!.verified.job_lines).toBe(fast.shown!.timeline.length);
    expect(fast.shown!.verified.not_verified).toMatch(/execplane audit/);
    expect(full.shown!.verified).toEqual({ read: 'full', lines: 3000, not_verified: null });
    expect({ ...fast.shown, verified: null }).toEqual({ ...full.shown, verified: null });
    const text = await execplane(['show', job, '--home', p.home]);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /^verified: this job's \d+ line\(s\).*not verified: /,
    );
  });

  it('a corrupt line of another job is not read; a corrupt line of the job itself is caught (exit 1, its line)', async () => {
    const p = await plane();
    const all = lines(p.ledger);
    const job = jobOf(all[2000]!);
    const other = all.findIndex((l, i) => i > 100 && jobOf(l) !== job) + 1;
    corruptLine(p.ledger, other);
    const replay = await execplane(['replay', '--home', p.home]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toContain(`line ${other}:`);
    const ok = await show([job, '--home', p.home]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.shown!.verified.read).toBe('index');

    const own = all.findIndex((l) => jobOf(l) === job) + 1; // its enqueue, before line `other`? either way
    copyFileSync(p.source, p.ledger);
    corruptLine(p.ledger, own);
    const bad = await execplane(['show', job, '--home', p.home]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /jobs\.index ignored \(the line at byte \d+ that jobs\.index gives for .* fails its own checks/,
    );
    expect(bad.stderr).toContain(`E_LEDGER_CORRUPT: jobs.jsonl: line ${own}:`);
    expect(bad.stdout).toBe('');
  });

  it('an index that lies — an edited block, or a ledger replaced under it — is caught and the whole ledger read', async () => {
    const p = await plane();
    const job = jobOf(lines(p.ledger)[900]!);
    const truth = (await show([job, '--ledger', p.ledger])).shown!;
    const indexPath = join(p.home, 'jobs.index');
    const original = readFileSync(indexPath, 'utf8');
    const [header, ...body] = original.split('\n');
    // Every offset of every row one byte on: the same length, the header's SHA-256 no longer matches.
    writeFileSync(
      indexPath,
      [
        header,
        ...body.map((row) =>
          row.replace(/ ([0-9a-z]+)$/, (_m, d: string) => ` ${(parseInt(d, 36) + 1).toString(36)}`),
        ),
      ]
        .join('\n')
        .slice(0, original.length)
        .padEnd(original.length, '\n'),
    );
    const edited = await show([job, '--home', p.home]);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stderr).toMatch(/^execplane: warning: jobs\.index ignored \(/);
    expect(edited.shown).toEqual(truth);

    // A different ledger of the same length and shape in its place: the index's anchor fails.
    writeFileSync(indexPath, original);
    const dir = tmp();
    const other = join(dir, 'other.jsonl');
    generateLedger(other, { events: 3_000, jobs: 300, seed: 8 });
    copyFileSync(other, p.ledger);
    const otherJob = jobOf(lines(other)[900]!);
    const replaced = await show([otherJob, '--home', p.home]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toMatch(/jobs\.index ignored \(the ledger has no line with seq 3000/);
    expect(replaced.shown).toEqual((await show([otherJob, '--ledger', other])).shown);
    // That full read wrote a new index: the next show uses it.
    const next = await show([otherJob, '--home', p.home]);
    expect([next.stderr, next.shown!.verified.read]).toEqual(['', 'index']);
  });

  it('lines appended after the index are read and chained; a job enqueued there is found', async () => {
    const p = await plane();
    const spec = join(tmp(), 'spec.json');
    const id = 'job-reads0000001';
    writeFileSync(spec, JSON.stringify(agentSpec({ job_id: id })));
    const enq = await execplane(['enqueue', '--home', p.home, '--file', spec]);
    expect(enq.code, enq.stderr).toBe(0);
    const r = await show([id, '--home', p.home]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.shown!.verified).toMatchObject({
      read: 'index',
      job_lines: 0,
      lines_after_index: 1,
      first_line_after_index: 3001,
    });
    expect(r.shown!.timeline.map((t) => [t.line, t.event, t.state])).toEqual([[3001, 'enqueue', 'queued']]);
  });
});

describe('replay filters and versioned JSON', () => {
  it("--state, --type, --since, --limit list some jobs; counts and state_digest stay the whole plane's", async () => {
    const p = await plane();
    const whole = JSON.parse((await execplane(['replay', '--home', p.home, '--json'])).stdout) as {
      version: number;
      state_digest: string;
      counts: Record<string, number>;
      jobs: Record<string, { state: string; job_type: string; updated_at_utc: string }>;
      filter: unknown;
    };
    expect([whole.version, whole.filter]).toEqual([1, null]);
    const r = await execplane([
      'replay',
      '--home',
      p.home,
      '--state',
      'complete,cancelled',
      '--state',
      'failed',
      '--limit',
      '5',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as typeof whole & {
      matched: number;
      verified: { lines_from_checkpoint: number };
    };
    expect(out.state_digest).toBe(whole.state_digest);
    expect(out.counts).toEqual(whole.counts);
    expect(out.matched).toBe(whole.counts.complete! + whole.counts.cancelled! + whole.counts.failed!);
    const want = Object.keys(whole.jobs)
      .filter((id) => ['complete', 'cancelled', 'failed'].includes(whole.jobs[id]!.state))
      .slice(0, 5);
    expect(Object.keys(out.jobs)).toEqual(want);
    expect(out.filter).toEqual({
      state: ['complete', 'cancelled', 'failed'],
      type: null,
      since: null,
      limit: 5,
    });
    // A filtered replay starts from checkpoint.json when there is one; a 3,000-line plane has none yet.
    expect(out.verified.lines_from_checkpoint).toBe(0);

    const since = '2026-01-01T00:00:05Z';
    const typed = JSON.parse(
      (await execplane(['replay', '--home', p.home, '--type', 'agent_task', '--since', since, '--json']))
        .stdout,
    ) as typeof whole;
    const wantTyped = Object.keys(whole.jobs).filter(
      (id) =>
        whole.jobs[id]!.job_type === 'agent_task' &&
        Date.parse(whole.jobs[id]!.updated_at_utc) >= Date.parse(since),
    );
    expect(wantTyped.length).toBeGreaterThan(0);
    expect(Object.keys(typed.jobs)).toEqual(wantTyped);

    const none = JSON.parse(
      (await execplane(['replay', '--home', p.home, '--state', 'expired', '--type', 'nope', '--json']))
        .stdout,
    ) as typeof whole;
    expect(Object.keys(none)).toEqual(Object.keys(out)); // the same shape with no job listed
    expect(none.jobs).toEqual({});
  });

  it('bad filter values are refused with one line, exit 2', async () => {
    const p = await plane();
    for (const [flag, value] of [
      ['--state', 'done'],
      ['--since', 'yesterday'],
      ['--limit', '0'],
    ] as const) {
      const r = await execplane(['replay', '--home', p.home, flag, value]);
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
    }
  });

  it('audit --json has one shape for one ledger or several: {version: 1, ok, ledgers: [...]}', async () => {
    const p = await plane();
    const one = JSON.parse((await execplane(['audit', p.ledger, '--json'])).stdout) as {
      version: number;
      ok: boolean;
      ledgers: unknown[];
    };
    const two = JSON.parse((await execplane(['audit', p.ledger, p.source, '--json'])).stdout) as typeof one;
    expect([one.version, one.ok, one.ledgers.length]).toEqual([1, true, 1]);
    expect([two.version, two.ok, two.ledgers.length]).toEqual([1, true, 2]);
  });
});

describe('a reader that goes away early (EPIPE)', () => {
  for (const args of [['replay'], ['replay', '--json'], ['audit', '--json'], ['show']]) {
    it(`execplane ${args.join(' ')} | head: a quiet exit, no error line`, async () => {
      const p = await plane();
      const job = jobOf(lines(p.ledger)[10]!);
      const argv = [
        BIN,
        ...args,
        ...(args[0] === 'show' ? [job] : []),
        ...(args[0] === 'audit' ? [p.ledger, p.ledger, p.ledger] : ['--home', p.home]),
      ];
      const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stderr).toBe('');
      expect(code).toBe(0);
    });
  }
});
