/**
 * C2 of src/sandbox/capture.ts with the library Worker and the default handlers: a command that
 * prints 96 MiB has it streamed to its evidence file chunk by chunk; the worker process's peak
 * memory grows by far less than the output (the predecessor buffered all of it, then truncated).
 * Alone in its file so the peak it reads is this test's.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { jobRuntime } from '../src/jobs/index.js';
import { planePaths } from '../src/ledger/paths.js';
import { openPlane } from '../src/plane.js';
import { prepareSandbox } from '../src/sandbox/prepare.js';
import { Worker } from '../src/worker/worker.js';
import { ledgerEvents } from './helpers/ledger.js';
import { freshPlane, testRunnerSpec } from './helpers/sandbox.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-memory-');
const MIB = 1024 * 1024;

test('96 MiB of output is streamed to evidence: the worker’s peak memory grows by far less', async () => {
  const p = freshPlane(tmp());
  writeFileSync(
    join(p.workspace, 'print.js'),
    `const chunk = Buffer.alloc(65536, 121); let left = 96 * 1024 * 1024;
     (function w() { while (left > 0) { left -= chunk.length; if (!process.stdout.write(chunk)) return process.stdout.once('drain', w); } })();`,
  );
  const plane = openPlane(p.home);
  await plane.submit([
    {
      type: 'enqueue',
      spec: testRunnerSpec([['node', 'print.js']], { budgets: { max_output_bytes: 100 * MIB } }),
    },
  ]);
  plane.close();
  const sandbox = await prepareSandbox({ home: p.home });
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const worker = new Worker({
    home: p.home,
    workspace: p.workspace,
    once: true,
    ...jobRuntime({ home: p.home, sandbox }),
  });
  await worker.run();
  const growth = process.resourceUsage().maxRSS * 1024 - peakBefore;

  const end = ledgerEvents(planePaths(p.home).ledger).at(-1);
  expect(end).toMatchObject({
    event: 'complete',
    result: { passed: 1, results: [{ stdout_bytes: 96 * MIB, stdout_truncated: false }] },
  });
  const jobId = end!.job_id;
  expect(statSync(join(planePaths(p.home).evidence, jobId, 'attempt-1/call-01.stdout')).size).toBe(96 * MIB);
  expect(growth).toBeLessThan(48 * MIB);
});
