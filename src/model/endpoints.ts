/**
 * Which model a job talks to (docs/model-lane.md, "Models"): the endpoints config.json `models`
 * names, and the built-in offline `stub`.
 *
 * E1. `stub` always exists and is the default: a plane with no config.json runs agent jobs offline.
 * E2. A name resolves to exactly one model: configured names are unique and none is `stub`
 *     (configProblems refuses such a config.json before a worker starts).
 * E3. An API key is read from the environment at the moment it is needed and is never part of
 *     a message: errors name the variable, never its value.
 */
import { modelProblems } from '../config/plane-config.js';
import type { ModelEndpoint, PlaneConfig } from '../schema/types.generated.js';
import { ModelError } from './errors.js';

export const STUB_MODEL = 'stub';
/** Per call, when the endpoint sets no timeout_sec: a CPU-bound local model can take minutes. */
export const DEFAULT_TIMEOUT_SEC = 120;
/** Tries after the first, when the endpoint sets no max_retries. */
export const DEFAULT_MAX_RETRIES = 2;

export type ResolvedModel =
  { readonly kind: 'stub' } | { readonly kind: 'live'; readonly endpoint: ModelEndpoint };

export function modelEndpoints(config: PlaneConfig): ModelEndpoint[] {
  return config.models ?? [];
}

/**
 * What the schema cannot say about `models` (E2) and `default_model`, one line per problem. The
 * rules live in config/plane-config.ts because the config loader applies them and may not
 * import this layer (eslint.config.js, LAYERS); this is the model lane's name for them.
 */
export function configProblems(config: PlaneConfig): string[] {
  return modelProblems(config);
}

/** The model for a job's payload.model (`requested`), else default_model, else the stub (E1). */
export function resolveModel(config: PlaneConfig, requested: string | undefined): ResolvedModel {
  const name = requested ?? config.default_model ?? STUB_MODEL;
  if (name === STUB_MODEL) return { kind: 'stub' };
  const endpoints = modelEndpoints(config);
  const endpoint = endpoints.find((e) => e.name === name);
  if (endpoint) return { kind: 'live', endpoint };
  const known = [STUB_MODEL, ...endpoints.map((e) => e.name)].map((n) => JSON.stringify(n)).join(', ');
  const source = requested !== undefined ? 'payload.model' : 'config.json default_model';
  throw new ModelError(
    'model_not_configured',
    `${source} names the model ${JSON.stringify(name)}, which is not configured (known: ${known}); ` +
      `add it to config.json "models" or name one of those`,
  );
}

/** The endpoint's API key (E3): undefined when it needs none; a coded error when its variable is unset. */
export function apiKeyOf(
  endpoint: ModelEndpoint,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const variable = endpoint.api_key_env;
  if (variable === undefined) return undefined;
  const key = env[variable];
  if (key === undefined || key === '') {
    throw new ModelError(
      'model_key_missing',
      `the model ${JSON.stringify(endpoint.name)} reads its API key from $${variable}, which is not set ` +
        `in the worker's environment; set it where the worker starts, or remove api_key_env from config.json`,
    );
  }
  return key;
}
