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
