/**
 * U1–U2 of src/ops/service-units.ts as a table: each argument is quoted so that systemd's own
 * rules (systemd.syntax(7) "Quoting", then `%%` → `%` and `$$` → `$`), written out below from the
 * man pages, give the argument back.
 */
import { describe, expect, it } from 'vitest';
import { guardWorstCaseMs } from '../src/ops/port-guard.js';
import {
  commandLine,
  modelStartTimeoutSec,
  modelUnit,
  quoteWord,
  START_MARGIN_SEC,
} from '../src/ops/service-units.js';

/** systemd's reading of a command line: words split at unquoted blanks, "…"/'…' with C escapes. */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const escapes: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', t: '\t', s: ' ' };
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let word = '';
    const quote = line[i] === '"' || line[i] === "'" ? line[i++] : undefined;
    for (; i < line.length; i++) {
      const c = line[i]!;
      if (c === '\\') {
        const e = escapes[line[++i]!];
        if (e === undefined) throw new Error(`unknown escape \\${line[i]} (systemd warns)`);
        word += e;
      } else if (quote !== undefined && c === quote) {
        i++;
        if (i < line.length && line[i] !== ' ') throw new Error('a closing quote must end the word');
        break;
      } else if (quote === undefined && c === ' ') break;
      else word += c;
    }
    // Specifiers, then variables: what systemd does after unquoting.
    const spec = word.replace(/%(.)/g, (_, c: string) => {
      if (c !== '%') throw new Error(`specifier %${c} would be expanded`);
      return '%';
    });
    words.push(
      spec.replace(/\$(\$|\{[^}]*\}|[A-Za-z_]\w*)/g, (m, v: string) => {
        if (v !== '$') throw new Error(`variable ${m} would be expanded`);
        return '$';
      }),
    );
  }
  return words;
}

describe('command lines round-trip through systemd quoting (U1)', () => {
  it.each([
    ['plain', 'serve'],
    ['a space', 'my model'],
    ['double quotes', 'say "hi"'],
    ['single quotes', "it's"],
    ['a backslash', 'C:\\dir\\'],
    ['percent', '100%'],
    ['a specifier-looking %h', '%h'],
    ['dollar', '$HOME'],
    ['dollar braces', '${HOME}x'],
    ['a lone semicolon', ';'],
    ['empty', ''],
    ['all at once', ` a "b" 'c' \\d %e $f ; `],
    ['non-ASCII', 'modèle ✓'],
  ])('%s', (_, arg) => {
    const line = commandLine(['/usr/bin/model server', arg, 'tail']);
    expect(systemdWords(line)).toEqual(['/usr/bin/model server', arg, 'tail']);
    expect(systemdWords(quoteWord(arg))).toEqual([arg]);
  });
});

describe('values a unit cannot carry are refused (U2)', () => {
  it.each([
    ['a newline', ['/bin/x', 'a\nb']],
    ['a tab', ['/bin/x', 'a\tb']],
    ['DEL', ['/bin/x', 'a\u007fb']],
    ['a lone surrogate', ['/bin/x', 'a\uD800b']],
    ['a relative program', ['x', 'a']],
    ['a quote in the program', ['/bin/"x', 'a']],
    ['a backslash in the program', ['/bin/x\\y']],
    ['a dollar in the program', ['/bin/$x']],
  ])('%s', (_, argv) => {
    expect(() => commandLine(argv)).toThrow(expect.objectContaining({ code: 'E_UNIT_VALUE', exitCode: 2 }));
  });
});

describe('the model unit never kills port-guard mid-reclaim (U5)', () => {
  const input = {
    node: '/usr/bin/node',
    bin: '/opt/execplane/bin/execplane.js',
    home: '/h',
    argv: ['/bin/true'],
    port: 8001,
    version: 't',
  };
  it.each([
    [undefined, 50],
    [0, 40],
    [5000, 50],
    [120_000, 280],
  ])('port_guard.grace_ms %s: TimeoutStartSec=%i, above 2 × (grace + 5 s)', (graceMs, sec) => {
    const unit = modelUnit({ ...input, ...(graceMs === undefined ? {} : { guardGraceMs: graceMs }) });
    expect(unit).toMatch(new RegExp(`^TimeoutStartSec=${sec}$`, 'm'));
    expect(sec * 1000).toBeGreaterThan(guardWorstCaseMs(graceMs ?? 5000));
    expect(modelStartTimeoutSec(graceMs ?? 5000)).toBe(
      Math.ceil(guardWorstCaseMs(graceMs ?? 5000) / 1000) + START_MARGIN_SEC,
    );
  });
});
