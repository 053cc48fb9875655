#!/usr/bin/env node
// `npm run demo` (or, from an installed package, `node node_modules/execplane/bin/demo.js`): the
// main job end to end on the embedded default, in a fresh plane under the system's temporary
// directory, with a sample project written beside it as the workspace (src/demo/workspace.ts; the
// jobs read nothing of this checkout or package) — enqueue the sample jobs, run two real workers
// until the queue drains, then replay the ledger, audit it with its evidence files and check the
// plane's health. Each step runs the real CLI, printed as a user would type it; the demo fails if
// any step does. EXECPLANE_DEMO_HOME picks another home; the workspace is `<home>-workspace`.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDemoWorkspace } from '../dist/src/demo/workspace.js';

const cli = fileURLToPath(new URL('execplane.js', import.meta.url));
const home = resolve(process.env.EXECPLANE_DEMO_HOME || join(tmpdir(), 'execplane-demo'));
const workspace = `${home}-workspace`;
rmSync(home, { recursive: true, force: true });
writeDemoWorkspace(workspace);

function run(args, { show = true } = {}) {
  if (show) process.stdout.write(`\n$ execplane ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: workspace, stdio: 'inherit' });
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

process.stdout.write(
  `demo: the plane's home is ${home}; the workspace is the sample project ${workspace}.\n`,
);
await step(['enqueue', '--home', home, '--demo']);
const work = ['work', '--home', home, '--workspace', workspace, '--slots', '2', '--max-idle-sec', '1'];
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
const replayed = spawnSync(process.execPath, [cli, 'replay', '--home', home, '--json'], {
  cwd: workspace,
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
