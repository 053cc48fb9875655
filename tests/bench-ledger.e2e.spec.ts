/**
 * The benchmarks' generated ledger (tests/bench/gen-ledger.ts) is a real ledger: it replays and
 * audits clean through the CLI, every event type in it. And `replay --json`, which prints a large
 * report a slice of jobs at a time, prints exactly JSON.stringify of the library's report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Plane } from '../src/plane.js';
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
      expect(replay.stdout).toBe(`${JSON.stringify(plane.report())}\n`);
      expect(plane.report().last_seq).toBe(12_000);
    } finally {
      plane.close();
    }
  });

  it('is the same file for the same seed', () => {
    const again = join(tmp(), 'again.jsonl');
    generateLedger(again, { events: 12_000, jobs: 1_200, seed: 7 });
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(path, 'utf8'));
  });
});
