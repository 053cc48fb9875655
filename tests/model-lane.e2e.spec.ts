/**
 * The model lane end to end through the real CLI (`enqueue`, `work --once`, `replay`, `audit
 * --evidence`, `models`) against a protocol-faithful OpenAI server on 127.0.0.1 driven by the
 * real `openai` client inside the worker: the model asks for tools, each gated call is in the
 * ledger before it runs and matches the transcript, refused calls never reach the ledger, the
 * API key is sent and never written anywhere, and a model failure is a coded `fail`, never a
 * dead worker.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import type { CompleteEvent, FailEvent, ToolCallEvent } from '../src/schema/types.generated.js';
import {
  completion,
  startFakeOpenAi,
  VLLM_TOOL_CHOICE_DISABLED,
  type FakeOpenAi,
} from './helpers/fake-openai.js';
import { ledgerEvents } from './helpers/ledger.js';
import { cli } from './helpers/procs.js';
import {
  evidenceJson,
  expectEvidenceMatches,
  freshPlane,
  runJobViaCli,
  writeConfig,
} from './helpers/sandbox.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-model-');
const KEY = 'sk-test-' + 'q7Zr'.repeat(8);
let server: FakeOpenAi | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function agentSpec(
  allowed: string[],
  o: { max_tool_calls?: number; max_turns?: number; max_model_tokens?: number } = {},
) {
  return {
    job_type: 'agent_task',
    budgets: {
      max_wall_time_sec: 60,
      max_tool_calls: o.max_tool_calls ?? 4,
      max_output_bytes: 65_536,
      max_concurrency_slots: 1,
      ...(o.max_model_tokens !== undefined ? { max_model_tokens: o.max_model_tokens } : {}),
    },
    tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: allowed },
    payload: { prompt: 'What is in notes.txt?', max_turns: o.max_turns ?? 4 },
    max_attempts: 1,
  };
}

async function planeWithModel(maxRetries = 1) {
  const p = freshPlane(tmp());
  writeFileSync(join(p.workspace, 'notes.txt'), 'the lease is fenced\n');
  writeConfig(p, {
    models: [
      {
        name: 'fake',
        base_url: server!.url,
        model: 'fake-model-1',
        api_key_env: 'EXECPLANE_TEST_KEY',
        timeout_sec: 5,
        max_retries: maxRetries,
      },
    ],
    default_model: 'fake',
  });
  return p;
}

const call = (name: string, args: unknown, id?: string) => ({
  name,
  arguments: typeof args === 'string' ? args : JSON.stringify(args),
  ...(id ? { id } : {}),
});

/** Every file under `dir`, read whole. */
function allBytes(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile()) out += readFileSync(path, 'latin1');
  }
  return out;
}

describe('agent_task over an OpenAI-compatible server', () => {
  test('the model asks for two tools, the answer lands; ledger, transcript, replay and audit agree', async () => {
    server = await startFakeOpenAi([
      {
        json: completion({
          tool_calls: [call('list_files', {})],
          finish_reason: 'tool_calls',
          usage: { prompt_tokens: 30, completion_tokens: 5 },
        }),
      },
      {
        json: completion({
          tool_calls: [call('read_file', { path: 'notes.txt' })],
          finish_reason: 'tool_calls',
          usage: { prompt_tokens: 60, completion_tokens: 6 },
        }),
      },
      {
        json: completion({
          content: 'notes.txt says the lease is fenced.',
          usage: { prompt_tokens: 90, completion_tokens: 9 },
        }),
      },
    ]);
    const p = await planeWithModel();
    const run = await runJobViaCli(p, agentSpec(['list_files', 'read_file']), {
      env: { EXECPLANE_TEST_KEY: KEY },
    });
    expect(run.end.event, run.workStderr).toBe('complete');
    const end = run.end as CompleteEvent;
    expect(end.result).toMatchObject({
      model_mode: 'live',
      model: 'fake',
      turns: 3,
      tool_calls: 2,
      refused_tool_calls: 0,
    });
    expect((end.result as { answer?: string }).answer).toBe('notes.txt says the lease is fenced.');
    expect(end.usage).toMatchObject({ tool_calls: 2, model_tokens: 30 + 5 + 60 + 6 + 90 + 9 });

    // The second turn carried the first tool's result; the third, the file's text.
    expect(server.requests).toHaveLength(3);
    const third = server.requests[2]!.body as { messages: { role: string; content: string }[] };
    expect(
      third.messages
        .filter((m) => m.role === 'tool')
        .map((m) => m.content)
        .join('\n'),
    ).toContain('the lease is fenced');
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);

    // Ledger ↔ transcript: the same calls, in order, with the same argument hashes, each event
    // before the next model turn.
    const calls = run.events.filter((e): e is ToolCallEvent => e.event === 'tool_call');
    expect(calls.map((c) => [c.tool, c.requested_by])).toEqual([
      ['list_files', 'model'],
      ['read_file', 'model'],
    ]);
    const transcript = evidenceJson<{
      calls: { name: string; args_sha256: string; decision: string }[];
      turns: unknown[];
    }>(run, 'attempt-1/transcript.json');
    expect(transcript.turns).toHaveLength(3);
    expect(transcript.calls.map((c) => [c.name, c.args_sha256, c.decision])).toEqual(
      calls.map((c) => [c.tool, c.args_sha256, 'ran']),
    );
    const sha = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');
    expect(calls[1]!.args_sha256).toBe(sha({ path: 'notes.txt' }));
    const header = evidenceJson<{ model: unknown }>(run, 'attempt-1/run-header.json');
    expect(header.model).toEqual({ mode: 'live', name: 'fake', model: 'fake-model-1', endpoint: server.url });
    expectEvidenceMatches(run);

    const replay = await cli(['replay', '--home', p.home]);
    expect(replay.exitCode, replay.stderr).toBe(0);
    const audit = await cli(['audit', '--home', p.home, '--evidence']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);

    // The key went to the server in a header and nowhere else: not the ledger, evidence, logs.
    expect(allBytes(p.home)).not.toContain(KEY);
    expect(run.workStderr).not.toContain(KEY);
  });

  test('refused calls go back to the model as coded tool errors and never reach the ledger', async () => {
    server = await startFakeOpenAi([
      {
        json: completion({
          tool_calls: [
            call('run_command', { argv: ['id'] }, 'c1'), // not allowed
            call('no_such_tool', {}, 'c2'), // allowed, but no such tool
            call('read_file', '{"path": "notes.txt"', 'c3'), // invalid JSON
            call('read_file', { path: 'notes.txt', extra: 1 }, 'c4'), // schema says no
            call('read_file', { path: '../outside' }, 'c5'), // the tool refuses the path
          ],
          finish_reason: 'tool_calls',
        }),
      },
      { json: completion({ content: 'giving up' }) },
    ]);
    const p = await planeWithModel();
    const run = await runJobViaCli(p, agentSpec(['read_file', 'no_such_tool']), {
      env: { EXECPLANE_TEST_KEY: KEY },
    });
    expect(run.end.event, run.workStderr).toBe('complete');
    expect((run.end as CompleteEvent).result).toMatchObject({ tool_calls: 0, refused_tool_calls: 5 });
    expect(run.events.filter((e) => e.event === 'tool_call')).toEqual([]);
    const second = server.requests[1]!.body as {
      messages: { role: string; tool_call_id?: string; content: string }[];
    };
    const errors = Object.fromEntries(
      second.messages
        .filter((m) => m.role === 'tool')
        .map((m) => [m.tool_call_id, (JSON.parse(m.content) as { error: { code: string } }).error.code]),
    );
    expect(errors).toEqual({
      c1: 'E_TOOL_NOT_ALLOWED',
      c2: 'E_TOOL_UNKNOWN',
      c3: 'E_TOOL_ARGS_INVALID_JSON',
      c4: 'E_TOOL_ARGS_INVALID',
      c5: expect.stringMatching(/^path_rejected:/),
    });
    // Only the offered (allowed and existing) tools were offered.
    const first = server.requests[0]!.body as { tools: { function: { name: string } }[] };
    expect(first.tools.map((t) => t.function.name)).toEqual(['read_file']);
  });

  test('budgets end the attempt: tool calls, turns, model tokens', async () => {
    const again = {
      json: completion({
        tool_calls: [call('read_file', { path: 'notes.txt' })],
        finish_reason: 'tool_calls',
        usage: { prompt_tokens: 40, completion_tokens: 10 },
      }),
    };
    server = await startFakeOpenAi(() => again);
    const p = await planeWithModel();
    const env = { env: { EXECPLANE_TEST_KEY: KEY } };
    const cases = [
      {
        spec: agentSpec(['read_file'], { max_tool_calls: 2, max_turns: 10 }),
        code: 'E_BUDGET_TOOL_CALLS',
        calls: 2,
      },
      {
        spec: agentSpec(['read_file'], { max_tool_calls: 10, max_turns: 3 }),
        code: 'E_BUDGET_TURNS',
        calls: 3,
      },
      {
        spec: agentSpec(['read_file'], { max_tool_calls: 10, max_turns: 10, max_model_tokens: 120 }),
        code: 'E_BUDGET_MODEL_TOKENS',
        calls: 2,
      },
    ];
    for (const c of cases) {
      const run = await runJobViaCli(p, c.spec, env);
      expect(run.end.event, run.workStderr).toBe('fail');
      expect((run.end as FailEvent).error.code).toBe(c.code);
      expect(run.events.filter((e) => e.event === 'tool_call')).toHaveLength(c.calls);
    }
    // The token budget is the attempt's: no request asks the server for it as max_tokens (a cap
    // past a server's context or output limit is a 400 on the first turn).
    const chats = server.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(chats.length).toBeGreaterThan(0);
    expect(chats.filter((r) => 'max_tokens' in (r.body as object))).toEqual([]);
    const audit = await cli(['audit', '--home', p.home, '--evidence']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  });

  test('a call that ends the attempt (the wall time, mid-command) is in the transcript beside its tool_call', async () => {
    server = await startFakeOpenAi([
      { json: completion({ tool_calls: [call('run_command', { argv: ['sleep', '30'] })] }) },
    ]);
    const p = await planeWithModel();
    const spec = agentSpec(['run_command']);
    const run = await runJobViaCli(
      p,
      {
        ...spec,
        budgets: { ...spec.budgets, max_wall_time_sec: 2 },
        tool_policy: { ...spec.tool_policy, allow_subprocess: true },
      },
      { env: { EXECPLANE_TEST_KEY: KEY } },
    );
    expect(run.end.event, run.workStderr).toBe('fail');
    expect((run.end as FailEvent).error.code).toBe('E_BUDGET_WALL_TIME');
    const [event] = run.events.filter((e): e is ToolCallEvent => e.event === 'tool_call');
    const transcript = evidenceJson<{
      calls: { name: string; decision: string; ok: boolean; code: string; args_sha256: string }[];
    }>(run, 'attempt-1/transcript.json');
    expect(transcript.calls).toEqual([
      expect.objectContaining({
        name: 'run_command',
        decision: 'ran',
        ok: false,
        code: 'E_BUDGET_WALL_TIME',
        args_sha256: event!.args_sha256,
      }),
    ]);
  });

  test('a key the model reads from the workspace is redacted from the transcript too', async () => {
    server = await startFakeOpenAi([
      { json: completion({ tool_calls: [call('read_file', { path: 'env.txt' })] }) },
      { json: completion({ content: 'read it' }) },
    ]);
    const p = await planeWithModel();
    writeFileSync(join(p.workspace, 'env.txt'), `OPENAI_API_KEY=${KEY}\n`);
    const run = await runJobViaCli(p, agentSpec(['read_file']), { env: { EXECPLANE_TEST_KEY: KEY } });
    expect(run.end.event, run.workStderr).toBe('complete');
    // The model was sent the file as it is (it is the key's own server); nothing we write keeps it.
    expect(JSON.stringify(server.requests[1]?.body)).toContain(KEY);
    const transcript = readFileSync(join(run.evidenceDir, 'attempt-1', 'transcript.json'), 'utf8');
    expect(transcript).toContain('OPENAI_API_KEY=[REDACTED]');
    expect(allBytes(p.home)).not.toContain(KEY);
  });

  test('an allowed MCP server that cannot serve is named to the model up front, with its blocked_by', async () => {
    server = await startFakeOpenAi([{ json: completion({ content: 'noted' }) }]);
    const p = await planeWithModel();
    const run = await runJobViaCli(p, agentSpec(['read_file', 'mcp__ghost__lookup']), {
      env: { EXECPLANE_TEST_KEY: KEY },
    });
    expect(run.end.event, run.workStderr).toBe('complete');
    const [first] = (server.requests[0]?.body as { messages: { role: string; content: string }[] }).messages;
    expect(first?.role).toBe('system');
    expect(first?.content).toMatch(/mcp__ghost__\* \(server ghost\): mcp_server_not_configured/);
  });

  test('a model that cannot answer fails the job with a code; the worker lives on', async () => {
    const vllm400 = VLLM_TOOL_CHOICE_DISABLED;
    server = await startFakeOpenAi([
      vllm400,
      { status: 503, json: { error: { message: 'busy' } } },
      { status: 503, json: { error: { message: 'busy' } } },
    ]);
    const p = await planeWithModel(1);
    const env = { env: { EXECPLANE_TEST_KEY: KEY } };
    const a = await runJobViaCli(p, agentSpec(['read_file']), env);
    expect((a.end as FailEvent).error).toMatchObject({
      code: 'model_tool_calling_disabled',
      retryable: false,
    });
    expect(a.workExit).toBe(0);
    const b = await runJobViaCli(p, agentSpec(['read_file']), env);
    expect((b.end as FailEvent).error).toMatchObject({ code: 'model_http_5xx', retryable: true });
    const tries = evidenceJson<{ turns: { tries: { outcome: string }[] }[] }>(b, 'attempt-1/transcript.json')
      .turns[0]!.tries;
    expect(tries.map((t) => t.outcome)).toEqual(['model_http_5xx', 'model_http_5xx']);

    // No key in the environment: refused before any request, said plainly.
    const before = server.requests.length;
    const c = await runJobViaCli(p, agentSpec(['read_file']));
    expect((c.end as FailEvent).error.code).toBe('model_key_missing');
    expect(server.requests.length).toBe(before);

    // A model name nobody configured.
    const spec = agentSpec([]);
    const d = await runJobViaCli(p, { ...spec, payload: { ...spec.payload, model: 'nope' } }, env);
    expect((d.end as FailEvent).error.code).toBe('model_not_configured');
    const audit = await cli(['audit', '--home', p.home, '--evidence']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  });

  test('`execplane models` lists and probes the endpoints; a down one exits 1', async () => {
    server = await startFakeOpenAi(() => ({ json: completion({ content: 'x' }) }));
    const p = await planeWithModel();
    const up = await cli(['models', '--home', p.home, '--json'], { env: { EXECPLANE_TEST_KEY: KEY } });
    expect(up.exitCode, up.stderr).toBe(0);
    const body = JSON.parse(up.stdout) as {
      default_model: string;
      models: { name: string; probe: { ok: boolean } }[];
    };
    expect(body.default_model).toBe('fake');
    expect(body.models.map((m) => [m.name, m.probe.ok])).toEqual([
      ['stub', true],
      ['fake', true],
    ]);
    expect(up.stdout).not.toContain(KEY);
    const url = server.url;
    await server.close();
    server = undefined;
    const down = await cli(['models', '--home', p.home, '--timeout-ms', '1000'], {
      env: { EXECPLANE_TEST_KEY: KEY },
    });
    expect(down.exitCode).toBe(1);
    expect(down.stdout).toMatch(/fake .*DOWN model_unreachable/);
    expect(down.stdout).toContain(url);
    // A config.json that names a default nobody configured: one usage line, exit 2.
    writeConfig(p, { default_model: 'ghost' });
    const bad = await cli(['models', '--home', p.home]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('default_model "ghost" names no model');
  });

  test('the stub model lists and reads the workspace offline, and audit is clean', async () => {
    const p = freshPlane(tmp());
    writeFileSync(join(p.workspace, 'README.md'), '# hello\n\nThe plane keeps a ledger.\n');
    const run = await runJobViaCli(p, agentSpec(['list_files', 'read_file']));
    expect(run.end.event, run.workStderr).toBe('complete');
    expect(run.events.filter((e): e is ToolCallEvent => e.event === 'tool_call').map((e) => e.tool)).toEqual([
      'list_files',
      'read_file',
    ]);
    expect((run.end as CompleteEvent).result).toMatchObject({
      model_mode: 'stub',
      model: 'stub',
      tool_calls: 2,
    });
    expect(ledgerEvents(planePaths(p.home).ledger).length).toBeGreaterThan(0);
    const audit = await cli(['audit', '--home', p.home, '--evidence']);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
  });
});
