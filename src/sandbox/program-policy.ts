/**
 * Which argv a job may run (docs/spec.md §7, §9: the predecessor's `["bash", "-c", …]` ran anything).
 * Pure: a function of the argv and the plane's config, no file system, no environment.
 *
 * X1. argv[0] is a bare program name on the allowlist — never a path, never a command line.
 * X2. Shells are not on the default allowlist.
 * X3. A program given code in its arguments (sh -c, python3 -c, node -e/-p/--eval, perl -e,
 *     awk/sed programs, make --eval, git -c, npx -c, …) or a wrapper that runs another program
 *     named in its arguments (env CMD, xargs, timeout, nice, find -exec, …) is refused unless
 *     the config allows inline code for it: otherwise the allowlist would mean nothing.
 *
 * The detection is deliberately conservative (it may refuse an unusual but harmless argv; the
 * config's allow_inline_code is the escape hatch) and documented in docs/sandbox.md.
 */
import type { PlaneConfig } from '../schema/types.generated.js';

/** Ordinary test tooling. Shells and wrappers are deliberately absent (X2, X3). */
export const DEFAULT_ALLOWED_PROGRAMS: readonly string[] = [
  'node',
  'npm',
  'npx',
  'pnpm',
  'yarn',
  'python3',
  'python',
  'pytest',
  'git',
  'make',
  'cargo',
  'go',
  'sleep',
  'echo',
  'printf',
  'true',
  'false',
  'cat',
  'ls',
  'head',
  'tail',
  'wc',
  'grep',
  'diff',
  'cmp',
  'sort',
  'uniq',
  'pwd',
];

export const DEFAULT_TERM_GRACE_MS = 1000;

export interface ProgramPolicy {
  readonly allowed: readonly string[];
  /** true: inline code allowed for every program; otherwise the programs it is allowed for. */
  readonly inlineCode: true | readonly string[];
  readonly termGraceMs: number;
}

export interface ArgvRefusal {
  readonly code: 'E_SHELL_STRING' | 'E_PROGRAM_NOT_ALLOWED' | 'E_INLINE_CODE';
  readonly message: string;
}

export function programPolicyOf(config: PlaneConfig): ProgramPolicy {
  const exec = config.exec ?? {};
  const base = exec.allowed_programs ?? DEFAULT_ALLOWED_PROGRAMS;
  const allowed = [...new Set([...base, ...(exec.extra_programs ?? [])])].sort();
  const inline = exec.allow_inline_code ?? false;
  return {
    allowed,
    inlineCode: inline === true ? true : inline === false ? [] : [...inline].sort(),
    termGraceMs: exec.term_grace_ms ?? DEFAULT_TERM_GRACE_MS,
  };
}

const SHELLS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'mksh',
  'ash',
  'fish',
  'csh',
  'tcsh',
  'busybox',
  'pwsh',
]);
/** Programs whose purpose is to run another program named in their arguments. */
const WRAPPERS = new Set([
  'xargs',
  'nice',
  'nohup',
  'timeout',
  'stdbuf',
  'setsid',
  'time',
  'sudo',
  'doas',
  'su',
  'chroot',
  'unshare',
  'nsenter',
  'strace',
  'ltrace',
  'watch',
  'flock',
  'ionice',
  'taskset',
  'chrt',
  'script',
  'parallel',
  'ssh',
]);

/** X1–X3 for one argv: undefined when it may run. */
export function checkArgv(argv: readonly string[], policy: ProgramPolicy): ArgvRefusal | undefined {
  const program = argv[0] ?? '';
  if (/\s/.test(program) || (argv.length === 1 && /[|&;<>$`]/.test(program))) {
    return {
      code: 'E_SHELL_STRING',
      message:
        `argv[0] ${JSON.stringify(program.slice(0, 200))} is a shell command line, not a program; ` +
        `give an argv array, e.g. ${JSON.stringify(program.trim().split(/\s+/).slice(0, 3))}`,
    };
  }
  if (program.includes('/')) {
    return {
      code: 'E_PROGRAM_NOT_ALLOWED',
      message:
        `argv[0] ${JSON.stringify(program.slice(0, 200))} is a path; name an allowlisted program and pass ` +
        `scripts to it, e.g. ["node", "scripts/test.js"]`,
    };
  }
  if (!policy.allowed.includes(program)) {
    return {
      code: 'E_PROGRAM_NOT_ALLOWED',
      message:
        `program ${JSON.stringify(program.slice(0, 100))} is not on this plane's allowlist ` +
        `(${policy.allowed.join(', ')}); add it to exec.extra_programs in <home>/config.json to allow it`,
    };
  }
  const inline = inlineCodeIn(argv);
  if (inline !== undefined && !(policy.inlineCode === true || policy.inlineCode.includes(program))) {
    return {
      code: 'E_INLINE_CODE',
      message:
        `${JSON.stringify(argv.slice(0, 3).map((a) => a.slice(0, 60)))}: ${inline}; put the code in a file in the ` +
        `workspace and run that, or set exec.allow_inline_code in <home>/config.json`,
    };
  }
  return undefined;
}

/** Why `argv` carries code or runs another program through its arguments (X3), if it does. */
export function inlineCodeIn(argv: readonly string[]): string | undefined {
  const program = argv[0] ?? '';
  const args = argv.slice(1);
  if (SHELLS.has(program)) {
    // Scanned to the end on purpose: `bash -o errexit -c …` hides -c after an option's value.
    const flag = args.find((a) => a === '--command' || /^[-+][A-Za-z]*c[A-Za-z]*$/.test(a));
    return flag ? `${program} ${flag} runs a command string` : undefined;
  }
  if (WRAPPERS.has(program)) return `${program} runs another program named in its arguments`;
  if (/^python[0-9.]*$/.test(program) || program === 'pypy3') return pythonInline(args);
  if (['node', 'nodejs', 'bun', 'deno'].includes(program)) return nodeInline(program, args);
  if (['perl', 'ruby', 'lua', 'Rscript', 'php'].includes(program)) {
    const flag = args.find((a) => /^-[A-Za-z]*[eEr]/.test(a) || (/^-M/.test(a) && a.includes(';')));
    return flag ? `${program} ${flag.slice(0, 20)} runs code given on the command line` : undefined;
  }
  if (['awk', 'gawk', 'mawk', 'nawk', 'sed'].includes(program)) {
    // Their program text is inline code (GNU sed's `e` and awk's system() run commands).
    return args.some((a) => a === '-f' || a.startsWith('--file'))
      ? undefined
      : `${program}'s program text is code`;
  }
  if (program === 'env') return envInline(args);
  if (program === 'find') {
    const flag = args.find((a) => ['-exec', '-execdir', '-ok', '-okdir'].includes(a));
    return flag ? `find ${flag} runs another program` : undefined;
  }
  if (program === 'make') {
    const flag = args.find(
      (a) => a === '-E' || a.startsWith('--eval') || /^[A-Za-z_][A-Za-z0-9_]*[:+?!]?=/.test(a),
    );
    return flag
      ? `make ${flag.slice(0, 40)} injects makefile text (variables reach recipe shells)`
      : undefined;
  }
  if (program === 'git') return gitInline(args);
  if (program === 'npx') return npxInline(args);
  if (['npm', 'pnpm', 'yarn'].includes(program)) {
    const sub = args.find((a) => !a.startsWith('-'));
    if (sub === 'exec' || sub === 'x' || sub === 'dlx') return npxInline(args.slice(args.indexOf(sub) + 1));
    if (sub === 'explore') return `${program} explore runs a shell command`;
    return undefined;
  }
  return undefined;
}

function pythonInline(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--' || a === '-' || !a.startsWith('-')) return undefined; // a script (or stdin, which is empty)
    if (a.startsWith('--')) continue;
    for (let j = 1; j < a.length; j++) {
      const ch = a[j];
      if (ch === 'c') return `python ${a} runs a command string`;
      if (ch === 'm') return undefined; // -m module: the rest are the module's arguments
      if (ch === 'W' || ch === 'X') {
        if (j === a.length - 1) i++; // the value is the next argument
        break;
      }
    }
  }
  return undefined;
}

const NODE_VALUE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--input-type',
  '--title',
  '--env-file',
]);

function nodeInline(program: string, args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--' || !a.startsWith('-')) return undefined; // the script; the rest are its arguments
    const name = a.split('=')[0] ?? a;
    if (['--eval', '--print'].includes(name) || /^-[a-z]*[ep][a-z]*$/.test(a)) {
      return `${program} ${a.slice(0, 20)} evaluates code given on the command line`;
    }
    const value = a.includes('=')
      ? a.slice(a.indexOf('=') + 1)
      : NODE_VALUE_OPTIONS.has(a)
        ? args[++i]
        : undefined;
    if (value !== undefined && value.startsWith('data:'))
      return `${program} ${name} loads code from a data: URL`;
  }
  return undefined;
}

function envInline(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-S' || a.startsWith('--split-string') || /^-[a-zA-Z]*S/.test(a))
      return 'env -S runs a command string';
    if (a === '-u' || a === '--unset' || a === '-C' || a === '--chdir') {
      i++;
      continue;
    }
    if (a.startsWith('-') || /^[^=]+=/.test(a)) continue;
    return `env ${a.slice(0, 40)} runs another program; run it directly`;
  }
  return undefined;
}

const GIT_RUNNERS: Record<string, (rest: readonly string[]) => boolean> = {
  submodule: (rest) => rest.includes('foreach'),
  bisect: (rest) => rest.includes('run'),
  rebase: (rest) => rest.some((a) => a === '-x' || a.startsWith('--exec')),
  'filter-branch': () => true,
  'filter-repo': () => true,
  difftool: (rest) => rest.some((a) => a === '-x' || a.startsWith('--extcmd')),
  mergetool: () => true,
};

function gitInline(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-c' || a.startsWith('--config-env') || a.startsWith('--exec-path=')) {
      return `git ${a} sets configuration that can run commands`;
    }
    if (a === '-C' || a === '--git-dir' || a === '--work-tree' || a === '--namespace') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    const runs = GIT_RUNNERS[a];
    return runs?.(args.slice(i + 1)) ? `git ${a} runs commands given in its arguments` : undefined;
  }
  return undefined;
}

function npxInline(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-c' || a.startsWith('--call')) return `npx ${a} runs a command string`;
    if (a === '-p' || a === '--package') {
      i++;
      continue;
    }
    if (a === '--') continue;
    if (a.startsWith('-')) continue;
    // The package binary it runs gets the same scrutiny as a program of its own.
    if (SHELLS.has(a) || WRAPPERS.has(a) || a === 'env') return `npx ${a} runs a shell or a wrapper`;
    return inlineCodeIn(args.slice(i));
  }
  return undefined;
}
