/**
 * What the CLI prints is safe to print, and printing it cannot fail the command it reports.
 *
 * - F19 of the 2026-12 reliability review: ledger text (a cancel reason, a job's error message, a
 *   kill-switch reason) holding ESC, BEL, NUL, CR, DEL, C1 controls or bidi overrides is printed
 *   visibly escaped by every human-readable output — on a real pseudo-terminal (`script`) and in a
 *   pipe alike — while `--json` stays the exact JSON it was.
 * - F15: a reader that goes away (`| head -1`) ends the command quietly with its own exit code; a
 *   stdout that cannot be written (`> /dev/full`) is one line on stderr, exit 1 — except after
 *   the command changed the plane (`enqueue`), whose exit 0 then still says so.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../src/core/commands.js';
import { escapeControls } from '../src/cli/escape.js';
import { Plane } from '../src/plane.js';
import { generateLedger } from './bench/gen-ledger.js';
import { BIN, execplane, requireDist, ROOT, type CliResult } from './helpers/cli.js';
import { agentSpec, cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { osPart } from './helpers/os-parts.js';

const tmp = useTmpDirs('execplane-terminal-');
beforeAll(requireDist);

const CANCELLED = 'job-ttycancel01';
const FAILED = 'job-ttyfailed01';
const REASON = 'a\x1b[2J\x1b]0;pwned\x07b';
/** C0 (ESC, BEL, NUL, CR, BS, LF), DEL, C1 (NEL, CSI), bidi (RLO, LRI), U+2028, and a tab. */
const MESSAGE = 'x\x1b[31mRED\x1b]0;pwned\x07\x00\r\x08\x7f\x85\x9b\u202egnp.exe\u2066\u2028y\ttab\nnl';
const MESSAGE_SHOWN =
  'x\\x1b[31mRED\\x1b]0;pwned\\x07\\x00\\x0d\\x08\\x7f\\x85\\x9b\\u202egnp.exe\\u2066\\u2028y\ttab\\x0anl';

/** Every character a terminal could act on, except tab and the line breaks of the output itself. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

function expectNoStack(r: CliResult): void {
  expect(r.stderr).not.toMatch(/^\s+at |Node\.js v|internal error/m);
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI with stdout and stderr on a real pseudo-terminal: util-linux `script -q -e -c CMD
 * /dev/null`. The terminal turns each \n into \r\n; that is undone, so any \r left was printed.
 */
async function onTty(args: readonly string[]): Promise<{ code: number; out: string }> {
  const r = await execa(
    'script',
    ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'],
    {
      reject: false,
      cwd: ROOT,
      input: '',
      stripFinalNewline: false,
      env: { SHELL: '/bin/sh', NO_COLOR: '1', EXECPLANE_HOME: undefined, EXECPLANE_DEBUG: undefined },
      extendEnv: true,
    },
  );
  return { code: r.exitCode ?? -1, out: String(r.stdout).replace(/\r\n/g, '\n') };
}

/** Whether `script` gives its command a terminal here (util-linux; a pty device is needed). */
function ttyWorks(): boolean {
  try {
    const probe = `${quote(process.execPath)} -e 'process.stdout.write(String(process.stdout.isTTY))'`;
    const out = execFileSync('script', ['-qec', probe, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, SHELL: '/bin/sh' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return out === 'true';
  } catch {
    return false;
  }
}
const TTY = ttyWorks();

let home = '';

beforeAll(async () => {
  home = join(tmp(), 'home');
  const plane = Plane.open(home);
  try {
    await plane.submit([
      cmd.enqueue(agentSpec({ job_id: CANCELLED })),
      cmd.enqueue(agentSpec({ job_id: FAILED })),
    ]);
    await plane.submit([cmd.cancel(CANCELLED, REASON)]);
    await plane.submit([cmd.claim(FAILED)]);
    await plane.submit([cmd.start(FAILED)]);
    const fail = cmd.fail(FAILED) as Extract<Command, { type: 'fail' }>;
    await plane.submit([{ ...fail, error: { code: 'E_HANDLER', message: MESSAGE, retryable: false } }]);
  } finally {
    plane.close();
  }
});

describe('escapeControls', () => {
  it('writes controls and bidi characters as visible escapes and leaves every other character', () => {
    expect(escapeControls(REASON)).toBe('a\\x1b[2J\\x1b]0;pwned\\x07b');
    expect(escapeControls(MESSAGE)).toBe(MESSAGE_SHOWN);
    expect(escapeControls('\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2029\u2067\u2068\u2069')).toBe(
      '\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2029\\u2067\\u2068\\u2069',
    );
    expect(escapeControls('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
    const plain = 'plain text, tabs\tand ünïcödé: 日本語 😀 \\x1b as typed';
    expect(escapeControls(plain)).toBe(plain);
  });
});

const ON_TTY = osPart(TTY, 'the terminal tests need util-linux `script` to give a command a pseudo-terminal');

describe.skipIf(!ON_TTY)('on a terminal (script: a real pseudo-terminal)', () => {
  it('show prints a cancel reason with its controls escaped', async () => {
    const r = await onTty(['show', CANCELLED, '--home', home]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(RAW_CONTROL);
    expect(r.out).not.toContain('\x1b');
    expect(r.out).toMatch(/cancel +→ cancelled +a\\x1b\[2J\\x1b\]0;pwned\\x07b\n/);
  });

  it('show prints a failure message with C0, DEL, C1 and bidi controls escaped', async () => {
    const r = await onTty(['show', FAILED, '--home', home]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(RAW_CONTROL);
    expect(r.out).toContain(`E_HANDLER: ${MESSAGE_SHOWN}\n`);
  });

  it('replay (human form) prints no raw control character', async () => {
    const r = await onTty(['replay', '--home', home]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(RAW_CONTROL);
    expect(r.out).toMatch(new RegExp(`${CANCELLED} +cancelled .*\\n.*${FAILED} +failed .* E_HANDLER\\n`));
  });

  it('an error that quotes its input, on stderr, is escaped too', async () => {
    const r = await onTty(['show', 'job-\x1b]0;pwned\x07', '--home', home]);
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(RAW_CONTROL);
    expect(r.out).toContain('execplane: E_UNKNOWN_JOB: no job job-\\x1b]0;pwned\\x07 in this ledger');
  });

  it('kill-switch status prints the reason it was given escaped', async () => {
    const h = join(tmp(), 'home');
    mkdirSync(h);
    expect((await execplane(['kill-switch', 'on', '--home', h, '--reason', REASON])).code).toBe(0);
    const r = await onTty(['kill-switch', 'status', '--home', h]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('on: a\\x1b[2J\\x1b]0;pwned\\x07b\n');
  });
});

describe('in a pipe (not a terminal)', () => {
  it('human output is escaped the same way: a log or file viewed later is a terminal too', async () => {
    const cancelled = await execplane(['show', CANCELLED, '--home', home]);
    const failed = await execplane(['show', FAILED, '--home', home]);
    for (const r of [cancelled, failed]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).not.toMatch(RAW_CONTROL);
    }
    expect(cancelled.stdout).toContain('a\\x1b[2J\\x1b]0;pwned\\x07b\n');
    expect(failed.stdout).toContain(`E_HANDLER: ${MESSAGE_SHOWN}\n`);
  });

  it('--json is the exact JSON: the text round-trips, and replay --json is the library’s report byte for byte', async () => {
    const show = await execplane(['show', FAILED, '--home', home, '--json']);
    expect(show.code).toBe(0);
    expect(show.stdout).not.toContain('\x1b'); // JSON writes C0 controls as \u001b …
    expect(show.stdout).toContain('\u202e'); // … and other characters as they are
    const parsed = JSON.parse(show.stdout) as { job: { error: { message: string } } };
    expect(parsed.job.error.message).toBe(MESSAGE);
    const cancelled = JSON.parse((await execplane(['show', CANCELLED, '--home', home, '--json'])).stdout) as {
      job: { cancel_reason: string };
    };
    expect(cancelled.job.cancel_reason).toBe(REASON);

    const replay = await execplane(['replay', '--home', home, '--json']);
    expect(replay.code).toBe(0);
    const plane = Plane.openLedgerFile(join(home, 'jobs.jsonl'));
    try {
      // The report as the library makes it, inside replay's versioned shape (docs/cli.md).
      const { version, filter, matched, verified, ...report } = JSON.parse(replay.stdout) as Record<
        string,
        unknown
      >;
      expect(version).toBe(1);
      expect([filter, matched, verified].every((v) => v !== undefined)).toBe(true);
      expect(JSON.stringify(report)).toBe(JSON.stringify(plane.report()));
    } finally {
      plane.close();
    }
  });
});

describe('a stdout that goes away or cannot be written (F15)', () => {
  let big = '';
  const specFile = () => {
    const file = join(tmp(), 'spec.json');
    writeFileSync(file, JSON.stringify(agentSpec()));
    return file;
  };
  /** Runs `script` in bash with pipefail: the exit status is execplane's unless head fails. */
  const sh = (script: string, env: Record<string, string>) =>
    execa('bash', ['-o', 'pipefail', '-c', script], {
      reject: false,
      env: { NODE: process.execPath, BIN, EXECPLANE_HOME: undefined, ...env },
      extendEnv: true,
    });
  const enqueues = (h: string) =>
    readFileSync(join(h, 'jobs.jsonl'), 'utf8').match(/"event":"enqueue"/g)?.length;

  beforeAll(() => {
    // 20,000 events over 2,000 jobs: far more output than a pipe holds (64 KiB).
    big = join(tmp(), 'home');
    mkdirSync(big);
    generateLedger(join(big, 'jobs.jsonl'), { events: 20_000, jobs: 2_000, seed: 15 });
  });

  it('replay | head -1 and replay --json | head -c 100 exit 0, with nothing on stderr', async () => {
    const err = join(tmp(), 'stderr');
    const human = await sh('"$NODE" "$BIN" replay --home "$H" 2>"$ERR" | head -1', { H: big, ERR: err });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toBe('last seq      20000');
    expect(readFileSync(err, 'utf8')).toBe('');
    const json = await sh('"$NODE" "$BIN" replay --home "$H" --json 2>"$ERR" | head -c 100', {
      H: big,
      ERR: err,
    });
    expect(json.exitCode).toBe(0);
    expect(json.stdout.startsWith('{"version":1,"last_seq":20000,"last_hash":"')).toBe(true);
    expect(json.stdout).toHaveLength(100);
    expect(readFileSync(err, 'utf8')).toBe('');
  });

  it('a command whose reader went away still exits with its own code (audit | head -1 with findings: 1)', async () => {
    const ledger = join(tmp(), 'bad.jsonl');
    const lines = readFileSync(join(big, 'jobs.jsonl'), 'utf8').split('\n');
    for (let i = 100; i < 6_000; i += 3) lines[i] = lines[i]!.replace('"seq":', '"seq" :');
    writeFileSync(ledger, lines.join('\n'));
    const r = await sh('"$NODE" "$BIN" audit "$L" | head -1', { L: ledger });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^line 101 seq 101 /);
    expect(r.stderr).toMatch(/^execplane: E_AUDIT_FINDINGS: .*\n?$/);
  });

  it('enqueue > /dev/full: exit 0, one line saying the output was lost but the job enqueued, one new enqueue', async () => {
    const h = join(tmp(), 'home');
    const file = specFile();
    expect((await execplane(['enqueue', '--home', h, '--file', file])).code).toBe(0);
    for (const json of ['', '--json']) {
      const before = enqueues(h);
      const r = await sh(`"$NODE" "$BIN" enqueue --home "$H" --file "$F" ${json} > /dev/full`, {
        H: h,
        F: file,
      });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toBe(
        'execplane: E_IO: ENOSPC: the output could not be written to stdout; the command itself succeeded ' +
          'and the plane was changed (do not rerun it; `execplane replay` shows the change)',
      );
      expect(enqueues(h)).toBe(before! + 1);
    }
  });

  it('audit > /dev/full and replay --json > /dev/full: exit 1 with one E_IO line, no stack trace', async () => {
    for (const args of ['audit --home "$H"', 'audit --home "$H" --json', 'replay --home "$H" --json']) {
      const r = await sh(`"$NODE" "$BIN" ${args} > /dev/full`, { H: big });
      expect(r.exitCode, args).toBe(1);
      expect(r.stderr, args).toBe(
        'execplane: E_IO: ENOSPC: the output could not be written to stdout; it is incomplete',
      );
      expectNoStack({ code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) });
    }
  });
});
