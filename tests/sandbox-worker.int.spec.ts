/**
 * The sandbox under the library Worker with the default handlers (jobRuntime): aborts from
 * outside the handler — the kill switch, a cancelled job (lost lease) — take a running command's
 * whole process tree down, and a model-requested tool outside allowed_tools is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { jobRuntime } from '../src/jobs/index.js';
import { planePaths } from '../src/ledger/paths.js';
import { setKillSwitch } from '../src/ops/kill-switch.js';
import { openPlane } from '../src/plane.js';
import { prepareSandbox } from '../src/sandbox/prepare.js';
import type { FailEvent } from '../src/schema/types.generated.js';
import { ledgerEvents } from './helpers/ledger.js';
import { freshPlane, hostProcessesWith, testRunnerSpec, uniqueSleep, type Plane } from './helpers/sandbox.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { sleep, startWorker, waitForLedger } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-sandbox-worker-');

// A command whose grandchild sleeps for argv[2] seconds: the marker the test finds it by on the host.
const GRANDCHILD = `
  const { spawn } = require('node:child_process');
  spawn('sleep', [process.argv[2]], { stdio: 'ignore' });
  setInterval(() => {}, 1000);`;

async function startSleeper(p: Plane) {
  writeFileSync(join(p.workspace, 'grandchild.js'), GRANDCHILD);
  const marker = uniqueSleep();
  const plane = openPlane(p.home);
  await plane.submit([
    { type: 'enqueue', spec: testRunnerSpec([['node', 'grandchild.js', marker]], { timeout_sec: 600 }) },
  ]);
  const jobId = plane.state.ids().next().value as string;
  const sandbox = await prepareSandbox({ home: p.home });
  const run = startWorker(p.home, async () => ({ result: {} }), {
    workspace: p.workspace,
    leaseSec: 1.5,
    ...jobRuntime({ home: p.home, sandbox }),
  });
  // The command is running once its grandchild is.
  const sleeping = () => hostProcessesWith(`sleep\0${marker}`);
  for (let i = 0; i < 600 && sleeping().length === 0; i++) await sleep(50);
  expect(sleeping()).toHaveLength(1);
  return { plane, jobId, sleeping, ...run };
}

describe('aborts stop the whole process tree', () => {
  test('the kill switch: the job fails kill_switch and the command and its grandchild are gone', async () => {
    const p = freshPlane(tmp());
    const { plane, sleeping, exit } = await startSleeper(p);
    setKillSwitch(planePaths(p.home), true, 'test');
    await exit;
    plane.close();
    const fail = ledgerEvents(planePaths(p.home).ledger).find((e) => e.event === 'fail') as FailEvent;
    expect(fail.error.code).toBe('kill_switch');
    expect(fail.evidence?.map((f) => f.path)).toContain('attempt-1/call-01.json');
    expect(sleeping()).toEqual([]);
  });

  test('a cancelled job (the lease is lost): nothing more is written, and the tree is gone', async () => {
    const p = freshPlane(tmp());
    const { plane, jobId, sleeping, worker, exit } = await startSleeper(p);
    await plane.submit([{ type: 'cancel', job_id: jobId, reason: 'test' }]);
    // The next heartbeat is refused: the attempt is aborted.
    await waitForLedger(planePaths(p.home).ledger, (evs) => evs.some((e) => e.event === 'cancel'));
    for (let i = 0; i < 600 && sleeping().length > 0; i++) await sleep(50);
    expect(sleeping()).toEqual([]);
    worker.shutdown(0);
    await exit;
    plane.close();
    const after = ledgerEvents(planePaths(p.home).ledger);
    expect(after.filter((e) => e.event === 'fail' || e.event === 'complete')).toEqual([]);
  });
});

test('a model-requested tool outside allowed_tools is refused: fail E_POLICY_DENIED', async () => {
  const p = freshPlane(tmp());
  const plane = openPlane(p.home);
  await plane.submit([
    { type: 'enqueue', spec: agentSpec({ tool_policy: { allowed_tools: ['read_file'] } }) },
  ]);
  plane.close();
  const { exit } = startWorker(
    p.home,
    async (ctx) => {
      await ctx.toolCall({ tool: 'write_file', args: { path: 'x' }, requested_by: 'model' });
      return { result: { wrote: true } };
    },
    { once: true },
  );
  await exit;
  const fail = ledgerEvents(planePaths(p.home).ledger).find((e) => e.event === 'fail') as FailEvent;
  expect(fail.error.code).toBe('E_POLICY_DENIED');
});
