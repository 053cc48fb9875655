/**
 * The web view's server (src/ui/server.ts) over real HTTP on 127.0.0.1, on a real plane: counts
 * and pages against the replayed state, the three ways a job's lines are read (history.ts), the
 * Host check, the CSRF rules, actions through the CLI's commands, evidence paths that try to leave
 * the job's directory, and the live stream's resume rules. The browser's view of the same server
 * is tests/ui-browser.e2e.spec.ts.
 */
import { appendFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { formatHead } from '../src/audit/head.js';
import { Plane } from '../src/plane.js';
import { startUi, type UiServer } from '../src/ui/server.js';
import { execplane, requireDist } from './helpers/cli.js';
import { cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-ui-');
const servers: UiServer[] = [];

beforeAll(() => requireDist());
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

const XSS_PROMPT = '<script>window.__xss=1</script> and "><img src=x onerror=alert(1)>';
const XSS_ERROR = '<img src=x onerror=alert(2)>';

/** A plane with 60 jobs: one retried then complete (two attempts), one failed, one cancelled, one XSS-laden. */
async function buildPlane(home: string) {
  const plane = Plane.open(home);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 56; i++)
      ids.push(
        await plane.enqueue({ job_type: 'agent_task', payload: { prompt: `job ${i}`, max_turns: 2 } }),
      );
    const xss = await plane.enqueue({
      job_type: 'agent_task',
      payload: { prompt: XSS_PROMPT, max_turns: 2 },
    });
    const retried = ids[0]!;
    const failed = ids[1]!;
    const cancelled = ids[2]!;
    await plane.submit([cmd.claim(retried), cmd.start(retried), cmd.fail(retried), cmd.retry(retried)]);
    await plane.submit([
      cmd.claim(retried, 'w2'),
      cmd.start(retried, 'w2', 2),
      cmd.heartbeat(retried, 'w2', 2),
      cmd.toolCall(retried, 'w2', 2),
      cmd.complete(retried, 'w2', 2, { tool_calls: 1 }),
    ]);
    await plane.submit([
      cmd.claim(failed),
      cmd.start(failed),
      {
        type: 'fail',
        job_id: failed,
        worker_id: 'w1',
        attempt: 1,
        error: { code: 'handler_error', message: XSS_ERROR, retryable: false },
        usage: { tool_calls: 0, output_bytes: 0, wall_ms: 1 },
      },
    ]);
    await plane.submit([cmd.cancel(cancelled, 'not needed')]);
    return { ids, xss, retried, failed, cancelled };
  } finally {
    plane.close();
  }
}

async function serve(home: string, o: { allowActions?: boolean; ringSize?: number } = {}) {
  const server = await startUi({
    home,
    host: '127.0.0.1',
    port: 0,
    allowActions: o.allowActions ?? false,
    pollMs: 200,
    ...(o.ringSize ? { ringSize: o.ringSize } : {}),
  });
  servers.push(server);
  return server;
}

const count = (body: string, state: string) =>
  Number(new RegExp(`data-count="${state}">(\\d+)<`).exec(body)?.[1]);
const rows = (body: string, attr: string) =>
  [...body.matchAll(new RegExp(`<tr[^>]* ${attr}="([^"]+)"`, 'g'))].map((m) => m[1]!);
const tokenOf = (body: string) => /name="token" value="([^"]+)"/.exec(body)![1]!;

function report(home: string) {
  const plane = Plane.open(home);
  try {
    return { counts: plane.report().counts, head: formatHead(plane.state.head) };
  } finally {
    plane.close();
  }
}

describe('pages', () => {
  test('the overview counts every state as replay does, and names the head', async () => {
    const home = tmp();
    await buildPlane(home);
    const ui = await serve(home);
    const page = await http(ui.url);
    expect(page.status).toBe(200);
    const { counts, head } = report(home);
    for (const [state, n] of Object.entries(counts)) expect(count(page.body, state), state).toBe(n);
    expect(page.body).toContain(`<code id="head">${head}</code>`);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });

  test('the jobs list filters by state, type and id, newest first, in pages of 50 with the filters in the URL', async () => {
    const home = tmp();
    const { ids, xss, failed } = await buildPlane(home);
    const ui = await serve(home);
    const all = [...ids, xss].reverse();
    const first = await http(`${ui.url}jobs`);
    expect(rows(first.body, 'data-job-id')).toEqual(all.slice(0, 50));
    expect(first.body).toContain('href="/jobs?page=2" rel="next"'.replace(' rel="next"', ''));
    const second = await http(`${ui.url}jobs?page=2`);
    expect(rows(second.body, 'data-job-id')).toEqual(all.slice(50));
    expect(rows((await http(`${ui.url}jobs?state=failed`)).body, 'data-job-id')).toEqual([failed]);
    expect(
      rows((await http(`${ui.url}jobs?state=queued&type=agent_task&q=${ids[30]}`)).body, 'data-job-id'),
    ).toEqual([ids[30]]);
    expect(rows((await http(`${ui.url}jobs?type=repo_index_task`)).body, 'data-job-id')).toEqual([]);
    const bad = await http(`${ui.url}jobs?state=exploded`);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('state must be one of queued, claimed');
  });

  test("a job's page: its spec, one event row per line, an error as text; user data never becomes markup", async () => {
    const home = tmp();
    const { xss, failed, retried } = await buildPlane(home);
    const ui = await serve(home);
    const x = await http(`${ui.url}jobs/${xss}`);
    expect(x.status).toBe(200);
    expect(x.body).not.toContain('<script>window.__xss');
    expect(x.body).not.toContain('<img src=x');
    expect(x.body).toContain('&lt;script&gt;window.__xss=1&lt;/script&gt;');
    const f = await http(`${ui.url}jobs/${failed}`);
    expect(f.body).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(f.body).not.toContain(XSS_ERROR);
    const r = await http(`${ui.url}jobs/${retried}`);
    expect(rows(r.body, 'data-seq')).toHaveLength(10); // enqueue + 4 + 5
    expect(r.body).toContain('data-attempt="1"');
    expect(r.body).toContain('data-attempt="2"');
    const missing = await http(`${ui.url}jobs/job-nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('no job job-nope in this plane');
  });
});

describe("a job's lines (history.ts)", () => {
  test('after the checkpoint from the fold, before it by a scan, through jobs.index once replay wrote it, by a scan again when the index is damaged', async () => {
    const home = tmp();
    const { retried } = await buildPlane(home);
    const p = Plane.open(home);
    p.maybeCheckpoint(true);
    const late = await p.enqueue({
      job_type: 'agent_task',
      payload: { prompt: 'after the checkpoint', max_turns: 2 },
    });
    p.close();

    let ui = await serve(home);
    const lateBody = (await http(`${ui.url}jobs/${late}`)).body;
    expect(lateBody).toContain('verified by this server&#39;s fold');
    const scanned = (await http(`${ui.url}jobs/${retried}`)).body;
    expect(scanned).toMatch(/10 line\(s\) scanned from its enqueue/);
    expect(rows(scanned, 'data-seq')).toHaveLength(10);
    await ui.close();
    servers.pop();

    expect((await execplane(['replay', '--home', home])).code).toBe(0); // writes jobs.index
    ui = await serve(home);
    const indexed = (await http(`${ui.url}jobs/${retried}`)).body;
    expect(indexed).toMatch(/10 line\(s\) through jobs.index/);
    expect(rows(indexed, 'data-seq')).toHaveLength(10);

    // A damaged block: the SHA-256 check fails, and the page scans instead of trusting it.
    const indexPath = join(home, 'jobs.index');
    const bytes = readFileSync(indexPath);
    const at = bytes.indexOf(10) + 5;
    bytes[at] = bytes[at] === 0x31 ? 0x32 : 0x31;
    writeFileSync(indexPath, bytes);
    const fallback = (await http(`${ui.url}jobs/${retried}`)).body;
    expect(fallback).toMatch(/jobs.index not used/);
    expect(rows(fallback, 'data-seq')).toHaveLength(10);
  });

  test('a line of the job edited under the server is reported, not shown', async () => {
    const home = tmp();
    const { retried } = await buildPlane(home);
    const p = Plane.open(home);
    p.maybeCheckpoint(true);
    p.close();
    const ui = await serve(home);
    const ledger = join(home, 'jobs.jsonl');
    const text = readFileSync(ledger, 'utf8');
    writeFileSync(ledger, text.replace('"prompt":"job 0"', '"prompt":"job X"'));
    const page = await http(`${ui.url}jobs/${retried}`);
    expect(page.status).toBe(500);
    expect(page.body).toMatch(/fails its checks \(hash, canonical form or schema\).*execplane audit/s);
  });
});

describe('safety', () => {
  test('a request whose Host is not this server gets 421 and nothing of the plane', async () => {
    const home = tmp();
    await buildPlane(home);
    const ui = await serve(home);
    for (const host of [
      `evil.example:${ui.port}`,
      `127.0.0.1:${ui.port + 1}`,
      'localhost',
      `127.0.0.1.evil.example:${ui.port}`,
    ]) {
      const r = await http(ui.url, { headers: { Host: host } });
      expect(r.status, host).toBe(421);
      expect(r.body).not.toContain('data-count');
    }
    expect((await http(ui.url, { headers: { Host: `localhost:${ui.port}` } })).status).toBe(200);
    // No Host at all (HTTP/1.0 allows leaving it out): refused too.
    const bare = await new Promise<string>((resolve, reject) => {
      const socket = connect(ui.port, '127.0.0.1', () => socket.end('GET / HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(bare).toMatch(/^HTTP\/1\.[01] 421/);
    expect(bare).not.toContain('data-count');
    expect((await http(`${ui.url}events`, { headers: { Host: `evil.example:${ui.port}` } })).status).toBe(
      421,
    );
  });

  test('without --allow-actions: no action forms, and a POST of one is 403 with the ledger untouched', async () => {
    const home = tmp();
    const { ids } = await buildPlane(home);
    const ui = await serve(home);
    const page = await http(`${ui.url}jobs/${ids[10]}`);
    expect(page.body).not.toContain('data-action');
    expect((await http(ui.url)).body).not.toContain('data-action');
    const before = readFileSync(join(home, 'jobs.jsonl'));
    const r = await http(
      `${ui.url}jobs/${ids[10]}/cancel`,
      form({ token: tokenOf((await http(`${ui.url}audit`)).body) }),
    );
    expect(r.status).toBe(403);
    expect(r.body).toContain('--allow-actions');
    expect(readFileSync(join(home, 'jobs.jsonl')).equals(before)).toBe(true);
  });

  test('with --allow-actions: cancel and retry run as the CLI runs them; a missing token, a foreign Origin or a cross-site fetch is 403', async () => {
    const home = tmp();
    const { ids, retried } = await buildPlane(home);
    const ui = await serve(home, { allowActions: true });
    const page = await http(`${ui.url}jobs/${ids[10]}`);
    expect(page.body).toContain('data-action="cancel"');
    const token = tokenOf(page.body);
    const ledger = join(home, 'jobs.jsonl');
    const before = readFileSync(ledger);
    const url = `${ui.url}jobs/${ids[10]}/cancel`;
    expect((await http(url, form({ token: 'x'.repeat(32) }))).status).toBe(403);
    expect((await http(url, form({}))).status).toBe(403);
    const foreign = form({ token });
    expect(
      (await http(url, { ...foreign, headers: { ...foreign.headers, Origin: 'http://evil.example' } }))
        .status,
    ).toBe(403);
    expect(
      (await http(url, { ...foreign, headers: { ...foreign.headers, 'Sec-Fetch-Site': 'cross-site' } }))
        .status,
    ).toBe(403);
    expect(readFileSync(ledger).equals(before)).toBe(true);

    const ok = await http(url, form({ token, reason: 'from the view' }));
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe(`/jobs/${ids[10]}`);
    const last = JSON.parse(readFileSync(ledger, 'utf8').trimEnd().split('\n').pop()!) as {
      event: string;
      reason: string;
    };
    expect(last).toMatchObject({ event: 'cancel', reason: 'from the view' });
    expect((await http(`${ui.url}jobs/${ids[10]}`)).body).toContain(
      '<span class="st cancelled" id="job-state">cancelled</span>',
    );

    // The machine refuses a retry of a complete job, as `execplane retry` is refused: nothing appended.
    const after = readFileSync(ledger);
    const refused = await http(`${ui.url}jobs/${retried}/retry`, form({ token }));
    expect(refused.status).toBe(409);
    expect(refused.body).toContain('E_ILLEGAL_TRANSITION');
    expect(readFileSync(ledger).equals(after)).toBe(true);
  });

  test('evidence is served as text from the job’s own directory only: no .., no symlink out, capped', async () => {
    const home = tmp();
    const { failed } = await buildPlane(home);
    const dir = join(home, 'evidence', failed, 'attempt-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stdout.txt'), '<script>alert(3)</script>\n');
    writeFileSync(join(dir, 'big.txt'), 'x'.repeat(300 << 10));
    symlinkSync('/etc/passwd', join(dir, 'passwd'));
    writeFileSync(join(home, 'secret.txt'), 'secret');
    const ui = await serve(home);
    const base = `${ui.url}jobs/${failed}/evidence/`;
    const ok = await http(`${base}attempt-1/stdout.txt`);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(ok.headers['content-security-policy']).toContain('sandbox');
    expect(ok.body).toBe('<script>alert(3)</script>\n');
    const big = await http(`${base}attempt-1/big.txt`);
    expect(big.body).toContain(`the first ${256 << 10} of ${300 << 10} bytes shown`);
    for (const path of [
      'attempt-1/passwd',
      'attempt-1/..%2F..%2F..%2Fsecret.txt',
      '..%2F..%2Fsecret.txt',
      'attempt-1/%2e%2e/%2e%2e/%2e%2e/secret.txt',
      'attempt-1/missing',
    ])
      expect((await http(base + path)).status, path).toBe(404);
    const list = (await http(`${ui.url}jobs/${failed}`)).body;
    expect(list).toContain('attempt-1/stdout.txt');
    expect(list).toContain('not recorded');
  });
});

describe('live', () => {
  /** Reads the event stream until `until` holds for what arrived, or `ms` pass. */
  function stream(url: string, headers: Record<string, string>, until: (text: string) => boolean, ms = 5000) {
    return new Promise<string>((resolve, reject) => {
      let text = '';
      const req = request(url, { headers }, (res) => {
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (until(text)) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', (e) => (until(text) ? resolve(text) : reject(e)));
      setTimeout(() => {
        req.destroy();
        resolve(text);
      }, ms);
      req.end();
    });
  }

  test('an append by another process reaches a connected stream; a reconnect resumes after its Last-Event-ID, or is told to reload when the ring has moved on', async () => {
    const home = tmp();
    await buildPlane(home);
    const ui = await serve(home, { ringSize: 20 });
    const head = report(home).head;
    const seq = Number(head.split('@')[1]);
    const arrived = stream(`${ui.url}events?since=${seq}`, {}, (t) => t.includes(`id: ${seq + 1}\n`));
    await new Promise((r) => setTimeout(r, 300));
    expect(
      (
        await execplane(['enqueue', '--home', home, '--file', '-'], {
          input: JSON.stringify({ job_type: 'agent_task', payload: { prompt: 'live', max_turns: 2 } }),
        })
      ).code,
    ).toBe(0);
    const text = await arrived;
    expect(text).toContain(`id: ${seq + 1}\nevent: ledger\n`);
    expect(text).toMatch(/"event":"enqueue"/);

    const resumed = await stream(`${ui.url}events`, { 'Last-Event-ID': String(seq - 2) }, (t) =>
      t.includes(`id: ${seq + 1}\n`),
    );
    const data = JSON.parse(/event: ledger\ndata: (.*)\n/.exec(resumed)![1]!) as {
      events: { seq: number }[];
    };
    expect(data.events.map((e) => e.seq)).toEqual([seq - 1, seq, seq + 1]);

    const reset = await stream(`${ui.url}events`, { 'Last-Event-ID': '1' }, (t) =>
      t.includes('event: reset'),
    );
    expect(reset).toContain('event: reset');
  });

  test('audit runs on request in its own process and its verdict shows on the page', async () => {
    const home = tmp();
    await buildPlane(home);
    const ui = await serve(home);
    const page = await http(`${ui.url}audit`);
    expect(page.body).toContain('data-audit-state="none"');
    expect(page.body).toMatch(/<svg\s+class="machine"[\s\S]*?aria-label="the job machine: 7 states/);
    const posted = await http(`${ui.url}audit`, form({ token: tokenOf(page.body) }));
    expect(posted.status).toBe(303);
    let body = '';
    for (let i = 0; i < 100 && !body.includes('data-audit-state="done"'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await http(`${ui.url}audit`)).body;
    }
    expect(body).toContain('data-audit-ok="true"');
    // A broken line: the next audit run says so and names it.
    appendFileSync(join(home, 'jobs.jsonl'), '{"not":"a ledger line"}\n');
    await http(`${ui.url}audit`, form({ token: tokenOf(body) }));
    for (let i = 0; i < 100 && !/data-audit-ok="false"|did not finish/.test(body); i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await http(`${ui.url}audit`)).body;
    }
    expect(body).toContain('data-audit-ok="false"');
    expect(body).toMatch(/<ol id="findings">/);
  });
});
