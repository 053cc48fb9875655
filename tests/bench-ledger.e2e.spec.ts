/**
 * The benchmarks' generated ledger (tests/bench/gen-ledger.ts) is a real ledger: it replays and
 * audits clean through the CLI, every event type in it. And `replay --json`, which prints a large
 * report a slice of jobs at a time, prints exactly JSON.stringify of the library's report.
 */
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../src/canonical.js';
import { DEFAULT_MIN_BYTES } from '../src/ledger/verify-pool.js';
import { Plane } from '../src/plane.js';
import type { ReplayReport } from '../src/replay/report.js';
import { generateLedger } from './bench/gen-ledger.js';
import { execplane, requireDist } from './helpers/cli.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-bench-ledger-');
let path = '';

beforeAll(() => {
  requireDist();
  path = join(tmp(), 'jobs.jsonl');
  // More than one slice of 500 jobs in the printed report.
  generateLedger(path, { events: 12_000, jobs: 1_200, seed: 7 });
});

describe('the generated benchmark ledger', () => {
  it('has every event type, audits clean and replays to the library’s report, byte for byte', async () => {
    const kinds = new Set(readFileSync(path, 'utf8').match(/"event":"[a-z_]+"/g));
    expect([...kinds].sort()).toEqual(
      [
        'cancel',
        'claim',
        'complete',
        'enqueue',
        'expire',
        'fail',
        'heartbeat',
        'retry',
        'start',
        'tool_call',
      ].map((e) => `"event":"${e}"`),
    );
    const audit = await execplane(['audit', path]);
    expect(audit.stderr).toBe('');
    expect(audit.code).toBe(0);
    const replay = await execplane(['replay', '--ledger', path, '--json']);
    expect(replay.code).toBe(0);
    const plane = Plane.openLedgerFile(path);
    try {
      // The library's report, inside replay's versioned shape (docs/cli.md, "replay").
      const {
        version,
        filter: _f,
        matched: _m,
        verified: _v,
        ...report
      } = JSON.parse(replay.stdout) as Record<string, unknown>;
      expect(version).toBe(1);
      expect(JSON.stringify(report)).toBe(JSON.stringify(plane.report()));
      expect(plane.report().last_seq).toBe(12_000);
    } finally {
      plane.close();
    }
  });

  it('replay and audit of a ledger long enough for verify threads say the same with them as without', async () => {
    // Over the 32 MiB from which a fold or an audit starts worker threads (src/ledger/verify-pool.ts).
    const big = join(tmp(), 'big.jsonl');
    generateLedger(big, { events: 80_000, jobs: 8_000, seed: 11 });
    expect(statSync(big).size).toBeGreaterThan(DEFAULT_MIN_BYTES);
    const damaged = join(tmp(), 'damaged.jsonl');
    copyFileSync(big, damaged);
    const bytes = readFileSync(damaged);
    const at = bytes.indexOf('"event":"claim"', Math.floor(bytes.length * 0.6)) + 9;
    bytes[at] = 'C'.charCodeAt(0); // a claim that says "Claim": not its hash, not its schema
    writeFileSync(damaged, bytes);
    for (const file of [big, damaged]) {
      const runs = [];
      for (const threads of ['2', '0']) {
        const env = { EXECPLANE_VERIFY_THREADS: threads };
        runs.push([
          await execplane(['replay', '--ledger', file, '--json'], { env }),
          await execplane(['audit', file, '--json'], { env }),
        ]);
      }
      expect(runs[0]).toEqual(runs[1]);
      expect(runs[0]![0]!.code).toBe(file === big ? 0 : 1);
      expect(runs[0]![1]!.code).toBe(file === big ? 0 : 1);
    }
  });

  it('a bad EXECPLANE_VERIFY_THREADS is a usage error: exit 2, one line, nothing read', async () => {
    for (const args of [
      ['replay', '--ledger', path],
      ['audit', path],
    ]) {
      const r = await execplane(args, { env: { EXECPLANE_VERIFY_THREADS: 'many' } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'execplane: E_USAGE: EXECPLANE_VERIFY_THREADS must be a whole number from 0 to 64 (got "many"); 0 reads without threads\n',
      );
    }
  });

  it('replay --json prints each job as its canonical JSON, so state_digest can be recomputed from the output', async () => {
    const replay = await execplane(['replay', '--ledger', path, '--json']);
    expect(replay.code).toBe(0);
    const report = JSON.parse(replay.stdout) as ReplayReport;
    const ids = Object.keys(report.jobs);
    expect(ids.length).toBe(1_200);
    const jobsText = ids.map((id) => `${JSON.stringify(id)}:${canonicalJson(report.jobs[id])}`).join(',');
    expect(replay.stdout).toContain(`"jobs":{${jobsText}}`);
    const { counts, jobs, last_hash, last_seq } = report;
    expect(sha256Hex(canonicalJson({ counts, jobs, last_hash, last_seq }))).toBe(report.state_digest);
  });

  it('is the same file for the same seed', () => {
    const again = join(tmp(), 'again.jsonl');
    generateLedger(again, { events: 12_000, jobs: 1_200, seed: 7 });
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(path, 'utf8'));
  });
});
