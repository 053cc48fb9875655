/** Medians with their spread, percentiles, and the table entries every figure reports. */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function spread(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export type Better = 'higher' | 'lower';

/**
 * One row of the table. `ratio` says how close `ours` comes to the physical `limit` measured in
 * the same run on the same data: ours/limit for rates, limit/ours for durations — 1.0 is the limit.
 */
export interface Entry {
  readonly name: string;
  readonly figure: string;
  readonly ours: number;
  readonly limit: number | null;
  readonly ratio: number | null;
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly limit_min: number | null;
  readonly limit_max: number | null;
  /** What the limit is, in a few words. */
  readonly limit_is: string | null;
  readonly target: string | null;
  /** Whether the target is met on this run; null when no target applies (e.g. a --quick ledger). */
  readonly met: boolean | null;
  readonly note: string | null;
}

export interface EntryInput {
  readonly name: string;
  readonly figure: string;
  readonly unit: string;
  readonly better: Better;
  readonly ours: Spread;
  readonly limit?: Spread;
  readonly limitIs?: string;
  readonly target?: string;
  /** Decides `met` from the entry (null: not applicable). */
  readonly meets?: (e: { ours: number; ratio: number | null }) => boolean | null;
  readonly note?: string;
}

export function entry(input: EntryInput): Entry {
  const ours = input.ours.median;
  const limit = input.limit?.median ?? null;
  const ratio = limit === null || ours === 0 ? null : input.better === 'higher' ? ours / limit : limit / ours;
  return {
    name: input.name,
    figure: input.figure,
    ours: round(ours),
    limit: limit === null ? null : round(limit),
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    unit: input.unit,
    min: round(input.ours.min),
    max: round(input.ours.max),
    runs: input.ours.runs,
    limit_min: input.limit ? round(input.limit.min) : null,
    limit_max: input.limit ? round(input.limit.max) : null,
    limit_is: input.limitIs ?? null,
    target: input.target ?? null,
    met: input.meets ? input.meets({ ours, ratio }) : null,
    note: input.note ?? null,
  };
}

/** Three significant digits, at least two decimals below 10 (milliseconds of latency). */
export function round(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  const f = 10 ** Math.min(digits, 3);
  return Math.round(x * f) / f;
}
