/**
 * The web view's only assets — one stylesheet and one small script, served by the process itself
 * (no CDN, no build step: docs/decisions.md, "The web view"). Kept as text here so the package
 * ships them inside dist/ with nothing to copy.
 *
 * The script (W1 of views.ts) opens one EventSource on /events, and when the ledger grows it
 * fetches the page's `#live` part again (the server renders it, escaped) and swaps it in; on the
 * job page only for the job's own events. A `reset` event (the server no longer holds the events
 * after the browser's last seq) reloads the page. It builds no markup from data.
 */

export const APP_JS = `'use strict';
(() => {
  const body = document.body;
  const badge = document.getElementById('live-state');
  const page = body.dataset.page;
  const jobId = body.dataset.jobId;
  let scheduled = false;
  let inFlight = false;
  let again = false;
  async function refresh() {
    scheduled = false;
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const res = await fetch(location.pathname + location.search, {
        headers: { 'X-Execplane-Part': 'live' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (res.ok) {
        const live = document.getElementById('live');
        const text = await res.text();
        if (live) live.innerHTML = text;
        body.dataset.refreshed = String(Date.now());
      }
    } catch (e) {
      // The next event tries again.
    } finally {
      inFlight = false;
      if (again) { again = false; schedule(); }
    }
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(refresh, 100);
  }
  const es = new EventSource('/events?since=' + encodeURIComponent(body.dataset.seq || '0'));
  es.addEventListener('open', () => { if (badge) badge.dataset.state = 'live'; });
  es.addEventListener('error', () => { if (badge) badge.dataset.state = 'reconnecting'; });
  es.addEventListener('ledger', (m) => {
    if (page === 'job') {
      const d = JSON.parse(m.data);
      if (!d.more && !d.events.some((e) => e.job_id === jobId)) return;
    }
    schedule();
  });
  es.addEventListener('reset', () => location.reload());
  if (page === 'audit') {
    setInterval(() => {
      const r = document.getElementById('audit-result');
      if (r && r.dataset.auditState === 'running') schedule();
    }, 500);
  }
})();
`;

export const APP_CSS = `:root {
  --fg: #1d2330; --muted: #5b6475; --bg: #fbfbfd; --line: #d9dde6; --panel: #ffffff;
  --queued: #6b7a99; --claimed: #c9a227; --running: #2f7de1; --complete: #2e9e5b;
  --failed: #d64545; --expired: #e07b24; --cancelled: #8a8f98; --accent: #3a5bd9;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header a { color: #cfd8ff; text-decoration: none; margin-right: .6rem; }
header a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
header .home { color: #aab3c5; font-family: ui-monospace, monospace; font-size: 12px; }
header .mode { margin-left: auto; font-size: 12px; color: #aab3c5; }
.live-state { font-size: 12px; padding: 0 .5rem; border-radius: 9px; background: #555; }
.live-state[data-state="live"] { background: var(--complete); }
.live-state[data-state="reconnecting"] { background: var(--expired); }
main { padding: 1rem 1.2rem 3rem; max-width: 1280px; }
h1 { font-size: 20px; margin: .2rem 0 .4rem; }
h2 { font-size: 15px; margin: 1.4rem 0 .5rem; color: #2b3345; }
code, pre, time { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
pre { background: var(--panel); border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; background: var(--panel); }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
tr.empty td { color: var(--muted); font-style: italic; }
a { color: var(--accent); }
.counts { display: flex; flex-wrap: wrap; gap: .6rem; margin: .4rem 0 1rem; }
.count { display: block; min-width: 7.5rem; padding: .5rem .8rem; border-radius: 6px; background: var(--panel); border: 1px solid var(--line); border-left: 5px solid var(--queued); text-decoration: none; color: var(--fg); }
.count .n { display: block; font-size: 22px; font-weight: 600; }
.count .label { color: var(--muted); }
.count.claimed { border-left-color: var(--claimed); } .count.running { border-left-color: var(--running); }
.count.complete { border-left-color: var(--complete); } .count.failed { border-left-color: var(--failed); }
.count.expired { border-left-color: var(--expired); } .count.cancelled { border-left-color: var(--cancelled); }
.facts { display: flex; gap: 2rem; flex-wrap: wrap; align-items: flex-start; }
.facts dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
figure { margin: 0; } figcaption { color: var(--muted); font-size: 12px; }
svg.throughput { width: 320px; height: 70px; background: var(--panel); border: 1px solid var(--line); }
.bar.complete { fill: var(--complete); } .bar.failed { fill: var(--failed); } .axis { stroke: var(--line); }
.tail { list-style: none; padding: 0; margin: 0; max-height: 22rem; overflow: auto; background: var(--panel); border: 1px solid var(--line); }
.tail li { padding: .15rem .5rem; border-bottom: 1px solid #eef0f4; }
.st, .ev { font-weight: 600; }
.st.queued { color: var(--queued); } .st.claimed { color: var(--claimed); } .st.running { color: var(--running); }
.st.complete { color: var(--complete); } .st.failed { color: var(--failed); } .st.expired { color: var(--expired); } .st.cancelled { color: var(--cancelled); }
.good { color: var(--complete); } .bad { color: var(--failed); }
.filters { display: flex; gap: .8rem; align-items: end; margin: .4rem 0 .8rem; flex-wrap: wrap; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: .25rem .4rem; }
button { cursor: pointer; }
form.inline { display: inline-flex; gap: .3rem; margin-left: .6rem; }
.actions { margin: .4rem 0; }
.pager { margin: .6rem 0; display: flex; gap: 1rem; }
.verified { color: var(--muted); font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); font-size: 12px; }
pre.line { max-height: 10rem; margin: .3rem 0; }
.legend .key { padding: 0 .4rem; border-radius: 3px; color: #fff; font-size: 12px; }
.key.claimed { background: var(--claimed); } .key.running { background: var(--running); } .key.complete { background: var(--complete); }
.key.failed { background: var(--failed); } .key.expired { background: var(--expired); }
svg.timeline { width: 100%; height: auto; background: var(--panel); border: 1px solid var(--line); }
svg.timeline text { font-size: 11px; fill: var(--fg); }
svg.timeline .axis, svg.timeline .grid { stroke: var(--line); }
svg.timeline .span { fill: #e9edf5; stroke: #c7cfdd; }
svg.timeline .span.claimed { fill: var(--claimed); stroke: none; opacity: .55; }
svg.timeline .span.running, svg.timeline .span.live { fill: var(--running); stroke: none; }
svg.timeline .span.complete { fill: var(--complete); stroke: none; }
svg.timeline .span.failed { fill: var(--failed); stroke: none; }
svg.timeline .span.expired { fill: var(--expired); stroke: none; }
svg.timeline .span.cancelled { fill: var(--cancelled); stroke: none; }
svg.timeline .tick, svg.timeline .heartbeat { stroke: #1d2330; stroke-width: 1; }
svg.timeline .point, svg.timeline .tool_call { fill: #fff; stroke: #1d2330; stroke-width: 1.2; }
svg.timeline .turn.ok { fill: #7b5cd6; } svg.timeline .turn.bad { fill: var(--failed); }
svg.timeline .marker, svg.timeline .job-event { fill: var(--muted); }
svg.machine { max-width: 100%; height: auto; background: var(--panel); border: 1px solid var(--line); }
svg.machine rect, svg.machine .state rect { fill: #eef2fb; stroke: #6b7a99; }
svg.machine .final rect { fill: #e7f5ec; stroke: var(--complete); stroke-width: 2; }
svg.machine text { font-size: 12px; fill: var(--fg); }
svg.machine .edge { fill: none; stroke: #6b7a99; stroke-width: 1.2; }
svg.machine .edge-label, svg.machine .label { font-size: 10.5px; fill: var(--muted); }
svg.machine marker path, svg.machine .arrow { fill: #6b7a99; }
.message { font-size: 15px; }
.banner { border: 1px solid var(--failed); background: #fdeeee; padding: .5rem .8rem; }
`;
