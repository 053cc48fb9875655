/**
 * What the model lane costs on top of the model (docs/model-lane.md, "What it costs"), against an
 * OpenAI-compatible server on 127.0.0.1 that answers at once (tests/helpers/fake-openai.ts), so
 * what is left is ours:
 *
 * - model_turn: one turn through our client (request body, the `openai` SDK, our retry wrapper,
 *   the checks on the reply, the transcript's copy of both bodies) beside the same POST made
 *   with bare fetch + JSON.parse — and beside the peer, the SDK called the way its README does.
 * - model_tool_call: what one admitted tool call adds to the loop inside a real `execplane work`
 *   process: the median gap between the model's requests when each turn runs one read_file
 *   (validated arguments, a fsync'd `tool_call` event, the read, the evidence file), minus the
 *   same gap when each turn's call is refused (not in allowed_tools: never reaches the ledger).
 *   Its limit is the one thing an admitted call cannot skip: one line written and fdatasync'd.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openAiClient } from '../../../src/model/openai-client.js';
import { builtinTools } from '../../../src/model/tools/index.js';
import type { ToolDefinition } from '../../../src/model/types.js';
import { prepareSandbox } from '../../../src/sandbox/prepare.js';
import { completion, FAKE_MODEL, startFakeOpenAi, type FakeRequest } from '../../helpers/fake-openai.js';
import { runCli } from '../child.js';
import type { BenchContext } from '../context.js';
import { entry, spread, type Entry } from '../stats.js';

const CHAT = '/v1/chat/completions';

export async function modelLoopFigure(ctx: BenchContext): Promise<Entry[]> {
  return [...(await turnRows(ctx)), ...(await toolCallRows(ctx))];
}

async function turnRows(ctx: BenchContext): Promise<Entry[]> {
  const runs = ctx.quick ? 60 : 300;
  const reply = completion({
    tool_calls: [{ name: 'read_file', arguments: '{"path":"notes.txt"}' }],
    usage: { prompt_tokens: 120, completion_tokens: 12 },
  });
  const server = await startFakeOpenAi(() => ({ json: reply }));
  try {
    const sandbox = await prepareSandbox({ home: ctx.dir('model-turn-home') });
    const tools: ToolDefinition[] = builtinTools({ sandbox }).map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
    const messages = [
      { role: 'system' as const, content: 'You are a careful assistant working in a repository.' },
      { role: 'user' as const, content: 'What is in notes.txt?' },
    ];
    const ours = openAiClient(
      { name: 'bench', base_url: server.url, model: FAKE_MODEL, timeout_sec: 10, max_retries: 0 },
      {},
    );
    const { OpenAI } = await import('openai');
    const sdk = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
    const body = JSON.stringify({ model: FAKE_MODEL, messages, tools });
    const signal = new AbortController().signal;
    const timed = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    const viaOurs = () => ours.chat({ messages, tools, signal });
    const viaSdk = () =>
      sdk.chat.completions.create({
        model: FAKE_MODEL,
        messages,
        tools,
      });
    const viaFetch = async () => {
      const res = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 200) throw new Error(`the fake server answered ${res.status}`);
      return res.json();
    };
    for (let i = 0; i < 10; i++) {
      await viaOurs(); // warm up: the SDK's lazy import, the JIT, keep-alive sockets
      await viaSdk();
      await viaFetch();
    }
    const t = { ours: [] as number[], sdk: [] as number[], fetch: [] as number[] };
    for (let i = 0; i < runs; i++) {
      // interleaved, so all three see the same machine
      t.ours.push(await timed(viaOurs));
      t.sdk.push(await timed(viaSdk));
      t.fetch.push(await timed(viaFetch));
    }
    const limit = spread(t.fetch);
    ctx.log(
      `model turn: ours ${spread(t.ours).median.toFixed(2)} ms, sdk ${spread(t.sdk).median.toFixed(2)} ms, fetch ${limit.median.toFixed(2)} ms`,
    );
    const limitIs = 'the same POST with bare fetch + JSON.parse';
    return [
      entry({
        name: 'model_turn',
        figure: `one model turn through our client (5 tools offered, server answers at once); median of ${runs}`,
        unit: 'ms',
        better: 'lower',
        ours: spread(t.ours),
        limit,
        limitIs,
      }),
      entry({
        name: 'model_turn_sdk',
        figure: '… the peer: the `openai` SDK called directly, no checks, no transcript',
        unit: 'ms',
        better: 'lower',
        ours: spread(t.sdk),
        limit,
        limitIs,
      }),
    ];
  } finally {
    await server.close();
  }
}

/** Per-turn gaps (ms) between the model requests of one job, each turn asking for one `tool` call. */
async function loopGaps(ctx: BenchContext, jobs: number, calls: number, tool: string): Promise<number[]> {
  const root = ctx.dir(`model-calls-${tool}`);
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  const server = await startFakeOpenAi((req: FakeRequest) => {
    const messages = (req.body as { messages?: { role: string }[] } | undefined)?.messages ?? [];
    const done = messages.filter((m) => m.role === 'tool').length;
    return {
      json:
        done < calls
          ? completion({ tool_calls: [{ name: tool, arguments: '{"path":"notes.txt"}' }] })
          : completion({ content: 'notes.txt says the lease is fenced.' }),
    };
  });
  try {
    mkdirSync(home, { recursive: true });
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, 'notes.txt'), 'the lease is fenced\n');
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        models: [{ name: 'bench', base_url: server.url, model: FAKE_MODEL, timeout_sec: 10, max_retries: 0 }],
        default_model: 'bench',
      }),
    );
    const spec = {
      job_type: 'agent_task',
      budgets: {
        max_wall_time_sec: 120,
        max_tool_calls: calls,
        max_output_bytes: 1 << 20,
        max_concurrency_slots: 1,
      },
      tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: ['read_file'] },
      payload: { prompt: 'What is in notes.txt?', max_turns: calls + 1 },
      max_attempts: 1,
    };
    const specFile = join(root, 'spec.json');
    writeFileSync(specFile, JSON.stringify(spec));
    const gaps: number[] = [];
    for (let j = 0; j < jobs; j++) {
      await runCli(['enqueue', '--home', home, '--file', specFile]);
      const before = server.requests.length;
      const work = await runCli(['work', '--once', '--home', home, '--workspace', workspace, '--quiet'], {
        cwd: workspace,
      });
      const turns = server.requests.slice(before).filter((r) => r.path === CHAT);
      if (turns.length !== calls + 1)
        throw new Error(`expected ${calls + 1} model turns, the server saw ${turns.length}: ${work.stderr}`);
      for (let i = 1; i < turns.length; i++) gaps.push(turns[i]!.at - turns[i - 1]!.at);
    }
    await runCli(['audit', '--home', home]); // exits non-zero (and throws) on any finding
    return gaps;
  } finally {
    await server.close();
  }
}

/** One short line appended and fdatasync'd, ms: the floor of every ledger append. */
function fsyncFloor(dir: string, n: number): number[] {
  const fd = openSync(join(dir, 'floor.jsonl'), 'a');
  const line = `${JSON.stringify({ v: 1, seq: 0, event: 'tool_call', pad: 'x'.repeat(360) })}\n`;
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      writeSync(fd, line);
      fdatasyncSync(fd);
      out.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

async function toolCallRows(ctx: BenchContext): Promise<Entry[]> {
  const jobs = ctx.quick ? 2 : 6;
  const calls = 40;
  const admitted: number[] = [];
  const refused: number[] = [];
  for (let j = 0; j < jobs; j++) {
    admitted.push(...(await loopGaps(ctx, 1, calls, 'read_file'))); // alternated, same machine
    refused.push(...(await loopGaps(ctx, 1, calls, 'write_file')));
  }
  const a = spread(admitted);
  const r = spread(refused);
  // The per-call figure is a difference of medians; its spread is the admitted gaps' spread moved by the same offset.
  const perCall = a.median - r.median;
  const ours = { ...a, median: perCall, min: a.min - r.median, max: a.max - r.median };
  const floor = spread(fsyncFloor(ctx.dir('model-floor'), jobs * calls));
  ctx.log(
    `model tool call: admitted gap ${a.median.toFixed(2)} ms, refused gap ${r.median.toFixed(2)} ms, ` +
      `fsync floor ${floor.median.toFixed(2)} ms`,
  );
  return [
    entry({
      name: 'model_tool_call',
      figure: `one admitted read_file call in \`execplane work\`, over a refused one; ${jobs} jobs × ${calls} turns`,
      unit: 'ms',
      better: 'lower',
      ours,
      limit: floor,
      limitIs: 'one ledger line written + fdatasync',
      note: `loop gap per turn: ${a.median.toFixed(2)} ms with the call run, ${r.median.toFixed(2)} ms with it refused`,
    }),
  ];
}
