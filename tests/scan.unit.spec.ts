/**
 * The line scanner (src/ledger/scan.ts): complete lines only up to the end of the complete lines
 * the file has when the scan starts, the torn tail after them from one look, and UTF-8 checked on
 * the bytes (one check per read block, line by line where that fails).
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTornWrite, MAX_LINE_BYTES } from '../src/ledger/line.js';
import { scanLines, type ScannedLine } from '../src/ledger/scan.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-scan-');

function scan(bytes: Buffer, from = 0, size?: number) {
  const path = join(tmp(), 'f.jsonl');
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r');
  try {
    const lines: ScannedLine[] = [];
    const r = scanLines(fd, from, (l) => void lines.push(l), Infinity, size);
    return { ...r, lines };
  } finally {
    closeSync(fd);
  }
}

const three = Buffer.from('{"a":1}\n{"a":2}\n{"a":3}\n');

describe('scanLines', () => {
  it('a file that shrank since its size was taken (a torn tail moved aside): its lines, no tail', () => {
    for (const from of [0, 8, 24]) {
      const r = scan(three, from, three.length + 5);
      expect(r.lines.map((l) => l.text)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}'].slice(from / 8));
      expect(r.torn).toBeNull();
      expect(r.offset).toBe(24);
    }
  });

  it('what follows the last newline is the torn tail, read once; a tail too long for a line is not one', () => {
    for (const tail of [
      1,
      100,
      MAX_LINE_BYTES - 1,
      MAX_LINE_BYTES,
      MAX_LINE_BYTES + 1,
      MAX_LINE_BYTES + 5000,
    ]) {
      const r = scan(Buffer.concat([three, Buffer.from(`{${'x'.repeat(tail - 1)}`)]), 8);
      expect(r.lines.map((l) => l.end)).toEqual([16, 24]);
      expect(r.torn).toEqual({ offset: 24, bytes: tail, startsWithBrace: true });
      expect(isTornWrite(r.torn!)).toBe(tail < MAX_LINE_BYTES);
    }
  });

  it('a file that is one unfinished line: no line, all of it the tail', () => {
    const r = scan(Buffer.from('{"a":'));
    expect(r.lines).toEqual([]);
    expect(r.torn).toEqual({ offset: 0, bytes: 5, startsWithBrace: true });
  });

  it('flags exactly the lines whose bytes are not UTF-8, across read blocks and lines that span them', () => {
    // Over 2 MiB of lines, so that reads of 1 MiB split some; random bytes put into random lines.
    const base = Array.from(
      { length: 9000 },
      (_, i) => `{"n":${i},"s":"caf\u00e9 ${'y'.repeat(i % 400)}"}\n`,
    ).join('');
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), byte: fc.constantFrom(0x80, 0xc3, 0xe9, 0xf0, 0xff) }), {
          maxLength: 6,
        }),
        (edits) => {
          const bytes = Buffer.from(base);
          for (const e of edits) {
            const at = e.at % bytes.length;
            if (bytes[at] !== 10) bytes[at] = e.byte;
          }
          const r = scan(bytes);
          const expected: boolean[] = [];
          for (let s = 0, nl = bytes.indexOf(10); nl !== -1; s = nl + 1, nl = bytes.indexOf(10, s))
            expected.push(!isUtf8(bytes.subarray(s, nl)));
          expect(r.lines.map((l) => l.notUtf8)).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });
});
