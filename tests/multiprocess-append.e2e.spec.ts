/**
 * Issue 2, point 8: 8 real processes × 500 concurrent enqueues on one plane → exactly 4000
 * lines, seq contiguous, chain valid, no torn or interleaved line, every job once.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { Plane } from '../src/plane.js';
import { requireDist } from './helpers/cli.js';
import { chainViolations, ledgerLines } from './helpers/ledger.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs();
const SCRIPT = fileURLToPath(new URL('./helpers/enqueue-many.mjs', import.meta.url));
const PROCESSES = 8;
const EACH = 500;

beforeAll(requireDist);

describe('concurrent appends from many processes', () => {
  it(`${PROCESSES} processes × ${EACH} enqueues → ${PROCESSES * EACH} whole, chained lines`, async () => {
    const home = tmp();
    const start = join(home, 'start');
    const children: ResultPromise[] = [];
    const ready: Promise<void>[] = [];
    for (let p = 0; p < PROCESSES; p++) {
      const child = execa(process.execPath, [SCRIPT, home, String(p), String(EACH), start]);
      children.push(child);
      ready.push(
        new Promise((resolve, reject) => {
          child.stdout.once('data', () => resolve());
          child.once('exit', (code) =>
            reject(new Error(`process ${p} exited (${code}) before it was ready`)),
          );
        }),
      );
    }
    await Promise.all(ready);
    writeFileSync(start, ''); // all 8 start appending at once
    const results = await Promise.all(children);
    expect(results.map((r) => r.exitCode)).toEqual(Array(PROCESSES).fill(0));

    const ledger = join(home, 'jobs.jsonl');
    const text = readFileSync(ledger, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = ledgerLines(ledger);
    expect(lines).toHaveLength(PROCESSES * EACH);
    // Parses, canonical, seq 1..4000, prev/hash chain intact, ts non-decreasing.
    expect(chainViolations(lines)).toEqual([]);

    const ids = lines.map((l) => (JSON.parse(l) as { job_id: string }).job_id);
    expect(new Set(ids).size).toBe(PROCESSES * EACH);
    for (let p = 0; p < PROCESSES; p++) {
      const own = ids.filter((id) => id.startsWith(`job-mp${p}n`));
      // Each process's jobs are all there, in the order it submitted them.
      expect(own).toEqual(Array.from({ length: EACH }, (_, i) => `job-mp${p}n${String(i).padStart(4, '0')}`));
    }

    const plane = Plane.open(home, { useCheckpoint: false });
    expect(plane.report()).toMatchObject({ last_seq: PROCESSES * EACH, torn_tail: null });
    expect(plane.report().counts.queued).toBe(PROCESSES * EACH);
    plane.close();
  });
});
