/**
 * Real-browser tests: Debian's Chromium (`/usr/bin/chromium`, or $EXECPLANE_CHROMIUM) driven by
 * playwright-core, which ships no browser (and `npx playwright install` cannot download one here).
 * Where Chromium is absent the tests say so on stderr and skip — except under `.ci/run`, which
 * installs it and sets EXECPLANE_REQUIRE_BROWSER=1, where the absence is a failure.
 *
 * `startUi` runs the real CLI, `execplane ui --port 0`, and waits for the line it prints.
 */
import { existsSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { BIN, ROOT } from './cli.js';

export const CHROMIUM = process.env.EXECPLANE_CHROMIUM ?? '/usr/bin/chromium';

/** Whether the browser tests can run here; throws where they must (EXECPLANE_REQUIRE_BROWSER=1). */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set EXECPLANE_CHROMIUM)`;
  if (process.env.EXECPLANE_REQUIRE_BROWSER === '1')
    throw new Error(`${why}, and EXECPLANE_REQUIRE_BROWSER=1 (.ci/run) requires the browser tests to run`);
  console.warn(`\n*** skipping the browser tests: ${why} ***\n`);
  return false;
}

export interface RunningUi {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** `execplane ui --home HOME --port 0 …args`, once it listens. */
export async function startUi(home: string, args: readonly string[] = []): Promise<RunningUi> {
  const proc: ResultPromise = execa(process.execPath, [BIN, 'ui', '--home', home, '--port', '0', ...args], {
    cwd: ROOT,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    env: { EXECPLANE_HOME: undefined },
    extendEnv: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`execplane ui printed no URL in 20 s: ${out}${err}`)),
      20_000,
    );
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /^execplane ui: (http:\/\/127\.0\.0\.1:\d+\/) serving /m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void proc.then((r) => {
      clearTimeout(timer);
      reject(new Error(`execplane ui exited ${r.exitCode}: ${err.trim()}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    async stop() {
      proc.kill('SIGTERM');
      const r = await proc;
      if (r.exitCode !== 0 && !r.isTerminated)
        throw new Error(`execplane ui exited ${r.exitCode} on SIGTERM`);
    },
  };
}
