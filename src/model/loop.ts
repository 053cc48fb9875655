/**
 * The agent loop (docs/model-lane.md): model turn → the tools it asks for, each gated → their
 * results back to the model → next turn, until the model answers, max_turns runs out, or a
 * budget ends the attempt. Ours, not an SDK's tool runner, because every call must be gated
 * before it runs:
 *
 * M1. A tool runs only when its name is in the job's allowed_tools, a tool of that name exists
 *     here and the policy allows what it uses (allow_subprocess, allow_network), its arguments
 *     are complete JSON that its schema accepts, and a tool call is left in max_tool_calls. A
 *     call that fails any of these goes back to the model as a coded tool error and is counted
 *     (`refused`) — except the budget: a call past max_tool_calls ends the attempt
 *     (E_BUDGET_TOOL_CALLS). A refused call is not in the ledger: nothing ran.
 * M2. The call's `tool_call` event (requested_by "model", args_sha256 over the parsed arguments,
 *     the tool's needs) is appended and fsynced before the tool reads, writes or starts anything:
 *     the tool calls `announce` (types.ts), and the plane re-checks budget and policy there.
 * M3. Every turn (request, response, tries, usage) and every call (arguments, their SHA-256,
 *     decision, result) is in the transcript, which the handler writes whatever the outcome.
 * M4. Tokens the server reports are counted into usage.model_tokens; past max_model_tokens the
 *     attempt fails (E_BUDGET_MODEL_TOKENS) before another turn or tool runs. A model that still
 *     asks for tools after max_turns fails it with E_BUDGET_TURNS.
 */
import { canonicalJson, sha256Hex } from '../canonical.js';
import { JobError } from '../worker/errors.js';
import type { JobHandlerContext } from '../worker/types.js';
import { argsValidator, type ArgsCheck } from './tool-args.js';
import type {
  ChatMessage,
  ModelClient,
  ModelTool,
  ModelTurn,
  ToolCallMessage,
  ToolDefinition,
  ToolNeed,
  ToolResult,
} from './types.js';

/** The most of one tool result the model is sent (the transcript keeps the same, with its full size). */
export const TOOL_RESULT_MAX_BYTES = 16_384;

export interface AgentLoopOptions {
  readonly ctx: JobHandlerContext<unknown>;
  readonly client: ModelClient;
  /** Every tool this worker has for the job (built-in and MCP); the model is offered the allowed ones. */
  readonly tools: readonly ModelTool[];
  /** For a call to a tool that is not here: why, when its MCP server could not be reached. */
  readonly unavailable?: (name: string) => ToolResult | undefined;
  readonly messages: readonly ChatMessage[];
  readonly maxTurns: number;
}

/** What happened to one tool call the model asked for. */
export interface CallRecord {
  readonly turn: number;
  readonly id: string;
  readonly name: string;
  /** The arguments as the model sent them (a string of JSON, maybe not valid). */
  readonly arguments: string;
  /** SHA-256 of the canonical parsed arguments: the ledger's args_sha256 when the call ran. */
  readonly args_sha256?: string;
  /** ran: announced in the ledger, then run; refused: sent back as a tool error without running. */
  readonly decision: 'ran' | 'refused';
  readonly ok: boolean;
  readonly code?: string;
  readonly blocked_by?: string;
  readonly result: string;
  readonly result_bytes: number;
  readonly result_truncated: boolean;
  readonly duration_ms: number;
  readonly evidence?: readonly string[];
}

export interface TurnRecord {
  readonly turn: number;
  readonly duration_ms: number;
  readonly finish_reason?: string;
  readonly usage?: ModelTurn['usage'];
  readonly tries: ModelTurn['tries'];
  readonly request?: unknown;
  readonly response?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface AgentTranscript {
  readonly tools_offered: string[];
  readonly turns: TurnRecord[];
  readonly calls: CallRecord[];
  model_tokens: number;
  outcome?: { readonly kind: 'answer' | 'failed'; readonly code?: string; readonly message?: string };
}

export interface AgentAnswer {
  readonly answer: string;
  readonly finish_reason: string;
  readonly turns: number;
  readonly tool_calls: number;
  readonly refused_tool_calls: number;
}

/**
 * Runs the loop, recording into `transcript` as it goes (M3), so a failure still leaves every
 * turn and call behind. Resolves with the answer; rejects with a coded JobError or the job's
 * abort.
 */
export async function runAgentLoop(o: AgentLoopOptions, transcript: AgentTranscript): Promise<AgentAnswer> {
  const { ctx } = o;
  const policy = ctx.job.tool_policy;
  const budgets = ctx.job.budgets;
  const allowed = new Set(policy.allowed_tools);
  // Offered: allowed by name, and by the policy for what the tool uses (the plane would refuse it).
  const permits = (t: ModelTool) =>
    (!t.needs.includes('subprocess') || policy.allow_subprocess) &&
    (!t.needs.includes('network') || policy.allow_network);
  const offered = o.tools.filter((t) => allowed.has(t.name) && permits(t));
  const byName = new Map(offered.map((t) => [t.name, t]));
  const definitions: ToolDefinition[] = offered.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  transcript.tools_offered.push(...offered.map((t) => t.name));
  const validators = new Map<string, ArgsCheck>();
  const messages: ChatMessage[] = [...o.messages];
  let ran = 0;
  let refused = 0;

  try {
    for (let turn = 1; turn <= o.maxTurns; turn++) {
      const reply = await modelTurn(o.client, ctx, messages, definitions, transcript, turn);
      spendTokens(ctx, transcript, reply);
      if (reply.tool_calls.length === 0) {
        const answer = reply.content ?? '';
        transcript.outcome = { kind: 'answer' };
        return {
          answer,
          finish_reason: reply.finish_reason,
          turns: turn,
          tool_calls: ran,
          refused_tool_calls: refused,
        };
      }
      messages.push({ role: 'assistant', content: reply.content, tool_calls: reply.tool_calls });
      for (const call of reply.tool_calls) {
        const started = ctx.clock.nowMs();
        const gate = admit(call, reply.finish_reason, allowed, byName, validators, o.unavailable);
        // What the model asked for, as every record of the call starts.
        const asked = { turn, id: call.id, name: call.function.name, arguments: call.function.arguments };
        let record: Omit<CallRecord, 'result' | 'result_bytes' | 'result_truncated' | 'duration_ms'>;
        let result: ToolResult;
        if (!gate.ok) {
          refused += 1;
          result = gate.result;
          record = { ...asked, decision: 'refused', ok: false };
        } else {
          if (ran >= budgets.max_tool_calls) {
            throw new JobError(
              'E_BUDGET_TOOL_CALLS',
              `the model asked for tool call ${ran + 1} (${call.function.name}); max_tool_calls is ${budgets.max_tool_calls}`,
            );
          }
          const args_sha256 = sha256Hex(canonicalJson(gate.args));
          let announced = false;
          const scope = {
            ctx,
            index: ran + 1,
            announce: async () => {
              if (announced) throw new Error(`tool ${gate.tool.name} announced one call twice`);
              await ctx.toolCall({
                tool: gate.tool.name,
                args: gate.args,
                requested_by: 'model',
                needs: callNeeds(gate.tool, policy),
              });
              announced = true;
            },
          };
          try {
            result = await gate.tool.run(gate.args, scope);
          } catch (err) {
            // M3: a call that ends the attempt (a lost lease, the wall time, a machine fault) is
            // in the transcript too, beside its tool_call event when it had one.
            const code = (err as { code?: unknown }).code;
            transcript.calls.push({
              ...asked,
              args_sha256,
              decision: announced ? 'ran' : 'refused',
              ok: false,
              code: typeof code === 'string' || typeof code === 'number' ? String(code) : 'E_HANDLER',
              result: '',
              result_bytes: 0,
              result_truncated: false,
              duration_ms: Math.max(0, Math.round(ctx.clock.nowMs() - started)),
            });
            throw err;
          }
          if (announced) ran += 1;
          else refused += 1;
          record = { ...asked, args_sha256, decision: announced ? 'ran' : 'refused', ok: result.ok };
        }
        const text = result.ok
          ? result.content
          : JSON.stringify({
              error: {
                code: result.code,
                message: result.message,
                ...(result.blocked_by ? { blocked_by: result.blocked_by } : {}),
              },
            });
        const capped = capUtf8(text, TOOL_RESULT_MAX_BYTES);
        transcript.calls.push({
          ...record,
          ...(result.ok
            ? {}
            : { code: result.code, ...(result.blocked_by ? { blocked_by: result.blocked_by } : {}) }),
          result: capped.text,
          result_bytes: Buffer.byteLength(text),
          result_truncated: capped.truncated,
          duration_ms: Math.max(0, Math.round(ctx.clock.nowMs() - started)),
          ...(result.evidence?.length ? { evidence: result.evidence } : {}),
        });
        messages.push({ role: 'tool', tool_call_id: call.id, content: capped.text });
      }
    }
    throw new JobError(
      'E_BUDGET_TURNS',
      `the model was still asking for tools after max_turns (${o.maxTurns}) turns; raise payload.max_turns or narrow the task`,
    );
  } catch (err) {
    transcript.outcome = {
      kind: 'failed',
      code: (err as { code?: string }).code ?? 'E_HANDLER',
      message: (err as Error).message ?? String(err),
    };
    throw err;
  }
}

async function modelTurn(
  client: ModelClient,
  ctx: JobHandlerContext<unknown>,
  messages: readonly ChatMessage[],
  tools: readonly ToolDefinition[],
  transcript: AgentTranscript,
  turn: number,
): Promise<ModelTurn> {
  const started = ctx.clock.nowMs();
  try {
    // No max_tokens from the budget: max_model_tokens is the attempt's, and a cap above what the
    // server allows (prompt + max_tokens past vLLM's context, a hosted model's output limit) is a
    // 400. The budget is spent after each turn (M4) and ends the attempt there.
    const reply = await client.chat({ messages, tools, signal: ctx.signal });
    transcript.turns.push({
      turn,
      duration_ms: Math.max(0, Math.round(ctx.clock.nowMs() - started)),
      finish_reason: reply.finish_reason,
      usage: reply.usage,
      tries: reply.tries,
      request: reply.request,
      response: reply.response,
    });
    return reply;
  } catch (err) {
    const e = err as { code?: string; message?: string; tries?: ModelTurn['tries'] };
    transcript.turns.push({
      turn,
      duration_ms: Math.max(0, Math.round(ctx.clock.nowMs() - started)),
      tries: e.tries ?? [],
      error: { code: e.code ?? 'E_HANDLER', message: e.message ?? String(err) },
    });
    throw err;
  }
}

/** M4: the turn's tokens, and the budget. */
function spendTokens(ctx: JobHandlerContext<unknown>, transcript: AgentTranscript, reply: ModelTurn): void {
  const used = reply.usage ? reply.usage.prompt_tokens + reply.usage.completion_tokens : 0;
  transcript.model_tokens += used;
  ctx.addModelTokens(used);
  const max = ctx.job.budgets.max_model_tokens;
  if (max !== undefined && transcript.model_tokens > max) {
    throw new JobError(
      'E_BUDGET_MODEL_TOKENS',
      `the model turns used ${transcript.model_tokens} tokens; max_model_tokens is ${max}`,
    );
  }
}

type Gate =
  | { readonly ok: true; readonly tool: ModelTool; readonly args: Record<string, unknown> }
  | { readonly ok: false; readonly result: ToolResult };

/** M1: whether a call may run, and its parsed arguments. */
function admit(
  call: ToolCallMessage,
  finishReason: string,
  allowed: ReadonlySet<string>,
  tools: ReadonlyMap<string, ModelTool>,
  validators: Map<string, ArgsCheck>,
  unavailable: AgentLoopOptions['unavailable'],
): Gate {
  const name = call.function.name;
  const refuse = (code: string, message: string, blocked_by?: string): Gate => ({
    ok: false,
    result: { ok: false, code, message, ...(blocked_by ? { blocked_by } : {}) },
  });
  if (!allowed.has(name))
    return refuse('E_TOOL_NOT_ALLOWED', `tool ${JSON.stringify(name)} is not in this job's allowed_tools`);
  const tool = tools.get(name);
  if (!tool) {
    const why = unavailable?.(name);
    if (why && !why.ok) return refuse(why.code, why.message, why.blocked_by);
    return refuse('E_TOOL_UNKNOWN', `no tool named ${JSON.stringify(name)} is available here`);
  }
  let args: unknown;
  try {
    args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    return finishReason === 'length'
      ? refuse(
          'E_TOOL_ARGS_TRUNCATED',
          'the arguments were cut off (finish_reason "length"); send a shorter call',
        )
      : refuse('E_TOOL_ARGS_INVALID_JSON', 'the arguments are not valid JSON');
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    return refuse('E_TOOL_ARGS_INVALID', 'the arguments must be a JSON object');
  let check = validators.get(name);
  if (!check) {
    check = argsValidator(tool.parameters);
    validators.set(name, check);
  }
  const problem = check(args);
  if (problem !== undefined) return refuse('E_TOOL_ARGS_INVALID', problem);
  return { ok: true, tool, args: args as Record<string, unknown> };
}

/**
 * The `needs` a call of `tool` records: its own, plus `network` for a tool that starts processes
 * when the job allows network — its processes then have it, as execTool records for `exec`.
 */
export function callNeeds(
  tool: ModelTool,
  policy: JobHandlerContext<unknown>['job']['tool_policy'],
): ToolNeed[] {
  const needs = [...tool.needs];
  if (needs.includes('subprocess') && policy.allow_network && !needs.includes('network'))
    needs.push('network');
  return needs;
}

/** The longest prefix of `text` within `max` bytes of UTF-8, never cutting a character. */
export function capUtf8(text: string, max: number): { text: string; truncated: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return { text, truncated: false };
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: bytes.subarray(0, end).toString('utf8') + '\n[… truncated]', truncated: true };
}
