/**
 * The web view's SVG (src/ui/timeline-svg.ts, src/ui/machine-svg.ts) as text, on the golden
 * fixture ledgers: one lane per attempt with the outcome its events give, ticks and points for
 * heartbeats and tool calls, escaped details, finite coordinates; the machine drawn from its rows.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { finalStates, machineTransitions } from '../machines/diagram.js';
import { foldJobEvents, type TimelineEntry } from '../src/replay/timeline.js';
import type { LedgerEvent } from '../src/schema/types.generated.js';
import { machineSvg } from '../src/ui/machine-svg.js';
import { timelineSvg } from '../src/ui/timeline-svg.js';

function timelineOf(fixture: string, jobSuffix: string): TimelineEntry[] {
  const events = readFileSync(new URL(`../fixtures/ledgers/valid/${fixture}.jsonl`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LedgerEvent);
  const jobId = events.find((e) => e.job_id.endsWith(jobSuffix))!.job_id;
  const folded = foldJobEvents(
    jobId,
    events.filter((e) => e.job_id === jobId).map((ev) => ({ ev, line: ev.seq })),
  );
  if ('refusal' in folded) throw new Error(folded.refusal.message);
  return folded.timeline;
}

const lanes = (svg: string) =>
  [...svg.matchAll(/<g\s+class="lane"\s+data-attempt="(\d+)"\s+data-outcome="([a-z]+)"/g)].map((m) => [
    Number(m[1]),
    m[2],
  ]);
const countOf = (svg: string, re: RegExp) => [...svg.matchAll(re)].length;

describe('timelineSvg', () => {
  test.each([
    [
      'retry-with-backoff',
      'y00001',
      [
        [1, 'failed'],
        [2, 'complete'],
      ],
    ],
    [
      'lease-expiry-reclaim',
      'e00001',
      [
        [1, 'expired'],
        [2, 'complete'],
      ],
    ],
    [
      'attempts-exhausted',
      'ust001',
      [
        [1, 'expired'],
        [2, 'expired'],
      ],
    ],
    ['cancel', 'el0002', [[1, 'cancelled']]],
    ['cancel', 'el0003', [[1, 'failed']]],
    ['cancel', 'el0001', []],
    ['complete-with-tools', 'c00001', [[1, 'complete']]],
  ])('%s (%s): one lane per attempt, classed by how it ended', (fixture, job, expected) => {
    const svg = timelineSvg(timelineOf(fixture, job)).text;
    expect(lanes(svg)).toEqual(expected);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).not.toMatch(/style=|<script/i);
  });

  test('heartbeats are ticks and tool calls points, on their own attempt; enqueue, retry, cancel mark the job row', () => {
    const tools = timelineSvg(timelineOf('complete-with-tools', 'c00001')).text;
    expect(countOf(tools, /class="tick heartbeat"/g)).toBe(1);
    expect(countOf(tools, /class="point tool_call"/g)).toBe(2);
    const reclaim = timelineSvg(timelineOf('lease-expiry-reclaim', 'e00001')).text;
    const second = reclaim.slice(reclaim.indexOf('data-attempt="2"'));
    expect(countOf(second, /class="tick heartbeat"/g)).toBe(1);
    expect(countOf(reclaim, /class="marker job-event (enqueue|retry|cancel)"/g)).toBe(2);
    // An attempt that has not ended is live, and reaches to now.
    const running = timelineOf('complete-with-tools', 'c00001').slice(0, -1);
    const now = Date.parse(running[running.length - 1]!.ts_utc) + 60_000;
    const live = timelineSvg(running, { nowMs: now }).text;
    expect(lanes(live)).toEqual([[1, 'live']]);
    const labels = [...live.matchAll(/>\s*\+([\d.]+) s\s*</g)].map((m) => Number(m[1]));
    expect(Math.max(...labels)).toBeGreaterThanOrEqual(60);
  });

  test('details and worker ids are escaped; one event, or events at one instant, still draw', () => {
    const [first, ...rest] = timelineOf('retry-with-backoff', 'y00001');
    const evil = rest.map((e) => ({
      ...e,
      worker_id: 'w"><script>x()</script>',
      detail: '<script>alert(1)</script>',
    }));
    const svg = timelineSvg([first!, ...evil]).text;
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).toContain('w&quot;&gt;&lt;script&gt;');
    const sameInstant = [first!, ...rest].map((e) => ({ ...e, ts_utc: first!.ts_utc }));
    for (const entries of [[first!], sameInstant, []]) {
      const out = timelineSvg(entries).text;
      expect(out).toMatch(/^<svg/);
      expect(out).not.toMatch(/NaN|Infinity/);
    }
  });

  test('model turns are points on their attempt, classed by whether the turn failed', () => {
    const entries = timelineOf('complete-with-tools', 'c00001');
    const start = entries.find((e) => e.event === 'start')!;
    const svg = timelineSvg(entries, {
      turns: [
        { attempt: 1, ts_utc: start.ts_utc, label: 'model turn 1 (tool_calls)', ok: true },
        { attempt: 1, ts_utc: start.ts_utc, label: 'model turn 2: <b>', ok: false },
      ],
    }).text;
    expect(countOf(svg, /class="point turn ok"/g)).toBe(1);
    expect(countOf(svg, /class="point turn bad"/g)).toBe(1);
    expect(svg).toContain('model turn 2: &lt;b&gt;');
  });
});

describe('machineSvg', () => {
  test('draws every state of the machine, one edge per transition, finals marked, no inline style or script', () => {
    const rows = machineTransitions();
    const svg = machineSvg(rows, 'queued', finalStates()).text;
    const states = new Set(rows.flatMap((r) => [r.from, r.to]));
    for (const s of states) expect(svg).toContain(`data-state="${s}"`);
    expect(countOf(svg, /<g\s+class="state/g)).toBe(states.size);
    expect(countOf(svg, /<path\s+class="edge"\s+data-event=/g)).toBe(rows.length);
    for (const f of finalStates())
      expect(svg).toMatch(new RegExp(`class="state final"\\s+data-state="${f}"`));
    expect(svg).not.toMatch(/NaN|style=|<script/i);
  });

  test('a state it has never seen is drawn too (the layout reads the rows, not a list of names)', () => {
    const rows = [
      ...machineTransitions(),
      { from: 'complete', event: 'archive', to: 'archived', guards: ['old'] },
      { from: 'orphan', event: 'x', to: 'orphan', guards: [] },
    ];
    const svg = machineSvg(rows, 'queued', [...finalStates(), 'archived']).text;
    expect(svg).toContain('data-state="archived"');
    expect(svg).toContain('data-state="orphan"');
    expect(svg).toContain('data-event="archive"');
    expect(svg).not.toMatch(/NaN/);
  });
});
