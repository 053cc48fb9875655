/**
 * Glob matching for repo_index_task, off the worker's event loop.
 *
 * G1. A glob is compiled by picomatch into a regular expression, and a short one can backtrack
 *     for minutes against a long path (`**\/*a*a*a*a*a*a*a*a*a*c`). Matching therefore runs on a
 *     worker thread of its own: the worker's event loop — heartbeats, the wall-time budget, its
 *     signals — never waits for it, and the job's AbortSignal terminates the thread at once
 *     (a job whose globs are pathological ends by its wall-time budget, E_BUDGET_WALL_TIME).
 * G2. The thread runs picomatch itself (the package, by its resolved path), with the options the
 *     handler gives; it shares no state with the worker and gets nothing but the paths and globs.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

// The thread's code (CommonJS, evaluated): no module of ours, so it runs as well from the
// TypeScript sources (tests) as from dist/.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const picomatch = require(workerData.picomatch);
const include = picomatch(workerData.include);
const exclude = workerData.exclude.length ? picomatch(workerData.exclude) : () => false;
parentPort.postMessage(workerData.paths.filter((p) => include(p) && !exclude(p)));
`;

/** The paths that match some include glob and no exclude glob (R1 of repo-index.ts), in order. */
export function matchGlobs(
  paths: readonly string[],
  include: readonly string[],
  exclude: readonly string[],
  signal: AbortSignal,
): Promise<string[]> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD, {
      eval: true,
      workerData: { picomatch: require.resolve('picomatch'), paths, include, exclude },
      // Only what the thread needs: no stdin, no environment of the worker's.
      stdin: false,
      env: {},
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      void worker.terminate();
      finish(() => reject(signal.reason as Error));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (matched: string[]) => {
      finish(() => resolve(matched));
      void worker.terminate();
    });
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) =>
      finish(() => reject(new Error(`the glob matcher stopped (exit ${code}) before it answered`))),
    );
  });
}
