/**
 * The model server's port (`execplane port-guard PORT`, docs/operations.md "The model server's
 * port"): run before the model server starts (its unit's ExecStartPre), it finds who holds the
 * port (sockets.ts) and either reclaims it from a model server left over from an earlier run, or
 * names the holder and leaves it alone. Every step is one line with a stable token, for a journal
 * to be grepped: PORT_OK, PORT_RECLAIM, PORT_KILL, PORT_SKIP, PORT_SIGNAL_FAILED, PORT_RECLAIMED,
 * PORT_HELD_UNKNOWN, PORT_HELD_KNOWN, PORT_STILL_HELD, PORT_PROBE_FAILED.
 *
 * G1. Only known holders are ever signalled, and only when every holder of the port is known: a
 *     port any unknown process holds is reported (PORT_HELD_UNKNOWN, exit 42) and nothing is
 *     signalled, not even the known holders beside it. "Known" is a pattern of config.json
 *     `port_guard` (or the defaults below) matching the process's command line or its name, of
 *     a process whose real uid is the guard's own effective uid: run as root, the guard never
 *     takes another user's process for one of its model servers (an unreadable uid is not ours).
 * G2. A process is signalled only under the identity (pid + start time, I1 of proc.ts) it had when
 *     it was found holding the port, read again immediately before each signal: a pid now running
 *     another process, or none, is skipped (PORT_SKIP), never signalled. What is left is the
 *     instant between that read and kill(2); for a pid to be reused within it the process must
 *     exit and the kernel hand its pid out again in those microseconds.
 * G3. Fail closed: a port that cannot be inspected (S3 of sockets.ts) is PORT_PROBE_FAILED, exit
 *     42, never "free".
 * G4. Exit 0 only on a probe that found the port free after the last signal was sent.
 * G5. pid 1 and this process are never known, whatever the patterns say.
 * G6. Bounded: at most MAX_RECLAIMS rounds of SIGTERM, a grace, SIGKILL; then the port is free
 *     or the guard gives up with exit 42.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runningIdentity, type ProcessIdentity } from './proc.js';
import { portHolders, type PortProbe, type SocketHolder } from './sockets.js';

/** `execplane port-guard` exits with this when the port is not free and was not reclaimed. */
export const EXIT_PORT_HELD = 42;

export const DEFAULT_GRACE_MS = 5000;

/**
 * What a model server's process looks like (G1), as JavaScript regular expressions compiled with
 * the `u` flag, matched against the command line (argv joined by spaces) and against the name
 * (/proc/PID/comm). Anchored at argv[0] (or at the interpreter running a script), so that a
 * process that only mentions vllm in an argument (`grep vllm`, `vim vllm.log`) is not one.
 */
export const DEFAULT_KNOWN_HOLDERS: readonly string[] = [
  // `vllm serve …`: the vllm script run by its Python (argv[0] the interpreter, argv[1] the script).
  String.raw`^(?:\S*/)?python[0-9.]*(?:\s+-\S+)*\s+(?:\S*/)?vllm\s+serve(?:\s|$)`,
  // `python -m vllm.entrypoints.openai.api_server …`
  String.raw`^(?:\S*/)?python[0-9.]*(?:\s+-\S+)*\s+-m\s+vllm\.entrypoints\.openai\.api_server(?:\s|$)`,
  // The titles vLLM gives its processes (VLLM::EngineCore, VLLM::Worker…).
  String.raw`^VLLM::`,
  // argv[0] (or the name) whose basename starts with vllm: `vllm serve` as a binary, exec -a vllm-…
  String.raw`^(?:\S*/)?vllm[^\s/]*(?:\s|$)`,
  // llama.cpp's server.
  String.raw`^(?:\S*/)?llama-server(?:\s|$)`,
];

/** The part of config.json `port_guard` that says who is known (schemas/config.schema.json). */
export interface HolderPatternConfig {
  readonly known_holders?: readonly string[];
  readonly extra_known_holders?: readonly string[];
}

/** known_holders replaces the defaults, extra_known_holders adds to them. */
export function knownHolderPatterns(config: HolderPatternConfig = {}): RegExp[] {
  return [...(config.known_holders ?? DEFAULT_KNOWN_HOLDERS), ...(config.extra_known_holders ?? [])].map(
    (p) => new RegExp(p, 'u'),
  );
}

export interface GuardedHolder extends SocketHolder {
  readonly known: boolean;
}

export type GuardToken =
  | 'PORT_OK'
  | 'PORT_RECLAIM'
  | 'PORT_KILL'
  | 'PORT_SKIP'
  | 'PORT_SIGNAL_FAILED'
  | 'PORT_RECLAIMED'
  | 'PORT_HELD_UNKNOWN'
  | 'PORT_HELD_KNOWN'
  | 'PORT_STILL_HELD'
  | 'PORT_PROBE_FAILED';

/** One line of the guard's output; `formatGuardEvent` writes it. */
export interface GuardEvent {
  readonly token: GuardToken;
  readonly port?: number;
  readonly pid?: number;
  readonly start_ticks?: number;
  readonly signal?: 'SIGTERM' | 'SIGKILL';
  readonly cmd?: string;
  readonly reason?: string;
}

export type GuardOutcome =
  'PORT_OK' | 'PORT_RECLAIMED' | 'PORT_HELD_UNKNOWN' | 'PORT_STILL_HELD' | 'PORT_PROBE_FAILED';

export interface PortGuardReport {
  readonly outcome: GuardOutcome;
  readonly port: number;
  readonly exit_code: 0 | typeof EXIT_PORT_HELD;
  /** Every holder seen, in the order first seen. */
  readonly holders: readonly GuardedHolder[];
  /** The signals sent, skipped or refused (PORT_RECLAIM, PORT_KILL, PORT_SKIP, PORT_SIGNAL_FAILED). */
  readonly actions: readonly GuardEvent[];
  /** Why the port could not be inspected or was not reclaimed. */
  readonly reason?: string;
}

/** What the guard reads and does; tests replace parts (an identity that changed, a clock). */
export interface PortGuardIo {
  probe(port: number): PortProbe;
  /** Who runs under `pid` now; a zombie is nobody (runningIdentity). */
  identity(pid: number): ProcessIdentity | undefined;
  signal(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export function procIo(procRoot = '/proc'): PortGuardIo {
  return {
    probe: (port) => portHolders(port, procRoot),
    identity: (pid) => runningIdentity(pid, procRoot),
    signal: (pid, signal) => process.kill(pid, signal),
    sleep: (ms) => sleep(ms),
    now: () => performance.now(),
  };
}

export interface PortGuardOptions {
  readonly port: number;
  readonly known: readonly RegExp[];
  /** Whose processes may be known (G1); default this process's effective uid. */
  readonly euid?: number;
  readonly graceMs: number;
  readonly io?: Partial<PortGuardIo>;
  /** Each line as it happens (a journal sees PORT_RECLAIM before the grace, not after). */
  readonly onEvent?: (event: GuardEvent) => void;
}

/** SIGTERM–grace–SIGKILL rounds before the guard gives up (G6). */
export const MAX_RECLAIMS = 2;
/** How often a signalled process is looked for. */
const POLL_MS = 50;
/** How long a SIGKILLed process may take to go (it may be in uninterruptible sleep). */
const KILL_WAIT_MS = 5000;

/** The longest the guard spends reclaiming (G6): MAX_RECLAIMS × (grace + KILL_WAIT_MS). */
export function guardWorstCaseMs(graceMs: number): number {
  return MAX_RECLAIMS * (graceMs + KILL_WAIT_MS);
}

/** The behaviour matrix (G1–G6). */
export async function guardPort(options: PortGuardOptions): Promise<PortGuardReport> {
  const io: PortGuardIo = { ...procIo(), ...options.io };
  const { port } = options;
  const holders = new Map<string, GuardedHolder>();
  const actions: GuardEvent[] = [];
  const emit = (e: GuardEvent, action = false) => {
    if (action) actions.push(e);
    options.onEvent?.(e);
  };
  const end = (outcome: GuardOutcome, reason?: string): PortGuardReport => ({
    outcome,
    port,
    exit_code: outcome === 'PORT_OK' || outcome === 'PORT_RECLAIMED' ? 0 : EXIT_PORT_HELD,
    holders: [...holders.values()],
    actions,
    ...(reason !== undefined ? { reason } : {}),
  });

  for (let round = 0; ; round++) {
    const probe = io.probe(port);
    if (probe.kind === 'probe_failed') {
      emit({ token: 'PORT_PROBE_FAILED', port, reason: probe.why });
      return end('PORT_PROBE_FAILED', probe.why);
    }
    if (probe.kind === 'free') {
      const outcome = round === 0 ? 'PORT_OK' : 'PORT_RECLAIMED';
      emit({ token: outcome, port });
      return end(outcome);
    }
    const seen = probe.holders.map((h) => ({ ...h, known: isKnownHolder(h, options.known, options.euid) }));
    for (const h of seen) if (!holders.has(key(h))) holders.set(key(h), h);
    const unknown = seen.filter((h) => !h.known);
    if (unknown.length || round === MAX_RECLAIMS) {
      for (const h of unknown)
        emit({ token: 'PORT_HELD_UNKNOWN', pid: h.pid, cmd: h.cmd, ...foreignReason(h, options.euid) });
      for (const h of seen) if (h.known) emit({ token: 'PORT_HELD_KNOWN', pid: h.pid, cmd: h.cmd });
      if (unknown.length) {
        const more = unknown.length > 1 ? ` and ${unknown.length - 1} more` : '';
        const first = unknown[0]!;
        const foreign = first.uid !== null && first.uid !== (options.euid ?? process.geteuid?.());
        const reason =
          `held by pid ${first.pid}${more}, ${foreign ? `another user's process (uid ${first.uid})` : 'not a known model server'}, ` +
          'and left alone (never signalled). Stop it or free the port, then start the model server again' +
          (foreign
            ? ' (its owner, or root, must stop it: the guard never signals another user’s process)'
            : ' (or, if it is one, add a pattern for it to config.json port_guard.extra_known_holders)');
        return end('PORT_HELD_UNKNOWN', reason);
      }
      const reason = `still held after ${MAX_RECLAIMS} rounds of SIGTERM and SIGKILL`;
      emit({ token: 'PORT_STILL_HELD', port, reason });
      return end('PORT_STILL_HELD', reason);
    }
    await reclaim(seen, options.graceMs, io, emit);
  }
}

/** SIGTERM each, a grace shared by all, SIGKILL those still there, and wait for them to go (G2). */
async function reclaim(
  targets: readonly GuardedHolder[],
  graceMs: number,
  io: PortGuardIo,
  emit: (e: GuardEvent, action: boolean) => void,
): Promise<void> {
  const send = (h: GuardedHolder, signal: 'SIGTERM' | 'SIGKILL'): boolean => {
    const now = io.identity(h.pid);
    if (now?.start_ticks !== h.start_ticks) {
      const reason = now ? 'pid reused' : 'exited';
      // Gone before SIGTERM is said (it may have freed the port itself); gone before SIGKILL is
      // what SIGTERM asked for, and needs no line.
      if (now || signal === 'SIGTERM')
        emit({ token: 'PORT_SKIP', pid: h.pid, start_ticks: h.start_ticks, signal, reason }, true);
      return false;
    }
    const token = signal === 'SIGTERM' ? 'PORT_RECLAIM' : 'PORT_KILL';
    emit({ token, pid: h.pid, start_ticks: h.start_ticks, cmd: h.cmd }, true);
    try {
      io.signal(h.pid, signal);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (code !== 'ESRCH') emit({ token: 'PORT_SIGNAL_FAILED', pid: h.pid, signal, reason: code }, true);
      return false;
    }
  };
  const there = (h: GuardedHolder) => io.identity(h.pid)?.start_ticks === h.start_ticks;
  /** Waits until none of `hs` runs under its identity any more, or `ms` have passed. */
  const waitGone = async (hs: GuardedHolder[], ms: number): Promise<void> => {
    const deadline = io.now() + ms;
    let left = hs.filter(there);
    while (left.length && io.now() < deadline) {
      await io.sleep(Math.max(1, Math.min(POLL_MS, deadline - io.now())));
      left = left.filter(there);
    }
  };
  const termed = targets.filter((h) => send(h, 'SIGTERM'));
  await waitGone(termed, graceMs);
  // Every pid that runs anything after the grace is looked at again: its own process gets SIGKILL,
  // another one a PORT_SKIP (G2); one that has exited did what was asked.
  const killed = termed.filter((h) => io.identity(h.pid) !== undefined && send(h, 'SIGKILL'));
  await waitGone(killed, KILL_WAIT_MS);
}

/** Whether `h` is a model server the guard may reclaim (G1, G5). */
export function isKnownHolder(
  h: Pick<SocketHolder, 'pid' | 'cmd' | 'name' | 'uid'>,
  patterns: readonly RegExp[],
  euid: number = process.geteuid?.() ?? -1,
): boolean {
  if (h.pid === 1 || h.pid === process.pid) return false; // G5
  if (h.uid !== euid) return false; // G1: another user's process, whatever it is called
  return patterns.some((p) => p.test(h.cmd) || (h.name !== null && p.test(h.name)));
}

/** The reason a holder whose name would match is unknown: it is not this user's (G1). */
function foreignReason(h: GuardedHolder, euid: number = process.geteuid?.() ?? -1): { reason?: string } {
  if (h.uid === euid) return {};
  return {
    reason:
      h.uid === null
        ? 'its owner cannot be read; never signalled'
        : `it runs as uid ${h.uid}, not as this guard's uid ${euid}; never signalled`,
  };
}

const key = (id: ProcessIdentity) => `${id.pid}@${id.start_ticks}`;

/**
 * `TOKEN port=N pid=N signal=S cmd="…" reason="…"` (the fields it has, in that order). Quoted
 * values have `"` and `\` escaped and every control character, DEL, C1 and line separator written
 * as an escape, so a line stays one line whatever a process put in its argv.
 */
export function formatGuardEvent(e: GuardEvent): string {
  const parts: string[] = [e.token];
  if (e.port !== undefined) parts.push(`port=${e.port}`);
  if (e.pid !== undefined) parts.push(`pid=${e.pid}`);
  if (e.signal !== undefined) parts.push(`signal=${e.signal}`);
  if (e.cmd !== undefined) parts.push(`cmd=${quote(e.cmd)}`);
  if (e.reason !== undefined) parts.push(`reason=${quote(e.reason)}`);
  return parts.join(' ');
}

function quote(text: string): string {
  // JSON.stringify escapes ", \ and C0; DEL, C1 and U+2028/9 it leaves as they are.
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * What `status` says of a down model endpoint on this machine, from who holds its port, so an
 * operator knows whether to free the port or restart the server: a stranger on the port explains
 * any failure (a 404 from someone's web server too); a model server of ours, or nobody, only a
 * server that does not answer (`errorCode` model_unreachable, model_timeout). Undefined: nothing
 * the port says explains the failure (a 401 from our own server is its key's business).
 */
export function portHint(
  port: number,
  patterns: readonly RegExp[],
  errorCode: string | undefined,
  procRoot = '/proc',
): string | undefined {
  const silent = errorCode === 'model_unreachable' || errorCode === 'model_timeout';
  const probe = portHolders(port, procRoot);
  if (probe.kind === 'free')
    return silent
      ? `nothing listens on port ${port}: start the model server (its service, e.g. systemctl --user start execplane-model)`
      : undefined;
  if (probe.kind === 'probe_failed') return `who holds port ${port} cannot be read (${probe.why})`;
  // By name only: `status` run by root or a monitoring user must not call the model server of
  // the user who runs it a stranger (the guard's own rule, G1, is about whom it may signal).
  const unknown = probe.holders.find((h) => !isKnownHolder({ ...h, uid: -1 }, patterns, -1));
  if (unknown)
    return `model endpoint down: port ${port} held by unknown process (pid=${unknown.pid}, cmd=${quote(unknown.cmd)}); stop it or free the port, then restart the model service`;
  const known = probe.holders[0]!;
  return silent
    ? `port ${port} is held by a model server (pid=${known.pid}, cmd=${quote(known.cmd)}) that does not answer: it may still be loading; else restart the model service (\`execplane port-guard ${port}\` reclaims the port)`
    : undefined;
}
