/** Runs the real CLI (`node bin/execplane.js …`, built into dist/) as a user would. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/execplane.js', import.meta.url));

/**
 * Throws unless `npm run build` has produced dist/ from the current sources (npm test builds
 * before vitest): tests of the CLI or of worker threads run the compiled JavaScript, and a stale
 * build would test yesterday's code.
 */
export function requireDist(): void {
  const main = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before the e2e tests`);
  for (const dir of ['src', 'machines']) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      const js = join(ROOT, 'dist', dir, file.replace(/\.ts$/, '.js'));
      if (!existsSync(js) || statSync(join(ROOT, dir, file)).mtimeMs > statSync(js).mtimeMs)
        throw new Error(`dist/ is older than ${dir}/${file}: run \`npm run build\` (npm test does)`);
    }
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function execplane(
  args: readonly string[],
  options: { cwd?: string; input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [BIN, ...args], {
    reject: false,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
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
  if (r.timedOut) throw new Error(`execplane ${args.join(' ')} did not end within ${options.timeoutMs} ms`);
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * Writes `home`'s checkpoint.json with the built code (dist/), as `execplane` would: a checkpoint
 * is used only by the code that folded it (C1 of src/ledger/checkpoint/format.ts), and the
 * sources vitest runs are another text of that code than the CLI's dist/.
 */
export async function checkpointByDist(home: string): Promise<void> {
  requireDist();
  const plane = new URL('../../dist/src/plane.js', import.meta.url).href;
  const script =
    `const { Plane } = await import(${JSON.stringify(plane)});` +
    'const p = Plane.open(process.argv[1]); p.maybeCheckpoint(true); p.close();';
  await execa(process.execPath, ['--input-type=module', '-e', script, home]);
}
