/**
 * MCP tools (src/model/mcp.ts, M1–M5; src/sandbox/spawn-piped.ts, P1–P5) with a real MCP server
 * (fixtures/mcp/fixture-server.mjs, on the official SDK's server package) inside bubblewrap,
 * under a real in-process Worker: each handler gets a genuine JobHandlerContext whose toolCall
 * appends to a real ledger.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { canonicalJson, sha256Hex } from '../src/canonical.js';
import { planePaths } from '../src/ledger/paths.js';
import { mcpServersWanted, openMcpServers, type McpSessions } from '../src/model/mcp.js';
import type { ToolResult } from '../src/model/types.js';
import { prepareSandbox } from '../src/sandbox/prepare.js';
import type { Sandbox } from '../src/sandbox/sandbox.js';
import { descendants } from '../src/sandbox/tree-stop.js';
import type {
  CompleteEvent,
  FailEvent,
  LedgerEvent,
  McpServer,
  ToolCallEvent,
} from '../src/schema/types.generated.js';
import type { JobSpec } from '../src/schema/job-spec.js';
import type { JobHandlerContext } from '../src/worker/types.js';
import { ledgerEvents } from './helpers/ledger.js';
import { osPart } from './helpers/os-parts.js';
import { freshPlane, hostProcessesWith, isAlive, type Plane } from './helpers/sandbox.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { enqueueAll, sleep, startWorker } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-mcp-');
const BWRAP = osPart(
  spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0,
  'the MCP tests need bubblewrap (apt-get install bubblewrap)',
);
// The checkout, wherever it is: the fixture's imports resolve from its node_modules.
const ROOT = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
const FIXTURE = join(ROOT, 'fixtures/mcp/fixture-server.mjs');
const TAG = `t${process.pid}x${Math.random().toString(36).slice(2, 8)}`;

/** The fixture as config.json would name it, with a tag its processes are found by on the host. */
const fixture = (flags: string[] = [], over: Partial<McpServer> = {}): McpServer => ({
  argv: ['node', FIXTURE, ...flags, '--tag', TAG],
  read_only_paths: [ROOT],
  startup_timeout_sec: 15,
  call_timeout_sec: 15,
  ...over,
});

const FIXTURE_TOOLS = [
  'echo',
  'add',
  'whoami',
  'sleep',
  'exit_now',
  'fail',
  'write_file',
  'connect',
  'image',
];
const allowed = (server: string, tools = FIXTURE_TOOLS) => tools.map((t) => `mcp__${server}__${t}`);

interface Call {
  readonly result: ToolResult;
  /** Whether the tool announced the call (appended its tool_call event). */
  readonly announced: boolean;
  readonly ms: number;
}

interface Harness {
  readonly ctx: JobHandlerContext<unknown>;
  readonly sandbox: Sandbox;
  readonly mcp: McpSessions;
  readonly plane: Plane;
  readonly call: (
    name: string,
    args?: Record<string, unknown>,
    hooks?: { beforeAnnounce?: () => void; afterAnnounce?: () => void },
  ) => Promise<Call>;
}

interface AgentRun<T> {
  readonly value: T;
  readonly events: LedgerEvent[];
  readonly end: CompleteEvent | FailEvent;
  readonly plane: Plane;
  readonly evidenceDir: string;
}

/**
 * One agent_task through a real Worker whose handler opens the MCP servers and hands them to
 * `body`; closes them afterwards unless `close: false`. What `body` returned, and the ledger.
 */
async function runAgent<T>(o: {
  servers: Record<string, McpServer>;
  allowed_tools: string[];
  wanted?: string[];
  tool_policy?: Partial<JobSpec['tool_policy']>;
  budgets?: Partial<JobSpec['budgets']>;
  env?: Record<string, string>;
  close?: boolean;
  body: (h: Harness) => Promise<T>;
}): Promise<AgentRun<T>> {
  const p = freshPlane(tmp());
  const spec = agentSpec({
    budgets: { max_tool_calls: 16, max_output_bytes: 1 << 20, max_wall_time_sec: 60, ...o.budgets },
    tool_policy: { allow_subprocess: true, allowed_tools: o.allowed_tools, ...o.tool_policy },
  });
  (await enqueueAll(p.home, [spec])).close();
  const sandbox = await prepareSandbox({ home: p.home, env: { ...process.env, ...o.env } });
  expect(sandbox.isolation.ok, JSON.stringify(sandbox.isolation)).toBe(true);
  let value: T | undefined;
  let bodyError: unknown;
  const { exit } = startWorker(
    p.home,
    async (ctx) => {
      const mcp = await openMcpServers({
        ctx,
        sandbox,
        servers: o.servers,
        wanted: o.wanted ?? mcpServersWanted(ctx.job.tool_policy.allowed_tools),
      });
      let index = 0;
      const harness: Harness = {
        ctx,
        sandbox,
        mcp,
        plane: p,
        call: async (name, args = {}, hooks = {}) => {
          const tool = mcp.tools.find((t) => t.name === name);
          if (!tool) throw new Error(`no tool ${name}: ${mcp.tools.map((t) => t.name).join(', ')}`);
          let announced = false;
          const started = Date.now();
          const result = await tool.run(args, {
            ctx,
            index: ++index,
            announce: async () => {
              hooks.beforeAnnounce?.();
              await ctx.toolCall({ tool: name, args, requested_by: 'model', needs: [...tool.needs] });
              announced = true;
              hooks.afterAnnounce?.();
            },
          });
          return { result, announced, ms: Date.now() - started };
        },
      };
      try {
        value = await o.body(harness);
      } catch (err) {
        bodyError = err;
        throw err;
      } finally {
        if (o.close !== false) await mcp.close();
      }
      return { result: {} };
    },
    { workspace: p.workspace, once: true },
  );
  await exit;
  const events = ledgerEvents(planePaths(p.home).ledger);
  const end = events.find((e) => e.event === 'complete' || e.event === 'fail') as CompleteEvent | FailEvent;
  // An assertion that failed inside the handler (the abort test's body is meant to be stopped).
  if (o.close !== false && bodyError !== undefined)
    throw bodyError instanceof Error ? bodyError : new Error('the handler threw', { cause: bodyError });
  expect(end, 'the job did not end').toBeDefined();
  return {
    value: value as T,
    events,
    end,
    plane: p,
    evidenceDir: join(planePaths(p.home).evidence, end.job_id),
  };
}

const toolCalls = (events: LedgerEvent[]) =>
  events.filter((e): e is ToolCallEvent => e.event === 'tool_call');

/** A server's host processes now: its leader and everything below it. */
const treeOf = (pid: number | null) => (pid === null ? [] : [pid, ...descendants(pid)]);

async function allGone(pids: number[], withinMs = 3_000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await sleep(50);
  }
}

describe.skipIf(!BWRAP)('MCP servers inside the job sandbox', () => {
  test('tools come back as mcp__fixture__*; a call reaches the server only after its tool_call event; close() leaves no process', async () => {
    const run = await runAgent({
      servers: { fixture: fixture(['--call-log', '.calls']) },
      allowed_tools: allowed('fixture'),
      body: async ({ mcp, call, plane }) => {
        const calls = () => {
          const file = join(plane.workspace, '.calls');
          return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
        };
        const ledger = () => toolCalls(ledgerEvents(planePaths(plane.home).ledger));
        const seen: string[][] = [];
        const echo = await call(
          'mcp__fixture__echo',
          { text: 'hello' },
          {
            beforeAnnounce: () => seen.push(['before', String(ledger().length), ...calls()]),
            afterAnnounce: () => {
              const last = ledger().at(-1)!;
              expect(last.tool).toBe('mcp__fixture__echo');
              expect(last.requested_by).toBe('model');
              expect(last.needs).toEqual(['subprocess']);
              expect(last.args_sha256).toBe(sha256Hex(canonicalJson({ text: 'hello' })));
              seen.push(['after', String(ledger().length), ...calls()]);
            },
          },
        );
        const add = await call('mcp__fixture__add', { a: 2, b: 40 });
        const image = await call('mcp__fixture__image');
        const fail = await call('mcp__fixture__fail');
        const pids = treeOf(mcp.facts()[0]!.pid);
        const before = mcp.facts()[0]!;
        await mcp.close();
        const aliveAfterClose = pids.filter(isAlive);
        await mcp.close(); // idempotent
        return {
          echo,
          add,
          image,
          fail,
          seen,
          calls: calls(),
          pids,
          aliveAfterClose,
          before,
          after: mcp.facts()[0]!,
          mcp,
        };
      },
    });
    const v = run.value;
    expect(v.mcp.problems).toEqual([]);
    expect(v.mcp.tools.map((t) => t.name).sort()).toEqual(allowed('fixture').sort());
    const echoTool = v.mcp.tools.find((t) => t.name === 'mcp__fixture__echo')!;
    expect(echoTool.parameters).toEqual({
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
    });
    expect(echoTool.needs).toEqual(['subprocess']);
    // Before the announce: no event, and the server had seen nothing; after: the event, and still nothing.
    expect(v.seen).toEqual([
      ['before', '0'],
      ['after', '1'],
    ]);
    expect(v.echo).toMatchObject({ announced: true, result: { ok: true, content: 'hello' } });
    expect(v.add.result).toEqual({ ok: true, content: '42' });
    expect(v.image.result).toEqual({ ok: true, content: 'here it is\n[image/png, 1234 bytes]' });
    expect(v.fail.result).toMatchObject({
      ok: false,
      code: 'mcp_tool_error',
      message: 'fixture: this tool always fails',
    });
    expect(v.calls).toEqual(['echo', 'add', 'image', 'fail']);
    expect(toolCalls(run.events).map((e) => e.tool)).toEqual(
      allowed('fixture', ['echo', 'add', 'image', 'fail']),
    );

    expect(v.before).toMatchObject({ state: 'ready', isolation: 'sandbox', network: 'netns', calls: 4 });
    expect(v.before.server_info).toEqual({ name: 'execplane-fixture', version: '1.0.0' });
    expect(v.before.startup_ms).toBeGreaterThan(0);
    expect(v.pids.length).toBeGreaterThanOrEqual(3); // bubblewrap, its namespace's init, node
    expect(v.aliveAfterClose).toEqual([]);
    expect(hostProcessesWith(TAG)).toEqual([]);
    expect(v.after).toMatchObject({ state: 'closed', stderr: 'attempt-1/mcp-fixture.stderr' });
    expect(v.after.exit).toMatchObject({ stopped: 'stop' });

    // Its stderr is evidence the ledger records.
    expect(run.end.event).toBe('complete');
    expect(run.end.evidence?.map((f) => f.path)).toContain('attempt-1/mcp-fixture.stderr');
    expect(readFileSync(join(run.evidenceDir, 'attempt-1/mcp-fixture.stderr'), 'utf8')).toContain(
      'fixture: ready',
    );
  });

  test('the server runs as the sandbox user, in its own PID and network namespaces, with PATH + env_allow only', async () => {
    const host = createServer((s) => s.destroy());
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as { port: number }).port;
    try {
      const run = await runAgent({
        servers: { fixture: fixture([], { env_allow: ['TZ'] }) },
        allowed_tools: allowed('fixture'),
        env: { TZ: 'UTC', EXECPLANE_MCP_SECRET: 'must-not-leak' },
        body: async ({ call, plane }) => ({
          whoami: await call('mcp__fixture__whoami'),
          connect: await call('mcp__fixture__connect', { port }),
          write: await call('mcp__fixture__write_file', { path: 'from-mcp.txt', text: 'hi' }),
          written: readFileSync(join(plane.workspace, 'from-mcp.txt'), 'utf8'),
        }),
      });
      const v = run.value;
      expect(v.whoami.result.ok).toBe(true);
      const who = JSON.parse((v.whoami.result as { content: string }).content) as Record<string, unknown>;
      expect(who.uid).toBe(65534);
      expect(who.gid).toBe(65534);
      expect(who.proc1).toMatch(/bwrap$/); // its own PID namespace, bubblewrap's init as pid 1
      expect(who.pid as number).toBeLessThan(10);
      expect(who.processes as number).toBeLessThan(8); // not the host's processes
      expect(who.env).toEqual(['PATH', 'TZ']);
      expect(who.net_ns).not.toBe(readlinkSync('/proc/self/ns/net'));
      expect(who.cwd).toBe(run.plane.workspace);
      expect(v.connect.result).toEqual({ ok: true, content: 'refused: ECONNREFUSED' });
      expect(v.write.result).toEqual({ ok: true, content: 'wrote from-mcp.txt' });
      expect(v.written).toBe('hi');
    } finally {
      host.close();
    }
  });

  test('allow_network: the host network, and needs [subprocess, network]; write_workspace false: the workspace is read-only', async () => {
    const host = createServer((s) => s.destroy());
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as { port: number }).port;
    try {
      const run = await runAgent({
        servers: { fixture: fixture() },
        allowed_tools: allowed('fixture'),
        tool_policy: { allow_network: true, write_workspace: false },
        body: async ({ call, mcp }) => ({
          connect: await call('mcp__fixture__connect', { port }),
          write: await call('mcp__fixture__write_file', { path: 'nope.txt', text: 'x' }),
          needs: mcp.tools[0]!.needs,
          network: mcp.facts()[0]!.network,
        }),
      });
      expect(run.value.connect.result).toEqual({ ok: true, content: 'connected' });
      expect(run.value.needs).toEqual(['subprocess', 'network']);
      expect(run.value.network).toBe('host');
      expect(run.value.write.result).toMatchObject({ ok: false, code: 'mcp_tool_error' });
      expect((run.value.write.result as { message: string }).message).toMatch(/^EROFS/);
      expect(existsSync(join(run.plane.workspace, 'nope.txt'))).toBe(false);
      expect(toolCalls(run.events).map((e) => e.needs)).toEqual([
        ['subprocess', 'network'],
        ['subprocess', 'network'],
      ]);
    } finally {
      host.close();
    }
  });

  test('with --unsandboxed-ok where there is no sandbox: the worker’s user, its own process group, killed whole', async () => {
    const run = await runAgent({
      servers: { fixture: fixture() },
      allowed_tools: allowed('fixture'),
      body: async ({ ctx, sandbox }) => {
        const mcp = await openMcpServers({
          ctx,
          sandbox: {
            ...sandbox,
            isolation: { ok: false, reason: 'test: no bubblewrap here' },
            unsandboxedOk: true,
            unenforcedNetworkOk: true,
          },
          servers: { fixture: fixture() },
          wanted: ['fixture'],
        });
        const tool = mcp.tools.find((t) => t.name === 'mcp__fixture__whoami')!;
        const scope = {
          ctx,
          index: 1,
          announce: () =>
            ctx.toolCall({
              tool: tool.name,
              args: {},
              requested_by: 'model' as const,
              needs: [...tool.needs],
            }),
        };
        const who = await tool.run({}, scope);
        const facts = mcp.facts()[0]!;
        const pids = treeOf(facts.pid);
        await mcp.close();
        return { who, facts, pids, alive: pids.filter(isAlive) };
      },
    });
    const v = run.value;
    expect(v.facts).toMatchObject({ state: 'ready', isolation: 'unsandboxed' });
    expect(v.who.ok).toBe(true);
    const who = JSON.parse((v.who as { content: string }).content) as Record<string, unknown>;
    expect(who.uid).toBe(process.getuid!());
    expect(who.env).toEqual(['PATH']);
    expect(v.pids.length).toBeGreaterThanOrEqual(1);
    expect(v.alive).toEqual([]);
  });

  test('a read-only path that would show /, a home, the plane home or the workspace blocks the server', async () => {
    const run = await runAgent({
      servers: {},
      allowed_tools: [],
      body: async ({ ctx, sandbox }) => {
        const open = (read_only_paths: string[]) =>
          openMcpServers({
            ctx,
            sandbox,
            servers: { wide: fixture([], { read_only_paths: [ROOT, ...read_only_paths] }) },
            wanted: ['wide'],
          });
        const out = [];
        for (const paths of [['/'], [dirname(ctx.workspace)], [dirname(ctx.evidenceDir)], [homedir()], []]) {
          const mcp = await open(paths);
          out.push({ problems: mcp.problems.map((q) => q.blocked_by), tools: mcp.tools.length });
          await mcp.close();
        }
        return out;
      },
    });
    const blocked = { problems: ['mcp_sandbox_unavailable'], tools: 0 };
    expect(run.value.slice(0, 4)).toEqual([blocked, blocked, blocked, blocked]);
    // The fixture's own directory alone is fine.
    expect(run.value[4]).toEqual({ problems: [], tools: FIXTURE_TOOLS.length });
  });

  test('problems, never throws: not configured, no allow_subprocess, no sandbox, not installed, bad env_allow', async () => {
    const run = await runAgent({
      servers: {
        missing: { argv: ['execplane-no-such-mcp-server'] },
        abs: { argv: ['/nonexistent/bin/mcp-server'] },
        env: fixture([], { env_allow: ['EXECPLANE_NOT_ON_THE_LIST'] }),
        fixture: fixture(),
      },
      allowed_tools: [
        ...allowed('fixture'),
        'mcp__ghost__x',
        'mcp__missing__x',
        'mcp__abs__x',
        'mcp__env__x',
      ],
      body: async ({ ctx, sandbox, mcp }) => {
        const noSubprocess = await openMcpServers({
          ctx: {
            ...ctx,
            job: { ...ctx.job, tool_policy: { ...ctx.job.tool_policy, allow_subprocess: false } },
          },
          sandbox,
          servers: { fixture: fixture() },
          wanted: ['fixture'],
        });
        const noSandbox = await openMcpServers({
          ctx,
          sandbox: { ...sandbox, isolation: { ok: false, reason: 'test: no bubblewrap here' } },
          servers: { fixture: fixture() },
          wanted: ['fixture'],
        });
        await noSubprocess.close();
        await noSandbox.close();
        return {
          mcp,
          noSubprocess,
          noSandbox,
          fixtureBlocked: mcp.blockedBy('fixture'),
          unavailable: ['mcp__missing__x', 'mcp__fixture__echo', 'mcp__fixture__nope', 'read_file'].map((n) =>
            mcp.unavailable(n),
          ),
        };
      },
    });
    const { mcp, noSubprocess, noSandbox, fixtureBlocked, unavailable } = run.value;
    // What the loop answers a call to a tool it does not have.
    expect(unavailable).toEqual([
      expect.objectContaining({ ok: false, code: 'mcp_unavailable', blocked_by: 'mcp_server_not_installed' }),
      undefined,
      undefined,
      undefined,
    ]);
    const byServer = Object.fromEntries(mcp.problems.map((p) => [p.server, p]));
    expect(byServer.ghost).toMatchObject({ blocked_by: 'mcp_server_not_configured' });
    expect(byServer.missing).toMatchObject({ blocked_by: 'mcp_server_not_installed' });
    expect(byServer.missing!.message).toContain("not on the worker's PATH");
    expect(byServer.abs).toMatchObject({ blocked_by: 'mcp_server_not_installed' });
    expect(byServer.env).toMatchObject({ blocked_by: 'mcp_env_not_allowed' });
    expect(byServer.fixture).toBeUndefined();
    expect(mcp.blockedBy('missing')?.blocked_by).toBe('mcp_server_not_installed');
    expect(fixtureBlocked).toBeUndefined();
    expect(mcp.blockedBy('fixture')?.blocked_by).toBe('mcp_closed'); // after close()
    expect(mcp.tools.every((t) => t.name.startsWith('mcp__fixture__'))).toBe(true);
    expect(noSubprocess.problems).toEqual([
      expect.objectContaining({ blocked_by: 'mcp_subprocess_not_allowed' }),
    ]);
    expect(noSandbox.problems).toEqual([expect.objectContaining({ blocked_by: 'mcp_sandbox_unavailable' })]);
    expect(noSandbox.problems[0]!.message).toContain('test: no bubblewrap here');
    expect(noSubprocess.tools).toEqual([]);
    expect(noSandbox.facts()[0]!.pid).toBeNull();
    expect(toolCalls(run.events)).toEqual([]);
    expect(run.end.event).toBe('complete');
  });

  test('a server that exits on start, one that hangs, one with bad tool names', async () => {
    const run = await runAgent({
      servers: {
        exits: fixture(['--exit-on-start', '7']),
        hangs: fixture(['--hang-on-start'], { startup_timeout_sec: 1.5 }),
        names: fixture(['--bad-tool-name']),
      },
      allowed_tools: [...allowed('exits'), ...allowed('hangs'), ...allowed('names')],
      body: async ({ mcp }) => ({
        mcp,
        facts: mcp.facts(),
        namesBlocked: mcp.blockedBy('names'),
        badName: mcp.unavailable('mcp__names__bad.name'),
        hangsTool: mcp.unavailable('mcp__hangs__echo'),
      }),
    });
    const { mcp, facts, namesBlocked, badName, hangsTool } = run.value;
    expect(badName).toMatchObject({ ok: false, code: 'mcp_tool_name_invalid' });
    expect(hangsTool).toMatchObject({ ok: false, code: 'mcp_unavailable', blocked_by: 'mcp_timeout' });
    const exits = mcp.blockedBy('exits')!;
    expect(exits.blocked_by).toBe('mcp_server_exited');
    expect(exits.message).toMatch(/exited with code 7 before it was ready/);
    expect(exits.message).toContain('fixture: exiting on start with 7');
    const hangs = mcp.blockedBy('hangs')!;
    expect(hangs.blocked_by).toBe('mcp_timeout');
    expect(hangs.message).toContain('startup_timeout_sec 1.5');
    const hung = facts.find((f) => f.server === 'hangs')!;
    expect(hung.exit).toMatchObject({ stopped: 'stop' });
    // Killed at the deadline, with the grace period at most (term_grace_ms 1000).
    expect(hung.exit!.duration_ms).toBeGreaterThanOrEqual(1_400);
    expect(hung.exit!.duration_ms).toBeLessThan(4_000);
    expect(namesBlocked).toBeUndefined();
    expect(mcp.problems.filter((p) => p.server === 'names')).toEqual([
      expect.objectContaining({ blocked_by: 'mcp_tool_name_invalid', tool: 'bad.name' }),
      expect.objectContaining({ blocked_by: 'mcp_tool_name_invalid', tool: 'x'.repeat(60) }),
    ]);
    expect(facts.find((f) => f.server === 'names')!.skipped_tools).toEqual(['bad.name', 'x'.repeat(60)]);
    expect(mcp.tools.map((t) => t.name).sort()).toEqual(allowed('names').sort());
    expect(hostProcessesWith(TAG)).toEqual([]);
  });

  test('exit_now mid-call: blocked_by mcp_server_exited, and later calls are blocked without a tool_call event', async () => {
    const run = await runAgent({
      servers: { fixture: fixture() },
      allowed_tools: allowed('fixture'),
      body: async ({ call, mcp }) => {
        const first = await call('mcp__fixture__echo', { text: 'one' });
        const exit = await call('mcp__fixture__exit_now', { code: 3 });
        const later = await call('mcp__fixture__echo', { text: 'two' });
        return { first, exit, later, blocked: mcp.blockedBy('fixture'), facts: mcp.facts()[0]! };
      },
    });
    const v = run.value;
    expect(v.first.result).toEqual({ ok: true, content: 'one' });
    expect(v.exit.announced).toBe(true);
    expect(v.exit.result).toMatchObject({
      ok: false,
      code: 'mcp_server_exited',
      blocked_by: 'mcp_server_exited',
    });
    expect((v.exit.result as { message: string }).message).toMatch(/exited with code 3/);
    expect((v.exit.result as { message: string }).message).toContain('fixture: exit_now 3');
    expect(v.later.announced).toBe(false);
    expect(v.later.result).toMatchObject({
      ok: false,
      code: 'mcp_unavailable',
      blocked_by: 'mcp_server_exited',
    });
    expect(v.blocked?.blocked_by).toBe('mcp_server_exited');
    expect(v.facts).toMatchObject({ state: 'exited', calls: 2, exit: { exit_code: 3, stopped: null } });
    expect(toolCalls(run.events).map((e) => e.tool)).toEqual(allowed('fixture', ['echo', 'exit_now']));
    expect(run.end.event).toBe('complete');
  });

  test('a call past call_timeout_sec: mcp_timeout, the tree is killed, later calls are blocked', async () => {
    const run = await runAgent({
      servers: { fixture: fixture([], { call_timeout_sec: 1 }) },
      allowed_tools: allowed('fixture'),
      body: async ({ call, mcp }) => {
        const pids = treeOf(mcp.facts()[0]!.pid);
        const slow = await call('mcp__fixture__sleep', { ms: 20_000 });
        const alive = pids.filter(isAlive);
        const later = await call('mcp__fixture__echo', { text: 'x' });
        return { pids, slow, alive, later, facts: mcp.facts()[0]! };
      },
    });
    const v = run.value;
    expect(v.slow.result).toMatchObject({ ok: false, code: 'mcp_timeout', blocked_by: 'mcp_timeout' });
    expect(v.slow.ms).toBeGreaterThanOrEqual(1_000);
    expect(v.slow.ms).toBeLessThan(4_000);
    expect(v.pids.length).toBeGreaterThanOrEqual(3);
    expect(v.alive).toEqual([]);
    expect(v.later).toMatchObject({
      announced: false,
      result: { code: 'mcp_unavailable', blocked_by: 'mcp_timeout' },
    });
    expect(v.facts).toMatchObject({ state: 'hung', blocked_by: 'mcp_timeout' });
    expect(toolCalls(run.events)).toHaveLength(1);
  });

  test('the job’s abort (wall time) takes the servers down without close()', async () => {
    let pids: number[] = [];
    const run = await runAgent({
      servers: { fixture: fixture([], { call_timeout_sec: 60 }) },
      allowed_tools: allowed('fixture'),
      budgets: { max_wall_time_sec: 3 },
      close: false,
      body: async ({ call, mcp }) => {
        pids = treeOf(mcp.facts()[0]!.pid);
        return call('mcp__fixture__sleep', { ms: 30_000 });
      },
    });
    expect(run.end.event).toBe('fail');
    expect((run.end as FailEvent).error.code).toBe('E_BUDGET_WALL_TIME');
    expect(pids.length).toBeGreaterThanOrEqual(3);
    expect(await allGone(pids)).toEqual([]);
    expect(hostProcessesWith(TAG)).toEqual([]);
  });
});
