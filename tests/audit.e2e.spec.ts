/**
 * `execplane audit` and `execplane head` as a new user meets them (issue 3, acceptance): on the
 * demo ledger and on a ledger made by enqueue and cancel, after damage, after a chain rewritten
 * past an edit, and on garbage input. Real CLI processes on real files.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execplane, requireDist } from './helpers/cli.js';
import { reseal } from './helpers/make-fixtures.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-audit-');

interface AuditJson {
  ok: boolean;
  events: number;
  last_seq: number;
  last_hash: string;
  findings: { code: string; line: number; seq: number | null; job_id: string | null; message: string }[];
}

const audit = async (...args: string[]) => {
  const r = await execplane(['audit', '--json', ...args]);
  return { ...r, json: r.stdout ? (JSON.parse(r.stdout) as { ledgers: AuditJson[] }).ledgers[0] : undefined };
};
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const write = (dir: string, name: string, ls: readonly string[]) => {
  const path = join(dir, name);
  writeFileSync(path, ls.map((l) => `${l}\n`).join(''));
  return path;
};
const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describe('execplane audit', () => {
  let home: string;
  let ledger: string;

  beforeAll(async () => {
    requireDist();
    home = tmp();
    expect((await execplane(['enqueue', '--demo', '--home', home])).code).toBe(0);
    const firstJob = lines(join(home, 'jobs.jsonl')).map((l) => JSON.parse(l) as { job_id: string })[0]!
      .job_id;
    expect((await execplane(['cancel', firstJob, '--home', home, '--reason', 'not today'])).code).toBe(0);
    ledger = join(home, 'jobs.jsonl');
  });

  it('the demo ledger audits clean: exit 0 and {ok, events, last_seq, last_hash, findings}', async () => {
    const demo = tmp();
    expect((await execplane(['enqueue', '--demo', '--home', demo])).code).toBe(0);
    const r = await audit('--home', demo);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, events: 4, last_seq: 4, findings: [] });
    expect(r.json!.last_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a ledger made by enqueue and cancel audits clean, and head prints the HASH@SEQ audit reports', async () => {
    const r = await audit('--home', home);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, events: 5, last_seq: 5, findings: [] });
    const head = await execplane(['head', '--home', home]);
    expect(head.code).toBe(0);
    expect(head.stdout).toBe(`${r.json!.last_hash}@5\n`);
    const headJson = JSON.parse((await execplane(['head', '--ledger', ledger, '--json'])).stdout) as object;
    expect(headJson).toMatchObject({ head: `${r.json!.last_hash}@5`, seq: 5, hash: r.json!.last_hash });
    const text = await execplane(['audit', '--home', home]);
    expect(text.stdout).toMatch(/intact, 5 event\(s\)/);
  });

  it.each([
    [
      'one byte changed in the middle',
      (ls: string[]) => ls.map((l, i) => (i === 2 ? l.replace('"v":1', '"v":2') : l)),
      3,
    ],
    ['a line deleted', (ls: string[]) => ls.filter((_, i) => i !== 1), 2],
    ['two lines swapped', (ls: string[]) => [ls[0]!, ls[2]!, ls[1]!, ...ls.slice(3)], 2],
    ['a line duplicated', (ls: string[]) => [...ls.slice(0, 2), ls[1]!, ...ls.slice(2)], 3],
  ] as const)(
    'after %s: exit 1 with a finding at or before the damage',
    async (_what, damage, damagedLine) => {
      const path = write(tmp(), 'jobs.jsonl', damage(lines(ledger)));
      const r = await audit(path);
      expect(r.code).toBe(1);
      expect(r.json!.ok).toBe(false);
      expect(Math.min(...r.json!.findings.map((f) => f.line))).toBeLessThanOrEqual(damagedLine);
      for (const f of r.json!.findings)
        expect(Object.keys(f).sort()).toEqual(['code', 'job_id', 'line', 'message', 'seq']);
      expect(r.stderr).toMatch(/E_AUDIT_FINDINGS/);
    },
  );

  it('a cut inside the last line is a torn tail, its own finding', async () => {
    const dir = tmp();
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(path, readFileSync(ledger).subarray(0, -30));
    const r = await audit(path);
    expect(r.code).toBe(1);
    expect(r.json!.findings.map((f) => [f.code, f.line])).toEqual([['E_AUDIT_TORN_TAIL', 5]]);
  });

  it('a chain recomputed past an edit passes alone, and fails --expect-head with the earlier head', async () => {
    const before = (await execplane(['head', '--ledger', ledger])).stdout.trim();
    const rewritten = reseal(lines(ledger), 2, (ev) => {
      (ev.job as { priority: number }).priority = 99;
    });
    const dir = tmp();
    const path = write(dir, 'jobs.jsonl', rewritten);
    expect((await audit(path)).code).toBe(0);
    const anchored = await audit(path, '--expect-head', before);
    expect(anchored.code).toBe(1);
    expect(anchored.json!.findings.map((f) => f.code)).toEqual(['E_AUDIT_HEAD_MISMATCH']);
    // An untouched ledger that only grew since still carries the head recorded before.
    const grown = tmp();
    mkdirSync(grown, { recursive: true });
    writeFileSync(join(grown, 'jobs.jsonl'), readFileSync(ledger));
    expect((await execplane(['enqueue', '--demo', '--home', grown])).code).toBe(0);
    expect((await audit('--home', grown, '--expect-head', before)).code).toBe(0);
  });

  it('garbage input: a binary file is findings (exit 1), an empty file a clean empty ledger, a directory exit 2', async () => {
    const dir = tmp();
    const binary = join(dir, 'binary.bin');
    writeFileSync(binary, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const b = await execplane(['audit', binary]);
    expect(b.code).toBe(1);
    expect(b.stdout).toMatch(/E_AUDIT_PARSE/);
    expect(b.stdout).toMatch(/no line is a ledger event: is this a ledger\?/);
    noStackTrace(b.stderr);

    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const e = await audit(empty);
    expect(e.code).toBe(0);
    expect(e.json).toMatchObject({ ok: true, events: 0, last_seq: 0, findings: [] });

    for (const args of [[dir], [join(dir, 'missing.jsonl')], ['--home', join(dir, 'nowhere')]]) {
      const r = await execplane(['audit', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^execplane: E_INPUT: .*(not a file|cannot read|no plane at)/);
      noStackTrace(r.stderr);
    }
  });

  it('contradictory or malformed flags exit 2 with one line naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['audit', '--home', home, ledger], /--home and LEDGER paths cannot be used together/],
      [['audit', ledger, '--expect-head', 'abc@1'], /--expect-head must be HASH@SEQ/],
      [['audit', ledger, ledger, '--expect-head', `${'0'.repeat(64)}@0`], /one ledger/],
      [['head', '--home', home, '--ledger', ledger], /--home and --ledger cannot be used together/],
    ];
    for (const [args, message] of cases) {
      const r = await execplane(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('several LEDGER paths: {ok, ledgers: [one report each]}', async () => {
    const bad = write(tmp(), 'bad.jsonl', lines(ledger).slice(1));
    const r = await audit(ledger, bad);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; ledgers: (AuditJson & { ledger: string })[] };
    expect(out.ok).toBe(false);
    expect(out.ledgers.map((l) => [l.ledger, l.ok])).toEqual([
      [ledger, true],
      [bad, false],
    ]);
  });

  it('head refuses a corrupt ledger (exit 1), as replay does', async () => {
    const path = write(
      tmp(),
      'jobs.jsonl',
      lines(ledger).filter((_, i) => i !== 1),
    );
    const r = await execplane(['head', '--ledger', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_LEDGER_CORRUPT/);
  });
});
