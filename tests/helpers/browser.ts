/**
 * Real-browser tests: Debian's Chromium (`/usr/bin/chromium`, or $EXECPLANE_CHROMIUM) driven by
 * playwright-core, which ships no browser (and `npx playwright install` cannot download one here).
 * Where Chromium is absent the tests say so on stderr and skip — except under `.ci/run`, which
 * installs it and sets EXECPLANE_REQUIRE_BROWSER=1, where the absence is a failure (the rule of
 * osPart in os-parts.ts).
 *
 * `startUi` runs the real CLI, `execplane ui --port 0`, and waits for the one line it prints.
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
  /** `http://127.0.0.1:PORT/`, as printed. */
  readonly url: string;
  readonly port: number;
  /** The line it printed once listening. */
  readonly line: string;
  readonly proc: ResultPromise;
  /** SIGTERM, then the exit (0, as cli.md says); SIGKILL after 10 s. Safe to call twice. */
  stop(): Promise<void>;
}

const STARTUP_MS = 20_000;
const STOP_MS = 10_000;
const running = new Set<RunningUi>();

/**
 * `execplane ui --home HOME --port 0 …args`, once it listens. A server that does not get that far
 * is killed before this rejects, so a failed start leaves no process behind.
 */
export async function startUi(home: string, args: readonly string[] = []): Promise<RunningUi> {
  const proc: ResultPromise = execa(process.execPath, [BIN, 'ui', '--home', home, '--port', '0', ...args], {
    cwd: ROOT,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    env: { EXECPLANE_HOME: undefined, NO_COLOR: '1' },
    extendEnv: true,
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const line = await new Promise<string>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`execplane ui ${args.join(' ')}: ${why}\nstdout: ${out}\nstderr: ${err}`));
    };
    const timer = setTimeout(() => fail(`printed no URL in ${STARTUP_MS / 1000} s`), STARTUP_MS);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(out.slice(0, nl));
    });
    void proc.then((r) => fail(`exited ${r.exitCode ?? r.signal} before listening`));
  });
  const m =
    /^execplane ui: (http:\/\/127\.0\.0\.1:(\d+)\/) serving (.+) \((read-only|actions allowed)\)$/.exec(line);
  if (!m) {
    proc.kill('SIGKILL');
    throw new Error(`execplane ui printed a line not of the documented form: ${JSON.stringify(line)}`);
  }
  let stopped: Promise<void> | undefined;
  const ui: RunningUi = {
    url: m[1]!,
    port: Number(m[2]),
    line,
    proc,
    stop() {
      stopped ??= (async () => {
        running.delete(ui);
        proc.kill('SIGTERM');
        const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_MS);
        const r = await proc;
        clearTimeout(killer);
        if (r.exitCode !== 0)
          throw new Error(`execplane ui exited ${r.exitCode ?? r.signal} on SIGTERM, not 0: ${err.trim()}`);
        const more = out.slice(line.length + 1);
        if (more.trim() !== '') throw new Error(`execplane ui printed more than its one line: ${more}`);
      })();
      return stopped;
    },
  };
  running.add(ui);
  return ui;
}

/** Stops every server startUi started and nobody stopped yet (for afterAll, whatever failed). */
export async function stopAllUis(): Promise<void> {
  const results = await Promise.allSettled([...running].map((ui) => ui.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
