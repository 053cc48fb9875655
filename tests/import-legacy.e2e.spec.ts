/**
 * `execplane import-legacy` (issue 3, point 4; docs/spec.md §10) as a user runs it, on the spec's sample
 * of the predecessor's ledger and on a bigger synthetic one full of its known failures
 * (fixtures/legacy/). The anomalies each must report are declared in fixtures/legacy/expected.json
 * (written by hand in tests/helpers/make-fixtures.ts, never computed by the importer).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LegacyManifest } from './helpers/make-fixtures.js';
import { execplane, requireDist, ROOT } from './helpers/cli.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-legacy-');
const LEGACY = join(ROOT, 'fixtures', 'legacy');
const manifest = JSON.parse(readFileSync(join(LEGACY, 'expected.json'), 'utf8')) as LegacyManifest;

interface ImportJson {
  ok: boolean;
  events: number;
  anomalies: { code: string; line: number; job_id: string | null; message: string }[];
}
interface ReplayJson {
  jobs: Record<string, { state: string }>;
}

/** What the old system's own events say of each job: enqueued, and whether a complete was written. */
function legacyFacts(path: string): {
  enqueued: Set<string>;
  completed: Set<string>;
  last: Map<string, string>;
} {
  const enqueued = new Set<string>();
  const completed = new Set<string>();
  const last = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    let ev: { event?: string; job_id?: string; job?: { job_id?: string } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      continue;
    }
    const id = ev.job_id ?? ev.job?.job_id;
    if (typeof ev !== 'object' || !id) continue;
    if (ev.event === 'enqueue') enqueued.add(id);
    if (ev.event === 'complete' && enqueued.has(id)) completed.add(id);
    if (enqueued.has(id) && ev.event) last.set(id, ev.event);
  }
  return { enqueued, completed, last };
}

async function importAndCheck(name: string) {
  const out = join(tmp(), 'v1', 'jobs.jsonl');
  const r = await execplane(['import-legacy', join(LEGACY, name), '--out', out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as ImportJson;
  const audit = await execplane(['audit', out]);
  expect(audit.code, audit.stdout).toBe(0);
  const replay = JSON.parse((await execplane(['replay', '--ledger', out, '--json'])).stdout) as ReplayJson;
  return { out, report, replay };
}

describe('execplane import-legacy', () => {
  beforeAll(() => requireDist());

  it('the spec’s sample imports with no anomaly; every job ends as the old system showed it', async () => {
    const { report, replay } = await importAndCheck('legacy-sample.jsonl');
    expect(report.ok).toBe(true);
    expect(report.anomalies).toEqual([]);
    const { last } = legacyFacts(join(LEGACY, 'legacy-sample.jsonl'));
    const shown: Record<string, string> = { complete: 'complete', fail: 'failed', enqueue: 'queued' };
    for (const [id, event] of last) expect(replay.jobs[id]?.state, id).toBe(shown[event] ?? 'running');
  });

  it('the synthetic ledger: exit 0, every anomaly reported with its line and code, repeats of one id included', async () => {
    const { report, replay } = await importAndCheck('legacy-anomalies.jsonl');
    expect(report.anomalies.map((a) => `${a.line} ${a.code}`)).toEqual(
      manifest['legacy-anomalies.jsonl']!.anomalies,
    );
    const repeats = report.anomalies.filter((a) => a.code === 'LEGACY_DUPLICATE_ENQUEUE');
    expect(repeats.map((a) => [a.line, a.job_id])).toEqual([
      [3, 'job-legacya0001'],
      [12, 'job-legacya0001'],
    ]);
    for (const a of report.anomalies) expect(a.message.length).toBeGreaterThan(10);

    const facts = legacyFacts(join(LEGACY, 'legacy-anomalies.jsonl'));
    for (const id of facts.completed)
      expect(replay.jobs[id]?.state, `${id} completed there`).toBe('complete');
    const withAnomalies = new Set(report.anomalies.map((a) => a.job_id));
    const shown: Record<string, string> = { complete: 'complete', fail: 'failed', enqueue: 'queued' };
    for (const [id, event] of facts.last) {
      if (withAnomalies.has(id) || !replay.jobs[id]) continue;
      expect(replay.jobs[id].state, id).toBe(shown[event] ?? 'running');
    }
  });

  it('a job out of attempts cannot complete in v1: the difference is reported, never hidden', async () => {
    const dir = tmp();
    const old = join(dir, 'old.jsonl');
    const job = {
      job_id: 'job-oneattempt01',
      job_type: 'doc_compactor_task',
      max_attempts: 1,
      budgets: { max_wall_time_sec: 60, max_tool_calls: 0, max_output_bytes: 4096, max_concurrency_slots: 1 },
      tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
      payload: { inputs: ['a.md'], max_input_bytes: 4096, max_output_bytes: 1024 },
    };
    const ts = (s: number) => `2026-02-22T12:00:${String(s).padStart(2, '0')}.000001Z`;
    const lease = (s: number) => Date.parse('2026-02-22T12:00:00Z') / 1000 + s;
    writeFileSync(
      old,
      [
        { ts_utc: ts(0), event: 'enqueue', validator_mode: 'jsonschema', job },
        { ts_utc: ts(1), event: 'claim', job_id: job.job_id, worker_id: 'w1', lease_expires_unix: lease(6) },
        {
          ts_utc: ts(20),
          event: 'claim',
          job_id: job.job_id,
          worker_id: 'w2',
          lease_expires_unix: lease(80),
        },
        { ts_utc: ts(21), event: 'complete', job_id: job.job_id, worker_id: 'w2', result: {} },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n',
    );
    const out = join(dir, 'new.jsonl');
    const r = await execplane(['import-legacy', old, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const codes = (JSON.parse(r.stdout) as ImportJson).anomalies.map((a) => `${a.line} ${a.code}`);
    expect(codes).toEqual(['3 LEGACY_LEASE_LAPSED', '4 LEGACY_NON_HOLDER', '4 LEGACY_OUTCOME_DIFFERS']);
    expect((await execplane(['audit', out])).code).toBe(0);
  });

  it('a line that is not UTF-8 is dropped and reported, never imported with U+FFFD in it', async () => {
    const dir = tmp();
    const old = join(dir, 'old.jsonl');
    const sample = readFileSync(join(LEGACY, 'legacy-sample.jsonl'));
    const lines = sample.toString('utf8').split('\n');
    const first = lines.findIndex((l) => l.includes('"event": "enqueue"') || l.includes('"event":"enqueue"'));
    expect(first).toBeGreaterThanOrEqual(0);
    // The first enqueue's job_type with one byte that is not UTF-8 in it; the last line unfinished
    // and not UTF-8 either.
    const bad = Buffer.from(lines[first]!.replace('"job_type"', '"job_\u0000type"'));
    bad[bad.indexOf(0)] = 0xff;
    const rest = lines.filter((_, i) => i !== first && lines[i] !== '').join('\n');
    writeFileSync(old, Buffer.concat([bad, Buffer.from(`\n${rest}\n`), Buffer.from([0x7b, 0xc3])]));
    const total = rest.split('\n').length + 2;
    const out = join(dir, 'new.jsonl');
    const r = await execplane(['import-legacy', old, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ImportJson;
    const unparseable = report.anomalies.filter((a) => a.code === 'LEGACY_UNPARSEABLE');
    expect(unparseable.map((a) => [a.line, a.message])).toEqual([
      [1, 'not valid UTF-8; the line is dropped'],
      [total, 'not valid UTF-8; the line is dropped'],
    ]);
    expect(readFileSync(out, 'utf8')).not.toContain('\ufffd');
  });

  it('refuses to overwrite --out, and garbage input exits 2 with one clear line, writing nothing', async () => {
    const dir = tmp();
    const existing = join(dir, 'exists.jsonl');
    writeFileSync(existing, 'keep me\n');
    const over = await execplane(['import-legacy', join(LEGACY, 'legacy-sample.jsonl'), '--out', existing]);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/E_OUT_EXISTS: .*exists; import-legacy never overwrites/);
    expect(readFileSync(existing, 'utf8')).toBe('keep me\n');

    const binary = join(dir, 'binary.bin');
    writeFileSync(binary, Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 131) % 256)));
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const aDir = join(dir, 'a-directory');
    mkdirSync(aDir);
    for (const [input, message] of [
      [binary, /holds no legacy events/],
      [empty, /is empty: there is nothing to import/],
      [aDir, /is not a file/],
      [join(dir, 'missing.jsonl'), /cannot read/],
    ] as const) {
      const out = join(dir, 'out', 'jobs.jsonl');
      const r = await execplane(['import-legacy', input, '--out', out]);
      expect(r.code, input).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    }
    // No temporary plane is left behind next to --out.
    expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : []).toEqual([]);
  });
});
