/**
 * A model client for OpenAI-compatible chat-completions servers — vLLM, llama.cpp's llama-server,
 * Ollama's /v1 (docs/model-lane.md) — on the official `openai` package, major 6, non-streaming.
 *
 * C1. Retries are ours, and every HTTP try is a ModelTry: the SDK's are off (maxRetries 0). A
 *     connection failure, a timeout, a 429 and a 5xx are tried again, up to max_retries more
 *     times; anything else ends the turn at once.
 * C2. The job's signal wins: when it aborts — in a try or in a wait between tries — the call
 *     rejects at once with the signal's reason (the job's JobAbort), unwrapped, so the worker
 *     records why the job stopped rather than a model error.
 * C3. A try is bounded by timeout_sec from the request to the end of the body (the SDK's own
 *     timeout stops at the response headers; a server that stalls mid-body is bounded too).
 * C4. The API key travels only in the Authorization header. Its value is redacted from every
 *     message, try, request and response this module produces, and the SDK is given nothing
 *     of the worker's environment to pick up instead (OPENAI_API_KEY, OPENAI_ADMIN_KEY,
 *     OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_LOG are all overridden).
 * C5. A turn that resolves is a chat completion; every failure is a ModelError (errors.ts) with
 *     a code and the tries made.
 */
import type * as OpenAiSdk from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ModelEndpoint } from '../schema/types.generated.js';
import { apiKeyOf, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SEC } from './endpoints.js';
import { ModelError, type ModelErrorCode } from './errors.js';
import type { ModelClient, ModelRequest, ModelTry, ModelTurn, TokenUsage, ToolCallMessage } from './types.js';

type Sdk = typeof OpenAiSdk;
type Fetch = NonNullable<NonNullable<ConstructorParameters<Sdk['OpenAI']>[0]>['fetch']>;

/** The longest we honour a server's retry-after: past it the job's wall time is the better judge. */
export const MAX_RETRY_AFTER_MS = 30_000;
/** Backoff before try n+1: 250 ms · 2^(n-1), at most 4 s. */
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4_000;
/** How much of a server's error body a message quotes. */
const QUOTE_CHARS = 300;

/**
 * The servers' ways of saying "tools need a flag I was not started with": vLLM's 400 ("auto" tool
 * choice requires --enable-auto-tool-choice and --tool-call-parser), llama.cpp's (tools need
 * --jinja), Ollama's ("does not support tools").
 */
const TOOL_CALLING_DISABLED =
  /tool.?choice|tool.?call.?parser|enable-auto-tool-choice|tools? (is|are) not supported|does not support tools|--jinja/i;

const RETRYABLE = new Set<ModelErrorCode>([
  'model_unreachable',
  'model_timeout',
  'model_rate_limited',
  'model_http_5xx',
]);

const HINTS: Partial<Record<ModelErrorCode, string>> = {
  model_unreachable: 'is the server running and base_url right?',
  model_timeout: 'raise timeout_sec in config.json, or use a faster model',
  model_rate_limited: 'the server asked us to slow down',
  model_http_5xx: "see the server's log",
  model_http_4xx: 'check base_url, model and the API key in config.json',
  model_tool_calling_disabled:
    'start vLLM with --enable-auto-tool-choice --tool-call-parser <parser> (llama.cpp: --jinja), use a model that supports tools, or allow the job no tools',
  model_bad_response: 'is base_url the /v1 root of an OpenAI-compatible server?',
};

// Loaded on the first live turn, not at import: it is a tenth of a second of every process's start.
let sdk: Promise<Sdk> | undefined;
const loadSdk = () => (sdk ??= import('openai'));

interface Failure {
  readonly code: ModelErrorCode;
  readonly message: string;
  readonly status?: number;
  /** The server's retry-after, when it sent one. */
  readonly retryAfterMs?: number;
}

/** What the fetch under the SDK saw of one try: the status, and an error's body as sent. */
interface Seen {
  status?: number;
  errorBody?: Promise<string>;
}

export function openAiClient(
  endpoint: ModelEndpoint,
  env: Readonly<Record<string, string | undefined>>,
): ModelClient {
  const timeoutMs = Math.max(1, Math.ceil((endpoint.timeout_sec ?? DEFAULT_TIMEOUT_SEC) * 1000));
  const maxRetries = endpoint.max_retries ?? DEFAULT_MAX_RETRIES;
  const where = `the model ${JSON.stringify(endpoint.name)} (${endpoint.base_url})`;
  // Ids for tool calls a server sent without one, unique over this client's conversation.
  let synthesized = 0;

  return {
    facts: { mode: 'live', name: endpoint.name, model: endpoint.model, endpoint: endpoint.base_url },
    chat: async (request: ModelRequest): Promise<ModelTurn> => {
      const { signal } = request;
      signal.throwIfAborted();
      const key = apiKeyOf(endpoint, env); // read now (E3 in endpoints.ts), never kept
      const redact = redactor(key);
      const { OpenAI: Client, ...errors } = await loadSdk();
      signal.throwIfAborted();
      const body = requestBody(endpoint.model, request);
      const tries: ModelTry[] = [];

      for (let n = 1; ; n++) {
        const seen: Seen = {};
        const client = new Client({
          baseURL: endpoint.base_url,
          apiKey: key ?? 'unused',
          adminAPIKey: null,
          organization: null,
          project: null,
          webhookSecret: null,
          // No key configured: no Authorization header at all.
          ...(key === undefined ? { defaultHeaders: { Authorization: null } } : {}),
          maxRetries: 0,
          timeout: timeoutMs,
          logLevel: 'off',
          fetch: fetchInto(seen),
        });
        const started = performance.now();
        const ctl = new AbortController();
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          ctl.abort();
        }, timeoutMs);
        const onAbort = () => ctl.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        let outcome: { ok: true; data: unknown } | { ok: false; failure: Failure };
        try {
          const data: unknown = await client.chat.completions.create(
            body as unknown as ChatCompletionCreateParamsNonStreaming,
            {
              signal: ctl.signal,
              timeout: timeoutMs,
              maxRetries: 0,
            },
          );
          outcome = { ok: true, data };
        } catch (err) {
          signal.throwIfAborted(); // C2
          // C4: the key out of the body before it is quoted (a cut could leave part of it).
          if (seen.errorBody) seen.errorBody = seen.errorBody.then(redact.text);
          outcome = { ok: false, failure: await classify(err, timedOut, seen, errors, timeoutMs) };
        } finally {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        }
        const duration_ms = Math.round(performance.now() - started);

        if (outcome.ok) {
          const parsed = parseCompletion(redact.deep(outcome.data), () => `call_${++synthesized}`);
          if (typeof parsed !== 'string') {
            tries.push({
              try: n,
              duration_ms,
              outcome: 'ok',
              ...(seen.status ? { http_status: seen.status } : {}),
            });
            return redact.deep({
              ...parsed,
              tries,
              request: body,
              response: outcome.data,
            });
          }
          outcome = {
            ok: false,
            failure: { code: 'model_bad_response', message: parsed, status: seen.status },
          };
        }

        const f = outcome.failure;
        const message = redact.text(f.message);
        const last = !RETRYABLE.has(f.code) || n > maxRetries;
        const wait = last ? undefined : waitBefore(n + 1, f);
        tries.push({
          try: n,
          duration_ms,
          outcome: f.code,
          ...(f.status !== undefined ? { http_status: f.status } : {}),
          ...(wait !== undefined ? { wait_ms: wait } : {}),
          message,
        });
        if (last) {
          const hint = HINTS[f.code];
          throw new ModelError(
            f.code,
            `${where}: ${message}; ${n} ${n === 1 ? 'try' : 'tries'}${hint ? ` (${hint})` : ''}`,
            tries,
          );
        }
        await pause(wait ?? 0, signal);
      }
    },
  };
}

/** The body we send and record (C4: it holds no key). Copies: the loop goes on appending to its arrays. */
function requestBody(model: string, request: ModelRequest): Record<string, unknown> {
  const { tools, maxTokens } = request;
  return {
    model,
    messages: [...request.messages],
    ...(tools.length ? { tools: [...tools], tool_choice: 'auto' } : {}),
    // A server refuses max_tokens 0; the token budget (loop.ts, M4) ends the attempt after this turn.
    ...(maxTokens !== undefined ? { max_tokens: Math.max(1, Math.floor(maxTokens)) } : {}),
  };
}

function fetchInto(seen: Seen): Fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    seen.status = response.status;
    // The SDK keeps only an error body's `error` member; vLLM's older servers put the message at the top.
    if (!response.ok)
      seen.errorBody = response
        .clone()
        .text()
        .catch(() => '');
    return response;
  };
}

async function classify(
  err: unknown,
  timedOut: boolean,
  seen: Seen,
  sdk: Omit<Sdk, 'OpenAI'>,
  timeoutMs: number,
): Promise<Failure> {
  if (timedOut || err instanceof sdk.APIConnectionTimeoutError) {
    return {
      code: 'model_timeout',
      message: `no complete answer within ${timeoutMs / 1000} s (timeout_sec)`,
    };
  }
  if (err instanceof sdk.APIConnectionError) {
    return { code: 'model_unreachable', message: `cannot connect: ${causeOf(err)}` };
  }
  if (err instanceof sdk.APIError && typeof err.status === 'number') {
    const status = err.status;
    const said = quote((await seen.errorBody) ?? '') || err.message;
    if ((status === 400 || status === 422) && TOOL_CALLING_DISABLED.test(`${said} ${err.message}`)) {
      return {
        code: 'model_tool_calling_disabled',
        status,
        message: `tool calling is not enabled: HTTP ${status}: ${said}`,
      };
    }
    if (status === 429) {
      const retryAfterMs = retryAfterOf(err.headers as Headers | undefined);
      return {
        code: 'model_rate_limited',
        status,
        message: `HTTP 429: ${said}`,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    return {
      code: status >= 500 ? 'model_http_5xx' : 'model_http_4xx',
      status,
      message: `HTTP ${status}: ${said}`,
    };
  }
  if (err instanceof SyntaxError) {
    return {
      code: 'model_bad_response',
      status: seen.status,
      message: `the body is not valid JSON (${err.message})`,
    };
  }
  // undici reports a connection cut while the body was read as a TypeError ("terminated").
  if (err instanceof TypeError) {
    return {
      code: 'model_unreachable',
      status: seen.status,
      message: `the connection failed: ${causeOf(err)}`,
    };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { code: 'model_bad_response', status: seen.status, message: `${e.name}: ${e.message}` };
}

/** The deepest cause's words: "connect ECONNREFUSED 127.0.0.1:9", not "Connection error.". */
function causeOf(err: Error): string {
  let e: unknown = err;
  const parts: string[] = [];
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    parts.push(code && !e.message.includes(code) ? `${e.message} (${code})` : e.message);
    e = e.cause;
  }
  return parts.at(-1) ?? String(err);
}

/** A server's error body, briefly: its error message when it is JSON, else its first characters. */
function quote(text: string): string {
  let said = text.trim();
  try {
    const v = JSON.parse(said) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
    };
    const m =
      typeof v.error === 'object' && v.error !== null ? v.error.message : (v.error ?? v.message ?? v.detail);
    if (m !== undefined) said = typeof m === 'string' ? m : JSON.stringify(m);
  } catch {
    // not JSON: quote it as it is
  }
  said = said.replace(/\s+/g, ' ');
  return said.length > QUOTE_CHARS ? `${said.slice(0, QUOTE_CHARS)}…` : said;
}

/** retry-after-ms, else retry-after (seconds or an HTTP-date), capped at MAX_RETRY_AFTER_MS. */
export function retryAfterOf(headers: Headers | undefined, nowMs = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  let wait: number | undefined = Number.isFinite(ms) ? ms : undefined;
  const text = headers?.get('retry-after')?.trim();
  if (wait === undefined && text) {
    if (/^\d+(\.\d+)?$/.test(text)) wait = Number(text) * 1000;
    else {
      const at = Date.parse(text);
      if (Number.isFinite(at)) wait = at - nowMs;
    }
  }
  return wait === undefined ? undefined : Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(0, wait)));
}

function waitBefore(nextTry: number, f: Failure): number {
  if (f.retryAfterMs !== undefined) return f.retryAfterMs;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (nextTry - 2));
}

/** A wait that ends at once, rejecting with the signal's reason, when the signal aborts (C2). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

type Parsed = Pick<ModelTurn, 'content' | 'tool_calls' | 'finish_reason' | 'usage'>;

/** The turn in a 2xx body, or why it is not a chat completion. */
function parseCompletion(data: unknown, newId: () => string): Parsed | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return `the answer is not a JSON object (${typeof data === 'string' ? `text: ${quote(data)}` : String(data)})`;
  }
  const { choices, usage } = data as { choices?: unknown; usage?: unknown };
  if (!Array.isArray(choices) || choices.length === 0) {
    return `the answer has no choices (${quote(JSON.stringify(data))})`;
  }
  const choice = choices[0] as { message?: unknown; finish_reason?: unknown } | null;
  const message = choice?.message;
  if (typeof message !== 'object' || message === null) return 'the answer has a choice without a message';
  const m = message as { content?: unknown; tool_calls?: unknown };
  return {
    content: typeof m.content === 'string' ? m.content : null,
    tool_calls: toolCallsOf(m.tool_calls, newId),
    finish_reason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : 'unknown',
    usage: usageOf(usage),
  };
}

/** Function calls only, in our shape; a server that sends no id gets one (the tool's reply needs it). */
function toolCallsOf(raw: unknown, newId: () => string): ToolCallMessage[] {
  if (!Array.isArray(raw)) return [];
  const out: ToolCallMessage[] = [];
  for (const c of raw as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const { id, type, function: fn } = c as { id?: unknown; type?: unknown; function?: unknown };
    // Some servers leave `type` out of a function call; any other type is not ours to run.
    if ((type !== undefined && type !== 'function') || typeof fn !== 'object' || fn === null) continue;
    const { name, arguments: args } = fn as { name?: unknown; arguments?: unknown };
    out.push({
      id: typeof id === 'string' && id !== '' ? id : newId(),
      type: 'function',
      function: {
        name: typeof name === 'string' ? name : '',
        // The loop parses the string defensively; a server that sent an object gets it back as JSON.
        arguments: typeof args === 'string' ? args : args === undefined ? '' : JSON.stringify(args),
      },
    });
  }
  return out;
}

function usageOf(raw: unknown): TokenUsage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const { prompt_tokens: p, completion_tokens: c, total_tokens: t } = raw as Record<string, unknown>;
  if (typeof p !== 'number' || typeof c !== 'number' || !Number.isFinite(p) || !Number.isFinite(c))
    return null;
  return {
    prompt_tokens: p,
    completion_tokens: c,
    total_tokens: typeof t === 'number' && Number.isFinite(t) ? t : p + c,
  };
}

/**
 * C4: the key's value out of a text, or out of every string (object keys too) of a JSON value
 * (a copy when there is a key). Also agent.ts's, for the transcript's tool results.
 */
export function redactor(key: string | undefined) {
  const text = (s: string) => (key ? s.split(key).join('[REDACTED]') : s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [text(k), walk(x)]));
    }
    return v;
  };
  return { text, deep: <T>(v: T): T => (key ? (walk(v) as T) : v) };
}
