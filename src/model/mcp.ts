/**
 * MCP tools (docs/model-lane.md, "MCP servers"): the servers config.json names (`mcp_servers`)
 * that a job's allowed_tools mention, started for one attempt inside the job's sandbox, their
 * tools offered to the model as `mcp__<server>__<tool>` through the official SDK's Client.
 *
 * M1. A server problem is a value, never a throw: a server that is not configured, may not run
 *     here, is not installed, exits or hangs becomes a problem with a stable `blocked_by` code,
 *     which the loop gives the model and the transcript records (`facts`). Only the job's abort,
 *     or a bug, rejects.
 * M2. Nothing reaches a server for a call before the call's `tool_call` event is in the ledger:
 *     `run` awaits `scope.announce()` first. A call to a server already gone, hung or closed is
 *     answered blocked without announcing: nothing runs, so nothing is recorded.
 * M3. A server runs as a job command does (sandbox/spawn-piped.ts): the job's sandbox, network
 *     policy, limits and workspace, env = PATH + its env_allow (sandbox.ts S2), its own
 *     installation shown read-only (never /, a home, or a directory holding the plane's home or
 *     the workspace: the server is then blocked); the SDK talks to it over our pipes (mcp-transport.ts) and
 *     never spawns anything itself.
 * M4. Starting (connect, tools/list) and each call have a deadline (startup_timeout_sec,
 *     call_timeout_sec). A server past one is hung: its tree is killed, and its later calls are
 *     blocked with mcp_timeout.
 * M5. `close()` kills every tree and waits for it; it is idempotent and never throws. The job's
 *     abort kills them as well (spawn-piped.ts P3), whether or not close is called.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  Client,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/client';
import { childEnv } from '../sandbox/exec-tool.js';
import { findProgram } from '../sandbox/program-lookup.js';
import { processModeFor, whyCannotRun, type NetworkMode, type Sandbox } from '../sandbox/sandbox.js';
import { startJobProcess, type PipedExit, type PipedProcess } from '../sandbox/spawn-piped.js';
import type { McpServer } from '../schema/types.generated.js';
import type { JobHandlerContext } from '../worker/types.js';
import { PipeTransport } from './mcp-transport.js';
import { TOOL_NAME, type ModelTool, type ToolNeed, type ToolResult } from './types.js';

/** Why a server (or one of its tools) cannot serve. */
export type McpBlockedBy =
  /** allowed_tools names a server config.json does not. */
  | 'mcp_server_not_configured'
  /** The job's tool_policy has allow_subprocess false: a server is a process of the job. */
  | 'mcp_subprocess_not_allowed'
  /** This worker cannot run the job's processes (sandbox.ts S1), or could not set one up. */
  | 'mcp_sandbox_unavailable'
  /** The server's env_allow names a variable the worker does not pass (sandbox.ts S2). */
  | 'mcp_env_not_allowed'
  /** argv[0] is not on the worker's PATH, or the absolute path is not an executable file. */
  | 'mcp_server_not_installed'
  /** The server exited: before it was ready, or since. */
  | 'mcp_server_exited'
  /** Starting, or a call, passed its deadline; the server was killed. */
  | 'mcp_timeout'
  /** The server broke the protocol while starting (it answered connect or tools/list with an error). */
  | 'mcp_protocol_error'
  /** close() was called. */
  | 'mcp_closed'
  /** Not the server, one tool: its prefixed name is not a valid OpenAI function name; not offered. */
  | 'mcp_tool_name_invalid';

export interface McpProblem {
  readonly server: string;
  readonly blocked_by: McpBlockedBy;
  readonly message: string;
  /** For a problem of one tool (mcp_tool_name_invalid): the server's name for it. */
  readonly tool?: string;
}

export type McpServerState = 'blocked' | 'ready' | 'exited' | 'hung' | 'closed';

/** What the transcript records of one server. */
export interface McpServerFacts {
  readonly server: string;
  readonly argv: readonly string[] | null;
  /** argv[0] resolved. */
  readonly program: string | null;
  readonly isolation: 'sandbox' | 'unsandboxed' | null;
  readonly network: NetworkMode | null;
  readonly env_names: readonly string[];
  readonly read_only_paths: readonly string[];
  /** The leader's host pid (launcher, then bubblewrap). */
  readonly pid: number | null;
  readonly state: McpServerState;
  readonly blocked_by: McpBlockedBy | null;
  readonly server_info: { readonly name: string; readonly version: string } | null;
  /** The tools offered, prefixed. */
  readonly tools: readonly string[];
  /** Tools listed but not offered (mcp_tool_name_invalid). */
  readonly skipped_tools: readonly string[];
  readonly startup_ms: number | null;
  readonly calls: number;
  readonly exit: Omit<PipedExit, 'stderr'> | null;
  /** Its stderr's evidence path (relative to evidence/<job_id>/), once it is gone. */
  readonly stderr: string | null;
}

export interface McpSessions {
  readonly tools: readonly ModelTool[];
  /** Every problem met while opening: blocked servers and skipped tools. */
  readonly problems: readonly McpProblem[];
  /** Why `server` cannot serve now (not configured, exited, hung, …), or undefined. */
  blockedBy(server: string): McpProblem | undefined;
  /**
   * For a tool the loop does not have (not in `tools`): the answer the model gets when its
   * name is an MCP tool whose server is blocked, or which was not offered; else undefined.
   */
  unavailable(toolName: string): ToolResult | undefined;
  facts(): McpServerFacts[];
  /** Kills every server's tree and waits for it (M5). */
  close(): Promise<void>;
}

export interface OpenMcpOptions {
  readonly ctx: JobHandlerContext<unknown>;
  readonly sandbox: Sandbox;
  /** config.json `mcp_servers`. */
  readonly servers: Readonly<Record<string, McpServer>> | undefined;
  /** The servers the job's allowed_tools mention (mcpServersWanted). */
  readonly wanted: readonly string[];
}

export const DEFAULT_STARTUP_TIMEOUT_SEC = 20;
export const DEFAULT_CALL_TIMEOUT_SEC = 60;
/** Bytes of a server's stderr kept in its evidence file (spawn-piped.ts P1). */
const STDERR_CAP_BYTES = 64 * 1024;
/** How long a closed pipe may precede the exit it comes from, before we call it a protocol break. */
const EXIT_SETTLE_MS = 500;
const STDERR_TAIL_CHARS = 600;

/** SDK errors that mean the server can no longer be reached over this connection. */
const CONNECTION_LOST: ReadonlySet<string> = new Set([
  SdkErrorCode.ConnectionClosed,
  SdkErrorCode.NotConnected,
  SdkErrorCode.SendFailed,
]);

const MCP_TOOL = /^mcp__([a-z0-9][a-z0-9-]{0,31})__(.+)$/;

export const mcpToolName = (server: string, tool: string) => `mcp__${server}__${tool}`;

/** `mcp__<server>__<tool>` → its parts; undefined for any other name. */
export function parseMcpToolName(name: string): { server: string; tool: string } | undefined {
  const m = MCP_TOOL.exec(name);
  return m ? { server: m[1]!, tool: m[2]! } : undefined;
}

/** The MCP servers a job's allowed_tools mention, each once. */
export function mcpServersWanted(allowedTools: readonly string[]): string[] {
  return [...new Set(allowedTools.flatMap((t) => parseMcpToolName(t)?.server ?? []))];
}

interface Session {
  readonly server: string;
  readonly config: McpServer | undefined;
  state: McpServerState;
  blocked: McpProblem | undefined;
  program: string | null;
  mode: { isolation: 'sandbox' | 'unsandboxed'; network: NetworkMode } | null;
  envNames: string[];
  readOnly: string[];
  proc: PipedProcess | undefined;
  client: Client | undefined;
  serverInfo: { name: string; version: string } | null;
  tools: string[];
  skipped: string[];
  startupMs: number | null;
  calls: number;
}

export async function openMcpServers(options: OpenMcpOptions): Promise<McpSessions> {
  const { ctx } = options;
  const sessions = [...new Set(options.wanted)].map((server): Session => ({
    server,
    config: options.servers?.[server],
    state: 'blocked',
    blocked: undefined,
    program: null,
    mode: null,
    envNames: [],
    readOnly: [],
    proc: undefined,
    client: undefined,
    serverInfo: null,
    tools: [],
    skipped: [],
    startupMs: null,
    calls: 0,
  }));
  const problems: McpProblem[] = [];
  const tools: ModelTool[] = [];
  await Promise.all(
    sessions.map(async (s) => {
      const listed = await start(s, options);
      if (s.blocked) problems.push(s.blocked);
      for (const tool of listed) {
        const name = mcpToolName(s.server, tool.name);
        if (!TOOL_NAME.test(name) || s.tools.includes(name)) {
          s.skipped.push(tool.name);
          problems.push({
            server: s.server,
            tool: tool.name,
            blocked_by: 'mcp_tool_name_invalid',
            message: s.tools.includes(name)
              ? `the MCP server ${s.server} lists the tool ${JSON.stringify(tool.name)} twice; the second is not offered`
              : `the MCP server ${s.server}'s tool ${JSON.stringify(tool.name)} is not offered: ${JSON.stringify(name)} is not a valid function name ([a-zA-Z0-9_-]{1,64})`,
          });
          continue;
        }
        s.tools.push(name);
        tools.push(modelTool(s, tool, name, ctx));
      }
    }),
  );

  const blockedBy = (server: string) => {
    const s = sessions.find((x) => x.server === server);
    return s ? blockedNow(s) : undefined;
  };
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= Promise.all(
      sessions.map(async (s) => {
        if (s.state === 'ready') s.state = 'closed';
        try {
          await s.client?.close();
        } catch {
          // the tree is killed below all the same
        }
        await s.proc?.stop();
      }),
    ).then(() => undefined));

  if (ctx.signal.aborted) {
    await close();
    throw ctx.signal.reason;
  }
  return {
    tools,
    problems,
    blockedBy,
    unavailable: (toolName) => {
      const parsed = parseMcpToolName(toolName);
      if (!parsed) return undefined;
      const blocked = blockedBy(parsed.server);
      if (blocked) return unavailableResult(blocked);
      const skipped = problems.find((p) => p.server === parsed.server && p.tool === parsed.tool);
      return skipped ? { ok: false, code: skipped.blocked_by, message: skipped.message } : undefined;
    },
    facts: () => sessions.map(factsOf),
    close,
  };
}

/** Checks, starts and lists one server's tools; on a problem sets `s.blocked` and lists none (M1). */
async function start(s: Session, { ctx, sandbox }: OpenMcpOptions): Promise<Tool[]> {
  const block = (blocked_by: McpBlockedBy, message: string): Tool[] => {
    s.state = 'blocked';
    s.blocked = { server: s.server, blocked_by, message };
    return [];
  };
  const config = s.config;
  if (!config) {
    return block(
      'mcp_server_not_configured',
      `no MCP server ${JSON.stringify(s.server)} is configured (config.json mcp_servers)`,
    );
  }
  const policy = ctx.job.tool_policy;
  if (!policy.allow_subprocess) {
    return block(
      'mcp_subprocess_not_allowed',
      `the MCP server ${s.server} is a process, and this job's tool_policy has allow_subprocess: false`,
    );
  }
  const mode = processModeFor(sandbox, policy.allow_network);
  if (!mode) {
    const why =
      whyCannotRun(sandbox, ctx.job) ??
      (sandbox.isolation.ok ? 'the network cannot be cut' : sandbox.isolation.reason);
    return block('mcp_sandbox_unavailable', `this worker cannot run the MCP server ${s.server}: ${why}`);
  }
  s.mode = { isolation: mode.kind, network: mode.network };
  let env: Record<string, string>;
  try {
    env = childEnv(sandbox, config.env_allow);
  } catch (err) {
    return block('mcp_env_not_allowed', `the MCP server ${s.server}: ${(err as Error).message}`);
  }
  s.envNames = Object.keys(env).sort();
  const argv0 = config.argv[0]!;
  const program = isAbsolute(argv0)
    ? await findProgram(basename(argv0), dirname(argv0))
    : argv0.includes('/')
      ? undefined
      : await findProgram(argv0, env.PATH);
  if (!program) {
    return block(
      'mcp_server_not_installed',
      isAbsolute(argv0) || !argv0.includes('/')
        ? `the MCP server ${s.server}'s program ${JSON.stringify(argv0)} is not ${isAbsolute(argv0) ? 'an executable file' : "on the worker's PATH"}: install it, or fix mcp_servers.${s.server}.argv`
        : `the MCP server ${s.server}'s program ${JSON.stringify(argv0)} must be a name on PATH or an absolute path`,
    );
  }
  s.program = program;
  // Its own installation, read-only (M3): what config names, and where an absolute program lives.
  s.readOnly = [
    ...new Set([...(config.read_only_paths ?? []), ...(isAbsolute(argv0) ? installDirs(program) : [])]),
  ];
  const exposing = s.readOnly.find((path) => exposesTooMuch(path, ctx));
  if (exposing !== undefined) {
    return block(
      'mcp_sandbox_unavailable',
      `the MCP server ${s.server} would be shown ${JSON.stringify(exposing)} read-only, which is / or a home ` +
        `directory or holds the plane's home or the workspace; install it elsewhere, or narrow ` +
        `mcp_servers.${s.server}.read_only_paths`,
    );
  }
  if (ctx.signal.aborted) return [];

  let proc: PipedProcess;
  try {
    proc = await startJobProcess(ctx, sandbox, mode, {
      program,
      argv: config.argv,
      env,
      extraReadOnly: s.readOnly,
      stderrName: `mcp-${s.server}.stderr`,
      stderrCapBytes: STDERR_CAP_BYTES,
    });
  } catch (err) {
    return block(
      'mcp_sandbox_unavailable',
      `the MCP server ${s.server} could not be started: ${(err as Error).message}`,
    );
  }
  s.proc = proc;
  const started = performance.now();
  const startupMs = (config.startup_timeout_sec ?? DEFAULT_STARTUP_TIMEOUT_SEC) * 1000;
  const client = new Client({ name: 'execplane', version: '1' }, { capabilities: {} });
  s.client = client;
  client.onerror = () => undefined; // a line that is not JSON-RPC; the call it belonged to times out
  const transport = new PipeTransport(proc.stdin, proc.stdout);

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const outcome = await Promise.race([
    (async () => {
      // The SDK's own timeouts only back up ours (the race below), which decide.
      await client.connect(transport, { timeout: startupMs + 1_000 });
      return await client.listTools(undefined, { timeout: startupMs + 1_000 });
    })().then(
      (r) => ({ kind: 'ready' as const, tools: r.tools }),
      (err: unknown) => ({ kind: 'error' as const, err }),
    ),
    new Promise<{ kind: 'timeout' }>((r) => (timer = setTimeout(() => r({ kind: 'timeout' }), startupMs))),
    proc.exited.then(() => ({ kind: 'exited' as const })),
    new Promise<{ kind: 'aborted' }>((r) => {
      onAbort = () => r({ kind: 'aborted' });
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  ctx.signal.removeEventListener('abort', onAbort!);

  if (outcome.kind === 'ready') {
    s.startupMs = Math.round(performance.now() - started);
    const info = client.getServerVersion();
    s.serverInfo = info ? { name: info.name, version: info.version } : null;
    s.state = 'ready';
    void proc.exited.then((exit) => {
      if (s.state !== 'ready') return;
      s.state = 'exited';
      s.blocked = { server: s.server, blocked_by: 'mcp_server_exited', message: exitMessage(s, exit) };
    });
    return outcome.tools;
  }
  if (outcome.kind === 'aborted') {
    await proc.stop(); // spawn-piped.ts stops it on abort already; this waits for it
    return block('mcp_closed', `the job was stopped while the MCP server ${s.server} was starting`);
  }
  if (outcome.kind === 'timeout') {
    await proc.stop();
    return block(
      'mcp_timeout',
      `the MCP server ${s.server} was not ready (initialize and tools/list) within startup_timeout_sec ` +
        `${startupMs / 1000}; it was killed${tailOf(proc)}`,
    );
  }
  // The pipe closes a moment before the exit is reported: wait for it before judging.
  const exited = outcome.kind === 'exited' || (await exitsWithin(proc, EXIT_SETTLE_MS));
  if (exited) return block('mcp_server_exited', exitMessage(s, await proc.exited, 'before it was ready'));
  await proc.stop();
  const err = outcome.kind === 'error' ? (outcome.err as Error) : undefined;
  return block(
    'mcp_protocol_error',
    `the MCP server ${s.server} failed to start: ${err?.message ?? 'unknown error'}; it was killed${tailOf(proc)}`,
  );
}

function modelTool(s: Session, tool: Tool, name: string, ctx: JobHandlerContext<unknown>): ModelTool {
  const callMs = (s.config!.call_timeout_sec ?? DEFAULT_CALL_TIMEOUT_SEC) * 1000;
  const needs: ToolNeed[] = ctx.job.tool_policy.allow_network ? ['subprocess', 'network'] : ['subprocess'];
  // `$schema` says which draft the server's SDK wrote; the loop's validator and the model need none.
  const { $schema: _draft, ...parameters } = tool.inputSchema as Record<string, unknown>;
  return {
    name,
    description: tool.description ?? tool.title ?? `${tool.name} (MCP server ${s.server})`,
    parameters,
    needs,
    run: async (args, scope): Promise<ToolResult> => {
      const blocked = blockedNow(s);
      if (blocked) return unavailableResult(blocked); // M2: not announced, nothing ran
      await scope.announce(); // M2: the ledger has the call before the server does
      s.calls += 1;
      const proc = s.proc!;
      try {
        const result = await s.client!.callTool(
          { name: tool.name, arguments: args },
          { timeout: callMs, maxTotalTimeout: callMs, signal: ctx.signal },
        );
        return toToolResult(result);
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (SdkError.isInstance(err) && err.code === SdkErrorCode.RequestTimeout) {
          s.state = 'hung';
          await proc.stop();
          const message = `the MCP server ${s.server} did not answer ${tool.name} within call_timeout_sec ${callMs / 1000}; it was killed, and its tools are unavailable for the rest of the attempt`;
          s.blocked = { server: s.server, blocked_by: 'mcp_timeout', message };
          return { ok: false, code: 'mcp_timeout', blocked_by: 'mcp_timeout', message };
        }
        const lost =
          proc.exit !== undefined ||
          (SdkError.isInstance(err) && CONNECTION_LOST.has(err.code)) ||
          s.state !== 'ready';
        if (!lost) {
          // A JSON-RPC error answer (unknown tool, invalid params) or a result the SDK rejected
          // (not matching the tool's outputSchema): the server still serves.
          const what = ProtocolError.isInstance(err) ? `error ${err.code}` : 'bad result';
          return {
            ok: false,
            code: 'mcp_protocol_error',
            message: `${tool.name}: ${what}: ${(err as Error).message}`,
          };
        }
        if (s.state === 'ready') {
          // The connection is gone: the server exited, or closed its stdout (then it is killed).
          const own = proc.exit !== undefined || (await exitsWithin(proc, EXIT_SETTLE_MS));
          const exit = own ? await proc.exited : await proc.stop();
          s.state = 'exited';
          s.blocked = {
            server: s.server,
            blocked_by: 'mcp_server_exited',
            message: own
              ? exitMessage(s, exit, `during ${tool.name}`)
              : `the MCP server ${s.server} closed the connection during ${tool.name} (${(err as Error).message}); it was killed${tailOf(proc)}`,
          };
        }
        const now = blockedNow(s) ?? {
          blocked_by: 'mcp_server_exited' as const,
          message: `${tool.name}: ${(err as Error).message}`,
        };
        return { ok: false, code: now.blocked_by, blocked_by: now.blocked_by, message: now.message };
      }
    },
  };
}

/** The answer to a call to a blocked server's tool. */
const unavailableResult = (p: McpProblem): ToolResult => ({
  ok: false,
  code: 'mcp_unavailable',
  blocked_by: p.blocked_by,
  message: p.message,
});

/** The server's problem now: from the start, or since (exited, hung, closed). */
function blockedNow(s: Session): McpProblem | undefined {
  if (s.blocked) return s.blocked;
  if (s.state === 'closed') {
    return { server: s.server, blocked_by: 'mcp_closed', message: `the MCP server ${s.server} was closed` };
  }
  return undefined;
}

function toToolResult(result: CallToolResult): ToolResult {
  const content = Array.isArray(result.content) ? result.content : [];
  let text = content.map(describeContent).join('\n');
  if (content.length === 0 && result.structuredContent !== undefined)
    text = JSON.stringify(result.structuredContent);
  return result.isError === true
    ? { ok: false, code: 'mcp_tool_error', message: text }
    : { ok: true, content: text };
}

/** A content block as the model reads it: text as it is, anything else summarised. */
function describeContent(c: CallToolResult['content'][number]): string {
  switch (c.type) {
    case 'text':
      return c.text;
    case 'image':
    case 'audio':
      return `[${c.mimeType}, ${base64Bytes(c.data)} bytes]`;
    case 'resource':
      return 'text' in c.resource
        ? c.resource.text
        : `[${c.resource.mimeType ?? 'resource'} ${c.resource.uri}, ${base64Bytes(c.resource.blob)} bytes]`;
    case 'resource_link':
      return `[resource ${c.uri}${c.mimeType ? `, ${c.mimeType}` : ''}]`;
    default:
      return `[${(c as { type: string }).type}]`;
  }
}

const base64Bytes = (s: string) =>
  Math.floor((s.length * 3) / 4) - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0);

/**
 * A read-only path the sandbox must not show (M3): `/`, a home directory (/root, /home, the
 * worker's own), or one holding the plane's home (its ledger and every job's evidence) or the
 * workspace (its siblings). Paths that do not exist are left out by the sandbox anyway.
 */
function exposesTooMuch(path: string, ctx: JobHandlerContext<unknown>): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  if (['/', '/root', '/home', homedir()].some((h) => resolve(h) === real)) return true;
  const holds = (inner: string) => {
    let r: string;
    try {
      r = realpathSync(inner);
    } catch {
      r = resolve(inner);
    }
    return r === real || r.startsWith(real.endsWith(sep) ? real : real + sep);
  };
  return holds(ctx.evidenceDir) || holds(ctx.workspace);
}

/** An absolute program's directory, and its real one where it is a link (M3). */
function installDirs(program: string): string[] {
  try {
    return [dirname(program), dirname(realpathSync(program))];
  } catch {
    return [dirname(program)];
  }
}

function exitsWithin(proc: PipedProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    proc.exited.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

function exitMessage(s: Session, exit: PipedExit, when = 'since it started'): string {
  const how =
    exit.spawn_error !== undefined
      ? `could not be started (${exit.spawn_error})`
      : exit.signal !== null
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.exit_code}`;
  const limit = exit.limit_exceeded ? ` (${exit.limit_exceeded}: it hit the job's limit)` : '';
  return `the MCP server ${s.server} ${how} ${when}${limit}${tailOf(s.proc)}`;
}

function tailOf(proc: PipedProcess | undefined): string {
  const tail = proc?.stderrTail().trim();
  return tail ? `; its stderr ended: ${JSON.stringify(tail.slice(-STDERR_TAIL_CHARS))}` : '';
}

function factsOf(s: Session): McpServerFacts {
  const exit = s.proc?.exit;
  return {
    server: s.server,
    argv: s.config?.argv ?? null,
    program: s.program,
    isolation: s.mode?.isolation ?? null,
    network: s.mode?.network ?? null,
    env_names: s.envNames,
    read_only_paths: s.readOnly,
    pid: s.proc?.pid ?? null,
    state: s.state,
    blocked_by: blockedNow(s)?.blocked_by ?? null,
    server_info: s.serverInfo,
    tools: s.tools,
    skipped_tools: s.skipped,
    startup_ms: s.startupMs,
    calls: s.calls,
    exit: exit ? withoutStderr(exit) : null,
    stderr: exit?.stderr?.file.path ?? null,
  };
}

function withoutStderr(exit: PipedExit): Omit<PipedExit, 'stderr'> {
  const { stderr: _, ...rest } = exit;
  return rest;
}
