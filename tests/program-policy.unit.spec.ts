/**
 * X1–X3 of src/sandbox/program-policy.ts as a table: which argv may run under the default
 * allowlist, and what the plane's config.json changes.
 */
import { describe, expect, test } from 'vitest';
import {
  checkArgv,
  DEFAULT_ALLOWED_PROGRAMS,
  programPolicyOf,
  type ProgramPolicy,
} from '../src/sandbox/program-policy.js';

const byDefault = programPolicyOf({});
const withExtras = (extra: string[], inline: boolean | string[] = false): ProgramPolicy =>
  programPolicyOf({ exec: { extra_programs: extra, allow_inline_code: inline } });

const code = (argv: string[], policy = byDefault) => checkArgv(argv, policy)?.code ?? 'ok';

describe('X1–X2: the default allowlist', () => {
  test('covers ordinary test tooling and no shell', () => {
    for (const p of ['node', 'npm', 'npx', 'python3', 'git', 'make', 'sleep', 'echo', 'true', 'false']) {
      expect(DEFAULT_ALLOWED_PROGRAMS).toContain(p);
    }
    for (const shell of ['sh', 'bash', 'dash', 'zsh', 'env', 'xargs'])
      expect(DEFAULT_ALLOWED_PROGRAMS).not.toContain(shell);
  });

  test.each([
    [['node', '--version'], 'ok'],
    [['npm', 'test'], 'ok'],
    [['python3', '-m', 'pytest', '-c', 'pytest.ini'], 'ok'], // -c after -m belongs to pytest
    [['python3', 'tests/run.py', '-c'], 'ok'], // -c after the script belongs to the script
    [['node', 'script.js', '-e', 'x'], 'ok'],
    [['git', 'status'], 'ok'],
    [['make', 'test'], 'ok'],
    [['bash', '-c', 'echo hi'], 'E_PROGRAM_NOT_ALLOWED'],
    [['sh', 'script.sh'], 'E_PROGRAM_NOT_ALLOWED'],
    [['/bin/sh', '-c', 'id'], 'E_PROGRAM_NOT_ALLOWED'],
    [['./node', 'x.js'], 'E_PROGRAM_NOT_ALLOWED'],
    [['curl', 'http://127.0.0.1'], 'E_PROGRAM_NOT_ALLOWED'],
    [['npm test'], 'E_SHELL_STRING'],
    [['ls -la | grep x'], 'E_SHELL_STRING'],
    [['echo', 'a;b'], 'ok'], // no shell parses argv: a ; is just a character
  ] as [string[], string][])('%j → %s', (argv, expected) => {
    expect(code(argv)).toBe(expected);
  });
});

describe('X3: inline code is refused unless the config allows it', () => {
  test.each([
    [['python3', '-c', 'print(1)']],
    [['python3', '-Bc', 'print(1)']],
    [['python', '-W', 'ignore', '-c', 'print(1)']],
    [['node', '-e', 'console.log(1)']],
    [['node', '-p', '1']],
    [['node', '-pe', '1']],
    [['node', '--eval=1']],
    [['node', '--print', '1']],
    [['node', '--import', 'data:text/javascript,console.log(1)', 'x.js']],
    [['npx', '-c', 'echo hi']],
    [['npx', 'bash', '-c', 'id']],
    [['npm', 'exec', '--', 'node', '-e', '1']],
    [['make', '--eval=all:;id']],
    [['make', 'CC=id']],
    [['git', '-c', 'alias.x=!id', 'x']],
    [['git', 'submodule', 'foreach', 'id']],
  ])('%j', (argv) => {
    expect(code(argv)).toBe('E_INLINE_CODE');
    expect(code(argv, withExtras([], true))).toBe('ok');
    expect(code(argv, withExtras([], [argv[0]!]))).toBe('ok');
  });

  test('shells and wrappers added to the allowlist still may not take a command string or a program', () => {
    const policy = withExtras(['bash', 'sh', 'env', 'xargs', 'perl']);
    expect(code(['bash', 'tests/run.sh'], policy)).toBe('ok');
    expect(code(['bash', '-c', 'echo hi'], policy)).toBe('E_INLINE_CODE');
    expect(code(['bash', '-o', 'errexit', '-c', 'echo hi'], policy)).toBe('E_INLINE_CODE');
    expect(code(['sh', '-ec', 'echo hi'], policy)).toBe('E_INLINE_CODE');
    expect(code(['env'], policy)).toBe('ok');
    expect(code(['env', '-i', 'A=1'], policy)).toBe('ok');
    expect(code(['env', 'A=1', 'bash', '-c', 'id'], policy)).toBe('E_INLINE_CODE');
    expect(code(['env', '-S', 'bash -c id'], policy)).toBe('E_INLINE_CODE');
    expect(code(['xargs', 'rm'], policy)).toBe('E_INLINE_CODE');
    expect(code(['perl', '-e', 'print 1'], policy)).toBe('E_INLINE_CODE');
    expect(code(['perl', '-ne', 'print'], policy)).toBe('E_INLINE_CODE');
  });

  test('allow_inline_code for one program does not extend to others', () => {
    const policy = withExtras(['bash'], ['bash']);
    expect(code(['bash', '-c', 'echo hi'], policy)).toBe('ok');
    expect(code(['python3', '-c', 'print(1)'], policy)).toBe('E_INLINE_CODE');
  });
});

describe('the config', () => {
  test('allowed_programs replaces the default list; extra_programs adds to it', () => {
    const only = programPolicyOf({ exec: { allowed_programs: ['make'], extra_programs: ['cargo'] } });
    expect(only.allowed).toEqual(['cargo', 'make']);
    expect(code(['node', '--version'], only)).toBe('E_PROGRAM_NOT_ALLOWED');
    expect(code(['make'], only)).toBe('ok');
  });

  test('refusal messages say how to fix the spec or the config', () => {
    expect(checkArgv(['bash', '-c', 'x'], byDefault)?.message).toMatch(/extra_programs/);
    expect(checkArgv(['python3', '-c', 'x'], byDefault)?.message).toMatch(/allow_inline_code/);
    expect(checkArgv(['npm test'], byDefault)?.message).toMatch(/\["npm","test"\]/);
  });
});
