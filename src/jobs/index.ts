/**
 * The job handlers a worker runs by default, by job type. (Filled in by the handlers and
 * sandbox work of issue 5; until then a job without a handler fails with E_NO_HANDLER.)
 */
import type { HandlerRegistry } from '../worker/types.js';

export function defaultHandlers(): HandlerRegistry {
  return {};
}
