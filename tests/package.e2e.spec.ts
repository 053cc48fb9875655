/**
 * The npm package, as a user gets it: `npm pack` of a copy of the source tree (prepack's clean
 * build makes dist/), the tarball installed into an empty project by `npm ci --offline`, then:
 * what the tarball holds, `npx execplane` (enqueue, work, replay, audit), the demo, a strict
 * TypeScript consumer of the library, and a user's own job type set up by following only the
 * docs the package ships (docs/library.md, docs/job-spec.md). `.ci/run` runs this file on
 * Node 20 and on Node 24, like every other.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAndRun, docBlocks, EXAMPLE_OUTPUTS, runDocShell } from './helpers/library-doc.js';
import { installPacked, pack, ROOT, type Consumer, type Packed } from './helpers/packed.js';

let packed: Packed;
let consumer: Consumer;
const dirs: string[] = [];

beforeAll(async () => {
  packed = await pack();
  dirs.push(packed.dir);
  consumer = await installPacked(packed, ['typescript', '@types/node']);
  dirs.push(consumer.dir);
}, 300_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const installed = () => join(consumer.dir, 'node_modules/execplane');
const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, string | Record<string, string>>;
};

describe('the tarball', () => {
  it('ships exactly the CLI, the library, its types, the schemas, the docs and a LICENSE', () => {
    const allowed = [
      /^(LICENSE|README\.md|package\.json)$/,
      /^bin\/(execplane|demo)\.js$/,
      /^dist\/(src|machines)\/.+\.(js|d\.ts|js\.map|json)$/,
      /^schemas\/[a-z]+\.schema\.json$/,
      /^docs\/[a-z-]+\.md$/,
    ];
    const stray = packed.files.filter((f) => !allowed.some((re) => re.test(f)));
    expect(stray).toEqual([]);
    for (const needed of ['LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'schemas/job.schema.json'])
      expect(packed.files).toContain(needed);
    // The build of a dirty checkout (the bench, tests) never leaks in, nor build info.
    expect(packed.files.filter((f) => /^dist\/tests\/|tsbuildinfo|^src\/|^scripts\//.test(f))).toEqual([]);
    expect(readFileSync(join(installed(), 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    // Every doc the package's docs link to is in it.
    for (const doc of packed.files.filter((f) => f.startsWith('docs/'))) {
      const text = readFileSync(join(installed(), doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([a-z-]+\.md)(?:#[^)]*)?\)/g))
        expect(packed.files, `${doc} links to ${target}`).toContain(`docs/${target}`);
    }
  });

  it('its source maps resolve: each names one source and carries its text', () => {
    const maps = packed.files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(100);
    for (const map of maps) {
      const m = JSON.parse(readFileSync(join(installed(), map), 'utf8')) as {
        file: string;
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(existsSync(join(installed(), map.replace(/\.map$/, ''))), map).toBe(true);
      expect(m.sources, map).toHaveLength(1);
      expect(m.sourcesContent?.[0], `${map} carries its source`).toEqual(expect.stringMatching(/\S/));
    }
  });

  it('every export of package.json resolves to a file in the package', () => {
    for (const [key, target] of Object.entries(own.exports)) {
      const targets = typeof target === 'string' ? [target] : Object.values(target);
      for (const t of targets) {
        const files = t.includes('*') ? readdirSync(join(installed(), t.slice(0, t.indexOf('*')))) : [t];
        expect(files.length, `${key} → ${t}`).toBeGreaterThan(0);
        if (!t.includes('*')) expect(existsSync(join(installed(), t)), `${key} → ${t}`).toBe(true);
      }
    }
  });
});

describe('npx execplane in an empty project', () => {
  it('prints its version, and enqueue, work, replay, audit run a job end to end', async () => {
    const home = tmp('execplane-pkg-home-');
    const workspace = tmp('execplane-pkg-ws-');
    writeFileSync(join(workspace, 'README.md'), '# a project\n\nleases and fencing\n');
    const env = { EXECPLANE_HOME: home };
    const version = await consumer.npx(['--version']);
    expect(version.exitCode, String(version.stderr)).toBe(0);
    expect(String(version.stdout).trim()).toContain(own.version);
    const spec = join(consumer.dir, 'index.json');
    writeFileSync(
      spec,
      JSON.stringify({
        job_type: 'repo_index_task',
        payload: { include_globs: ['**/*.md'], max_files: 100, max_file_bytes: 65_536 },
      }),
    );
    const enq = await consumer.npx(['enqueue', '--file', spec, '--json'], env);
    expect(enq.exitCode, String(enq.stderr)).toBe(0);
    const work = await consumer.npx(['work', '--workspace', workspace, '--max-idle-sec', '1'], env);
    expect(work.exitCode, String(work.stderr)).toBe(0);
    const replay = await consumer.npx(['replay', '--json'], env);
    expect(replay.exitCode, String(replay.stderr)).toBe(0);
    const report = JSON.parse(String(replay.stdout)) as {
      version: number;
      jobs: Record<string, { state: string; result: { files_indexed?: number } }>;
    };
    expect(report.version).toBe(1);
    expect(Object.values(report.jobs).map((j) => j.state)).toEqual(['complete']);
    const audit = await consumer.npx(['audit', '--evidence'], env);
    expect(audit.exitCode, String(audit.stdout) + String(audit.stderr)).toBe(0);
    expect(String(audit.stdout)).toMatch(/intact/);
  });

  it('bad input from the package is one line, exit 2, as from the checkout', async () => {
    const r = await consumer.npx(['enqueue', '--file', join(consumer.dir, 'nope.json')], {
      EXECPLANE_HOME: tmp('execplane-pkg-home-'),
    });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
    expect(String(r.stderr)).toMatch(/^execplane: E_\w+: .*nope\.json/);
  });

  it('the demo runs from the installed package on a sample project of its own', async () => {
    const home = join(tmp('execplane-pkg-demo-'), 'home');
    const demo = await execa('node', [join(installed(), 'bin/demo.js')], {
      cwd: consumer.dir,
      reject: false,
      env: { EXECPLANE_DEMO_HOME: home },
    });
    expect(demo.exitCode, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/jobs {10}4 \(complete 4\)/);
    expect(demo.stdout).toMatch(/^healthy$/m);
    expect(demo.stdout).toContain(`the sample project ${home}-workspace`);
    dirs.push(`${home}-workspace`);
  });
});

describe('a user who follows only the docs the package ships', () => {
  const doc = () => readFileSync(join(installed(), 'docs/library.md'), 'utf8');
  const tools = () => ({
    tsc: join(consumer.dir, 'node_modules/typescript/bin/tsc'),
    typeRoots: join(consumer.dir, 'node_modules/@types'),
  });

  it.each(EXAMPLE_OUTPUTS.map((expected, index) => [index, expected] as const))(
    "docs/library.md's example %i compiles against the package's types (strict) and runs",
    async (index, expected) => {
      const example = docBlocks(doc(), 'ts')[index];
      expect(example).toBeDefined();
      const dir = join(consumer.dir, `example-${index}`);
      mkdirSync(dir, { recursive: true });
      const { tsc, run } = await compileAndRun(dir, example!, tools());
      expect(tsc.exitCode, String(tsc.stdout) + String(tsc.stderr)).toBe(0);
      expect(run?.exitCode, String(run?.stderr)).toBe(0);
      expect(String(run?.stdout).trim()).toMatch(expected);
    },
  );

  it('their own job type runs through npx execplane; replay and audit need no definition', async () => {
    const home = tmp('execplane-pkg-home-');
    const dir = join(consumer.dir, 'cli-user');
    mkdirSync(dir, { recursive: true });
    const env = { EXECPLANE_HOME: home };
    const cli = (args: string[]) =>
      execa('npx', ['--offline', '--no-install', 'execplane', ...args], { cwd: dir, reject: false, env });
    const failed = await runDocShell(doc(), dir, cli);
    expect(failed, failed && `${failed.line}\n${String(failed.result.stderr)}`).toBeUndefined();
    const replay = await cli(['replay', '--json']);
    expect(String(replay.stdout)).toContain('"job_type":"word_count"');
    expect(String(replay.stdout)).toContain('"state":"complete"');
    expect((await cli(['audit'])).exitCode).toBe(0);
  });

  it("docs/job-spec.md's specs pass `spec check`, enqueue, and validate under the user's own plain Ajv 2020", async () => {
    const specs = docBlocks(readFileSync(join(installed(), 'docs/job-spec.md'), 'utf8'), 'json')
      .map((b) => JSON.parse(b) as Record<string, unknown>)
      .filter((s) => 'job_type' in s);
    expect(specs.length).toBeGreaterThanOrEqual(2);
    const home = tmp('execplane-pkg-home-');
    specs.forEach((s, i) => writeFileSync(join(consumer.dir, `spec-${i}.json`), JSON.stringify(s)));
    for (let i = 0; i < specs.length; i++) {
      const check = await consumer.npx(['spec', 'check', join(consumer.dir, `spec-${i}.json`)]);
      expect(check.exitCode, String(check.stderr)).toBe(0);
      const enq = await consumer.npx(['enqueue', '--file', join(consumer.dir, `spec-${i}.json`)], {
        EXECPLANE_HOME: home,
      });
      expect(enq.exitCode, String(enq.stderr)).toBe(0);
    }
    // The published schema, through the package's exports, in a bare Ajv (no custom keywords).
    writeFileSync(
      join(consumer.dir, 'plain-ajv.mjs'),
      [
        "import { createRequire } from 'node:module';",
        "import { readFileSync } from 'node:fs';",
        "import Ajv2020 from 'ajv/dist/2020.js';",
        'const require = createRequire(import.meta.url);',
        "const schema = require('execplane/schemas/job.schema.json');",
        'const validate = new Ajv2020().compile(schema);',
        'for (const file of process.argv.slice(2)) {',
        "  if (!validate(JSON.parse(readFileSync(file, 'utf8')))) { console.error(file, validate.errors); process.exit(1); }",
        '}',
        "console.log('valid');",
      ].join('\n'),
    );
    const ajv = await execa('node', ['plain-ajv.mjs', ...specs.map((_, i) => `spec-${i}.json`)], {
      cwd: consumer.dir,
      reject: false,
    });
    expect(ajv.exitCode, ajv.stderr).toBe(0);
    expect(ajv.stdout).toBe('valid');
  });
});
