/** Running measured child processes: wall time from spawn to exit, and (optionally) peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The checkout's root: dist/tests/bench/ is three levels below it. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO, 'bin', 'execplane.js');
/** A compiled bench script next to this one, e.g. `benchScript('limit-scan')`. */
export const benchScript = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

export interface ChildResult {
  readonly ms: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak resident set size in MB, when asked for. */
  readonly maxRssMb: number | null;
}

export interface ChildOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Measure peak RSS with the preloaded probe (rss-probe.ts). */
  readonly rss?: boolean;
  /** Send stdout to /dev/null instead of collecting it (large outputs). */
  readonly discardStdout?: boolean;
}

let probes = 0;

/** Runs `node args…` to completion. */
export function runNode(args: readonly string[], options: ChildOptions = {}): Promise<ChildResult> {
  const rssOut = options.rss ? join(tmpdir(), `execplane-bench-rss-${process.pid}-${++probes}.json`) : null;
  const pre = rssOut ? ['--import', pathToFileURL(benchScript('rss-probe')).href] : [];
  const devNull = options.discardStdout ? openSync('/dev/null', 'w') : undefined;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...pre, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, ...options.env, ...(rssOut ? { BENCH_RSS_OUT: rssOut } : {}) },
      stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (devNull !== undefined) closeSync(devNull);
      let maxRssMb: number | null = null;
      if (rssOut && existsSync(rssOut)) {
        maxRssMb = (JSON.parse(readFileSync(rssOut, 'utf8')) as { max_rss_kb: number }).max_rss_kb / 1024;
        rmSync(rssOut);
      }
      resolve({ ms, code, stdout, stderr, maxRssMb });
    });
  });
}

/** Runs the CLI and insists on exit code 0 (a benchmark of a failing command measures nothing). */
export async function runCli(args: readonly string[], options: ChildOptions = {}): Promise<ChildResult> {
  const r = await runNode([CLI, ...args], options);
  if (r.code !== 0) {
    throw new Error(`execplane ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
  }
  return r;
}

/** Starts a long-running `execplane …` (a worker); the caller stops it. */
export function startCli(args: readonly string[], options: ChildOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** SIGTERM, then waits for the exit. */
export function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}
