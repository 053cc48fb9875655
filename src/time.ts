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

// Ledger lines come in runs within the same second (a commit stamps all its events alike):
// remember the last second seen and read only the milliseconds of the next ts — replay and
// audit parse one per line (docs/decisions.md, "Smaller per-line costs of the fold").
let lastSecond: string | undefined;
let lastSecondMs = 0;
const digitAt = (s: string, i: number) => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1000;
};

/** Milliseconds of a `ts_utc`, or NaN when it is not one. */
export function parseTsUtc(ts: string): number {
  if (lastSecond !== undefined && ts.length === 24 && ts.startsWith(lastSecond) && ts.charCodeAt(23) === 90) {
    const ms = digitAt(ts, 20) * 100 + digitAt(ts, 21) * 10 + digitAt(ts, 22);
    if (ms >= 0) return lastSecondMs + ms;
  }
  if (!TS_RE.test(ts)) return Number.NaN;
  const ms = Date.parse(ts);
  // Date.parse rolls impossible dates over (2099-02-31 → 03-03): only a round trip proves it real.
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== ts) return Number.NaN;
  lastSecond = ts.slice(0, 20);
  lastSecondMs = ms - Number(ts.slice(20, 23));
  return ms;
}

/** How long ago an age in whole seconds was, as `status` and the web view print it: `42 s ago`. */
export function ago(sec: number): string {
  if (sec < 0) return `${-sec} s in the future`;
  if (sec < 120) return `${sec} s ago`;
  if (sec < 7200) return `${Math.round(sec / 60)} min ago`;
  return `${Math.round(sec / 3600)} h ago`;
}
