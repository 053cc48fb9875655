/**
 * docs/library.md runs as written: its TypeScript example is compiled (strict, NodeNext) against
 * the built package and run; its job-type module and shell lines are run through the real CLI
 * (enqueue, spec, work, replay, audit), the plane's home outside the workspace as a user's is.
 * The same steps from the packed tarball: tests/package.e2e.spec.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { compileAndRun, docBlocks, EXAMPLE_OUTPUTS, runDocShell } from './helpers/library-doc.js';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs/library.md'), 'utf8');
const TOOLS = {
  tsc: join(ROOT, 'node_modules/typescript/bin/tsc'),
  typeRoots: join(ROOT, 'node_modules/@types'),
};
const blocks = (lang: string) => docBlocks(DOC, lang);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An empty project whose `execplane` dependency is this checkout (built by `npm test`). */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'execplane-libdoc-'));
  dirs.push(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/execplane'), 'dir');
  return dir;
}

describe('docs/library.md', () => {
  it.each(EXAMPLE_OUTPUTS.map((expected, index) => [index, expected] as const))(
    'example %i compiles under strict TypeScript and prints what the doc says',
    async (index, expected) => {
      const example = blocks('ts')[index];
      expect(example, `a ${index + 1}. \`\`\`ts block in docs/library.md`).toBeDefined();
      if (index === 0) expect(example!.split('\n').length).toBeLessThanOrEqual(40);
      const { tsc, run } = await compileAndRun(project(), example!, TOOLS);
      expect(tsc.exitCode, String(tsc.stdout) + String(tsc.stderr)).toBe(0);
      expect(run?.exitCode, String(run?.stderr)).toBe(0);
      expect(String(run?.stdout).trim()).toMatch(expected);
    },
  );

  it('the job-type module and the shell lines run through the CLI; replay and audit need no definition', async () => {
    const dir = project();
    const home = mkdtempSync(join(tmpdir(), 'execplane-libdoc-home-'));
    dirs.push(home);
    writeFileSync(join(dir, 'notes.txt'), 'one two three\n');
    const env = { EXECPLANE_HOME: home };
    const cli = (args: string[]) =>
      execa('node', [join(ROOT, 'bin/execplane.js'), ...args], { reject: false, cwd: dir, env });
    // Each line of the doc's shell block, as written (`execplane` is this checkout's CLI).
    const failed = await runDocShell(DOC, dir, cli);
    expect(failed, failed && `${failed.line}\n${String(failed.result.stderr)}`).toBeUndefined();
    const replay = await cli(['replay', '--json']);
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('"job_type":"word_count"');
    expect(replay.stdout).toContain('"state":"complete"');
    const audit = await cli(['audit']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
    const ledger = readFileSync(join(home, 'jobs.jsonl'), 'utf8');
    expect(ledger).toMatch(/"event":"complete".*"result":\{"words":2\}/);

    // Without the definition: enqueue refuses the type by name (exit 2), and a worker leaves the
    // job queued for one that has it, saying why.
    const refused = await cli(['enqueue', '--file', 'spec.json']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/\/job_type: no job type "word_count" here; known: .*--jobs FILE/);
    expect((await cli(['enqueue', '--jobs', 'my-jobs.mjs', '--file', 'spec.json'])).exitCode).toBe(0);
    const blind = await cli(['work', '--max-idle-sec', '1']);
    expect(blind.exitCode, blind.stderr).toBe(0);
    expect(blind.stderr).toMatch(/not claiming job-\S+ \(word_count\): no job type word_count here/);
    const status = await cli(['status', '--json']);
    expect(status.stdout).toContain('"queued":1');
    // With config.json's "jobs" every command knows it.
    writeFileSync(join(home, 'config.json'), JSON.stringify({ jobs: [join(dir, 'my-jobs.mjs')] }));
    const worker = await cli(['work', '--max-idle-sec', '1']);
    expect(worker.exitCode, worker.stderr).toBe(0);
    expect((await cli(['audit'])).exitCode).toBe(0);
    expect(readFileSync(join(home, 'jobs.jsonl'), 'utf8').match(/"event":"complete"/g)).toHaveLength(2);
  });

  it('a module that cannot serve is refused with one line and exit 2, and nothing is appended', async () => {
    const dir = project();
    const home = mkdtempSync(join(tmpdir(), 'execplane-libdoc-home-'));
    dirs.push(home);
    const env = { EXECPLANE_HOME: home };
    const cli = (args: string[]) =>
      execa('node', [join(ROOT, 'bin/execplane.js'), ...args], { reject: false, cwd: dir, env });
    writeFileSync(
      join(dir, 'spec.json'),
      JSON.stringify({ job_type: 'agent_task', payload: { prompt: 'x', max_turns: 1 } }),
    );
    writeFileSync(join(dir, 'none.mjs'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'throws.mjs'), "throw new Error('boom');\n");
    writeFileSync(
      join(dir, 'dup.mjs'),
      "import { defineJobType } from 'execplane';\nexport const a = defineJobType({ name: 'agent_task', payloadSchema: {}, handler: async () => ({ result: {} }) });\n",
    );
    writeFileSync(
      join(dir, 'bad-name.mjs'),
      "import { defineJobType } from 'execplane';\nexport const a = defineJobType({ name: 'Bad', payloadSchema: {}, handler: async () => ({ result: {} }) });\n",
    );
    const cases: [string, RegExp][] = [
      ['missing.mjs', /--jobs missing\.mjs: no file .*missing\.mjs; give the path of a JavaScript module/],
      ['none.mjs', /none\.mjs exports no job type; export what defineJobType returns/],
      ['throws.mjs', /throws\.mjs could not be loaded: boom/],
      ['dup.mjs', /job type agent_task is defined twice/],
      ['bad-name.mjs', /job type "Bad": the name must be lowercase letters/],
    ];
    for (const [file, message] of cases) {
      for (const cmd of [
        ['enqueue', '--file', 'spec.json'],
        ['work', '--once'],
        ['spec', 'types'],
      ]) {
        const r = await cli([...cmd, '--jobs', file]);
        expect(r.exitCode, `${cmd.join(' ')} --jobs ${file}: ${r.stderr}`).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^execplane: E_JOB_TYPE: /);
        expect(lines[0]).toMatch(message);
      }
    }
    expect(() => readFileSync(join(home, 'jobs.jsonl'))).toThrow(/ENOENT/);
  });
});
