/**
 * The loop's gate (src/model/loop.ts, M1–M2) for any scripted model: random turns of tool calls —
 * allowed or not, existing or not, with good, broken or schema-violating arguments, within
 * max_tool_calls or past it, answering or never answering — through a real worker, the real
 * `openai` client and a fake OpenAI server on 127.0.0.1. Whatever the model asks, the ledger never
 * shows a call outside allowed_tools or past max_tool_calls, every call that ran is in the ledger
 * in the transcript's order with the same argument hashes, and audit finds nothing.
 */
import fc from 'fast-check';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import { agentHandler } from '../src/jobs/agent.js';
import { planePaths } from '../src/ledger/paths.js';
import { prepareSandbox } from '../src/sandbox/prepare.js';
import type { Sandbox } from '../src/sandbox/sandbox.js';
import type { CompleteEvent, FailEvent, LedgerEvent, ToolCallEvent } from '../src/schema/types.generated.js';
import { completion, startFakeOpenAi, type FakeOpenAi, type Reply } from './helpers/fake-openai.js';
import { useTmpDirs } from './helpers/tmp.js';
import { enqueueAll, startWorker, waitForLedger } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-loop-prop-');

const TOOLS = [
  'list_files',
  'read_file',
  'search_workspace',
  'write_file',
  'run_command',
  'mcp__ghost__x',
  'bogus',
];
const GOOD_ARGS: Record<string, unknown> = {
  list_files: {},
  read_file: { path: 'a.txt' },
  search_workspace: { query: 'lease' },
  write_file: { path: 'out.txt', content: 'x', mode: 'overwrite' },
  run_command: { argv: ['true'] },
  mcp__ghost__x: {},
  bogus: {},
};

const callArb = fc.record({
  tool: fc.constantFrom(...TOOLS),
  args: fc.constantFrom('good', 'good', 'good', 'broken', 'schema'),
});
const turnArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant('answer' as const) },
  { weight: 4, arbitrary: fc.array(callArb, { minLength: 1, maxLength: 3 }) },
);
const caseArb = fc.record({
  allowed: fc.subarray(TOOLS.slice(0, 6)),
  maxToolCalls: fc.integer({ min: 0, max: 4 }),
  maxTurns: fc.integer({ min: 1, max: 5 }),
  turns: fc.array(turnArb, { minLength: 1, maxLength: 6 }),
});
type Case = ReturnType<typeof caseArb.generate>['value'];

function replyFor(c: Case, n: number): Reply {
  const turn = c.turns[n];
  if (turn === undefined || turn === 'answer')
    return { json: completion({ content: `answer after ${n} turns` }) };
  return {
    json: completion({
      finish_reason: 'tool_calls',
      tool_calls: turn.map((call, i) => ({
        id: `c${n}_${i}`,
        name: call.tool,
        arguments:
          call.args === 'broken'
            ? '{"path": "a.t'
            : JSON.stringify(call.args === 'schema' ? { nonsense: [1] } : GOOD_ARGS[call.tool]),
      })),
      usage: { prompt_tokens: 10, completion_tokens: 2 },
    }),
  };
}

let server: FakeOpenAi;
let current: Case | undefined;
let turnOfJob = 0;
let sandbox: Sandbox;
beforeAll(async () => {
  server = await startFakeOpenAi(() => replyFor(current!, turnOfJob++));
  sandbox = await prepareSandbox({ home: join(tmp(), 'probe-home') });
});
afterAll(async () => {
  await server.close();
});

describe('the agent loop, for any scripted model', () => {
  it('M1/M2: no call outside allowed_tools or past max_tool_calls reaches the ledger; every call that ran is there, first', async () => {
    const seen = { ran: 0, refused: 0, budget: 0, turns: 0, answered: 0 };
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        current = c;
        turnOfJob = 0;
        const root = tmp();
        const home = join(root, 'home');
        const workspace = join(root, 'ws');
        mkdirSync(workspace, { recursive: true });
        writeFileSync(join(workspace, 'a.txt'), 'the lease is fenced\n');
        mkdirSync(home, { recursive: true });
        const config = {
          models: [{ name: 'fake', base_url: server.url, model: 'm', timeout_sec: 5, max_retries: 0 }],
          default_model: 'fake',
        };
        writeFileSync(planePaths(home).config, JSON.stringify(config));
        const plane = await enqueueAll(home, [
          {
            job_type: 'agent_task',
            budgets: {
              max_wall_time_sec: 30,
              max_tool_calls: c.maxToolCalls,
              max_output_bytes: 65_536,
              max_concurrency_slots: 1,
            },
            tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: c.allowed },
            payload: { prompt: 'go', max_turns: c.maxTurns },
            max_attempts: 1,
          },
        ]);
        plane.close();
        const { worker, exit } = startWorker(home, agentHandler({ config, sandbox }), { workspace });
        let events: LedgerEvent[];
        try {
          events = await waitForLedger(planePaths(home).ledger, (evs) =>
            evs.some((e) => e.event === 'complete' || e.event === 'fail'),
          );
        } finally {
          worker.shutdown(1);
          await exit;
        }
        const calls = events.filter((e): e is ToolCallEvent => e.event === 'tool_call');
        const end = events.find((e) => e.event === 'complete' || e.event === 'fail') as
          CompleteEvent | FailEvent;

        // The gate: nothing outside allowed_tools, nothing past the budget, all the model's.
        for (const call of calls) {
          expect(c.allowed).toContain(call.tool);
          expect(call.requested_by).toBe('model');
        }
        expect(calls.length).toBeLessThanOrEqual(c.maxToolCalls);
        expect(end.usage.tool_calls).toBe(calls.length);
        // Tools that do not exist here, or need what the policy denies, never ran.
        expect(calls.filter((e) => ['bogus', 'mcp__ghost__x', 'run_command'].includes(e.tool))).toEqual([]);

        // The transcript's calls that ran are the ledger's, in order, with the same hashes.
        const dir = join(planePaths(home).evidence, end.job_id, 'attempt-1');
        const transcript = JSON.parse(readFileSync(join(dir, 'transcript.json'), 'utf8')) as {
          calls: { name: string; args_sha256?: string; decision: string }[];
        };
        const ran = transcript.calls.filter((t) => t.decision === 'ran');
        expect(ran.map((t) => [t.name, t.args_sha256])).toEqual(calls.map((e) => [e.tool, e.args_sha256]));

        if (end.event === 'fail') {
          expect(['E_BUDGET_TOOL_CALLS', 'E_BUDGET_TURNS']).toContain(end.error.code);
          if (end.error.code === 'E_BUDGET_TOOL_CALLS') {
            expect(calls.length).toBe(c.maxToolCalls);
            seen.budget++;
          } else seen.turns++;
        } else seen.answered++;
        seen.ran += calls.length;
        seen.refused += transcript.calls.length - ran.length;

        const report = auditLedgerFile(planePaths(home).ledger, { evidenceDir: planePaths(home).evidence });
        expect(report.findings).toEqual([]);
      }),
      {
        numRuns: 100,
        // Whatever the seed, the counters below see each case: a call that ran, one refused and
        // the budget ending the attempt (the first), and an answer (the second).
        examples: [
          [
            {
              allowed: ['read_file'],
              maxToolCalls: 1,
              maxTurns: 5,
              turns: [
                [
                  { tool: 'read_file', args: 'good' },
                  { tool: 'bogus', args: 'good' },
                ],
                [{ tool: 'read_file', args: 'good' }],
              ],
            },
          ],
          [{ allowed: ['list_files'], maxToolCalls: 2, maxTurns: 3, turns: ['answer'] }],
        ],
      },
    );
    // Not vacuous: calls ran and were refused, and each way of ending happened.
    expect(seen.ran).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.answered).toBeGreaterThan(0);
    expect(seen.budget + seen.turns).toBeGreaterThan(0);
  }, 240_000);
});
