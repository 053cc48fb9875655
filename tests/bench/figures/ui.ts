/**
 * The web view on the big plane (issue 17, docs/benchmarks.md "Web view"): one real `execplane ui`
 * process on the bench's 1M-event plane (after a first `replay --home`, which writes jobs.index and
 * checkpoint.json as a user's would), each page fetched over a kept-alive HTTP connection on
 * 127.0.0.1 and timed from request to the body's end, beside GET /assets/app.css from the same
 * server in the same loop — the floor every request pays (HTTP, the server's routing) before the
 * page reads anything. Also: how long the server takes to start (fold from the checkpoint, read
 * every ended job), and its RSS once serving.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { CLI, REPO, stop } from '../child.js';
import type { BenchContext } from '../context.js';
import { entry, spread, type Entry } from '../stats.js';
import { pickJobs, readsPlane } from './reads.js';

const TARGET_MS = 200;
const LIMIT_IS = 'GET /assets/app.css from the same server, same loop';

function get(
  agent: Agent,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ms: number; status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = request(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: performance.now() - t, status: res.statusCode!, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function uiFigure(ctx: BenchContext): Promise<Entry[]> {
  const ledger = ctx.bigLedger();
  const home = await readsPlane(ctx, ledger);
  const shape = `${ledger.events.toLocaleString('en')} events / ${ledger.jobs.toLocaleString('en')} jobs`;
  const full = !ctx.quick;

  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'ui', '--home', home, '--port', '0'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /execplane ui: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`execplane ui exited ${code}: ${stderr.trim()}`)));
  });
  const startMs = performance.now() - started;
  ctx.log(`ui: listening after ${(startMs / 1000).toFixed(2)} s at ${base}`);

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const jobs = pickJobs(ledger.path);
    const pages: { name: string; figure: string; path: string; headers?: Record<string, string> }[] = [
      { name: 'ui_overview', figure: 'the overview (status, workers, leases, tail, throughput)', path: '/' },
      {
        name: 'ui_overview_live',
        figure: "the overview's live part (what a page refetches per SSE batch)",
        path: '/',
        headers: { 'X-Execplane-Part': 'live' },
      },
      { name: 'ui_jobs', figure: 'the jobs list, first page of all jobs', path: '/jobs' },
      {
        name: 'ui_jobs_filtered',
        figure: 'the jobs list filtered by state and type, page 100',
        path: '/jobs?state=complete&type=agent_task&page=100',
      },
      ...jobs.map((j) => ({
        name: `ui_job_${j.where}`,
        figure: `a job's page (timeline, spec, events, evidence), the job of the ledger's ${j.where === 'early' ? 'first' : j.where === 'middle' ? 'middle' : 'last'} line (seq ${j.seq.toLocaleString('en')})`,
        path: `/jobs/${encodeURIComponent(j.id)}`,
      })),
    ];
    // One untimed fetch each: every page must answer 200 (a figure of an error page measures nothing).
    for (const p of pages) {
      const r = await get(agent, base + p.path.slice(1), p.headers);
      if (r.status !== 200) throw new Error(`GET ${p.path} answered ${r.status}`);
    }
    const runs = full ? 15 : 7;
    const floor: number[] = [];
    const samples = new Map<string, number[]>(pages.map((p) => [p.name, []]));
    const sizes = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      floor.push((await get(agent, `${base}assets/app.css`)).ms);
      for (const p of pages) {
        const r = await get(agent, base + p.path.slice(1), p.headers);
        samples.get(p.name)!.push(r.ms);
        sizes.set(p.name, r.bytes);
      }
    }
    const rssKb = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN,
    );
    const floorSpread = spread(floor);
    const target = `≤ ${TARGET_MS} ms (1M events)`;
    const entries = pages.map((p) => {
      const ours = spread(samples.get(p.name)!);
      ctx.log(`${p.name}: ${ours.median.toFixed(1)} ms (floor ${floorSpread.median.toFixed(2)} ms)`);
      return entry({
        name: p.name,
        figure: `GET ${p.path.length > 40 ? `${p.path.slice(0, 40)}…` : p.path}: ${p.figure}, ${shape}`,
        unit: 'ms',
        better: 'lower',
        ours,
        limit: floorSpread,
        limitIs: LIMIT_IS,
        target,
        meets: ({ ours: o }) => (full ? o <= TARGET_MS : null),
        note: `${Math.round(sizes.get(p.name)! / 1024)} KiB of HTML`,
      });
    });
    return [
      ...entries,
      entry({
        name: 'ui_start',
        figure: `execplane ui from spawn to listening (fold from checkpoint.json, every ended job read), ${shape}`,
        unit: 'ms',
        better: 'lower',
        ours: spread([startMs]),
        note: `RSS once serving: ${Math.round(rssKb / 1024)} MB`,
      }),
    ];
  } finally {
    agent.destroy();
    await stop(child);
  }
}
