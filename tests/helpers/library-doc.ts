/**
 * docs/library.md's steps, as a reader follows them: its TypeScript examples compiled (strict,
 * NodeNext) and run, its job-type module written as `my-jobs.mjs` and its shell lines run one by
 * one. Shared by tests/library-doc.e2e.spec.ts (against this checkout) and
 * tests/package.e2e.spec.ts (against the packed tarball, reading the doc the package ships).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Result } from 'execa';

/** The fenced blocks of a language in a Markdown text, in order. */
export function docBlocks(doc: string, lang: string): string[] {
  return [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** What the doc's TypeScript examples print, in order (the doc says so beside each). */
export const EXAMPLE_OUTPUTS: readonly RegExp[] = [
  /^complete \{ words: 6 \}$/,
  /^job-\S+ done \{ said: 'hello from [^']+' \}\ncomplete \{ said: 'hello from [^']+' \}$/,
];

/**
 * Compiles `source` as `example.ts` in `dir` under strict TypeScript (the consumer's own tsc and
 * @types) and runs it with node; returns both results.
 */
export async function compileAndRun(
  dir: string,
  source: string,
  tools: { tsc: string; typeRoots: string },
): Promise<{ tsc: Result; run: Result | undefined }> {
  writeFileSync(join(dir, 'example.ts'), source);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: ['node'],
        typeRoots: [tools.typeRoots],
        skipLibCheck: false,
        outDir: 'out',
      },
      files: ['example.ts'],
    }),
  );
  const tsc = await execa('node', [tools.tsc, '-p', dir], { reject: false, cwd: dir });
  if (tsc.exitCode !== 0) return { tsc, run: undefined };
  const run = await execa('node', [join(dir, 'out/example.js')], { reject: false, cwd: dir });
  return { tsc, run };
}

/**
 * Writes the doc's job-type module as `my-jobs.mjs` in `dir` and runs each line of its `--jobs`
 * shell block through `cli` (`execplane` replaced by it; `> FILE` writes stdout there). Returns
 * the first line that failed, or undefined.
 */
export async function runDocShell(
  doc: string,
  dir: string,
  cli: (args: string[]) => Promise<Result>,
): Promise<{ line: string; result: Result } | undefined> {
  const [module] = docBlocks(doc, 'js');
  const [shell] = docBlocks(doc, 'sh').filter((b) => b.includes('--jobs'));
  if (module === undefined || shell === undefined)
    throw new Error('docs/library.md lost its ```js job-type module or its ```sh --jobs lines');
  writeFileSync(join(dir, 'my-jobs.mjs'), module);
  for (const line of shell.trim().split('\n')) {
    const [command, redirect] = line.split(' > ');
    const [, ...args] = command!.trim().split(/\s+/);
    const result = await cli(args);
    if (result.exitCode !== 0) return { line, result };
    if (redirect !== undefined) writeFileSync(join(dir, redirect.trim()), String(result.stdout));
  }
  return undefined;
}
