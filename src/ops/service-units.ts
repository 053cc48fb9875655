/**
 * The text of execplane's systemd **user** units (docs/operations.md, "Services"): pure functions
 * from what the CLI resolved (absolute paths, flags, config.json's `model_server`) to a unit file.
 * Nothing here reads a file, the environment or a clock.
 *
 * U1. systemd's argv is exactly ours: every word of a command line is quoted per systemd.syntax(7)
 *     (`"…"` around a word with whitespace, quotes, backslashes or `;`; `\\` and `\"` inside),
 *     and the two expansions systemd applies after unquoting are undone: `%` is written `%%`
 *     (specifiers, systemd.unit(5)) and `$` `$$` (variables, systemd.service(5) "Command lines").
 * U2. What systemd cannot carry is refused (E_UNIT_VALUE), never altered: control characters and
 *     lone surrogates anywhere; in the executable (its path is not variable-expanded, and systemd
 *     refuses "special characters" in it) a quote, a backslash or `$`, or a relative path; in a path
 *     setting, leading or trailing whitespace or a trailing backslash (a line continuation).
 * U3. The worker is restarted on failure but not on the exits a restart cannot mend: 2 (usage, a
 *     malformed config.json) and 3 (the kill switch: an operator stopped the plane on purpose).
 * U4. No unit restarts without end: StartLimitIntervalSec exceeds StartLimitBurst × RestartSec, so a
 *     crash loop reaches the start limit and the unit stays failed (result `start-limit-hit`).
 *     This is what ends the model unit's loop on a held port: RestartPreventExitStatus= applies to
 *     the main process only, never to ExecStartPre= (systemd.service(5)), so `port-guard`'s exit 42
 *     fails the start, Restart=on-failure starts it again, and the start limit stops it.
 * U5. The model unit's TimeoutStartSec exceeds port-guard's worst case, 2 × (grace + 5 s), so
 *     systemd never kills the guard in the middle of a reclaim.
 */
import { UsageError } from '../errors.js';
import { DEFAULT_GRACE_MS, guardWorstCaseMs } from './port-guard.js';

export type UnitKind = 'worker' | 'model';

/** Restart and start-limit figures of each unit (U3, U4). */
export const UNIT_POLICY = {
  worker: { restartSec: 5, startLimitIntervalSec: 600, startLimitBurst: 5, preventExitStatus: [2, 3] },
  model: { restartSec: 10, startLimitIntervalSec: 300, startLimitBurst: 5, preventExitStatus: [] },
} as const;

/**
 * How much longer than the worker's --grace-sec systemd (TimeoutStopSec) and `execplane stop` wait
 * for it to end: aborting jobs and writing their `fail` events.
 */
export const STOP_MARGIN_SEC = 15;

/** What TimeoutStartSec of the model unit allows beyond port-guard's worst case (U5). */
export const START_MARGIN_SEC = 30;

/** Where the CLI that the unit runs lives: `process.execPath` and the absolute path of bin/execplane.js. */
export interface ExecplaneCommand {
  readonly node: string;
  readonly bin: string;
}

export interface WorkerUnitInput extends ExecplaneCommand {
  readonly home: string;
  readonly workspace: string;
  readonly slots: number;
  readonly leaseSec: number;
  readonly graceSec: number;
  readonly workerId?: string;
  /** The PATH jobs find their programs on (the user manager's own is minimal). */
  readonly path?: string;
  readonly environmentFile?: string;
  readonly version: string;
}

export interface ModelUnitInput extends ExecplaneCommand {
  readonly home: string;
  /** config.json `model_server.argv`, its argv[0] resolved to an absolute path. */
  readonly argv: readonly string[];
  readonly port: number;
  /** config.json `port_guard.grace_ms` (default DEFAULT_GRACE_MS), for TimeoutStartSec (U5). */
  readonly guardGraceMs?: number;
  readonly workingDirectory?: string;
  readonly environmentFile?: string;
  readonly path?: string;
  readonly version: string;
}

const INSTANCE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** `execplane-worker.service`, or `execplane-worker-<instance>.service`. */
export function unitName(kind: UnitKind, instance?: string): string {
  if (instance !== undefined && !INSTANCE.test(instance))
    throw new UsageError(
      'E_USAGE',
      `--instance ${JSON.stringify(instance)}: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  return `execplane-${kind}${instance === undefined ? '' : `-${instance}`}.service`;
}

export function workerUnit(u: WorkerUnitInput): string {
  const p = UNIT_POLICY.worker;
  const argv = [
    u.node,
    u.bin,
    'work',
    '--home',
    u.home,
    '--workspace',
    u.workspace,
    '--slots',
    String(u.slots),
    '--lease-sec',
    String(u.leaseSec),
    '--grace-sec',
    String(u.graceSec),
    ...(u.workerId === undefined ? [] : ['--worker-id', u.workerId]),
  ];
  return render([
    `# Written by \`execplane service install worker\` (execplane ${u.version}); docs/operations.md, "Services".`,
    '[Unit]',
    `Description=${freeText(`execplane worker (home ${u.home})`)}`,
    ...startLimit(p),
    '',
    '[Service]',
    // exec: the start fails if node cannot be executed, instead of reporting a start that was not.
    'Type=exec',
    `ExecStart=${commandLine(argv)}`,
    `WorkingDirectory=${pathValue(u.workspace, 'the workspace')}`,
    ...(u.path === undefined ? [] : [`Environment=${assignment('PATH', u.path)}`]),
    ...(u.environmentFile === undefined
      ? []
      : [`EnvironmentFile=${pathValue(u.environmentFile, 'the environment file')}`]),
    // SIGTERM to the worker alone: it stops claiming and lets running jobs finish for --grace-sec;
    // whatever of theirs is left after TimeoutStopSec gets SIGKILL.
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${Math.ceil(u.graceSec) + STOP_MARGIN_SEC}`,
    'Restart=on-failure',
    `RestartSec=${p.restartSec}`,
    '# 2: usage or a malformed config.json; 3: the kill switch is on. A restart would not mend either.',
    `RestartPreventExitStatus=${p.preventExitStatus.join(' ')}`,
    '',
    '[Install]',
    'WantedBy=default.target',
  ]);
}

export function modelUnit(u: ModelUnitInput): string {
  const p = UNIT_POLICY.model;
  if (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535)
    throw new UsageError('E_UNIT_VALUE', `model_server.port ${u.port} is not a TCP port (1-65535)`);
  return render([
    `# Written by \`execplane service install model\` (execplane ${u.version}); docs/operations.md, "Services".`,
    '[Unit]',
    `Description=${freeText(`execplane model server (port ${u.port}, home ${u.home})`)}`,
    ...startLimit(p),
    '',
    '[Service]',
    'Type=exec',
    '# Exit 0: the port is free (or a stray model server was reclaimed); 42: held by an unknown',
    '# process or it cannot be inspected, never signalled. RestartPreventExitStatus= does not see',
    '# ExecStartPre= exits: the start limit above is what ends the retries of a held port; then',
    '# free the port and `systemctl --user reset-failed` the unit.',
    `ExecStartPre=${commandLine([u.node, u.bin, 'port-guard', String(u.port), '--home', u.home])}`,
    `# port-guard takes at most ${Math.ceil(guardWorstCaseMs(u.guardGraceMs ?? DEFAULT_GRACE_MS) / 1000)} s (two rounds of grace + 5 s); never killed mid-reclaim.`,
    `TimeoutStartSec=${modelStartTimeoutSec(u.guardGraceMs ?? DEFAULT_GRACE_MS)}`,
    `ExecStart=${commandLine(u.argv)}`,
    ...(u.workingDirectory === undefined
      ? []
      : [`WorkingDirectory=${pathValue(u.workingDirectory, 'model_server.working_directory')}`]),
    ...(u.path === undefined ? [] : [`Environment=${assignment('PATH', u.path)}`]),
    ...(u.environmentFile === undefined
      ? []
      : [`EnvironmentFile=${pathValue(u.environmentFile, 'model_server.environment_file')}`]),
    'KillSignal=SIGTERM',
    'Restart=on-failure',
    `RestartSec=${p.restartSec}`,
    '',
    '[Install]',
    'WantedBy=default.target',
  ]);
}

/** TimeoutStartSec of the model unit for a port-guard grace of `graceMs` (U5). */
export function modelStartTimeoutSec(graceMs: number): number {
  return Math.ceil(guardWorstCaseMs(graceMs) / 1000) + START_MARGIN_SEC;
}

/** A command line: the executable (absolute, U2), then each argument quoted (U1). */
export function commandLine(argv: readonly string[]): string {
  const [exe, ...args] = argv;
  if (exe === undefined) throw new UsageError('E_UNIT_VALUE', 'a command line needs at least its program');
  refuseUncarried(exe, 'the program');
  if (!exe.startsWith('/'))
    throw new UsageError('E_UNIT_VALUE', `the program ${JSON.stringify(exe)} must be an absolute path`);
  if (/["'\\$]/.test(exe))
    throw new UsageError(
      'E_UNIT_VALUE',
      `the program ${JSON.stringify(exe)}: systemd cannot run a path with a quote, a backslash or '$' in it; link it from a plain path`,
    );
  return [quoteWord(exe), ...args.map((a) => quoteWord(a))].join(' ');
}

/** One word of a command line, as systemd will unquote and expand it back to `word` (U1). */
export function quoteWord(word: string): string {
  refuseUncarried(word, 'an argument');
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (word !== '' && !/[\s"'\\;]/.test(word)) return escaped;
  return `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `NAME=value` for Environment=: quoted and C-escaped, `%` doubled; `$` is literal there. */
function assignment(name: string, value: string): string {
  refuseUncarried(value, `the value of ${name}`);
  return `"${`${name}=${value}`.replace(/%/g, '%%').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A path setting (WorkingDirectory=, EnvironmentFile=): the rest of the line, taken as it is but for specifiers. */
function pathValue(path: string, what: string): string {
  refuseUncarried(path, what);
  if (!path.startsWith('/') || path.trim() !== path || path.endsWith('\\'))
    throw new UsageError(
      'E_UNIT_VALUE',
      `${what} ${JSON.stringify(path)} must be an absolute path without leading or trailing blanks or a trailing backslash`,
    );
  return path.replace(/%/g, '%%');
}

/** Description=: free text, specifiers escaped. */
function freeText(text: string): string {
  refuseUncarried(text, 'the description');
  return text.replace(/%/g, '%%');
}

function refuseUncarried(value: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]|[\uD800-\uDFFF]/u.test(value))
    throw new UsageError(
      'E_UNIT_VALUE',
      `${what} ${JSON.stringify(value)} holds a control character (or invalid UTF-16); a unit file cannot carry it`,
    );
}

function startLimit(p: { restartSec: number; startLimitIntervalSec: number; startLimitBurst: number }) {
  return [
    `# At most ${p.startLimitBurst} starts in ${p.startLimitIntervalSec} s, restarts included; then the unit stays failed.`,
    `StartLimitIntervalSec=${p.startLimitIntervalSec}`,
    `StartLimitBurst=${p.startLimitBurst}`,
  ];
}

const render = (lines: readonly string[]) => `${lines.join('\n')}\n`;
