/**
 * The model lane's failure codes (docs/model-lane.md, "Error codes"). A model that cannot answer
 * fails the job with one of these — the worker never dies of a model — and `retryable` says
 * whether the reaper may run the job again (after our own retries within the turn are spent).
 */
import { JobError } from '../worker/errors.js';
import type { ModelTry } from './types.js';

export const MODEL_ERRORS = {
  /** No connection (refused, reset, DNS): the server is down or not there yet. */
  model_unreachable: { retryable: true },
  /** The server answered 4xx (not 429 and not the tool-calling 400): the request is wrong. */
  model_http_4xx: { retryable: false },
  /** 429 after our retries, each after the server's retry-after. */
  model_rate_limited: { retryable: true },
  /** The server answered 5xx after our retries. */
  model_http_5xx: { retryable: true },
  /** vLLM's 400 when started without --enable-auto-tool-choice / a tool-call parser. */
  model_tool_calling_disabled: { retryable: false },
  /** A call took longer than the endpoint's timeout_sec, every try. */
  model_timeout: { retryable: true },
  /** A 2xx that is not a chat completion (no choices, not JSON). */
  model_bad_response: { retryable: false },
  /** payload.model (or default_model) names no configured model. */
  model_not_configured: { retryable: false },
  /** The endpoint's api_key_env is not set in the worker's environment. */
  model_key_missing: { retryable: false },
} as const;

export type ModelErrorCode = keyof typeof MODEL_ERRORS;

export class ModelError extends JobError {
  constructor(
    code: ModelErrorCode,
    message: string,
    /** The HTTP tries of the turn that failed, for the transcript. */
    readonly tries: readonly ModelTry[] = [],
  ) {
    super(code, message, MODEL_ERRORS[code].retryable);
  }
}
