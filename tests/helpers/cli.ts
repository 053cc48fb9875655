/** Runs the real CLI (`node bin/execplane.js …`, built into dist/) as a user would. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/execplane.js', import.meta.url));

/** Throws unless `npm run build` has produced dist/ (npm test builds before vitest). */
export function requireDist(): void {
  const main = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before the e2e tests`);
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function execplane(
  args: readonly string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [BIN, ...args], {
    reject: false,
    cwd: options.cwd ?? ROOT,
    input: options.input ?? '',
    stripFinalNewline: false,
    env: {
      NO_COLOR: '1',
      EXECPLANE_HOME: undefined,
      EXECPLANE_DEBUG: undefined,
      EXECPLANE_VERIFY_THREADS: undefined,
      ...options.env,
    },
    extendEnv: true,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
