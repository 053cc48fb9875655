/**
 * What the code, the schemas and the help texts cite is in this repository, and in the package
 * (docs/ ships with it): every `docs/NAME.md` names a file of docs/, every `§N` a numbered section
 * of it, every `docs/NAME.md, "Title"` a heading that begins with that title. No citation of a
 * document the reader cannot open (the old "SPEC §4").
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
// The demo's sample project has a docs/ of its own (src/demo/workspace.ts): its paths are its.
const SKIP = new Set(['src/demo/specs.ts', 'src/demo/workspace.ts']);

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) return files(rel);
    return /\.(ts|js|mjs|json)$/.test(name) && !SKIP.has(rel) ? [rel] : [];
  });
}

const SOURCES = ['src', 'machines', 'bin', 'schemas', 'scripts'].flatMap(files);

function headings(doc: string): string[] {
  return readFileSync(join(ROOT, 'docs', doc), 'utf8')
    .split('\n')
    .filter((l) => /^#{1,4} /.test(l))
    .map((l) => l.replace(/^#+ /, '').replace(/`/g, ''));
}

interface Citation {
  readonly file: string;
  readonly doc: string;
  readonly sections: readonly string[];
  readonly title: string | undefined;
}

function citations(): Citation[] {
  const found: Citation[] = [];
  for (const file of SOURCES) {
    // Comments wrap: join a citation split across `//` or ` * ` line starts.
    const text = readFileSync(join(ROOT, file), 'utf8').replace(/\n\s*(\/\/|\*)\s*/g, ' ');
    for (const m of text.matchAll(/docs\/([a-z-]+\.md)((?:,? §[0-9][0-9.]*)*)(?:, "([^"]+)")?/g)) {
      const sections = [...(m[2] ?? '').matchAll(/§([0-9][0-9.]*)/g)].map((s) => s[1]!.replace(/\.$/, ''));
      found.push({ file, doc: m[1]!, sections, title: m[3] });
    }
  }
  return found;
}

describe('citations of docs/', () => {
  const all = citations();

  it('there are citations to check (the scan works)', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((c) => c.sections.length > 0)).toBe(true);
    expect(all.some((c) => c.title !== undefined)).toBe(true);
  });

  it('every cited document is a file of docs/', () => {
    const docs = new Set(readdirSync(join(ROOT, 'docs')));
    const missing = all.filter((c) => !docs.has(c.doc)).map((c) => `${c.file}: docs/${c.doc}`);
    expect(missing).toEqual([]);
  });

  it('every § names a numbered section (## N.) of the cited document', () => {
    const wrong = all.flatMap((c) =>
      c.sections
        .filter((n) => !headings(c.doc).some((h) => h.startsWith(`${n}. `)))
        .map((n) => `${c.file}: docs/${c.doc} §${n}`),
    );
    expect(wrong).toEqual([]);
  });

  it('every quoted title is the start of a heading of the cited document', () => {
    const wrong = all
      .filter((c) => c.title !== undefined)
      .filter(
        (c) =>
          !headings(c.doc).some((h) => h.toLowerCase().startsWith(c.title!.replace(/`/g, '').toLowerCase())),
      )
      .map((c) => `${c.file}: docs/${c.doc}, "${c.title}"`);
    expect(wrong).toEqual([]);
  });

  it('nothing cites a document outside the repository', () => {
    const outside = SOURCES.flatMap((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return /\bSPEC(\.md)? ?§|shared\/spec|\.\.\/shared\//.test(text)
        ? [relative(ROOT, join(ROOT, file))]
        : [];
    });
    expect(outside).toEqual([]);
  });
});

describe("help texts' words", () => {
  it('every word of the Words table in docs/cli.md is one a help text uses, and each row links or explains', () => {
    const cli = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    const table = cli.slice(cli.indexOf('## Words'), cli.indexOf('## Exit codes'));
    const rows = table.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| word'));
    expect(rows.length).toBeGreaterThanOrEqual(15);
    const help = SOURCES.filter((f) => f.startsWith('src/cli/'))
      .map((f) => readFileSync(join(ROOT, f), 'utf8'))
      .join('\n')
      .toLowerCase();
    for (const row of rows) {
      const words = row.split('|')[1]!.trim().split(/, /);
      expect(
        words.some((w) => help.includes(w)),
        `docs/cli.md Words: ${words.join(', ')} is not used in src/cli/`,
      ).toBe(true);
    }
  });
});
