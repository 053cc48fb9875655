/**
 * The web view in a real browser (docs/ui.md): Debian's Chromium through playwright-core, against
 * the real `execplane ui` process, on a plane built by the real CLI (enqueue, work) and the library.
 * Each page's screenshot is kept under the test's temp dir (printed once); docs/ui/ holds copies.
 * Every request the pages make must stay on the server's origin, and no page may trip its own
 * Content-Security-Policy.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Plane } from '../src/plane.js';
import { browserAvailable, CHROMIUM, startUi, type RunningUi } from './helpers/browser.js';
import { execplane, requireDist } from './helpers/cli.js';
import { cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const run = browserAvailable();
const tmp = useTmpDirs('execplane-ui-browser-');

const XSS = '<script>window.__xss=1</script> "><img src=x onerror="window.__xss=2">';

let browser: Browser;
let home: string;
let shots: string;
let ui: RunningUi;
const jobs = { retried: '', xss: '', queued: '' };
const offOrigin: string[] = [];
const cspErrors: string[] = [];

async function open(path: string, server: RunningUi = ui): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) offOrigin.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') cspErrors.push(m.text());
  });
  await page.goto(server.url + path.replace(/^\//, ''));
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

/** An attribute of every element `locator` matches, in order. */
async function attrs(locator: Locator, name: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0, n = await locator.count(); i < n; i++) out.push(await locator.nth(i).getAttribute(name));
  return out;
}

const countOf = (page: Page, state: string) =>
  page.locator(`[data-count="${state}"]`).innerText().then(Number);

describe.skipIf(!run)('execplane ui in Chromium', () => {
  beforeAll(async () => {
    requireDist();
    home = tmp();
    // EXECPLANE_UI_SCREENSHOTS=DIR keeps them (how docs/ui/*.png are made); else the temp dir goes.
    shots = process.env.EXECPLANE_UI_SCREENSHOTS ?? join(tmp(), 'screenshots');
    mkdirSync(shots, { recursive: true });
    console.warn(`ui screenshots: ${shots}`);
    // Three jobs run to completion by a real worker over a small workspace.
    const ws = tmp();
    writeFileSync(join(ws, 'a.md'), '# A\n\nThe first file.\n');
    writeFileSync(join(ws, 'b.md'), '# B\n\nThe second file.\n');
    const specs = [1, 2, 3].map((i) => ({
      job_type: 'doc_compactor_task',
      payload: { inputs: ['a.md', 'b.md'], max_input_bytes: 65536, max_output_bytes: 4096 + i },
    }));
    const file = join(ws, 'specs.json');
    writeFileSync(file, JSON.stringify(specs));
    const enq = await execplane(['enqueue', '--home', home, '--file', file]);
    expect(enq.code, enq.stderr).toBe(0);
    const work = await execplane([
      'work',
      '--home',
      home,
      '--workspace',
      ws,
      '--max-idle-sec',
      '1',
      '--slots',
      '2',
    ]);
    expect(work.code, work.stderr).toBe(0);
    // A job retried after a failed attempt, a job with user data that looks like markup, one queued.
    const plane = Plane.open(home);
    try {
      jobs.retried = await plane.enqueue({
        job_type: 'agent_task',
        payload: { prompt: 'retried', max_turns: 2 },
      });
      const r = jobs.retried;
      await plane.submit([cmd.claim(r), cmd.start(r), cmd.heartbeat(r), cmd.fail(r), cmd.retry(r)]);
      await plane.submit([
        cmd.claim(r, 'w2'),
        cmd.start(r, 'w2', 2),
        cmd.toolCall(r, 'w2', 2),
        cmd.heartbeat(r, 'w2', 2),
      ]);
      await plane.submit([cmd.complete(r, 'w2', 2, { tool_calls: 1 })]);
      jobs.xss = await plane.enqueue({ job_type: 'agent_task', payload: { prompt: XSS, max_turns: 2 } });
      jobs.queued = await plane.enqueue({
        job_type: 'agent_task',
        payload: { prompt: 'waiting', max_turns: 2 },
      });
    } finally {
      plane.close();
    }
    ui = await startUi(home);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
  });

  test('the overview shows the counts `status` gives, and updates within a second of an enqueue by the CLI', async () => {
    const page = await open('/');
    const status = JSON.parse(
      (await execplane(['status', '--home', home, '--json', '--no-probe'])).stdout,
    ) as {
      counts: Record<string, number>;
      head: string;
    };
    for (const [state, n] of Object.entries(status.counts)) expect(await countOf(page, state), state).toBe(n);
    expect(await page.locator('#head').innerText()).toBe(status.head);
    expect(await page.locator('#tail li[data-seq]').count()).toBeGreaterThan(5);
    await expect.poll(() => page.locator('#live-state').getAttribute('data-state')).toBe('live');
    await shot(page, 'overview');

    const queued = status.counts.queued!;
    const enq = await execplane(['enqueue', '--home', home, '--file', '-'], {
      input: JSON.stringify({ job_type: 'agent_task', payload: { prompt: 'live', max_turns: 2 } }),
    });
    expect(enq.code, enq.stderr).toBe(0);
    const after = Date.now();
    // A function run in the page (a string would be eval, which the page's CSP refuses).
    await page.waitForFunction(
      (n) =>
        Number(
          (
            globalThis as unknown as {
              document: { querySelector(s: string): { textContent: string } | null };
            }
          ).document.querySelector('[data-count="queued"]')?.textContent,
        ) === n,
      queued + 1,
      { timeout: 1000 },
    );
    expect(Date.now() - after).toBeLessThanOrEqual(1000);
    await page.close();
  });

  test('the jobs list filters through the URL', async () => {
    const page = await open('/jobs');
    await page.selectOption('#filters select[name="state"]', 'complete');
    await Promise.all([page.waitForURL(/state=complete/), page.click('#filters button[type="submit"]')]);
    const states = await attrs(page.locator('#jobs tbody tr[data-job-id]'), 'data-state');
    expect(states).toEqual(['complete', 'complete', 'complete', 'complete']);
    await page.goto(`${ui.url}jobs`);
    await shot(page, 'jobs');
    await page.close();
  });

  test('a retried job shows one lane per attempt, each coloured by how it ended', async () => {
    const page = await open(`/jobs/${jobs.retried}`);
    const lanes = page.locator('#timeline svg.timeline g.lane');
    expect(await lanes.count()).toBe(2);
    expect([await attrs(lanes, 'data-attempt'), await attrs(lanes, 'data-outcome')]).toEqual([
      ['1', '2'],
      ['failed', 'complete'],
    ]);
    expect(await page.locator('#timeline .tick.heartbeat').count()).toBe(2);
    expect(await page.locator('#timeline .point.tool_call').count()).toBe(1);
    expect(await page.locator('#events tbody tr[data-seq]').count()).toBe(11);
    await shot(page, 'job');
    await page.close();
  });

  test('user data that looks like markup renders as text', async () => {
    const page = await open(`/jobs/${jobs.xss}`);
    expect(await page.locator('#spec pre').innerText()).toContain(XSS.replace(/"/g, '\\"'));
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    await page.close();
  });

  test('audit runs from the page and says the plane is intact; the machine is drawn', async () => {
    const page = await open('/audit');
    expect(await page.locator('#machine svg g[data-state]').count()).toBe(7);
    await page.click('#run-audit button');
    await page.waitForSelector('#audit-result[data-audit-ok="true"]', { timeout: 20_000 });
    await shot(page, 'audit');
    await page.close();
  });

  test('read-only: no action forms anywhere, and a POST of one is refused', async () => {
    for (const path of ['/', `/jobs/${jobs.queued}`, `/jobs/${jobs.retried}`]) {
      const page = await open(path);
      expect(await page.locator('form[data-action]').count(), path).toBe(0);
      await page.close();
    }
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${ui.url}jobs/${jobs.queued}/cancel`,
        { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end('token=x');
    });
    expect(status).toBe(403);
  });

  test('a foreign Host is refused (421)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(ui.url, { headers: { Host: `rebound.example:${ui.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  test('with --allow-actions the cancel form cancels a queued job, as `execplane cancel` would', async () => {
    const actions = await startUi(home, ['--allow-actions']);
    try {
      const page = await open(`/jobs/${jobs.queued}`, actions);
      await page.fill('form[data-action="cancel"] input[name="reason"]', 'from the browser');
      await Promise.all([
        page.waitForURL(`${actions.url}jobs/${jobs.queued}`),
        page.click('form[data-action="cancel"] button'),
      ]);
      expect(await page.locator('#job-state').innerText()).toBe('cancelled');
      expect(await page.locator('#cancel-reason').innerText()).toContain('from the browser');
      expect(await page.locator('form[data-action="cancel"]').count()).toBe(0);
      await page.close();
      const overview = await open('/', actions);
      expect(await overview.locator('form[data-action="kill-switch"]').count()).toBe(1);
      await overview.close();
    } finally {
      await actions.stop();
    }
  });

  test('every request stayed on the server, and no page tripped its Content-Security-Policy', () => {
    expect(offOrigin).toEqual([]);
    expect(cspErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });
});
