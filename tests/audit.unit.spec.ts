/**
 * The audit's own rules (src/audit/): independent of the machine they check, documented code by
 * code, resynchronising after damage, bounded in memory.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { guardRules } from '../machines/job.guards.js';
import { WALL_TIME_GRACE_MS } from '../machines/job.guards.js';
import { DEFAULT_MAX_ATTEMPTS } from '../machines/job.machine.js';
import { auditBytes } from '../src/audit/audit.js';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import { FINDING_CODES } from '../src/audit/findings.js';
import { parseHeadAnchor } from '../src/audit/head.js';
import { AUDIT_DEFAULT_MAX_ATTEMPTS, AUDIT_WALL_TIME_GRACE_MS } from '../src/audit/invariants.js';
import { ANOMALY_CODES } from '../src/legacy/anomalies.js';
import { scanLines } from '../src/ledger/scan.js';
import { ROOT } from './helpers/cli.js';
import type { LedgerManifest } from './helpers/make-fixtures.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-audit-unit-');
const LEDGERS = join(ROOT, 'fixtures', 'ledgers');
const manifest = JSON.parse(readFileSync(join(LEDGERS, 'expected.json'), 'utf8')) as LedgerManifest;
const read = (file: string) => readFileSync(join(LEDGERS, file));
const codes = (bytes: Buffer) => auditBytes(bytes).findings.map((f) => `${f.line} ${f.code}`);

describe('the audit is its own witness', () => {
  const saved = Object.fromEntries(Object.entries(guardRules).map(([name, rule]) => [name, rule.check]));
  afterEach(() => {
    for (const [name, check] of Object.entries(saved))
      (guardRules as Record<string, { check: unknown }>)[name]!.check = check;
  });

  it('with every guard of the machine broken (always true), the invariant rules still find every violation', () => {
    for (const rule of Object.values(guardRules)) (rule as { check: unknown }).check = () => true;
    for (const [file, fixture] of Object.entries(manifest.invalid).filter(([f]) =>
      /invalid\/inv\d/.test(f),
    )) {
      const own = fixture.findings.filter((f) => /E_AUDIT_INV\d/.test(f));
      expect(own, file).toHaveLength(1);
      expect(codes(read(file)), file).toContain(own[0]);
    }
  });

  it('its constants are the spec’s, and the machine agrees with them', () => {
    expect(AUDIT_WALL_TIME_GRACE_MS).toBe(WALL_TIME_GRACE_MS);
    expect(AUDIT_DEFAULT_MAX_ATTEMPTS).toBe(DEFAULT_MAX_ATTEMPTS);
  });
});

describe('documentation', () => {
  const audit = readFileSync(join(ROOT, 'docs', 'audit.md'), 'utf8');
  const legacy = readFileSync(join(ROOT, 'docs', 'import-legacy.md'), 'utf8');

  it('docs/audit.md describes every finding code, and names no code the audit does not have', () => {
    for (const code of Object.keys(FINDING_CODES)) expect(audit, code).toContain(`\`${code}\``);
    const named = new Set(audit.match(/E_AUDIT_[A-Z0-9_]+/g));
    expect([...named].filter((c) => !(c in FINDING_CODES) && c !== 'E_AUDIT_FINDINGS')).toEqual([]);
  });

  it('docs/import-legacy.md describes every anomaly code', () => {
    for (const code of Object.keys(ANOMALY_CODES)) expect(legacy, code).toContain(`\`${code}\``);
  });
});

describe('after damage the audit resynchronises', () => {
  const lines = () => read('valid/cancel.jsonl').toString().split('\n').slice(0, -1);
  const bytes = (ls: string[]) => Buffer.from(ls.map((l) => `${l}\n`).join(''));

  it('two separate edits are two findings, each at its line; the semantic checks stop at the first', () => {
    const ls = lines().map((l, i) =>
      i === 1 || i === 6 ? l.replace('"w1"', '"w9"').replace('golden', 'GOLDEN') : l,
    );
    const report = auditBytes(bytes(ls));
    expect(report.findings.map((f) => `${f.line} ${f.code}`)).toEqual([
      '2 E_AUDIT_HASH_MISMATCH',
      '7 E_AUDIT_HASH_MISMATCH',
    ]);
    expect(report.first_break_line).toBe(2);
  });

  it('a deleted line is reported where the chain breaks, and the lines after it are not blamed', () => {
    const ls = lines().filter((_, i) => i !== 3);
    expect(codes(bytes(ls))).toEqual(['4 E_AUDIT_SEQ_GAP', '4 E_AUDIT_PREV_MISMATCH']);
  });

  it('keeps at most maxFindings findings and counts the rest', () => {
    const garbage = Buffer.from('x\n'.repeat(50));
    const report = auditBytes(garbage, { maxFindings: 3 });
    expect(report.findings).toHaveLength(3);
    expect(report.findings_omitted).toBe(47);
    expect(report.ok).toBe(false);
  });
});

describe('bounded memory on files that are not ledgers', () => {
  it('a line longer than the limit is skipped, not buffered, and the audit goes on after it', () => {
    const dir = tmp();
    const path = join(dir, 'long.jsonl');
    const valid = read('valid/complete-with-tools.jsonl').toString();
    writeFileSync(path, 'y'.repeat(3_000_000) + '\n' + valid);
    const seen: { oversized?: boolean; bytes: number; textLength: number }[] = [];
    const fd = openSync(path, 'r');
    try {
      scanLines(
        fd,
        0,
        (l) => void seen.push({ oversized: l.oversized, bytes: l.end - l.start, textLength: l.text.length }),
        65536,
      );
    } finally {
      closeSync(fd);
    }
    expect(seen[0]).toEqual({ oversized: true, bytes: 3_000_001, textLength: 0 });
    expect(seen).toHaveLength(8);
    // The skipped line is invisible to the chain: the ledger after it links to nothing before, as it should.
    const report = auditLedgerFile(path);
    expect(report.findings.map((f) => `${f.line} ${f.code}`)).toEqual(['1 E_AUDIT_LINE_TOO_LONG']);
    expect([report.events, report.last_seq, report.first_break_line]).toEqual([8, 7, 1]);
  });

  it('a file with no newline that cannot be an interrupted append is a parse finding, not a torn tail', () => {
    const path = join(tmp(), 'no-newline.bin');
    writeFileSync(path, Buffer.alloc(2_500_000, 7));
    const report = auditLedgerFile(path);
    expect(report.findings.map((f) => `${f.line} ${f.code}`)).toEqual(['1 E_AUDIT_PARSE']);
    expect(report.findings[0]!.message).toMatch(/2500000 byte\(s\).*is this a ledger\?/);
    // The start of a line, cut short, is what a crash mid-append leaves: a torn tail.
    expect(codes(Buffer.from('{"event":"enq'))).toEqual(['1 E_AUDIT_TORN_TAIL']);
  });
});

describe('head anchors', () => {
  it.each([
    '',
    'abc@1',
    `${'a'.repeat(64)}@-1`,
    `${'A'.repeat(64)}@3`,
    `${'a'.repeat(64)}@01`,
    `${'a'.repeat(64)}@0`,
  ])('%j is refused as --expect-head', (text) => {
    expect(() => parseHeadAnchor(text)).toThrow(/--expect-head/);
  });

  it('HASH@SEQ as `execplane head` prints it is accepted', () => {
    expect(parseHeadAnchor(`${'a'.repeat(64)}@12`)).toEqual({ hash: 'a'.repeat(64), seq: 12 });
    expect(parseHeadAnchor(`${'0'.repeat(64)}@0`)).toEqual({ hash: '0'.repeat(64), seq: 0 });
  });
});
