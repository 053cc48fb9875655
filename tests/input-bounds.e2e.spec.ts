/**
 * Input that replay cannot process is never accepted (reliability review F8, F16, F17, F18, F20),
 * tried with the built CLI as real processes on real files. Every refusal is checked the same
 * way (`expectRefused`): its exit code, one error report on stderr naming the problem and where
 * it is (a JSON path or a line), no stack trace, and the ledger byte-identical (or still absent).
 * Every process has a wall timeout, so a hang fails the test; nothing asserts how fast it was.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical.js';
import { BIN, execplane, requireDist, type CliResult } from './helpers/cli.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-bounds-');
beforeAll(requireDist);

/** Long enough that only a hang reaches it. */
const WALL_MS = 60_000;
const MAX_LINE_BYTES = 64 * 1024;

/** `execplane ARGS` as a real process, with a wall timeout. */
const run = (
  args: readonly string[],
  o: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {},
): Promise<CliResult> => execplane(args, { ...o, timeoutMs: WALL_MS });

/** A fresh directory with a home in it that does not exist yet. */
function fresh() {
  const dir = tmp();
  const home = join(dir, 'home');
  return { dir, home, ledger: join(home, 'jobs.jsonl') };
}

/** A home whose ledger holds one enqueued job. */
async function planeWithOneJob() {
  const p = fresh();
  const file = join(p.dir, 'first.json');
  writeFileSync(file, JSON.stringify(agentSpec({ job_id: 'job-bounds00001' })));
  const r = await run(['enqueue', '--home', p.home, '--file', file]);
  expect(r.code, r.stderr).toBe(0);
  return p;
}

/** The file's contents as a digest (null when absent): large files compare cheaply. */
const bytesOf = (path: string) =>
  existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null;

/** Writes `content` beside the home and returns its path. */
function specFile(dir: string, content: string | Buffer, name = 'spec.json'): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/**
 * The refusal every case shares: exit `code`; one error report on stderr matching `message` —
 * one line, or for a schema error (E_SCHEMA) its header and exactly one problem line, as
 * docs/cli.md defines it; nothing on stdout; no stack trace.
 */
function expectRefused(r: CliResult, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^execplane: E_[A-Z_]+: /);
  if (/^execplane: E_SCHEMA: .* is invalid:$/.test(lines[0]!)) {
    expect(lines, r.stderr).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}\/\S*: /);
  } else {
    expect(lines, r.stderr).toHaveLength(1);
  }
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toContain('\n    at ');
  expect(r.stderr).not.toMatch(/Maximum call stack|internal error/);
  expect(r.stdout).toBe('');
}

/** A spec with `meta` set to the raw JSON `metaJson` (so its text can be any depth or number). */
function withMeta(metaJson: string): string {
  return JSON.stringify(agentSpec()).replace(/\}$/, `,"meta":${metaJson}}`);
}

const nested = (depth: number) => `{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;

/**
 * Appends to `ledger` an enqueue line sealed correctly (canonical, hashed, linked) whose
 * meta.deep nests `depth` arrays — a line no writer writes, made by hand.
 */
function appendDeepLine(ledger: string, depth: number): number {
  const lines = readFileSync(ledger, 'utf8').trimEnd().split('\n');
  const last = JSON.parse(lines.at(-1)!) as { hash: string; seq: number; ts_utc: string };
  const jobId = 'job-deepline0001';
  const body = canonicalJson({
    event: 'enqueue',
    job_id: jobId,
    job: { ...agentSpec({ job_id: jobId }), created_at_utc: last.ts_utc, meta: { deep: [] } },
    prev: last.hash,
    seq: last.seq + 1,
    ts_utc: last.ts_utc,
    v: 1,
  }).replace('"deep":[]', `"deep":${'['.repeat(depth)}${']'.repeat(depth)}`);
  const hash = createHash('sha256').update(body).digest('hex');
  const line = body.replace('{"event":"enqueue",', `{"event":"enqueue","hash":"${hash}",`);
  writeFileSync(ledger, readFileSync(ledger, 'utf8') + line + '\n');
  return lines.length + 1;
}

describe('nesting depth (F8): a spec nests at most 32 levels, and readers refuse deeper lines by count', () => {
  it.each([4109, 40, 31])(
    'meta.deep nested %i arrays deep (over 32 levels): exit 2 naming the path',
    async (d) => {
      const p = await planeWithOneJob();
      const before = bytesOf(p.ledger);
      const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, withMeta(nested(d)))]);
      // The spec is level 1, meta 2, deep 3: the 33rd level is the 31st array.
      expectRefused(r, 2, /\/meta\/deep(\/0){30}: nests deeper than 32 levels/);
      expect(bytesOf(p.ledger)).toEqual(before);
    },
  );

  it('the same in a batch, and on standard input: the path names the spec', async () => {
    const p = fresh();
    const batch = `[${JSON.stringify(agentSpec())},${withMeta(nested(100_000))}]`;
    const file = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, batch)]);
    expectRefused(file, 2, /: \/1\/meta\/deep(\/0){30}: nests deeper than 32 levels/);
    const stdin = await run(['enqueue', '--home', p.home, '--file', '-'], { input: batch });
    expectRefused(stdin, 2, /standard input: \/1\/meta\/deep(\/0){30}: nests deeper than 32 levels/);
    expect(existsSync(p.home)).toBe(false);
  });

  it('30 arrays deep (32 levels) is accepted, and replay, show, audit and head all read it', async () => {
    const p = fresh();
    const r = await run([
      'enqueue',
      '--home',
      p.home,
      '--file',
      specFile(p.dir, withMeta(nested(30))),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { job_id } = JSON.parse(r.stdout) as { job_id: string };
    for (const args of [
      ['replay', '--home', p.home],
      ['show', job_id, '--home', p.home],
      ['audit', '--home', p.home],
      ['head', '--home', p.home],
    ]) {
      const read = await run(args);
      expect(read.code, `${args[0]}: ${read.stderr}`).toBe(0);
      expect(read.stderr).toBe('');
    }
  });

  it('a hand-sealed line nested 5,000 deep: replay and enqueue exit 1 naming the line, audit finds it', async () => {
    const p = await planeWithOneJob();
    const line = appendDeepLine(p.ledger, 5000);
    const before = bytesOf(p.ledger);
    const corrupt = new RegExp(`E_LEDGER_CORRUPT: .*jobs\\.jsonl: line ${line}: nested deeper than`);
    expectRefused(await run(['replay', '--home', p.home]), 1, corrupt);
    expectRefused(await run(['replay', '--ledger', p.ledger]), 1, corrupt);
    const next = specFile(p.dir, JSON.stringify(agentSpec({ job_id: 'job-bounds00002' })));
    expectRefused(await run(['enqueue', '--home', p.home, '--file', next]), 1, corrupt);

    const audit = await run(['audit', '--home', p.home, '--json']);
    expect(audit.code, audit.stderr).toBe(1);
    expect(audit.stderr).not.toMatch(/Maximum call stack|internal error|\n {4}at /);
    const report = (
      JSON.parse(audit.stdout) as {
        ledgers: { findings: { code: string; line: number; message: string }[] }[];
      }
    ).ledgers[0]!;
    expect(report.findings).toEqual([
      expect.objectContaining({
        code: 'E_AUDIT_PARSE',
        line,
        message: expect.stringMatching(/nested deeper than/),
      }),
    ]);
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it('replay and audit agree on every depth: a bound by count, not by the stack left', async () => {
    // 66 levels is the most a line may nest (the spec's 32 and room to spare); 4,100 once passed
    // audit (a shallower stack) while replay called it corrupt.
    for (const [arrays, code] of [
      [63, 0],
      [64, 1],
      [4100, 1],
    ] as const) {
      const p = await planeWithOneJob();
      appendDeepLine(p.ledger, arrays); // event 1, job 2, meta 3, then the arrays
      const [replay, audit] = await Promise.all([
        run(['replay', '--home', p.home]),
        run(['audit', '--home', p.home]),
      ]);
      expect([replay.code, audit.code], `${arrays}: ${replay.stderr}${audit.stderr}`).toEqual([code, code]);
      expect(replay.stderr + audit.stderr).not.toMatch(/Maximum call stack|internal error/);
    }
  });
});

describe('JSON whose meaning would change (F17): refused with the path, nothing appended', () => {
  it('a duplicate key: exit 2 naming the path of the second one', async () => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const text = JSON.stringify(agentSpec()).replace(
      '"allow_network":false',
      '"allow_network":false,"allow_network":true',
    );
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, text)]);
    expectRefused(r, 2, /E_INPUT: .*: \/tool_policy\/allow_network: the key "allow_network" appears twice/);
    // The same key spelt with an escape is the same key.
    const escaped = JSON.stringify(agentSpec()).replace(
      '"allow_network":false',
      '"allow_network":false,"allow\\u005fnetwork":true',
    );
    const r2 = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, escaped)]);
    expectRefused(r2, 2, /\/tool_policy\/allow_network: the key "allow_network" appears twice/);
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it.each([
    ['1e400', '{"big":1e400}', '/meta/big', /beyond what JSON can carry/],
    ['an integer beyond 2^53', '{"int":12345678901234567890123}', '/meta/int', /cannot be carried exactly/],
    ['2^53 + 1', '{"int":9007199254740993}', '/meta/int', /written back as 9007199254740992/],
    ['2^53 + 1 with a fraction', '{"f":9007199254740993.0}', '/meta/f', /written back as 9007199254740992/],
    [
      '2^53 + 1 with an exponent',
      '{"e":90071992547409930e-1}',
      '/meta/e',
      /written back as 9007199254740992/,
    ],
    ['a decimal the double rounds', '{"d":0.10000000000000000555}', '/meta/d', /written back as 0.1\)/],
    ['an underflow to 0', '{"u":1e-400}', '/meta/u', /written back as 0\)/],
    ['-0', '{"neg0":-0}', '/meta/neg0', /-0 would be written back as 0/],
    ['-0 in an array', '{"list":[1,2,-0.0]}', '/meta/list/2', /-0 would be written back as 0/],
  ])('%s: exit 2 naming the path', async (_name, meta, path, problem) => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, withMeta(meta))]);
    expectRefused(r, 2, new RegExp(`E_INPUT: .*: ${path}: .*${problem.source}`));
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it('numbers JSON carries exactly are accepted and stored as written', async () => {
    const p = fresh();
    const meta = '{"n":[1,-2.5,9007199254740991,-9007199254740991,1e300,0,1.0,10e-1,0.1,1.5E2,1e-7,0.0]}';
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, withMeta(meta))]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(p.ledger, 'utf8')).toContain(
      '"meta":{"n":[1,-2.5,9007199254740991,-9007199254740991,1e+300,0,1,1,0.1,150,1e-7,0]}',
    );
  });

  it('bytes that are not UTF-8, in a file and on standard input: exit 2, E_INPUT, naming the line', async () => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const pretty = JSON.stringify(agentSpec({ prompt: 'helXo' }), null, 2);
    const line = pretty.split('\n').findIndex((l) => l.includes('helXo')) + 1;
    const [head, tail] = pretty.split('helXo') as [string, string];
    const bytes = Buffer.concat([
      Buffer.from(`${head}hel`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`o${tail}`),
    ]);
    const notUtf8 = new RegExp(`E_INPUT: .*not valid UTF-8 \\(line ${line}\\)`);
    const file = specFile(p.dir, bytes);
    expectRefused(await run(['enqueue', '--home', p.home, '--file', file]), 2, notUtf8);
    expectRefused(await run(['enqueue', '--home', p.home, '--file', '-'], { input: bytes }), 2, notUtf8);
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it('a NUL in an argument of a command: exit 2 naming the path (it could never reach the program)', async () => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const spec = {
      job_type: 'test_runner_task',
      budgets: { max_wall_time_sec: 60, max_tool_calls: 4, max_output_bytes: 4096, max_concurrency_slots: 1 },
      tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: [] },
      payload: {
        commands: [
          ['echo', 'fine'],
          ['echo', 'a\u0000b'],
        ],
        timeout_sec: 10,
      },
    };
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, JSON.stringify(spec))]);
    expectRefused(r, 2, /\/payload\/commands\/1\/1: must not contain a NUL/);
    expect(bytesOf(p.ledger)).toEqual(before);
  });
});

describe('bounded reads (F18)', () => {
  it('enqueue --file /dev/zero, a file over 64 MiB, and `yes |` on standard input: exit 2 at the 64 MiB bound', async () => {
    const p = fresh();
    const tooBig = /E_INPUT: .* is larger than 67108864 bytes/;
    expectRefused(await run(['enqueue', '--home', p.home, '--file', '/dev/zero']), 2, tooBig);
    const big = specFile(p.dir, Buffer.alloc(64 * 1024 * 1024 + 1, 0x20), 'big.json');
    expectRefused(await run(['enqueue', '--home', p.home, '--file', big]), 2, tooBig);
    const piped = await execa(
      'sh',
      ['-c', `yes | "$0" "$1" enqueue --home "$2" --file -`, process.execPath, BIN, p.home],
      {
        reject: false,
        timeout: WALL_MS,
        stripFinalNewline: false,
      },
    );
    expect(piped.timedOut).toBe(false);
    expectRefused(
      { code: piped.exitCode ?? -1, stdout: String(piped.stdout), stderr: String(piped.stderr) },
      2,
      /E_INPUT: standard input is larger than 67108864 bytes/,
    );
    expect(existsSync(p.home)).toBe(false);
  });

  it('a 300 MB line (F18: it once cost replay 1.5 GB): every reader refuses it holding under 200 MB', async () => {
    const dir = tmp();
    const ledger = join(dir, 'jobs.jsonl');
    // A sparse file: the start of a line, then 300 MB of zero bytes and a newline.
    const fd = openSync(ledger, 'w');
    writeSync(fd, '{"v":1,"pad":"');
    ftruncateSync(fd, 300_000_000);
    writeSync(fd, '\n', 300_000_000);
    closeSync(fd);
    const hook = join(dir, 'rss.mjs');
    writeFileSync(
      hook,
      "import { writeFileSync } from 'node:fs';\n" +
        "process.on('exit', () => writeFileSync(process.env.RSS_FILE, String(process.resourceUsage().maxRSS)));\n",
    );
    for (const args of [
      ['replay', '--ledger', ledger],
      ['head', '--ledger', ledger],
      ['audit', ledger],
    ]) {
      const rssFile = join(dir, `rss-${args[0]}`);
      const r = await execa(process.execPath, ['--import', hook, BIN, ...args], {
        reject: false,
        timeout: WALL_MS,
        env: { RSS_FILE: rssFile, EXECPLANE_HOME: undefined },
      });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(String(r.stderr)).toMatch(args[0] === 'audit' ? /E_AUDIT_FINDINGS: .*1 finding/ : /line 1: /);
      const peakKb = Number(readFileSync(rssFile, 'utf8'));
      expect(peakKb, `${args[0]} peaked at ${peakKb} KB`).toBeLessThan(200 * 1024);
    }
  });

  it.each([
    ['with a newline at its end', '\n'],
    ['without one', ''],
  ])(
    'a ledger of one 20 MB line (%s): replay, head and audit exit 1 naming the line limit',
    async (_name, end) => {
      const dir = tmp();
      const ledger = join(dir, 'jobs.jsonl');
      writeFileSync(ledger, `{"v":1,"pad":"${'x'.repeat(20_000_000)}"}${end}`);
      const before = bytesOf(ledger);
      const limit = /line 1: .*(over the 65536-byte limit|too long for one line)/;
      expectRefused(
        await run(['replay', '--ledger', ledger]),
        1,
        new RegExp(`E_LEDGER_CORRUPT: .*${limit.source}`),
      );
      expectRefused(
        await run(['head', '--ledger', ledger]),
        1,
        new RegExp(`E_LEDGER_CORRUPT: .*${limit.source}`),
      );
      const audit = await run(['audit', ledger, '--json']);
      expect(audit.code, audit.stderr).toBe(1);
      expect(audit.stderr.trimEnd().split('\n')).toHaveLength(1);
      const { findings } = (
        JSON.parse(audit.stdout) as { ledgers: { findings: { line: number; message: string }[] }[] }
      ).ledgers[0]!;
      expect(findings).toEqual([
        expect.objectContaining({
          line: 1,
          message: expect.stringMatching(/65536-byte limit|too long for one line/),
        }),
      ]);
      expect(bytesOf(ledger)).toEqual(before);
    },
  );

  it('a FIFO at <home>/jobs.jsonl: replay, enqueue and audit exit 2 at once, saying it is not a regular file', async () => {
    const p = fresh();
    mkdirSync(p.home);
    await execa('mkfifo', [p.ledger]);
    const spec = specFile(p.dir, JSON.stringify(agentSpec()));
    const notFile = /E_INPUT: .*jobs\.jsonl is not a (regular )?file/;
    const results = await Promise.all([
      run(['replay', '--home', p.home]),
      run(['enqueue', '--home', p.home, '--file', spec]),
      run(['audit', '--home', p.home]),
      run(['replay', '--ledger', p.ledger]),
    ]);
    for (const r of results) expectRefused(r, 2, notFile);
    expect(readdirSync(p.home)).toEqual(['jobs.jsonl']);
  });
});

describe('flags (F16, F20): bounded where a timer or the schema would overflow, refused before anything is written', () => {
  it.each([
    ['--lease-sec', '7000000'],
    ['--lease-sec', '0'],
    ['--grace-sec', '3000000'],
    ['--slots', '65'],
    ['--slots', '0'],
    ['--max-idle-sec', '1e9'],
    ['--max-idle-sec', '1000000000'],
    ['--retry-backoff-sec', '99999999'],
    ['--retry-backoff-max-sec', '99999999'],
    ['--poll-ms', '1'], // no such flag
  ])('work %s %s: exit 2, one line, the home unchanged', async (flag, value) => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const files = readdirSync(p.home).sort();
    const workspace = join(p.dir, 'ws');
    mkdirSync(workspace);
    const r = await run(['work', '--home', p.home, '--workspace', workspace, '--once', flag, value]);
    expectRefused(r, 2, new RegExp(`E_USAGE: .*${flag}`));
    expect(bytesOf(p.ledger)).toEqual(before);
    expect(readdirSync(p.home).sort()).toEqual(files);
  });

  it('reap --retry-backoff-sec past a day: exit 2, nothing written', async () => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    expectRefused(
      await run(['reap', '--home', p.home, '--retry-backoff-sec', '9999999']),
      2,
      /E_USAGE: .*--retry-backoff-sec/,
    );
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it('--home "" and EXECPLANE_HOME= (set, empty): exit 2, never the current directory', async () => {
    const cwd = tmp();
    const spec = specFile(tmp(), JSON.stringify(agentSpec()));
    for (const [args, env] of [
      [['enqueue', '--home', '', '--file', spec], {}],
      [['enqueue', '--file', spec], { EXECPLANE_HOME: '' }],
      [['replay', '--home', ' '], {}],
      [['replay'], { EXECPLANE_HOME: '' }],
    ] as [string[], Record<string, string>][]) {
      expectRefused(await run(args, { cwd, env }), 2, /E_USAGE: .*--home.*must not be empty/);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--home naming a regular file: exit 2 on every command, the file unchanged', async () => {
    const dir = tmp();
    const file = specFile(dir, 'not a plane', 'plane.txt');
    const spec = specFile(dir, JSON.stringify(agentSpec()));
    for (const args of [
      ['enqueue', '--home', file, '--file', spec],
      ['replay', '--home', file],
      ['audit', '--home', file],
      ['head', '--home', file],
      ['work', '--home', file, '--workspace', dir, '--once'],
    ]) {
      expectRefused(await run(args), 2, /E_USAGE: .*plane\.txt exists and is not a directory/);
    }
    expectRefused(await run(['replay'], { env: { EXECPLANE_HOME: file } }), 2, /is not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('not a plane');
    expect(readdirSync(dir).sort()).toEqual(['plane.txt', 'spec.json']);
  });
});

describe('size (F18): a spec whose enqueue line would pass 64 KiB is refused at enqueue, exit 2', () => {
  /** A spec whose meta.blob is `n` bytes; fixed id and time, so its line's size is known. */
  const sized = (n: number, jobId = 'job-boundssize1') => ({
    ...agentSpec({ job_id: jobId, created_at_utc: '2026-12-01T00:00:00.000Z' }),
    meta: { blob: 'x'.repeat(n) },
  });
  /** The bytes of the enqueue line `spec` takes at seq 1 (found by enqueueing it). */
  async function lineBytes(spec: object): Promise<number> {
    const p = fresh();
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, JSON.stringify(spec))]);
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(p.ledger).length;
  }

  it('prompt and system at their schema maxima together: exit 2 naming the limit; no ledger made', async () => {
    const p = fresh();
    const spec = agentSpec();
    const big = {
      ...spec,
      payload: { ...spec.payload, prompt: 'p'.repeat(32_768), system: 's'.repeat(32_768) },
    };
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, JSON.stringify(big))]);
    expectRefused(r, 2, /E_LINE_TOO_LARGE: .*: \/: .* over the 65536-byte line limit/);
    expect(existsSync(p.home)).toBe(false);
  });

  it('in a batch: the spec is named, nothing of the batch is appended', async () => {
    const p = await planeWithOneJob();
    const before = bytesOf(p.ledger);
    const batch = JSON.stringify([
      agentSpec(),
      { ...agentSpec(), meta: { a: 'é'.repeat(20_000), b: 'x'.repeat(30_000) } },
    ]);
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, batch)]);
    expectRefused(r, 2, /E_LINE_TOO_LARGE: .*: \/1: .* over the 65536-byte line limit/);
    expect(bytesOf(p.ledger)).toEqual(before);
  });

  it('exactly 65,536 bytes fits; one byte more is refused before the ledger is opened', async () => {
    const n = 60_000 + MAX_LINE_BYTES - (await lineBytes(sized(60_000)));
    expect(await lineBytes(sized(n))).toBe(MAX_LINE_BYTES);
    const p = fresh();
    const r = await run([
      'enqueue',
      '--home',
      p.home,
      '--file',
      specFile(p.dir, JSON.stringify(sized(n + 1))),
    ]);
    expectRefused(r, 2, /E_LINE_TOO_LARGE: .*65537 bytes or more, over the 65536-byte line limit/);
    expect(existsSync(p.home)).toBe(false);
  });

  it('a spec that fits at seq 1 but not at seq 10 is refused by the append: exit 2, ledger unchanged', async () => {
    const n = 60_000 + MAX_LINE_BYTES - (await lineBytes(sized(60_000)));
    const p = fresh();
    const nine = Array.from({ length: 9 }, (_, i) => agentSpec({ job_id: `job-boundsnine${i}` }));
    const r1 = await run([
      'enqueue',
      '--home',
      p.home,
      '--file',
      specFile(p.dir, JSON.stringify(nine), 'nine.json'),
    ]);
    expect(r1.code, r1.stderr).toBe(0);
    const before = bytesOf(p.ledger);
    const r = await run(['enqueue', '--home', p.home, '--file', specFile(p.dir, JSON.stringify(sized(n)))]);
    expectRefused(r, 2, /E_LINE_TOO_LARGE: an event of 65537 bytes exceeds the 65536-byte line limit/);
    expect(bytesOf(p.ledger)).toEqual(before);
  });
});
