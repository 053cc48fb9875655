/**
 * What the network sandbox costs per command: the median wall time of starting and finishing
 * `true` through runCommand (process group, capped capture, evidence files) on the host versus
 * inside a fresh network namespace (the probed prefix), 50 runs each.
 * Build with `npx tsc -p tests/bench/tsconfig.json`, then `node dist/tests/bench/sandbox-start.js`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CappedCapture } from '../../src/sandbox/capture.js';
import { runCommand } from '../../src/sandbox/exec.js';
import { describeEnforcement, probeNetworkEnforcement } from '../../src/sandbox/network.js';
import { findProgram } from '../../src/sandbox/program-lookup.js';

const RUNS = 50;
const dir = mkdtempSync(join(tmpdir(), 'execplane-bench-'));
const program = (await findProgram('true', process.env.PATH)) as string;
const enforcement = await probeNetworkEnforcement();
console.log(`network enforcement: ${describeEnforcement(enforcement)}`);

async function median(prefix: readonly string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cap = (name: string) => new CappedCapture(dir, 'bench', `${name}-${i}`, () => 1 << 20);
    const t0 = performance.now();
    await runCommand({
      program,
      argv: ['true'],
      prefix,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      timeoutMs: 10_000,
      termGraceMs: 1000,
      signal: new AbortController().signal,
      stdout: cap('out'),
      stderr: cap('err'),
    });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)] as number;
}

const host = await median([]);
console.log(`host:  median ${host.toFixed(2)} ms over ${RUNS} runs of \`true\``);
if (enforcement.kind === 'netns') {
  const netns = await median(enforcement.prefix);
  console.log(
    `netns: median ${netns.toFixed(2)} ms over ${RUNS} runs (+${(netns - host).toFixed(2)} ms per command)`,
  );
  const bare = await median(enforcement.prefix.slice(0, enforcement.prefix.indexOf('--') + 1));
  console.log(`netns without the loopback step: median ${bare.toFixed(2)} ms`);
}
rmSync(dir, { recursive: true, force: true });
