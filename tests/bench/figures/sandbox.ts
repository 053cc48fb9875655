/**
 * What the OS sandbox costs per command (docs/sandbox.md, "The boundary"): the median wall time
 * of starting and finishing `true` through runCommand — launcher, capped capture, evidence files —
 * inside bubblewrap with the job's limits (and cgroups where the worker may make them), beside
 * the same command on the host with no sandbox at all, in the same run.
 */
import { performance } from 'node:perf_hooks';
import { CappedCapture } from '../../../src/sandbox/capture.js';
import { runCommand } from '../../../src/sandbox/exec.js';
import { finishLaunch, prepareLaunch } from '../../../src/sandbox/exec-tool.js';
import { DEFAULT_LIMITS } from '../../../src/sandbox/limits.js';
import { prepareSandbox } from '../../../src/sandbox/prepare.js';
import { findProgram } from '../../../src/sandbox/program-lookup.js';
import { describeSandbox } from '../../../src/sandbox/sandbox.js';
import type { BenchContext } from '../context.js';
import { entry, spread, type Entry } from '../stats.js';

export async function sandboxFigure(ctx: BenchContext): Promise<Entry[]> {
  const runs = ctx.quick ? 20 : 100;
  const home = ctx.dir('sandbox-home');
  const workspace = ctx.dir('sandbox-ws');
  const evidence = ctx.dir('sandbox-evidence');
  const sandbox = await prepareSandbox({ home });
  ctx.log(`sandbox: ${describeSandbox(sandbox)}`);
  if (!sandbox.isolation.ok) {
    ctx.log('sandbox figure skipped: no OS sandbox on this machine');
    return [];
  }
  const program = (await findProgram('true', process.env.PATH))!;
  const once = async (i: number, sandboxed: boolean): Promise<number> => {
    const cap = (name: string) =>
      new CappedCapture(evidence, 'bench', `${name}-${sandboxed}-${i}`, () => 1 << 20);
    const t0 = performance.now();
    const launch = sandboxed
      ? await prepareLaunch(
          sandbox,
          { kind: 'sandbox', network: 'netns' },
          { workspace, cwd: workspace, writeWorkspace: true },
          DEFAULT_LIMITS,
        )
      : undefined;
    try {
      const r = await runCommand({
        program,
        argv: ['true'],
        prefix: launch?.prefix ?? [],
        namespaced: launch?.namespaced ?? false,
        cwd: workspace,
        env: { PATH: process.env.PATH ?? '' },
        timeoutMs: 10_000,
        termGraceMs: 1000,
        signal: new AbortController().signal,
        stdout: cap('out'),
        stderr: cap('err'),
      });
      if (r.exit_code !== 0)
        throw new Error(`\`true\` exited ${r.exit_code ?? r.signal} (sandboxed: ${sandboxed})`);
    } finally {
      if (launch) await finishLaunch(launch);
    }
    return performance.now() - t0;
  };
  const host: number[] = [];
  const boxed: number[] = [];
  for (let i = 0; i < runs; i++) {
    host.push(await once(i, false)); // interleaved, so both see the same machine
    boxed.push(await once(i, true));
  }
  const ours = spread(boxed);
  const limit = spread(host);
  ctx.log(`sandbox start: ${ours.median.toFixed(2)} ms a command, host ${limit.median.toFixed(2)} ms`);
  return [
    entry({
      name: 'sandbox_start',
      figure: `one command (\`true\`) in the OS sandbox: bubblewrap, limits${sandbox.cgroups.kind === 'v1' ? ', cgroups' : ''}, capture; median of ${runs}`,
      unit: 'ms',
      better: 'lower',
      ours,
      limit,
      limitIs: 'the same command through runCommand on the host, no sandbox',
    }),
  ];
}
