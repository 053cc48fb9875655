/**
 * A fake OpenAI-compatible server for the model lane's tests and the bench: real HTTP on
 * node:http at 127.0.0.1 (port 0), so the real `openai` client talks to it as to vLLM.
 *
 * Each test scripts its replies:
 * - a function of the request, `(req) => Reply | Promise<Reply>`, or
 * - an array of Replies, consumed in order; once it is exhausted every further request gets a
 *   500 whose message says so (a test that makes one call too many fails loudly instead of
 *   silently repeating the last reply).
 *
 * `GET /v1/models` is answered from `options.models` (an OpenAI model list) without touching the
 * script, unless `options.modelsReply` scripts it. Every request, /models included, is recorded
 * in `server.requests` (method, path, headers, parsed body, arrival time) and marked `aborted`
 * when the client closed the connection before its reply was complete.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  /** 1-based, counted apart for GET /v1/models and for the script's requests (everything else). */
  readonly n: number;
  readonly method: string;
  /** The path without the query, e.g. /v1/chat/completions. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON; the raw text when it is not JSON; undefined when there is none. */
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read into it freely
  /** performance.now() when the whole request had arrived. */
  readonly at: number;
  /** The client closed the connection before the reply was complete (set when it happens). */
  aborted: boolean;
}

export interface Reply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body (content-type application/json). */
  json?: unknown;
  /** A body sent as it is — e.g. malformed JSON; its content-type is application/json unless `headers` says otherwise. */
  raw?: string;
  /** Wait this long before answering (or before cutting / hanging). */
  delayMs?: number;
  /** Cut the connection instead of answering. */
  destroy?: boolean;
  /** Never answer; the request stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Send the status line and headers, then never the body. */
  hangBody?: boolean;
}

export type ScriptFn = (req: FakeRequest) => Reply | Promise<Reply>;
export type Script = ScriptFn | readonly Reply[];

export interface FakeOpenAiOptions {
  /** The ids GET /v1/models lists (default ['fake-model']). */
  readonly models?: readonly string[];
  /** Scripts GET /v1/models instead (e.g. a 401, a slow answer). */
  readonly modelsReply?: Reply | ScriptFn;
}

export interface FakeOpenAi {
  /** The API root: http://127.0.0.1:PORT/v1 */
  readonly url: string;
  readonly port: number;
  readonly requests: FakeRequest[];
  /** Resolves once `predicate` holds (polled every 5 ms); rejects after timeoutMs. */
  until(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Stops the server; cuts open connections, hanging ones included. */
  close(): Promise<void>;
}

export const FAKE_MODEL = 'fake-model';

export async function startFakeOpenAi(script: Script, options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let scripted = 0;
  let listed = 0;
  const replyFor: ScriptFn =
    typeof script === 'function'
      ? script
      : (req) =>
          script[req.n - 1] ?? {
            status: 500,
            json: errorBody(
              `fake-openai: the script has ${script.length} replies; request ${req.n} is one too many`,
            ),
          };
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = undefined;
        if (text !== '') {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        const method = req.method ?? 'GET';
        const isModels = method === 'GET' && path === '/v1/models';
        const record: FakeRequest = {
          n: isModels ? ++listed : ++scripted,
          method,
          path,
          headers: req.headers,
          body,
          at: performance.now(),
          aborted: false,
        };
        requests.push(record);
        res.on('close', () => {
          if (!res.writableFinished) record.aborted = true;
        });

        let reply: Reply;
        try {
          const { modelsReply } = options;
          if (!isModels) reply = await replyFor(record);
          else if (modelsReply === undefined) reply = { json: modelList(options.models ?? [FAKE_MODEL]) };
          else reply = typeof modelsReply === 'function' ? await modelsReply(record) : modelsReply;
        } catch (err) {
          reply = { status: 500, json: errorBody(`fake-openai: the script threw: ${String(err)}`) };
        }
        if (reply.delayMs) await delay(reply.delayMs);
        if (res.destroyed || record.aborted) return;
        if (reply.destroy) {
          req.socket.destroy();
          return;
        }
        if (reply.hang) return;
        const payload = reply.raw ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          ...(reply.hangBody ? {} : { 'content-length': String(Buffer.byteLength(payload)) }),
          ...reply.headers,
        };
        res.writeHead(reply.status ?? 200, headers);
        if (reply.hangBody) {
          res.flushHeaders();
          return;
        }
        res.end(payload);
      })();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    async until(predicate, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      while (!predicate()) {
        if (performance.now() > deadline)
          throw new Error(`fake-openai: condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
}

export interface CompletionSpec {
  /** Default: null when there are tool calls, else "ok". */
  readonly content?: string | null;
  readonly tool_calls?: readonly {
    readonly name: string;
    readonly arguments: string;
    readonly id?: string;
  }[];
  /** Default: tool_calls when there are tool calls, else stop. */
  readonly finish_reason?: string;
  /** Default 10 + 5 tokens; null leaves usage out, as some servers do. */
  readonly usage?: {
    readonly prompt_tokens: number;
    readonly completion_tokens: number;
    readonly total_tokens?: number;
  } | null;
  readonly model?: string;
}

let seq = 0;

/** A chat.completion body as OpenAI and vLLM send it. */
export function completion(spec: CompletionSpec = {}) {
  const n = ++seq;
  const calls = spec.tool_calls ?? [];
  const usage = spec.usage === undefined ? { prompt_tokens: 10, completion_tokens: 5 } : spec.usage;
  return {
    id: `chatcmpl-fake-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: spec.model ?? FAKE_MODEL,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: spec.content !== undefined ? spec.content : calls.length ? null : 'ok',
          ...(calls.length
            ? {
                tool_calls: calls.map((c, i) => ({
                  id: c.id ?? `call_fake_${n}_${i + 1}`,
                  type: 'function',
                  function: { name: c.name, arguments: c.arguments },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: spec.finish_reason ?? (calls.length ? 'tool_calls' : 'stop'),
      },
    ],
    ...(usage
      ? {
          usage: {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
          },
        }
      : {}),
  };
}

/** An OpenAI model list (GET /v1/models). */
export function modelList(ids: readonly string[]) {
  return {
    object: 'list',
    data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake-openai' })),
  };
}

/** OpenAI's error body: { error: { message, type, param, code } }. */
export function errorBody(
  message: string,
  type = 'invalid_request_error',
  code: string | number | null = null,
) {
  return { error: { message, type, param: null, code } };
}

/** vLLM's 400 when it was started without --enable-auto-tool-choice / --tool-call-parser (vLLM ≤ 0.9 shape: no `error` wrapper). */
export const VLLM_TOOL_CHOICE_DISABLED: Reply = {
  status: 400,
  json: {
    object: 'error',
    message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    type: 'BadRequestError',
    param: null,
    code: 400,
  },
};
