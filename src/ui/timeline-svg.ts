/**
 * A job's timeline as inline SVG, in the spirit of Temporal's and Inngest's: one lane per attempt
 * under a row of the job's own events, on one time axis (docs/ui.md, "Pages").
 *
 * T1. One lane per attempt number the job's events carry (claim, start, heartbeat, tool_call,
 *     complete, fail, expire): the claimed span from its claim to its end, the running span from
 *     its start to its end, its class the attempt's outcome — complete, failed, expired, or
 *     cancelled (a cancel while the attempt is open ends it), else live (still running: it reaches
 *     to `nowMs`).
 * T2. Heartbeats are ticks on their attempt's lane, tool calls and model turns points on it;
 *     enqueue, retry and cancel are markers on the job's row. Every mark has a <title> with its
 *     seq, time and detail — user data, escaped by html.ts.
 * T3. The axis runs from the first event to the last (or `nowMs` while an attempt is live); a
 *     timeline whose events share one instant still draws (the range is at least 1 ms), so no
 *     coordinate is ever NaN or infinite.
 * T4. Classes only, no style attribute, no script: the page's CSP allows neither inline; the
 *     colours are the stylesheet's (assets.ts).
 */
import type { TimelineEntry } from '../replay/timeline.js';
import { parseTsUtc } from '../time.js';
import { html, type Html } from './html.js';

/** A model turn of an agent_task attempt, placed by the caller (server.ts reads transcript.json). */
export interface ModelTurn {
  readonly attempt: number;
  readonly ts_utc: string;
  readonly label: string;
  readonly ok: boolean;
}

export interface TimelineOptions {
  readonly nowMs?: number;
  readonly turns?: readonly ModelTurn[];
  readonly width?: number;
}

type Outcome = 'complete' | 'failed' | 'expired' | 'cancelled' | 'live';

interface Lane {
  readonly attempt: number;
  worker: string | null;
  claimMs: number | null;
  startMs: number | null;
  endMs: number | null;
  outcome: Outcome;
  readonly marks: TimelineEntry[];
}

/** Events of the job rather than of an attempt (a retry names the attempt it allows next). */
const JOB_EVENTS: ReadonlySet<string> = new Set(['enqueue', 'retry', 'cancel']);

const GUTTER = 180;
const ROW = 28;
const AXIS = 24;
const RIGHT = 12;
const TICKS = 5;

/** T1–T4. */
export function timelineSvg(entries: readonly TimelineEntry[], options: TimelineOptions = {}): Html {
  const width = options.width ?? 960;
  const lanes = lanesOf(entries);
  const times = entries.map((e) => parseTsUtc(e.ts_utc));
  const live = lanes.some((l) => l.outcome === 'live');
  const t0 = times.length ? Math.min(...times) : (options.nowMs ?? 0);
  let t1 = times.length ? Math.max(...times) : t0;
  if (live && options.nowMs !== undefined) t1 = Math.max(t1, options.nowMs);
  for (const t of options.turns ?? []) t1 = Math.max(t1, parseTsUtc(t.ts_utc));
  const range = Math.max(1, t1 - t0); // T3
  const plot = width - GUTTER - RIGHT;
  const x = (ms: number) => (GUTTER + ((Math.min(Math.max(ms, t0), t1) - t0) / range) * plot).toFixed(1);
  const height = AXIS + ROW * (lanes.length + 1) + 6;
  const rowY = (i: number) => AXIS + ROW * i;

  const ticks = Array.from({ length: TICKS + 1 }, (_, i) => {
    const ms = t0 + (range * i) / TICKS;
    return html`<line class="grid" x1="${x(ms)}" x2="${x(ms)}" y1="${AXIS - 4}" y2="${height - 4}"></line
      ><text
        class="tick-label"
        x="${x(ms)}"
        y="${AXIS - 8}"
        text-anchor="${i === 0 ? 'start' : i === TICKS ? 'end' : 'middle'}"
        >${relative(ms - t0)}</text
      >`;
  });

  const jobRow = entries.filter((e) => JOB_EVENTS.has(e.event));
  const jobY = rowY(0) + ROW / 2;
  const jobMarks = jobRow.map(
    (e) =>
      html`<g class="marker job-event ${e.event}"
        ><title>${title(e)}</title
        ><path
          class="marker ${e.event}"
          d="M ${x(parseTsUtc(e.ts_utc))} ${jobY - 6} l 6 6 l -6 6 l -6 -6 z"
        ></path
      ></g>`,
  );

  const laneGroups = lanes.map((lane, i) => {
    const top = rowY(i + 1) + 5;
    const mid = top + (ROW - 10) / 2;
    const end =
      lane.endMs ?? (options.nowMs !== undefined ? Math.max(options.nowMs, lane.claimMs ?? t0) : t1);
    const from = lane.claimMs ?? lane.startMs ?? end;
    const span = (a: number, b: number, cls: string, label: string) =>
      html`<rect
        class="span ${cls}"
        x="${x(a)}"
        y="${top}"
        width="${Math.max(2, Number(x(b)) - Number(x(a))).toFixed(1)}"
        height="${ROW - 10}"
        rx="3"
        ><title>${label}</title></rect
      >`;
    const marks = lane.marks.map((e) => {
      const at = x(parseTsUtc(e.ts_utc));
      if (e.event === 'heartbeat')
        return html`<line class="tick heartbeat" x1="${at}" x2="${at}" y1="${top - 2}" y2="${top + ROW - 8}"
          ><title>${title(e)}</title></line
        >`;
      if (e.event === 'tool_call')
        return html`<circle class="point tool_call" cx="${at}" cy="${mid}" r="4"
          ><title>${title(e)}</title></circle
        >`;
      return '';
    });
    const turns = (options.turns ?? [])
      .filter((t) => t.attempt === lane.attempt)
      .map(
        (t) =>
          html`<circle
            class="point turn ${t.ok ? 'ok' : 'bad'}"
            cx="${x(parseTsUtc(t.ts_utc))}"
            cy="${mid}"
            r="3.5"
            ><title>${t.label} · ${t.ts_utc} (placed by the durations transcript.json records)</title></circle
          >`,
      );
    const ended = lane.outcome === 'live' ? 'running now' : lane.outcome;
    return html`<g class="lane" data-attempt="${lane.attempt}" data-outcome="${lane.outcome}"
      ><text class="lane-label" x="6" y="${mid + 4}"
        >attempt ${lane.attempt}${lane.worker ? html` · ${lane.worker}` : ''}</text
      >${span(from, end, lane.outcome === 'live' ? 'claimed' : `claimed ${lane.outcome}`, `attempt ${lane.attempt}: claimed → ${ended}`)}${lane.startMs !== null ? span(lane.startMs, end, lane.outcome === 'live' ? 'running live' : lane.outcome, `attempt ${lane.attempt}: running → ${ended}`) : ''}${marks}${turns}</g
    >`;
  });

  const label = `timeline of ${lanes.length} attempt(s) over ${relative(range)}`;
  return html`<svg
    class="timeline"
    role="img"
    aria-label="${label}"
    xmlns="http://www.w3.org/2000/svg"
    viewBox="0 0 ${width} ${height}"
  >
    ${ticks}
    <text class="lane-label" x="6" y="${jobY + 4}">job</text>
    ${jobMarks}${laneGroups}
  </svg>`;
}

/** T1: the attempts in order, each with its span's ends and its outcome. */
function lanesOf(entries: readonly TimelineEntry[]): Lane[] {
  const lanes = new Map<number, Lane>();
  let open: Lane | undefined;
  for (const e of entries) {
    const ms = parseTsUtc(e.ts_utc);
    if (e.attempt === null || JOB_EVENTS.has(e.event)) {
      if (e.event === 'cancel' && open && open.outcome === 'live') {
        open.endMs = ms;
        open.outcome = 'cancelled';
        open = undefined;
      }
      continue;
    }
    let lane = lanes.get(e.attempt);
    if (!lane) {
      lane = {
        attempt: e.attempt,
        worker: null,
        claimMs: null,
        startMs: null,
        endMs: null,
        outcome: 'live',
        marks: [],
      };
      lanes.set(e.attempt, lane);
    }
    lane.worker ??= e.worker_id;
    if (e.event === 'claim') {
      lane.claimMs = ms;
      open = lane;
    } else if (e.event === 'start') lane.startMs = ms;
    else if (e.event === 'complete' || e.event === 'fail' || e.event === 'expire') {
      lane.endMs = ms;
      lane.outcome = e.event === 'complete' ? 'complete' : e.event === 'fail' ? 'failed' : 'expired';
      if (open === lane) open = undefined;
    } else if (e.event === 'cancel') {
      lane.endMs = ms;
      lane.outcome = 'cancelled';
    } else lane.marks.push(e);
  }
  return [...lanes.values()].sort((a, b) => a.attempt - b.attempt);
}

function title(e: TimelineEntry): string {
  return `seq ${e.seq} · ${e.ts_utc} · ${e.event}${e.worker_id ? ` by ${e.worker_id}` : ''}: ${e.detail}`;
}

/** A duration from the axis's start, e.g. +0 ms, +850 ms, +12.5 s, +3.2 min. */
function relative(ms: number): string {
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 120_000) return `+${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 7_200_000) return `+${(ms / 60_000).toFixed(1)} min`;
  return `+${(ms / 3_600_000).toFixed(1)} h`;
}
