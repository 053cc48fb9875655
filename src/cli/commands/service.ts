import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Argument, type Command as Program } from 'commander';
import { loadPlaneConfig } from '../../config/plane-config.js';
import { UsageError, RefusedError } from '../../errors.js';
import { writeFileAtomicSync } from '../../lazy-deps.js';
import { assertHomeOutsideWorkspace, planePaths } from '../../ledger/paths.js';
import { modelUnit, unitName, workerUnit, type UnitKind } from '../../ops/service-units.js';
import { findProgram } from '../../sandbox/program-lookup.js';
import { packageRoot, VERSION } from '../../version.js';
import { assertWorkerId, DEFAULT_GRACE_SEC, DEFAULT_LEASE_SEC } from '../../worker/defaults.js';
import { homeOption, jsonOption, parsePositiveInt, parseSeconds } from '../options.js';
import { printJson, printLines, warn } from '../output.js';

interface Opts {
  home: string;
  user?: boolean;
  instance?: string;
  workspace?: string;
  slots: number;
  leaseSec: number;
  graceSec: number;
  workerId?: string;
  environmentFile?: string;
  json?: boolean;
}

/** Flags that shape the worker's unit only; given with `model`, they are refused. */
const WORKER_ONLY = ['workspace', 'slots', 'leaseSec', 'graceSec', 'workerId', 'environmentFile'] as const;

export function register(program: Program): void {
  program
    .command('service')
    .description('write a systemd user unit for a worker or the model server (print it, or install it)')
    .addArgument(new Argument('<action>', 'print | install').choices(['print', 'install']))
    .addArgument(new Argument('[unit]', 'worker | model').choices(['worker', 'model']).default('worker'))
    .addOption(homeOption())
    .option('--user', 'a user unit (the default, and the only kind written)')
    .option('--instance <name>', 'name the unit execplane-<unit>-<name>.service (several planes or workers)')
    .option('--workspace <dir>', 'worker: the directory jobs work in (default: the current directory)')
    .option('--slots <n>', 'worker: slots of work at once', parsePositiveInt('--slots', 64), 1)
    .option('--lease-sec <s>', 'worker: lease length', parseSeconds('--lease-sec'), DEFAULT_LEASE_SEC)
    .option(
      '--grace-sec <s>',
      'worker: how long running jobs may finish on stop (TimeoutStopSec is 15 s more)',
      parseSeconds('--grace-sec'),
      DEFAULT_GRACE_SEC,
    )
    .option('--worker-id <id>', 'worker: its id (default: host name and pid)')
    .option('--environment-file <file>', 'worker: an EnvironmentFile= (model API keys, for example)')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane service print worker --workspace ~/src/project --slots 4
  execplane service install worker --workspace ~/src/project && systemctl --user enable --now execplane-worker.service
  execplane service install model          # from config.json model_server {argv, port, ...}

print writes the unit to stdout; install writes it to $XDG_CONFIG_HOME/systemd/user/ (default
~/.config/systemd/user/) and runs systemctl --user daemon-reload. With no user bus (containers,
WSL, no login session) the unit is written but not loaded, and install says so: use
\`execplane work --daemon\` there (docs/operations.md, "Services"). The worker is restarted on
failure but not on exit 2 (usage, config) or 3 (kill switch); the model unit runs
\`execplane port-guard PORT\` before each start, and its start limit ends the retries of a port
held by an unknown process (exit 42).
Exit codes: 0 printed, or written (loaded, or no user bus); 1 written but daemon-reload failed;
2 usage, no model_server in config.json (E_CONFIG), or a value a unit cannot carry (E_UNIT_VALUE).`,
    )
    .action(async (action: 'print' | 'install', kind: UnitKind, opts: Opts, cmd: Program) => {
      if (kind === 'model')
        for (const key of WORKER_ONLY)
          if (cmd.getOptionValueSource(key) === 'cli')
            throw new UsageError(
              'E_USAGE',
              `--${flag(key)} shapes the worker's unit; the model unit is made from config.json`,
            );
      if (opts.json && action === 'print')
        throw new UsageError('E_USAGE', '--json goes with install; print writes the unit itself');
      const name = unitName(kind, opts.instance);
      const text = kind === 'worker' ? workerText(opts) : await modelText(opts.home);
      if (action === 'print') {
        process.stdout.write(text);
        return;
      }
      await install(name, text, opts.json === true);
    });
}

const flag = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function execplaneCommand() {
  return { node: process.execPath, bin: join(packageRoot(), 'bin', 'execplane.js'), version: VERSION };
}

function workerText(opts: Opts): string {
  const home = resolve(opts.home);
  const workspace = resolve(opts.workspace ?? process.cwd());
  if (!isDirectory(workspace))
    throw new UsageError('E_USAGE', `--workspace ${workspace} is not a directory; create it first`);
  // The rules `work` enforces at start, checked now rather than in a restart loop.
  assertHomeOutsideWorkspace(home, workspace);
  if (opts.leaseSec < 0.3) throw new UsageError('E_USAGE', '--lease-sec must be at least 0.3');
  if (opts.workerId !== undefined) assertWorkerId(opts.workerId);
  const environmentFile = opts.environmentFile === undefined ? undefined : resolve(opts.environmentFile);
  if (environmentFile !== undefined) assertReadable(environmentFile, '--environment-file', 'E_USAGE');
  return workerUnit({
    ...execplaneCommand(),
    home,
    workspace,
    slots: opts.slots,
    leaseSec: opts.leaseSec,
    graceSec: opts.graceSec,
    ...(opts.workerId === undefined ? {} : { workerId: opts.workerId }),
    ...(process.env.PATH ? { path: process.env.PATH } : {}),
    ...(environmentFile === undefined ? {} : { environmentFile }),
  });
}

async function modelText(homeOpt: string): Promise<string> {
  const home = resolve(homeOpt);
  const { config, path } = loadPlaneConfig(home);
  const server = config.model_server;
  if (!server)
    throw new UsageError(
      'E_CONFIG',
      `${path ?? planePaths(home).config}: no model_server; add "model_server": {"argv": ["vllm", "serve", "MODEL"], "port": 8001} to write the model unit (docs/operations.md, "Services")`,
    );
  const [program, ...args] = server.argv;
  // systemd looks a bare name up on a fixed path of its own, not the user's PATH: resolved now.
  const exe = program!.includes('/') ? resolve(program!) : await findProgram(program!, process.env.PATH);
  if (exe === undefined || !isExecutable(exe))
    throw new UsageError(
      'E_CONFIG',
      `model_server.argv[0] ${JSON.stringify(program)} is not an executable ${program!.includes('/') ? 'file' : 'on PATH'}; give its absolute path`,
    );
  if (server.environment_file !== undefined)
    assertReadable(server.environment_file, 'model_server.environment_file', 'E_CONFIG');
  if (server.working_directory !== undefined && !isDirectory(server.working_directory))
    throw new UsageError(
      'E_CONFIG',
      `model_server.working_directory ${server.working_directory} is not a directory`,
    );
  return modelUnit({
    ...execplaneCommand(),
    home,
    argv: [exe, ...args],
    port: server.port,
    ...(config.port_guard?.grace_ms === undefined ? {} : { guardGraceMs: config.port_guard.grace_ms }),
    ...(server.working_directory === undefined ? {} : { workingDirectory: server.working_directory }),
    ...(server.environment_file === undefined ? {} : { environmentFile: server.environment_file }),
    ...(process.env.PATH ? { path: process.env.PATH } : {}),
  });
}

/** systemctl's words for "there is no user manager to talk to" (containers, WSL, no login session). */
const NO_USER_BUS =
  /Failed to connect to bus|DBUS_SESSION_BUS_ADDRESS|XDG_RUNTIME_DIR|not been booted with systemd|Host is down/i;

async function install(name: string, text: string, json: boolean): Promise<void> {
  const config = process.env.XDG_CONFIG_HOME;
  const dir = join(config && isAbsolute(config) ? config : join(homedir(), '.config'), 'systemd', 'user');
  const file = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(file, text, { mode: 0o644, fsync: true });
  const { execa } = await import('execa');
  const r = await execa('systemctl', ['--user', 'daemon-reload'], { reject: false, timeout: 30_000 });
  const said = (r.stderr || r.stdout || r.message || '').split('\n')[0]!.trim();
  const loaded = r.exitCode === 0;
  const noBus = !loaded && ((r as { code?: string }).code === 'ENOENT' || NO_USER_BUS.test(String(r.stderr)));
  if (json)
    printJson({ unit: name, path: file, loaded, ...(loaded ? {} : { reason: said, no_user_bus: noBus }) });
  else if (loaded)
    printLines(
      `wrote ${file} and reloaded the user manager; start it with: systemctl --user enable --now ${name}`,
    );
  else printLines(`wrote ${file}`);
  if (loaded) return;
  if (noBus) {
    warn(
      `${name} was written but NOT loaded: there is no user bus (systemctl --user daemon-reload: ${said}). ` +
        'In a login session with systemd, run `systemctl --user daemon-reload`; where there is none (containers, WSL), ' +
        'run the worker with `execplane work --daemon` and stop it with `execplane stop --pid-file FILE` (docs/operations.md, "Services")',
    );
    return;
  }
  throw new RefusedError(
    'E_SYSTEMCTL',
    `${file} was written, but systemctl --user daemon-reload failed (exit ${r.exitCode ?? '?'}: ${said}); fix that, then run it again`,
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function assertReadable(path: string, what: string, code: 'E_USAGE' | 'E_CONFIG'): void {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new UsageError(
      code,
      `${what} ${path} cannot be read; create it first (systemd refuses to start without it)`,
    );
  }
}
