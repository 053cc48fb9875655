/**
 * The job machine drawn as inline SVG from its own definition (machines/diagram.ts's transitions),
 * for the audit page: what `execplane machine` prints as Mermaid, without a diagram library.
 *
 * D1. Every state the transitions name is drawn, in columns by its distance from the initial state
 *     (breadth first), so a state added to the machine is drawn without touching this file; states
 *     no transition reaches from the initial one get a column after the rest.
 * D2. One edge per transition row: parallel rows between two states are fanned apart, a row that
 *     stays in its state (heartbeat, tool_call) is a loop above it, an edge back to an earlier
 *     column bends below. Each edge's label is its event; its guards are in its <title>.
 * D3. Final states are marked (class final), the initial one has an entry arrow. Classes only,
 *     no style attribute, no script (the page's CSP).
 */
import type { TransitionRow } from '../../machines/diagram.js';
import { html, type Html } from './html.js';

const COL = 210;
const ROW = 92;
const W = 118;
const H = 36;
const PAD = 50;

interface Point {
  readonly x: number;
  readonly y: number;
}

export function machineSvg(
  rows: readonly TransitionRow[],
  initial: string,
  finals: readonly string[],
  options: { readonly highlight?: string } = {},
): Html {
  const pos = layout(rows, initial);
  const width = Math.max(...[...pos.values()].map((p) => p.x)) + W / 2 + PAD;
  const height = Math.max(...[...pos.values()].map((p) => p.y)) + H / 2 + PAD + 40;
  const final = new Set(finals);

  const seen = new Map<string, number>();
  const edges = rows.map((r) => {
    const key = [r.from, r.to].sort().join('→');
    const k = seen.get(key) ?? 0;
    seen.set(key, k + 1);
    const a = pos.get(r.from)!;
    const b = pos.get(r.to)!;
    const guards = r.guards.length ? ` [${r.guards.join(', ')}]` : '';
    const attrs = { event: r.event, from: r.from, to: r.to };
    if (r.from === r.to) {
      const lift = 26 + k * 16;
      const d = `M ${a.x - 14} ${a.y - H / 2} C ${a.x - 34} ${a.y - H / 2 - lift}, ${a.x + 34} ${a.y - H / 2 - lift}, ${a.x + 14} ${a.y - H / 2}`;
      return edge(d, { x: a.x, y: a.y - H / 2 - lift * 0.75 - 2 }, attrs, guards);
    }
    const back = b.x < a.x || (b.x === a.x && b.y < a.y);
    const start = boundary(a, b);
    const end = boundary(b, a);
    const mid = { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 };
    // Perpendicular offset: parallel rows fan out; edges back to an earlier column bend below.
    const dx = end.x - start.x;
    const dy = end.y - start.y;
    const len = Math.max(1, Math.hypot(dx, dy));
    const bend = back ? 60 + k * 22 : k === 0 ? 0 : (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 26;
    const control = { x: mid.x + (-dy / len) * bend, y: mid.y + (dx / len) * bend };
    const d = `M ${f(start.x)} ${f(start.y)} Q ${f(control.x)} ${f(control.y)} ${f(end.x)} ${f(end.y)}`;
    const labelAt = {
      x: (start.x + 2 * control.x + end.x) / 4,
      y: (start.y + 2 * control.y + end.y) / 4 - 4,
    };
    return edge(d, labelAt, attrs, guards);
  });

  const states = [...pos.entries()].map(
    ([name, p]) =>
      html`<g
        class="state${final.has(name) ? ' final' : ''}${options.highlight === name ? ' highlight' : ''}"
        data-state="${name}"
        ><rect x="${f(p.x - W / 2)}" y="${f(p.y - H / 2)}" width="${W}" height="${H}" rx="8"></rect
        ><text x="${f(p.x)}" y="${f(p.y + 4)}" text-anchor="middle">${name}</text></g
      >`,
  );
  const entry = pos.get(initial);
  const start = entry
    ? html`<g class="initial"
        ><circle class="arrow" cx="${f(entry.x - W / 2 - 34)}" cy="${f(entry.y)}" r="5"></circle
        ><path
          class="edge"
          marker-end="url(#machine-arrow)"
          d="M ${f(entry.x - W / 2 - 29)} ${f(entry.y)} L ${f(entry.x - W / 2 - 2)} ${f(entry.y)}"
        ></path
      ></g>`
    : '';
  return html`<svg
    class="machine"
    role="img"
    aria-label="the job machine: ${pos.size} states, ${rows.length} transitions"
    xmlns="http://www.w3.org/2000/svg"
    viewBox="0 0 ${f(width)} ${f(height)}"
  >
    <defs>
      <marker
        id="machine-arrow"
        viewBox="0 0 10 10"
        refX="9"
        refY="5"
        markerWidth="7"
        markerHeight="7"
        orient="auto-start-reverse"
      >
        <path class="arrow" d="M 0 0 L 10 5 L 0 10 z"></path>
      </marker>
    </defs>
    ${start}${edges}${states}
  </svg>`;
}

function edge(
  d: string,
  at: Point,
  attrs: { event: string; from: string; to: string },
  guards: string,
): Html {
  return html`<g class="transition"
    ><title>${attrs.from} → ${attrs.to} on ${attrs.event}${guards}</title
    ><path
      class="edge"
      data-event="${attrs.event}"
      data-from="${attrs.from}"
      data-to="${attrs.to}"
      marker-end="url(#machine-arrow)"
      d="${d}"
    ></path
    ><text class="edge-label" x="${f(at.x)}" y="${f(at.y)}" text-anchor="middle">${attrs.event}</text></g
  >`;
}

/** D1: each state's centre. */
function layout(rows: readonly TransitionRow[], initial: string): Map<string, Point> {
  const names: string[] = [];
  const add = (n: string) => {
    if (!names.includes(n)) names.push(n);
  };
  add(initial);
  for (const r of rows) {
    add(r.from);
    add(r.to);
  }
  const depth = new Map<string, number>([[initial, 0]]);
  const queue = [initial];
  while (queue.length) {
    const s = queue.shift()!;
    for (const r of rows) {
      if (r.from === s && !depth.has(r.to)) {
        depth.set(r.to, depth.get(s)! + 1);
        queue.push(r.to);
      }
    }
  }
  const unreached = Math.max(...depth.values()) + 1;
  const columns = new Map<number, string[]>();
  for (const n of names) {
    const d = depth.get(n) ?? unreached;
    columns.set(d, [...(columns.get(d) ?? []), n]);
  }
  const tallest = Math.max(...[...columns.values()].map((c) => c.length));
  const pos = new Map<string, Point>();
  for (const [d, col] of columns) {
    const offset = ((tallest - col.length) * ROW) / 2;
    col.forEach((n, i) =>
      pos.set(n, { x: PAD + 40 + W / 2 + d * COL, y: PAD + 30 + H / 2 + offset + i * ROW }),
    );
  }
  return pos;
}

/** Where the segment from `a`'s centre toward `b`'s leaves `a`'s box. */
function boundary(a: Point, b: Point): Point {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const sx = dx === 0 ? Infinity : W / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : H / 2 / Math.abs(dy);
  const s = Math.min(sx, sy);
  return { x: a.x + dx * s, y: a.y + dy * s };
}

const f = (n: number) => n.toFixed(1);
