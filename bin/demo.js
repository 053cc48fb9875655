#!/usr/bin/env node
// `npm run demo`: the main job end to end on the embedded default, in a fresh plane under the
// system's temporary directory (never inside the workspace: jobs could change it) with this
// checkout as the workspace — enqueue the sample jobs, run two real workers until the queue
// drains, then replay the ledger, audit it with its evidence files and check the plane's health.
// Each step runs the real CLI, printed as a user would type it; the demo fails if any step does.
// EXECPLANE_DEMO_HOME picks another home.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const home = process.env.EXECPLANE_DEMO_HOME || join(tmpdir(), 'execplane-demo');
rmSync(home, { recursive: true, force: true });

function run(args, { show = true } = {}) {
  if (show) process.stdout.write(`\n$ execplane ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/execplane.js', ...args], { cwd: root, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function step(args) {
  const code = await run(args);
  if (code !== 0) {
    process.stderr.write(`demo: \`execplane ${args.join(' ')}\` exited with ${code}\n`);
    process.exit(1);
  }
}

// The sample test_runner job starts processes, which run in the OS sandbox (bubblewrap). On a
// machine without it, say so and run that job without it rather than leave it queued.
const sandboxed = spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0;
if (!sandboxed) {
  process.stdout.write(
    'demo: bubblewrap (bwrap) is not installed, so the test_runner job runs WITHOUT the OS sandbox ' +
      '(--unsandboxed-ok); install it (Debian: apt-get install bubblewrap) to run it confined.\n',
  );
}

process.stdout.write(`demo: the plane's home is ${home}; the workspace is this checkout.\n`);
await step(['enqueue', '--home', home, '--demo']);
const work = ['work', '--home', home, '--workspace', '.', '--slots', '2', '--max-idle-sec', '1'];
if (!sandboxed) work.push('--unsandboxed-ok');
process.stdout.write(
  `\n$ execplane ${work.join(' ')} --worker-id demo-1 &   # and demo-2, until the queue drains\n`,
);
const codes = await Promise.all(
  ['demo-1', 'demo-2'].map((id) => run([...work, '--worker-id', id], { show: false })),
);
if (codes.some((c) => c !== 0)) {
  process.stderr.write(`demo: a worker exited with ${codes.join(', ')}\n`);
  process.exit(1);
}
await step(['replay', '--home', home]);
await step(['audit', '--home', home, '--evidence']);
await step(['health', '--home', home]);

// The agent job's timeline: the offline stub model (docs/model-lane.md) asked for tools, and each
// call is a tool_call event appended before the tool ran.
const replayed = spawnSync(process.execPath, ['bin/execplane.js', 'replay', '--home', home, '--json'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
const jobs = Object.entries(JSON.parse(replayed.stdout).jobs);
const [agentId, agent] = jobs.find(([, job]) => job.job_type === 'agent_task') ?? [];
if (!agentId) {
  process.stderr.write('demo: no agent_task in the ledger\n');
  process.exit(1);
}
await step(['show', '--home', home, agentId]);
process.stdout.write(
  `\nthe model (${agent.result.model}, ${agent.result.model_mode}) made ${agent.result.tool_calls} tool call(s) ` +
    `in ${agent.result.turns} turn(s) and answered:\n  ${agent.result.answer}\n` +
    `(every turn and call: ${join(home, 'evidence', agentId, agent.result.transcript)})\n`,
);
