/**
 * Time at the edges. The pure core never reads a clock: event times come from `ts_utc`, and the
 * runtime gets a Clock injected so tests can drive it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** ISO-8601 UTC with milliseconds and `Z`, the ledger's `ts_utc` format. */
export function toTsUtc(ms: number): string {
  return new Date(ms).toISOString();
}

const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Milliseconds of a `ts_utc`, or NaN when it is not one. */
export function parseTsUtc(ts: string): number {
  return TS_RE.test(ts) ? Date.parse(ts) : Number.NaN;
}
