/** The doc compactor's algorithm (src/jobs/compact-markdown.ts): deterministic and bounded. */
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import {
  compactLines,
  compactMarkdown,
  firstSentence,
  headingOf,
  isThematicBreak,
} from '../src/jobs/compact-markdown.js';

const DOC = `# Ledger

The ledger is append-only. Every event is one line.
It is hashed.

- one event per line
continued on a second line. Dropped.
  - canonical JSON
* fsync before success

\`\`\`sh
rm -rf / # code is dropped
\`\`\`

| a | b |
|---|---|

> A quote. Its second sentence.

<!-- a comment
spanning lines -->
## Replay
Replay folds the ledger! Then it stops.
`;

describe('compactLines', () => {
  test('keeps headings two levels deeper, the first line of list items, and the first sentence of each paragraph', () => {
    expect(compactLines(DOC)).toEqual([
      '',
      '### Ledger',
      'The ledger is append-only.',
      '- one event per line',
      '  - canonical JSON',
      '- fsync before success',
      'A quote.',
      '',
      '#### Replay',
      'Replay folds the ledger!',
    ]);
  });

  test('firstSentence stops at . ! or ? followed by a space, not inside a word', () => {
    expect(firstSentence('Use v1.2 of it. Then more.')).toBe('Use v1.2 of it.');
    expect(firstSentence('No end mark')).toBe('No end mark');
    expect(firstSentence('Why?  Because.')).toBe('Why?');
  });
});

describe('compactMarkdown', () => {
  test('titles the summary and heads each document with its path', () => {
    const { markdown, truncated } = compactMarkdown([{ path: 'docs/ledger.md', text: DOC }], 'Brief', 4096);
    expect(markdown.startsWith('# Brief\n\n## docs/ledger.md\n\n### Ledger\n')).toBe(true);
    expect(truncated).toBe(false);
  });

  test('never passes maxBytes, cuts at a line boundary and says so', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), fc.integer({ min: 128, max: 600 }), (text, max) => {
        const r = compactMarkdown([{ path: 'x.md', text }], 'T', max);
        expect(Buffer.byteLength(r.markdown)).toBe(r.bytes);
        expect(r.bytes).toBeLessThanOrEqual(max);
        expect(r.markdown === '' || r.markdown.endsWith('\n')).toBe(true);
        expect(compactMarkdown([{ path: 'x.md', text }], 'T', max)).toEqual(r);
      }),
    );
    expect(compactMarkdown([{ path: 'x.md', text: DOC.repeat(20) }], 'T', 256).truncated).toBe(true);
  });
});

describe('line classification is linear, and the same as the regular expressions it replaces', () => {
  const alphabet = fc.constantFrom('#', ' ', '\t', 'a', 'x', '-', '*', '_');
  const lineArb = fc.array(alphabet, { maxLength: 14 }).map((cs) => cs.join(''));

  it('headingOf answers as /^(#{1,6})\\s+(.*?)\\s*#*\\s*$/ does', () => {
    fc.assert(
      fc.property(lineArb, (line) => {
        const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
        expect(headingOf(line)).toEqual(m ? { level: m[1]!.length, text: m[2] } : undefined);
      }),
      { numRuns: 5000 },
    );
  });

  it('isThematicBreak answers as /^\\s*([-*_])(\\s*\\1){2,}\\s*$/ does', () => {
    fc.assert(
      fc.property(lineArb, (line) => {
        expect(isThematicBreak(line)).toBe(/^\s*([-*_])(\s*\1){2,}\s*$/.test(line));
      }),
      { numRuns: 5000 },
    );
  });

  it('a 4 MiB line of # and of spaces is classified (the regular expression would backtrack for hours)', () => {
    expect(headingOf(`# ${'#'.repeat(4 << 20)}x`)).toEqual({ level: 1, text: `${'#'.repeat(4 << 20)}x` });
    expect(headingOf(`#${' '.repeat(4 << 20)}x`)).toEqual({ level: 1, text: 'x' });
    expect(isThematicBreak(`- ${' -'.repeat(1 << 20)} x`)).toBe(false);
  });
});
