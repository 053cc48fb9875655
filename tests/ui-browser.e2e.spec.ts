/**
 * The web view in a real browser (docs/ui.md): Debian's Chromium through playwright-core, against
 * the real `execplane ui` process, on a plane built by the real CLI (enqueue, work — one worker
 * killed with SIGKILL mid-job) and, for a failed-then-retried attempt, the library.
 * Every page a test opens leaves a full-page screenshot under the run's screenshot dir (printed
 * once; kept when a test fails). EXECPLANE_UI_SCREENSHOTS=DIR also writes the four 1200×800 shots
 * docs/ui.md embeds (overview, jobs, job, audit) there: how docs/ui/*.png are made.
 * Every request the pages make must stay on the server's origin, and no page may trip its own
 * Content-Security-Policy. The only time bound is the live update's: within 1 s of the CLI's
 * append returning (a correctness bound of U5, not a speed figure).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import { Plane } from '../src/plane.js';
import { browserAvailable, CHROMIUM, startUi, stopAllUis, type RunningUi } from './helpers/browser.js';
import { execplane, requireDist } from './helpers/cli.js';
import { startWorkProcess } from './helpers/procs.js';
import { cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { waitForLedger } from './helpers/worker.js';

const run = browserAvailable();
const tmp = useTmpDirs('execplane-ui-browser-');

/** Markup in user data: each sets window.__xss if it ever runs. */
const XSS = '<script>window.__xss=1</script> "><img src=x onerror="window.__xss=2">';
const XSS_REASON = '</p><img src=x onerror=window.__xss=3><script>window.__xss=4</script>';
const XSS_STDOUT = '<script>window.__xss=5</script>';

/** Job ids given in the specs (the rest are the plane's). */
const ID = {
  evidence: 'job-uievidence01', // test_runner: prints markup, exits 3 (complete, one failed command)
  inline: 'job-uiinline0001', // test_runner: `node -e` with markup, refused (failed, 1 of 2 attempts)
  killed: 'job-uikilled0001', // test_runner: its worker SIGKILLed mid-command, expired, retried, complete
  live: 'job-uilivejob001', // agent_task, queued, cancelled by the CLI with its page open
  listed: 'job-uilistedjob1', // agent_task, enqueued with /jobs?state=queued open
};
const jobs = { retried: '', xss: '', queued: '' };

let browser: Browser;
let home: string;
let shots: string;
let docShots: string | undefined;
let ui: RunningUi;
let failed = false;
const offOrigin: string[] = [];
const consoleErrors: string[] = [];

async function open(path: string, server: RunningUi = ui): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) offOrigin.push(`${r.url()} (from ${path})`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${path}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${path}: ${e.message}`));
  const res = await page.goto(server.url + path.replace(/^\//, ''));
  expect(res?.status(), path).toBe(200);
  return page;
}

/** NAME.png, the whole page; with EXECPLANE_UI_SCREENSHOTS and `doc`, the docs' 1200×800 too. */
async function shot(page: Page, name: string, doc = false): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  if (doc && docShots) await page.screenshot({ path: join(docShots, `${name}.png`) });
}

/** An attribute of every element `locator` matches, in order. */
async function attrs(locator: Locator, name: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0, n = await locator.count(); i < n; i++) out.push(await locator.nth(i).getAttribute(name));
  return out;
}

const countOf = (page: Page, state: string) =>
  page.locator(`[data-count="${state}"]`).innerText().then(Number);

const xssRan = (page: Page) => page.evaluate(() => (globalThis as { __xss?: number }).__xss);

/** Waits, in the page (a string would be eval, which its CSP refuses), until `selector`'s text is `text`. */
function untilText(page: Page, selector: string, text: string, timeout: number) {
  return page.waitForFunction(
    ([s, t]) =>
      (
        globalThis as unknown as {
          document: { querySelector(s: string): { textContent: string | null } | null };
        }
      ).document
        .querySelector(s)
        ?.textContent?.trim() === t,
    [selector, text] as const,
    { timeout },
  );
}

/** A request by node:http (not the browser, which sets Host, Origin and Sec-Fetch-* itself). */
function http(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

// The web view is under test here, not the sandbox (tests/sandbox*.e2e.spec.ts): where bubblewrap
// is missing (a fresh machine) the test_runner jobs run without the OS boundary rather than fail;
// where it is present (.ci/run installs it) they run in it as always.
const UNSANDBOXED_OK = ['--unsandboxed-ok'];

const testRunner = (job_id: string, commands: string[][], max_attempts = 1) => ({
  job_id,
  job_type: 'test_runner_task',
  payload: { commands, timeout_sec: 30 },
  max_attempts,
});

async function enqueueFile(specs: unknown[]): Promise<void> {
  const file = join(tmp(), 'specs.json');
  writeFileSync(file, JSON.stringify(specs));
  const r = await execplane(['enqueue', '--home', home, '--file', file]);
  expect(r.code, r.stderr).toBe(0);
}

describe.skipIf(!run)('execplane ui in Chromium', () => {
  beforeAll(async () => {
    requireDist();
    home = join(tmp(), 'home');
    shots = mkdtempSync(join(tmpdir(), 'execplane-ui-screenshots-'));
    docShots = process.env.EXECPLANE_UI_SCREENSHOTS;
    if (docShots) mkdirSync(docShots, { recursive: true });
    console.warn(`ui screenshots: ${shots} (kept if a test fails)`);
    const ws = tmp();
    writeFileSync(join(ws, 'a.md'), '# A\n\nThe first file.\n');
    writeFileSync(join(ws, 'b.md'), '# B\n\nThe second file.\n');
    writeFileSync(
      join(ws, 'xss.js'),
      `console.log(${JSON.stringify(XSS_STDOUT)}); console.error(${JSON.stringify(XSS)}); process.exit(3);\n`,
    );
    // Three doc_compactor jobs and two test_runner jobs, run by a real worker.
    await enqueueFile([
      ...[1, 2, 3].map((i) => ({
        job_type: 'doc_compactor_task',
        payload: { inputs: ['a.md', 'b.md'], max_input_bytes: 65536, max_output_bytes: 4096 + i },
      })),
      { ...testRunner(ID.evidence, [['node', 'xss.js', XSS]]), meta: { [XSS]: XSS } },
      testRunner(ID.inline, [['node', '-e', `console.log(${JSON.stringify(XSS)})`]], 2),
    ]);
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
      ...UNSANDBOXED_OK,
    ]);
    expect(work.code, work.stderr).toBe(0);
    // A worker killed with SIGKILL in the middle of a command: a second worker's reaper expires the
    // lapsed lease and retries the job, and the second attempt completes.
    await enqueueFile([testRunner(ID.killed, [['sleep', '1']], 2)]);
    const ledger = planePaths(home).ledger;
    const doomed = startWorkProcess(home, ws, [
      '--lease-sec',
      '1',
      '--worker-id',
      'doomed',
      '--quiet',
      ...UNSANDBOXED_OK,
    ]);
    await waitForLedger(ledger, (evs) => evs.some((e) => e.event === 'tool_call' && e.job_id === ID.killed));
    doomed.kill('SIGKILL');
    await doomed;
    const rescue = await execplane([
      'work',
      '--home',
      home,
      '--workspace',
      ws,
      '--lease-sec',
      '1',
      '--retry-backoff-sec',
      '0.05',
      '--max-idle-sec',
      '2',
      '--worker-id',
      'rescuer',
      '--quiet',
      ...UNSANDBOXED_OK,
    ]);
    expect(rescue.code, rescue.stderr).toBe(0);
    // A job retried after a failed attempt (with heartbeats and a tool call to draw), a job whose
    // prompt looks like markup, and queued jobs for the live and action tests.
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
      await plane.enqueue({
        job_id: ID.live,
        job_type: 'agent_task',
        payload: { prompt: 'live', max_turns: 2 },
      });
    } finally {
      plane.close();
    }
    ui = await startUi(home);
    expect(ui.line).toBe(`execplane ui: ${ui.url} serving ${home} (read-only)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);

  beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

  afterAll(async () => {
    await browser?.close();
    await stopAllUis();
    if (failed) console.warn(`ui screenshots kept: ${shots}`);
    else rmSync(shots, { recursive: true, force: true });
  });

  test('the overview shows the counts `status` gives; an enqueue by the CLI shows in the counts and the tail within a second', async () => {
    const page = await open('/');
    const status = JSON.parse(
      (await execplane(['status', '--home', home, '--json', '--no-probe'])).stdout,
    ) as { counts: Record<string, number>; head: string };
    expect(status.counts).toMatchObject({ complete: 6, failed: 1, queued: 3 });
    for (const state of ['queued', 'claimed', 'running', 'complete', 'failed', 'expired', 'cancelled'])
      expect(await countOf(page, state), state).toBe(status.counts[state] ?? 0);
    expect(await page.locator('#head').innerText()).toBe(status.head);
    expect(await page.locator('#tail li[data-seq]').count()).toBeGreaterThan(5);
    expect(await page.locator('#throughput svg').count()).toBe(1);
    expect(await page.locator('#workers').count()).toBe(1);
    expect(await page.locator('#kill-switch').getAttribute('data-on')).toBe('false');
    await expect.poll(() => page.locator('#live-state').getAttribute('data-state')).toBe('live');
    await shot(page, 'overview', true);

    const enq = await execplane(['enqueue', '--home', home, '--file', '-', '--json'], {
      input: JSON.stringify({ job_type: 'agent_task', payload: { prompt: 'live', max_turns: 2 } }),
    });
    expect(enq.code, enq.stderr).toBe(0);
    const after = Date.now();
    await untilText(page, '[data-count="queued"]', String(status.counts.queued! + 1), 1000);
    expect(Date.now() - after).toBeLessThanOrEqual(1000);
    const seq = Number(status.head.split('@')[1]) + 1;
    expect(await page.locator('#tail li[data-seq]').first().getAttribute('data-seq')).toBe(String(seq));
    expect(await page.locator('#head').innerText()).toMatch(new RegExp(`@${seq}$`));
    await shot(page, 'overview-live');
    await page.close();
  });

  test('the jobs list filters through the URL; a job enqueued by the CLI appears in an open list within a second', async () => {
    const page = await open('/jobs');
    await shot(page, 'jobs', true);
    await page.selectOption('#filters select[name="state"]', 'complete');
    await Promise.all([page.waitForURL(/state=complete/), page.click('#filters button[type="submit"]')]);
    expect(await attrs(page.locator('#jobs tbody tr[data-job-id]'), 'data-state')).toEqual(
      Array<string>(6).fill('complete'),
    );
    await page.selectOption('#filters select[name="type"]', 'test_runner_task');
    await Promise.all([
      page.waitForURL(/type=test_runner_task/),
      page.click('#filters button[type="submit"]'),
    ]);
    expect(new URL(page.url()).searchParams.get('state')).toBe('complete');
    expect(new Set(await attrs(page.locator('#jobs tbody tr[data-job-id]'), 'data-job-id'))).toEqual(
      new Set([ID.evidence, ID.killed]),
    );
    await page.click(`#jobs tbody tr[data-job-id="${ID.killed}"] a[href="/jobs/${ID.killed}"]`);
    await page.waitForURL(`${ui.url}jobs/${ID.killed}`);
    await page.close();

    const queued = await open('/jobs?state=queued');
    expect(await queued.locator(`#jobs tbody tr[data-job-id="${ID.listed}"]`).count()).toBe(0);
    await expect.poll(() => queued.locator('#live-state').getAttribute('data-state')).toBe('live');
    const enq = await execplane(['enqueue', '--home', home, '--file', '-'], {
      input: JSON.stringify({
        job_id: ID.listed,
        job_type: 'agent_task',
        payload: { prompt: 'l', max_turns: 2 },
      }),
    });
    expect(enq.code, enq.stderr).toBe(0);
    await queued.waitForSelector(`#jobs tbody tr[data-job-id="${ID.listed}"]`, { timeout: 1000 });
    expect(await queued.locator('#jobs tbody tr[data-job-id]').first().getAttribute('data-job-id')).toBe(
      ID.listed,
    );
    await queued.close();
  });

  test('a job whose worker was killed with SIGKILL mid-command: an expired lane, then a complete one', async () => {
    const page = await open(`/jobs/${ID.killed}`);
    const lanes = page.locator('#timeline svg.timeline g.lane');
    expect([await attrs(lanes, 'data-attempt'), await attrs(lanes, 'data-outcome')]).toEqual([
      ['1', '2'],
      ['expired', 'complete'],
    ]);
    expect(await page.locator('#job-state').innerText()).toBe('complete');
    const events = await page.locator('#events tbody tr[data-seq] td:nth-child(3)').allInnerTexts();
    expect(events).toEqual(expect.arrayContaining(['expire', 'retry', 'complete']));
    await shot(page, 'job', true);
    await page.close();
  });

  test('a retried job shows one lane per attempt, each coloured by how it ended', async () => {
    const page = await open(`/jobs/${jobs.retried}`);
    const lanes = page.locator('#timeline svg.timeline g.lane');
    expect([await attrs(lanes, 'data-attempt'), await attrs(lanes, 'data-outcome')]).toEqual([
      ['1', '2'],
      ['failed', 'complete'],
    ]);
    expect(await page.locator('#timeline .tick.heartbeat').count()).toBe(2);
    expect(await page.locator('#timeline .point.tool_call').count()).toBe(1);
    expect(await page.locator('#events tbody tr[data-seq]').count()).toBe(11);
    await shot(page, 'job-retried');
    await page.close();
  });

  test("a job's page follows the ledger: cancelled by the CLI, it says so within a second", async () => {
    const page = await open(`/jobs/${ID.live}`);
    expect(await page.locator('#job-state').innerText()).toBe('queued');
    await expect.poll(() => page.locator('#live-state').getAttribute('data-state')).toBe('live');
    const r = await execplane(['cancel', '--home', home, ID.live, '--reason', XSS_REASON]);
    expect(r.code, r.stderr).toBe(0);
    await untilText(page, '#job-state', 'cancelled', 1000);
    await untilText(page, '#cancel-reason', `cancelled: ${XSS_REASON}`, 1000);
    expect(await xssRan(page)).toBeUndefined();
    await page.close();
  });

  test('user data that looks like markup renders as text: a prompt, meta, an error, a search, evidence', async () => {
    const spec = await open(`/jobs/${jobs.xss}`);
    expect(await spec.locator('#spec pre').innerText()).toContain(JSON.stringify(XSS));
    expect(await spec.locator('#events tbody tr[data-seq] pre.line').first().textContent()).toContain(
      JSON.stringify(XSS).slice(1, -1),
    );
    expect(await xssRan(spec)).toBeUndefined();
    expect(await spec.locator('img').count()).toBe(0);
    await spec.close();

    const refused = await open(`/jobs/${ID.inline}`);
    expect(await refused.locator('#job-state').innerText()).toBe('failed');
    expect(await refused.locator('#job-error').innerText()).toMatch(
      /^E_INLINE_CODE: .*<script>window\.__xss=1/,
    );
    expect(await xssRan(refused)).toBeUndefined();
    await shot(refused, 'job-failed');
    await refused.close();

    const search = await open(`/jobs?q=${encodeURIComponent(XSS)}`);
    expect(await search.locator('#filters input[name="q"]').inputValue()).toBe(XSS);
    expect(await search.locator('#jobs tbody tr[data-job-id]').count()).toBe(0);
    expect(await xssRan(search)).toBeUndefined();
    await search.close();

    // Its own command's output (stdout, stderr) with markup, the meta's keys and values.
    const page = await open(`/jobs/${ID.evidence}`);
    const specText = await page.locator('#spec pre').innerText();
    expect(specText.split(JSON.stringify(XSS)).length - 1).toBe(3); // meta key, meta value, argv
    const rows = page.locator('#evidence tbody tr');
    expect(await rows.locator('td:first-child').allInnerTexts()).toEqual(
      expect.arrayContaining([
        'attempt-1/run-header.json',
        'attempt-1/call-01.stdout',
        'attempt-1/call-01.stderr',
      ]),
    );
    for (const sha of await attrs(rows.locator('td:nth-child(3) code'), 'title'))
      expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.locator('#evidence .bad').count()).toBe(0);
    await shot(page, 'job-evidence');
    const link = page.locator(`#evidence a[href="/jobs/${ID.evidence}/evidence/attempt-1/call-01.stdout"]`);
    const [res] = await Promise.all([page.waitForNavigation(), link.click()]);
    expect(res?.headers()['content-type']).toMatch(/^text\/plain/);
    expect((await page.locator('body').innerText()).trim()).toBe(XSS_STDOUT);
    expect(await xssRan(page)).toBeUndefined();
    await page.close();
  });

  test('audit runs from the page and says the plane is intact, with no findings; the machine is drawn', async () => {
    const page = await open('/audit');
    expect(await page.locator('#machine svg g[data-state]').count()).toBe(7);
    expect(await page.locator('form#run-audit').getAttribute('method')).toBe('post');
    await page.click('#run-audit button');
    await page.waitForSelector('#audit-result[data-audit-ok="true"]', { timeout: 20_000 });
    expect(await page.locator('#findings li').count()).toBe(0);
    await shot(page, 'audit', true);
    await page.close();
  });

  test('read-only: no action forms on any page, and a POST of one is refused, even with a valid token', async () => {
    for (const path of [
      '/',
      '/jobs',
      `/jobs/${jobs.queued}`,
      `/jobs/${ID.inline}`,
      `/jobs/${jobs.retried}`,
      '/audit',
    ]) {
      const page = await open(path);
      expect(await page.locator('form[data-action]').count(), path).toBe(0);
      if (path === '/audit') {
        // The audit form's token is the server's: actions are still off.
        const token = await page.locator('#run-audit input[name="token"]').inputValue();
        const r = await http(`${ui.url}jobs/${jobs.queued}/cancel`, {
          method: 'POST',
          headers: form,
          body: `token=${token}`,
        });
        expect(r.status).toBe(403);
      }
      await page.close();
    }
    const r = await http(`${ui.url}jobs/${jobs.queued}/cancel`, {
      method: 'POST',
      headers: form,
      body: 'token=x',
    });
    expect(r.status).toBe(403);
    const shown = JSON.parse((await execplane(['show', '--home', home, jobs.queued, '--json'])).stdout) as {
      job: { state: string };
    };
    expect(shown.job.state).toBe('queued');
  });

  test('a foreign Host is refused (421, one line); localhost is served', async () => {
    const foreign = await http(ui.url, { headers: { Host: `evil.example:${ui.port}` } });
    expect(foreign.status).toBe(421);
    expect(foreign.body).toMatch(/^[^\n]+\n?$/);
    expect(foreign.body).not.toContain(home);
    expect(
      (await http(`${ui.url}jobs/${jobs.queued}`, { headers: { Host: `evil.example:${ui.port}` } })).status,
    ).toBe(421);
    expect((await http(ui.url, { headers: { Host: `localhost:${ui.port}` } })).status).toBe(200);
  });

  test('with --allow-actions: cancel, retry and the kill switch from their forms; no token or a foreign Origin is 403', async () => {
    const actions = await startUi(home, ['--allow-actions']);
    expect(actions.line).toBe(`execplane ui: ${actions.url} serving ${home} (actions allowed)`);
    const page = await open(`/jobs/${jobs.queued}`, actions);
    expect(await page.locator('form[data-action="retry"]').count()).toBe(0);
    // A POST from the page itself without the token, and with it from a foreign Origin.
    const url = `${actions.url}jobs/${jobs.queued}/cancel`;
    const noToken = await page.evaluate(
      (u) => fetch(u, { method: 'POST', body: new URLSearchParams({ reason: 'x' }) }).then((r) => r.status),
      url,
    );
    expect(noToken).toBe(403);
    const token = await page.locator('form[data-action="cancel"] input[name="token"]').inputValue();
    const foreign = await http(url, {
      method: 'POST',
      headers: { ...form, Origin: 'http://evil.example' },
      body: `token=${token}`,
    });
    expect(foreign.status).toBe(403);
    expect(await page.locator('#job-state').innerText()).toBe('queued');

    await page.fill('form[data-action="cancel"] input[name="reason"]', XSS_REASON);
    await Promise.all([
      page.waitForURL(`${actions.url}jobs/${jobs.queued}`),
      page.click('form[data-action="cancel"] button'),
    ]);
    expect(await page.locator('#job-state').innerText()).toBe('cancelled');
    expect(await page.locator('#cancel-reason').innerText()).toBe(`cancelled: ${XSS_REASON}`);
    expect(await page.locator('form[data-action]').count()).toBe(0);
    expect(await xssRan(page)).toBeUndefined();
    await shot(page, 'job-cancelled');
    await page.close();

    const failedJob = await open(`/jobs/${ID.inline}`, actions);
    expect(await failedJob.locator('form[data-action="cancel"]').count()).toBe(0);
    await Promise.all([
      failedJob.waitForURL(`${actions.url}jobs/${ID.inline}`),
      failedJob.click('form[data-action="retry"] button'),
    ]);
    expect(await failedJob.locator('#job-state').innerText()).toBe('queued');
    expect(await failedJob.locator('form[data-action="cancel"]').count()).toBe(1);
    await failedJob.close();

    const overview = await open('/', actions);
    await overview.fill('form[data-action="kill-switch"] input[name="reason"]', XSS_REASON);
    await Promise.all([
      overview.waitForURL(actions.url),
      overview.click('form[data-action="kill-switch"] button'),
    ]);
    expect(await overview.locator('#kill-switch').getAttribute('data-on')).toBe('true');
    expect(await overview.locator('#kill-switch').innerText()).toContain(XSS_REASON);
    expect(await xssRan(overview)).toBeUndefined();
    await shot(overview, 'overview-kill-switch');
    await Promise.all([
      overview.waitForURL(actions.url),
      overview.click('form[data-action="kill-switch"] button'),
    ]);
    expect(await overview.locator('#kill-switch').getAttribute('data-on')).toBe('false');
    await overview.close();
    await actions.stop();
  });

  test('every request stayed on the server, under a strict Content-Security-Policy no page tripped', async () => {
    const res = await fetch(ui.url);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(offOrigin).toEqual([]);
    // (The 403s the tests provoke are logged as failed loads; those are not the page's errors.)
    expect(consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
