/**
 * `npm run demo` — the README's first command after install — end to end: sample jobs enqueued,
 * real workers drain them, replay shows every job complete, and the ledger and its evidence
 * audit clean.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { cli, ROOT } from './helpers/procs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-demo-test-');

test('the demo drains the sample jobs through real workers and its ledger audits clean', async () => {
  const home = join(tmp(), 'home');
  const demo = await execa(process.execPath, ['bin/demo.js'], {
    cwd: ROOT,
    reject: false,
    env: { EXECPLANE_DEMO_HOME: home },
  });
  expect(demo.exitCode, demo.stderr).toBe(0);
  expect(demo.stdout).toMatch(/jobs {10}4 \(complete 4\)/);
  expect(demo.stdout).toMatch(/^healthy$/m);
  expect(demo.stdout).toContain(`the plane's home is ${home}`);
  // The agent job's tool calls, as `show` prints them: the offline model listed, then read.
  expect(demo.stdout).toMatch(
    /tool_call → running .* list_files \(model\)\n.*tool_call → running .* read_file \(model\)/,
  );
  expect(demo.stdout).toMatch(/the model \(stub, stub\) made 2 tool call\(s\) in 3 turn\(s\)/);
  const audit = await cli(['audit', '--home', home, '--evidence', '--json']);
  expect(audit.exitCode, audit.stdout).toBe(0);
  expect(JSON.parse(audit.stdout)).toMatchObject({
    version: 1,
    ok: true,
    ledgers: [{ ok: true, findings: [] }],
  });
  const replay = JSON.parse((await cli(['replay', '--home', home, '--json'])).stdout) as {
    jobs: Record<string, { state: string; job_type: string }>;
  };
  expect(
    Object.values(replay.jobs)
      .map((j) => j.job_type)
      .sort(),
  ).toEqual(['agent_task', 'doc_compactor_task', 'repo_index_task', 'test_runner_task']);
});
