/**
 * The model lane's client against a protocol-faithful fake server (issue 14): the real `openai`
 * package over real HTTP — tool calls, our recorded retries (429 with retry-after, 5xx, cut
 * connections), timeouts, the job's abort, vLLM's tool-choice 400, malformed answers, the API
 * key kept out of everything recorded — and the endpoint resolution and probe beside it.
 * (openai-client.ts C1–C5, endpoints.ts E1–E3, probe.ts P1–P2.)
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { apiKeyOf, configProblems, resolveModel, STUB_MODEL } from '../src/model/endpoints.js';
import { ModelError } from '../src/model/errors.js';
import { openAiClient, retryAfterOf } from '../src/model/openai-client.js';
import { probeModel, probeStub } from '../src/model/probe.js';
import type { ChatMessage, ModelRequest, ToolDefinition } from '../src/model/types.js';
import type { ModelEndpoint, PlaneConfig } from '../src/schema/types.generated.js';
import { JobAbort } from '../src/worker/errors.js';
import {
  completion,
  errorBody,
  FAKE_MODEL,
  startFakeOpenAi,
  VLLM_TOOL_CHOICE_DISABLED,
  type FakeOpenAi,
  type Script,
  type FakeOpenAiOptions,
} from './helpers/fake-openai.js';

const KEY_ENV = 'EXECPLANE_TEST_MODEL_KEY';
const KEY = 'sk-test-4f9b2c1d8e7a6b5c';
const ENV = { [KEY_ENV]: KEY };

const servers: FakeOpenAi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(script: Script, options?: FakeOpenAiOptions): Promise<FakeOpenAi> {
  const server = await startFakeOpenAi(script, options);
  servers.push(server);
  return server;
}

const endpointAt = (base_url: string, over: Partial<ModelEndpoint> = {}): ModelEndpoint => ({
  name: 'local',
  base_url,
  model: FAKE_MODEL,
  timeout_sec: 5,
  max_retries: 2,
  ...over,
});

const READ_FILE: ToolDefinition = {
  type: 'function',
  function: {
    name: 'read_file',
    description: 'read a file',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
};
const MESSAGES: ChatMessage[] = [{ role: 'user', content: 'read README.md' }];

const ask = (over: Partial<ModelRequest> = {}): ModelRequest => ({
  messages: MESSAGES,
  tools: [READ_FILE],
  signal: new AbortController().signal,
  ...over,
});

/** The ModelError a promise rejects with. */
async function modelError(p: Promise<unknown>): Promise<ModelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelError);
  return err as ModelError;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('a turn', () => {
  test('tool calls come back as ToolCallMessages; the request and response are recorded as sent', async () => {
    const server = await fake([
      {
        json: {
          ...completion(),
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: null,
                tool_calls: [
                  {
                    id: 'call_a',
                    type: 'function',
                    function: { name: 'read_file', arguments: '{"path":"README.md"}' },
                  },
                  // No id (some servers), no type: still a function call, given an id.
                  { function: { name: 'list_files', arguments: '{}' } },
                  // Not a function call: not ours to run.
                  { id: 'call_c', type: 'custom', custom: { name: 'x', input: '' } },
                ],
              },
              finish_reason: 'tool_calls',
            },
          ],
          usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
        },
      },
    ]);
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask({ maxTokens: 500 }));

    expect(turn.tool_calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{"path":"README.md"}' } },
      { id: 'call_1', type: 'function', function: { name: 'list_files', arguments: '{}' } },
    ]);
    expect(turn.content).toBeNull();
    expect(turn.finish_reason).toBe('tool_calls');
    expect(turn.usage).toEqual({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    expect(turn.tries).toEqual([
      { try: 1, duration_ms: expect.any(Number), outcome: 'ok', http_status: 200 },
    ]);

    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/v1/chat/completions');
    expect(req?.body).toEqual({
      model: FAKE_MODEL,
      messages: MESSAGES,
      tools: [READ_FILE],
      tool_choice: 'auto',
      max_tokens: 500,
    });
    expect(turn.request).toEqual(req?.body);
    expect((turn.response as { id: string }).id).toMatch(/^chatcmpl-fake-/);
    // No key configured: no Authorization header at all.
    expect(req?.headers.authorization).toBeUndefined();
  });

  test('an answer without tools offered: no tools, no tool_choice; usage left out is null', async () => {
    const server = await fake([{ json: completion({ content: 'done', usage: null }) }]);
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask({ tools: [] }));
    expect(turn).toMatchObject({ content: 'done', tool_calls: [], finish_reason: 'stop', usage: null });
    expect(server.requests[0]?.body).toEqual({ model: FAKE_MODEL, messages: MESSAGES });
  });

  test('the recorded request is a copy: the loop appending to its messages does not change it', async () => {
    const server = await fake([{ json: completion() }]);
    const messages: ChatMessage[] = [...MESSAGES];
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask({ messages }));
    messages.push({ role: 'assistant', content: 'later' });
    expect((turn.request as { messages: unknown[] }).messages).toHaveLength(1);
  });
});

describe('retries are ours and recorded (C1)', () => {
  test('429 with retry-after: 1 is waited out, then the answer', async () => {
    const server = await fake([
      { status: 429, headers: { 'retry-after': '1' }, json: errorBody('slow down', 'rate_limit_exceeded') },
      { json: completion({ content: 'after the wait' }) },
    ]);
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask());
    expect(turn.content).toBe('after the wait');
    expect(turn.tries.map((t) => [t.outcome, t.http_status, t.wait_ms])).toEqual([
      ['model_rate_limited', 429, 1000],
      ['ok', 200, undefined],
    ]);
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
  });

  test('retry-after: seconds, an HTTP-date, retry-after-ms; capped at 30 s; nonsense ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterOf(h({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterOf(h({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(retryAfterOf(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterOf(h({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterOf(h({ 'retry-after-ms': '150', 'retry-after': '9' }), now)).toBe(150);
    expect(retryAfterOf(h({ 'retry-after': '3600' }), now)).toBe(30_000);
    expect(retryAfterOf(h({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterOf(h({}), now)).toBeUndefined();
  });

  test('500, 500, 200: the answer, after three tries with backoff between them', async () => {
    const server = await fake([
      { status: 500, json: errorBody('boom', 'server_error') },
      { status: 502, raw: 'bad gateway', headers: { 'content-type': 'text/plain' } },
      { json: completion() },
    ]);
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask());
    expect(turn.tries.map((t) => [t.try, t.outcome, t.http_status, t.wait_ms])).toEqual([
      [1, 'model_http_5xx', 500, 250],
      [2, 'model_http_5xx', 502, 500],
      [3, 'ok', 200, undefined],
    ]);
    expect(turn.tries[1]?.message).toContain('bad gateway');
  });

  test('5xx on every try: model_http_5xx, retryable, with every try; no try past max_retries', async () => {
    const server = await fake(() => ({ status: 503, json: errorBody('overloaded', 'server_error') }));
    const err = await modelError(openAiClient(endpointAt(server.url, { max_retries: 2 }), {}).chat(ask()));
    expect(err.code).toBe('model_http_5xx');
    expect(err.retryable).toBe(true);
    expect(err.tries.map((t) => t.outcome)).toEqual(['model_http_5xx', 'model_http_5xx', 'model_http_5xx']);
    expect(err.tries.at(-1)?.wait_ms).toBeUndefined();
    expect(err.message).toMatch(/HTTP 503: overloaded; 3 tries/);
    expect(server.requests).toHaveLength(3);
  });

  test('a connection cut before the answer is model_unreachable, tried again', async () => {
    const server = await fake([{ destroy: true }, { json: completion({ content: 'second time' }) }]);
    const turn = await openAiClient(endpointAt(server.url), {}).chat(ask());
    expect(turn.content).toBe('second time');
    expect(turn.tries.map((t) => t.outcome)).toEqual(['model_unreachable', 'ok']);
  });

  test('connection refused: model_unreachable after the retries, retryable', async () => {
    const port = await closedPort();
    const err = await modelError(
      openAiClient(endpointAt(`http://127.0.0.1:${port}/v1`, { max_retries: 1 }), {}).chat(ask()),
    );
    expect(err.code).toBe('model_unreachable');
    expect(err.retryable).toBe(true);
    expect(err.tries).toHaveLength(2);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('timeouts and the job signal (C2, C3)', () => {
  test('a reply slower than timeout_sec: model_timeout', async () => {
    const server = await fake(() => ({ delayMs: 3000, json: completion() }));
    const started = performance.now();
    const err = await modelError(
      openAiClient(endpointAt(server.url, { timeout_sec: 0.3, max_retries: 0 }), {}).chat(ask()),
    );
    expect(err.code).toBe('model_timeout');
    expect(err.retryable).toBe(true);
    expect(performance.now() - started).toBeLessThan(2500);
  });

  test('headers on time but the body never: model_timeout too (the bound covers the body)', async () => {
    const server = await fake(() => ({ hangBody: true }));
    const err = await modelError(
      openAiClient(endpointAt(server.url, { timeout_sec: 0.3, max_retries: 1 }), {}).chat(ask()),
    );
    expect(err.code).toBe('model_timeout');
    expect(err.tries.map((t) => t.outcome)).toEqual(['model_timeout', 'model_timeout']);
  });

  test("aborted mid-request: rejects with the signal's reason at once, and the connection is closed", async () => {
    const server = await fake(() => ({ hang: true }));
    const job = new AbortController();
    const turn = openAiClient(endpointAt(server.url, { timeout_sec: 60 }), {}).chat(
      ask({ signal: job.signal }),
    );
    await server.until(() => server.requests.length === 1);
    const reason = new JobAbort('E_BUDGET_WALL_TIME', 'the wall time ran out', false);
    const aborted = performance.now();
    job.abort(reason);
    await expect(turn).rejects.toBe(reason);
    expect(performance.now() - aborted).toBeLessThan(1000);
    await server.until(() => server.requests[0]!.aborted);
  });

  test("aborted while waiting out a retry-after: rejects with the signal's reason, no second try", async () => {
    const server = await fake([{ status: 429, headers: { 'retry-after': '20' } }, { json: completion() }]);
    const job = new AbortController();
    const turn = openAiClient(endpointAt(server.url), {}).chat(ask({ signal: job.signal }));
    await server.until(() => server.requests.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    const reason = new JobAbort('kill_switch', 'the kill switch is on', false);
    job.abort(reason);
    await expect(turn).rejects.toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  test('a signal aborted before the call: no request', async () => {
    const server = await fake([{ json: completion() }]);
    const job = new AbortController();
    const reason = new JobAbort('shutdown', 'the worker is stopping', true);
    job.abort(reason);
    await expect(openAiClient(endpointAt(server.url), {}).chat(ask({ signal: job.signal }))).rejects.toBe(
      reason,
    );
    expect(server.requests).toHaveLength(0);
  });
});

describe('failures that are not tried again', () => {
  test.each([
    ['vLLM ≤ 0.9 (message at the top)', VLLM_TOOL_CHOICE_DISABLED],
    [
      'vLLM (error wrapper)',
      {
        status: 400,
        json: errorBody(
          '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
          'BadRequestError',
          400,
        ),
      },
    ],
    [
      'Ollama',
      { status: 400, json: errorBody('registry.ollama.ai/library/gemma:2b does not support tools') },
    ],
  ])("the server's tool-calling 400 (%s): model_tool_calling_disabled, one try", async (_name, reply) => {
    const server = await fake([reply, { json: completion() }]);
    const err = await modelError(openAiClient(endpointAt(server.url), {}).chat(ask()));
    expect(err.code).toBe('model_tool_calling_disabled');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/enable-auto-tool-choice|does not support tools/);
    expect(server.requests).toHaveLength(1);
  });

  test('another 400 is model_http_4xx', async () => {
    const server = await fake([{ status: 400, json: errorBody("'messages' is a required property") }]);
    const err = await modelError(openAiClient(endpointAt(server.url), {}).chat(ask()));
    expect(err.code).toBe('model_http_4xx');
    expect(err.message).toContain("HTTP 400: 'messages' is a required property");
  });

  test('404 (a wrong base_url or model): model_http_4xx naming the status, one try', async () => {
    const server = await fake(() => ({
      status: 404,
      json: errorBody('The model `nope` does not exist.', 'NotFoundError', 404),
    }));
    const err = await modelError(openAiClient(endpointAt(server.url), {}).chat(ask()));
    expect(err.code).toBe('model_http_4xx');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('HTTP 404');
    expect(err.tries).toEqual([expect.objectContaining({ outcome: 'model_http_4xx', http_status: 404 })]);
    expect(server.requests).toHaveLength(1);
  });

  test.each([
    ['malformed JSON', { raw: '{"id":"chatcmpl-1","choices":[{"index":0,' }],
    ['no choices', { json: { ...completion(), choices: [] } }],
    ['not a completion', { json: { object: 'list', data: [] } }],
    ['plain text', { raw: 'hello', headers: { 'content-type': 'text/plain' } }],
    [
      'a choice without a message',
      { json: { ...completion(), choices: [{ index: 0, finish_reason: 'stop' }] } },
    ],
  ])('a 2xx that is not a chat completion (%s): model_bad_response, one try', async (_name, reply) => {
    const server = await fake([reply, { json: completion() }]);
    const err = await modelError(openAiClient(endpointAt(server.url), {}).chat(ask()));
    expect(err.code).toBe('model_bad_response');
    expect(err.retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });
});

describe('the API key (C4, E3)', () => {
  test('is sent as Authorization: Bearer and appears in nothing returned, even when the server echoes it', async () => {
    const server = await fake([
      { status: 500, json: errorBody(`internal error for key ${KEY}`, 'server_error') },
      (() => {
        const body = completion({ content: `your key is ${KEY}` });
        return { json: { ...body, [`echo_${KEY}`]: KEY } };
      })(),
    ]);
    const turn = await openAiClient(endpointAt(server.url, { api_key_env: KEY_ENV }), ENV).chat(
      ask({ messages: [{ role: 'user', content: `the key is ${KEY}` }] }),
    );
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${KEY}`, `Bearer ${KEY}`]);
    expect(turn.content).toBe('your key is [REDACTED]');
    expect(JSON.stringify(turn)).not.toContain(KEY);
    expect(turn.tries[0]?.message).toContain('[REDACTED]');
  });

  test('is in no error either', async () => {
    const server = await fake(() => ({ status: 401, json: errorBody(`Incorrect API key provided: ${KEY}`) }));
    const err = await modelError(
      openAiClient(endpointAt(server.url, { api_key_env: KEY_ENV }), ENV).chat(ask()),
    );
    expect(err.code).toBe('model_http_4xx');
    expect(err.message).toContain('HTTP 401');
    expect(`${err.message} ${err.stack} ${JSON.stringify(err)} ${JSON.stringify(err.tries)}`).not.toContain(
      KEY,
    );
  });

  test('nor a piece of it, where the quote of a long error body or bad answer would cut the key', async () => {
    // The quote is 300 characters: a key that starts at 290 would be cut in two if it were
    // redacted after quoting, and its first characters would stay in the message.
    const pad = 'x'.repeat(290);
    const server = await fake([
      { status: 401, json: errorBody(`${pad}${KEY}`) },
      { status: 401, raw: `${pad}${KEY}` },
      { json: { object: 'chat.completion', choices: [], note: `${pad}${KEY}` } },
    ]);
    const client = openAiClient(endpointAt(server.url, { api_key_env: KEY_ENV, max_retries: 0 }), ENV);
    const prefix = KEY.slice(0, 8);
    for (const code of ['model_http_4xx', 'model_http_4xx', 'model_bad_response']) {
      const err = await modelError(client.chat(ask()));
      expect(err.code).toBe(code);
      expect(`${err.message} ${JSON.stringify(err.tries)}`).not.toContain(prefix);
    }
    expect(server.requests).toHaveLength(3);
  });

  test("the SDK takes nothing from the worker's environment: OPENAI_* keys, org and project are not sent", async () => {
    const names = ['OPENAI_API_KEY', 'OPENAI_ADMIN_KEY', 'OPENAI_ORG_ID', 'OPENAI_PROJECT_ID'] as const;
    const saved = names.map((n) => process.env[n]);
    for (const n of names) process.env[n] = `leak-${n}`;
    try {
      const server = await fake([{ json: completion() }]);
      await openAiClient(endpointAt(server.url), {}).chat(ask());
      expect(JSON.stringify(server.requests[0]?.headers)).not.toContain('leak-');
      expect(server.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n];
        else process.env[n] = saved[i];
      });
    }
  });

  test('its variable unset or empty: model_key_missing naming the variable, and no request', async () => {
    const server = await fake([{ json: completion() }]);
    for (const env of [{}, { [KEY_ENV]: '' }]) {
      const err = await modelError(
        openAiClient(endpointAt(server.url, { api_key_env: KEY_ENV }), env).chat(ask()),
      );
      expect(err.code).toBe('model_key_missing');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(`$${KEY_ENV}`);
    }
    expect(server.requests).toHaveLength(0);
  });

  test('apiKeyOf: none configured is undefined; configured is read from the given environment', () => {
    const e = endpointAt('http://127.0.0.1:1/v1');
    expect(apiKeyOf(e, ENV)).toBeUndefined();
    expect(apiKeyOf({ ...e, api_key_env: KEY_ENV }, ENV)).toBe(KEY);
    expect(() => apiKeyOf({ ...e, api_key_env: KEY_ENV }, {})).toThrow(ModelError);
  });
});

describe('which model (E1, E2)', () => {
  const local = endpointAt('http://127.0.0.1:8001/v1', { name: 'local-vllm' });
  const other = endpointAt('http://127.0.0.1:8002/v1', { name: 'llama' });
  const config: PlaneConfig = { models: [local, other] };

  test.each<[string, PlaneConfig, string | undefined, string]>([
    ['no config: the stub', {}, undefined, STUB_MODEL],
    ['models but no default: the stub', config, undefined, STUB_MODEL],
    ['payload.model', config, 'llama', 'llama'],
    ['default_model', { ...config, default_model: 'local-vllm' }, undefined, 'local-vllm'],
    ['payload.model over default_model', { ...config, default_model: 'local-vllm' }, 'llama', 'llama'],
    ['stub by name, over a default', { ...config, default_model: 'local-vllm' }, 'stub', STUB_MODEL],
  ])('%s', (_name, cfg, requested, expected) => {
    const r = resolveModel(cfg, requested);
    expect(r.kind === 'stub' ? STUB_MODEL : r.endpoint.name).toBe(expected);
  });

  test('an unknown name: model_not_configured naming the known models and config.json', () => {
    expect(() => resolveModel(config, 'gpt-9')).toThrow(ModelError);
    try {
      resolveModel(config, 'gpt-9');
    } catch (err) {
      expect((err as ModelError).code).toBe('model_not_configured');
      expect((err as ModelError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/"gpt-9".*"stub", "local-vllm", "llama".*config\.json/);
    }
    expect(() => resolveModel({ default_model: 'gone' }, undefined)).toThrow(/default_model/);
  });

  test.each<[string, PlaneConfig, RegExp | null]>([
    ['none', {}, null],
    ['two models and a default', { ...config, default_model: 'llama' }, null],
    ['default stub', { ...config, default_model: 'stub' }, null],
    ['a model named stub', { models: [{ ...local, name: 'stub' }] }, /"stub" is the built-in offline model/],
    ['a name twice', { models: [local, { ...other, name: 'local-vllm' }] }, /"local-vllm" is used twice/],
    ['a default naming nothing', { ...config, default_model: 'gone' }, /default_model "gone" names no model/],
  ])('configProblems: %s', (_name, cfg, problem) => {
    const problems = configProblems(cfg);
    if (problem === null) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toMatch(problem);
  });
});

describe('probeModel (P1, P2)', () => {
  test('ok: the served models, whether ours is among them, the key sent', async () => {
    const server = await fake([], { models: ['other-model', FAKE_MODEL] });
    const p = await probeModel(endpointAt(server.url, { api_key_env: KEY_ENV }), ENV);
    expect(p).toMatchObject({
      name: 'local',
      endpoint: server.url,
      model: FAKE_MODEL,
      ok: true,
      status: 200,
      served_models: ['other-model', FAKE_MODEL],
      model_served: true,
    });
    expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/v1/models' });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    const unlisted = await probeModel(endpointAt(server.url, { model: 'absent' }), {});
    expect(unlisted).toMatchObject({ ok: true, model_served: false });
    expect(server.requests[1]?.headers.authorization).toBeUndefined();
  });

  test('down (a closed port): model_unreachable', async () => {
    const p = await probeModel(endpointAt(`http://127.0.0.1:${await closedPort()}/v1`), {});
    expect(p).toMatchObject({ ok: false, error_code: 'model_unreachable' });
    expect(p.message).toMatch(/ECONNREFUSED/);
  });

  test('401: model_http_4xx with the status, the key not in the message', async () => {
    const server = await fake([], { modelsReply: { status: 401, json: errorBody(`bad key ${KEY}`) } });
    const p = await probeModel(endpointAt(server.url, { api_key_env: KEY_ENV }), ENV);
    expect(p).toMatchObject({ ok: false, status: 401, error_code: 'model_http_4xx' });
    expect(JSON.stringify(p)).not.toContain(KEY);
  });

  test('slow: model_timeout within the bound', async () => {
    const server = await fake([], { modelsReply: { delayMs: 5000, json: { data: [] } } });
    const started = performance.now();
    const p = await probeModel(endpointAt(server.url), {}, 200);
    expect(p).toMatchObject({ ok: false, error_code: 'model_timeout' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test('a 200 that is not a model list: model_bad_response', async () => {
    const server = await fake([], {
      modelsReply: { raw: '<html>hi</html>', headers: { 'content-type': 'text/html' } },
    });
    expect(await probeModel(endpointAt(server.url), {})).toMatchObject({
      ok: false,
      error_code: 'model_bad_response',
    });
  });

  test('the key variable unset: model_key_missing, no request', async () => {
    const server = await fake([]);
    const p = await probeModel(endpointAt(server.url, { api_key_env: KEY_ENV }), {});
    expect(p).toMatchObject({ ok: false, error_code: 'model_key_missing' });
    expect(server.requests).toHaveLength(0);
  });

  test('the stub is always up', () => {
    expect(probeStub()).toMatchObject({ name: STUB_MODEL, endpoint: null, ok: true });
  });
});
