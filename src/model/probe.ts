/**
 * Is a model endpoint there? `execplane models` and `status` ask each one for GET
 * <base_url>/models (docs/model-lane.md, "Models").
 *
 * P1. A probe never throws and never takes longer than its bound: every failure is a result
 *     with an error code (errors.ts), the body read included in the bound.
 * P2. The API key is sent (Authorization: Bearer) when the endpoint names one, and appears in
 *     no result: an endpoint whose key variable is unset is reported without a request.
 */
import type { ModelEndpoint } from '../schema/types.generated.js';
import { apiKeyOf, STUB_MODEL } from './endpoints.js';
import { ModelError, type ModelErrorCode } from './errors.js';
import { STUB_MODEL_ID } from './stub-client.js';

export const DEFAULT_PROBE_MS = 3000;

export interface ModelProbe {
  /** The configured name (or `stub`). */
  readonly name: string;
  /** The API root probed, or null for the stub. */
  readonly endpoint: string | null;
  /** The model id the plane sends. */
  readonly model: string;
  /** The server answered /models with a list. */
  readonly ok: boolean;
  readonly latency_ms: number;
  readonly status?: number;
  /** The ids the server lists (data[].id). */
  readonly served_models?: readonly string[];
  /** Whether `model` is among them. */
  readonly model_served?: boolean;
  readonly error_code?: ModelErrorCode;
  readonly message?: string;
}

export function probeStub(): ModelProbe {
  return { name: STUB_MODEL, endpoint: null, model: STUB_MODEL_ID, ok: true, latency_ms: 0 };
}

export async function probeModel(
  endpoint: ModelEndpoint,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = DEFAULT_PROBE_MS,
): Promise<ModelProbe> {
  const base = { name: endpoint.name, endpoint: endpoint.base_url, model: endpoint.model };
  let key: string | undefined;
  try {
    key = apiKeyOf(endpoint, env);
  } catch (err) {
    const code = err instanceof ModelError ? (err.code as ModelErrorCode) : 'model_key_missing';
    return { ...base, ok: false, latency_ms: 0, error_code: code, message: (err as Error).message };
  }
  const redact = (s: string) => (key ? s.split(key).join('[REDACTED]') : s);
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const failed = (error_code: ModelErrorCode, message: string, status?: number): ModelProbe => ({
    ...base,
    ok: false,
    latency_ms: latency(),
    ...(status !== undefined ? { status } : {}),
    error_code,
    message: redact(message),
  });

  let status: number | undefined;
  try {
    const response = await fetch(`${endpoint.base_url.replace(/\/+$/, '')}/models`, {
      headers: {
        Accept: 'application/json',
        ...(key !== undefined ? { Authorization: `Bearer ${key}` } : {}),
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    const text = await response.text();
    if (!response.ok) {
      const code: ModelErrorCode =
        status === 429 ? 'model_rate_limited' : status >= 500 ? 'model_http_5xx' : 'model_http_4xx';
      return failed(code, `GET /models answered HTTP ${status}: ${brief(text)}`, status);
    }
    const served = servedModels(text);
    if (!served)
      return failed('model_bad_response', `GET /models is not a model list: ${brief(text)}`, status);
    return {
      ...base,
      ok: true,
      latency_ms: latency(),
      status,
      served_models: served,
      model_served: served.includes(endpoint.model),
    };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      return failed('model_timeout', `no answer to GET /models within ${timeoutMs} ms`, status);
    }
    const cause: NodeJS.ErrnoException | undefined = e.cause instanceof Error ? e.cause : undefined;
    const code = cause?.code;
    return failed(
      'model_unreachable',
      `cannot connect: ${cause ? `${cause.message}${code && !cause.message.includes(code) ? ` (${code})` : ''}` : e.message}`,
      status,
    );
  }
}

/** data[].id of an OpenAI model list; undefined when the body is not one. */
function servedModels(text: string): string[] | undefined {
  try {
    const data = (JSON.parse(text) as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) return undefined;
    return data.flatMap((m: unknown) => {
      const id = (m as { id?: unknown } | null)?.id;
      return typeof id === 'string' ? [id] : [];
    });
  } catch {
    return undefined;
  }
}

function brief(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || '(no body)';
}
