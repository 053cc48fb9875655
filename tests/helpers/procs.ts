/** Real `execplane` processes for end-to-end tests (the built CLI: run `npm run build` first). */
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/execplane.js', import.meta.url));

/** Runs the CLI to completion; never throws on a non-zero exit. */
export function cli(
  args: string[],
  options: { input?: string; cwd?: string; env?: Record<string, string> } = {},
) {
  return execa(process.execPath, [BIN, ...args], { reject: false, cwd: options.cwd ?? ROOT, ...options });
}

/** Starts `execplane work` in the background (stderr kept: the worker logs there). */
export function startWorkProcess(
  home: string,
  workspace: string,
  args: string[] = [],
): ResultPromise<{ reject: false }> {
  return execa(process.execPath, [BIN, 'work', '--home', home, '--workspace', workspace, ...args], {
    reject: false,
    cwd: workspace,
  });
}

/** Resolves with the stderr seen so far once the process has written a line matching `pattern`. */
export function untilOutput(child: ReturnType<typeof startWorkProcess>, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        child.stderr?.off('data', onData);
        resolve(seen);
      }
    };
    child.stderr?.on('data', onData);
    void child.then((r) => reject(new Error(`exited (${r.exitCode}) before ${pattern}: ${seen}`)));
  });
}
