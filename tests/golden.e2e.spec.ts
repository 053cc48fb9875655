/**
 * Golden ledgers (fixtures/ledgers/, fixtures/legacy/): replay semantics, audit findings and the
 * legacy import are pinned by committed files, so a change of any of them cannot pass unnoticed.
 * The files are regenerated here by tests/helpers/make-fixtures.ts and must match byte for byte;
 * after an intended change, `npm run fixtures` rewrites them (review the diff).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import { FINDING_CODES } from '../src/audit/findings.js';
import { parseHeadAnchor } from '../src/audit/head.js';
import { Plane } from '../src/plane.js';
import { generateFixtures, type LedgerManifest } from './helpers/make-fixtures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'fixtures');
const LEDGERS = join(FIXTURES, 'ledgers');
const CLI = join(ROOT, 'bin', 'execplane.js');

const generated = await generateFixtures(FIXTURES);
if (process.env.UPDATE_GOLDEN === '1') {
  for (const [path, content] of generated) {
    mkdirSync(dirname(join(FIXTURES, path)), { recursive: true });
    writeFileSync(join(FIXTURES, path), content);
  }
}
const manifest = JSON.parse(readFileSync(join(LEDGERS, 'expected.json'), 'utf8')) as LedgerManifest;
const valid = Object.values(manifest.valid);
const invalid = Object.values(manifest.invalid);

const cli = (...args: string[]) => execa('node', [CLI, ...args], { reject: false, cwd: ROOT });
const codesOf = (findings: readonly { line: number; code: string }[]) =>
  findings.map((f) => `${f.line} ${f.code}`);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('golden ledgers', () => {
  it('the committed fixtures are exactly what make-fixtures generates (run `npm run fixtures` after an intended change)', () => {
    const committed = [...filesUnder(LEDGERS), ...filesUnder(join(FIXTURES, 'legacy'))].map((p) =>
      relative(FIXTURES, p),
    );
    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [path, content] of generated) {
      expect(readFileSync(join(FIXTURES, path), 'utf8'), path).toBe(content.toString());
    }
  });

  it.each(valid.map((v) => [v.file, v] as const))(
    '%s replays to its golden state_digest and its declared job states',
    (file, expected) => {
      const plane = Plane.openLedgerFile(join(LEDGERS, file));
      try {
        const report = plane.report();
        expect(report.state_digest).toBe(expected.state_digest);
        expect(report.last_seq).toBe(expected.last_seq);
        const states = Object.fromEntries([...plane.state.ids()].map((id) => [id, plane.state.jobState(id)]));
        expect(states).toEqual(expected.states);
      } finally {
        plane.close();
      }
    },
  );

  it('every valid golden ledger audits clean through the CLI (exit 0, one report per ledger)', async () => {
    const { exitCode, stdout } = await cli('audit', '--json', ...valid.map((v) => join(LEDGERS, v.file)));
    const out = JSON.parse(stdout) as {
      ok: boolean;
      ledgers: { ok: boolean; events: number; last_seq: number }[];
    };
    expect(exitCode).toBe(0);
    expect(out.ok).toBe(true);
    expect(out.ledgers.map((l) => [l.ok, l.events, l.last_seq])).toEqual(
      valid.map((v) => [true, v.last_seq, v.last_seq]),
    );
  });

  it.each(invalid.map((v) => [v.file, v] as const))(
    '%s gives exactly its declared findings',
    (file, expected) => {
      const path = join(LEDGERS, file);
      const report = auditLedgerFile(path, {
        expectHead: expected.expect_head ? parseHeadAnchor(expected.expect_head) : undefined,
        evidenceDir: expected.evidence ? join(dirname(path), 'evidence') : undefined,
      });
      expect(codesOf(report.findings)).toEqual(expected.findings);
      expect(report.ok).toBe(false);
    },
  );

  it('the CLI exits 1 on every invalid golden ledger and reports the same findings', async () => {
    const plain = invalid.filter((v) => !v.expect_head && !v.evidence);
    const { exitCode, stdout } = await cli('audit', '--json', ...plain.map((v) => join(LEDGERS, v.file)));
    const out = JSON.parse(stdout) as {
      ok: boolean;
      ledgers: { findings: { line: number; code: string }[] }[];
    };
    expect(exitCode).toBe(1);
    expect(out.ok).toBe(false);
    expect(out.ledgers.map((l) => codesOf(l.findings))).toEqual(plain.map((v) => v.findings));
    for (const v of invalid.filter((x) => x.expect_head || x.evidence)) {
      const args = [
        join(LEDGERS, v.file),
        '--json',
        ...(v.expect_head ? ['--expect-head', v.expect_head] : []),
        ...(v.evidence ? ['--evidence'] : []),
      ];
      const r = await cli('audit', ...args);
      expect(r.exitCode, v.file).toBe(1);
      expect(
        codesOf(
          (JSON.parse(r.stdout) as { ledgers: { findings: { line: number; code: string }[] }[] }).ledgers[0]!
            .findings,
        ),
      ).toEqual(v.findings);
    }
  });

  it('every finding code has an invalid golden ledger that produces it', () => {
    const covered = new Set(invalid.flatMap((v) => v.findings.map((f) => f.split(' ')[1])));
    expect([...Object.keys(FINDING_CODES)].filter((code) => !covered.has(code))).toEqual([]);
  });

  it('the ledgers behind a head anchor or evidence are clean by themselves: only the anchor or the files tell', () => {
    for (const v of invalid.filter((x) => x.expect_head || x.evidence)) {
      expect(auditLedgerFile(join(LEDGERS, v.file)).findings, v.file).toEqual([]);
    }
  });
});
