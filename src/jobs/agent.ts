/**
 * agent_task: a model works through the prompt with tools (docs/model-lane.md). The handler
 * resolves the job's model (payload.model, else config.json's default_model, else the offline
 * `stub`), gathers the tools this worker has for it — the built-in ones and, for the MCP
 * servers its allowed_tools name, those servers' tools, started inside the job's sandbox — and
 * runs the gated loop (src/model/loop.ts). transcript.json records every turn and call,
 * whatever the outcome; the answer's bytes count as output.
 */
import { sha256Hex } from '../canonical.js';
import { apiKeyOf, resolveModel } from '../model/endpoints.js';
import { runAgentLoop, type AgentTranscript } from '../model/loop.js';
import { mcpServersWanted, openMcpServers, type McpProblem, type McpSessions } from '../model/mcp.js';
import { openAiClient, redactor } from '../model/openai-client.js';
import { stubClient } from '../model/stub-client.js';
import { builtinTools } from '../model/tools/index.js';
import type { ChatMessage, ModelClient, ModelFacts } from '../model/types.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { PlaneConfig } from '../schema/types.generated.js';
import type { AgentPayload } from '../schema/types.generated.js';
import type { JobHandler } from '../worker/types.js';

export interface AgentHandlerOptions {
  readonly config: PlaneConfig;
  readonly sandbox: Sandbox;
}

/** The model a job runs with here, or why none (an unknown name fails the job: model_not_configured). */
export function agentModel(
  config: PlaneConfig,
  requested: string | undefined,
  env: Sandbox['env'],
): ModelClient {
  const resolved = resolveModel(config, requested);
  return resolved.kind === 'stub' ? stubClient() : openAiClient(resolved.endpoint, env);
}

/** The run header's model facts for a job (docs/spec.md §7: model mode and endpoint). */
export function agentModelFacts(
  config: PlaneConfig,
  requested: string | undefined,
): ModelFacts | { mode: 'unknown'; name: string } {
  try {
    const r = resolveModel(config, requested);
    return r.kind === 'stub'
      ? stubClient().facts
      : { mode: 'live', name: r.endpoint.name, model: r.endpoint.model, endpoint: r.endpoint.base_url };
  } catch {
    return { mode: 'unknown', name: requested ?? String(config.default_model) };
  }
}

export function agentHandler(options: AgentHandlerOptions): JobHandler<AgentPayload> {
  const { config, sandbox } = options;
  const builtins = builtinTools({ sandbox });
  return async (ctx) => {
    const job = ctx.job;
    const p = job.payload;
    const messages: ChatMessage[] = [
      ...(p.system !== undefined ? [{ role: 'system' as const, content: p.system }] : []),
      { role: 'user', content: p.prompt },
    ];
    const transcript: AgentTranscript = { tools_offered: [], turns: [], calls: [], model_tokens: 0 };
    let client: ModelClient | undefined;
    let mcp: McpSessions | undefined;
    try {
      client = agentModel(config, p.model, sandbox.env);
      const wanted = mcpServersWanted(job.tool_policy.allowed_tools);
      if (wanted.length)
        mcp = await openMcpServers({ ctx, sandbox, servers: config.mcp_servers ?? {}, wanted });
      const note = mcp ? unavailableNote(mcp.problems) : undefined;
      if (note) {
        // The model learns what it was promised and cannot have, without having to call it.
        const first = messages[0];
        if (first?.role === 'system')
          messages[0] = { role: 'system', content: `${first.content}\n\n${note}` };
        else messages.unshift({ role: 'system', content: note });
      }
      const answer = await runAgentLoop(
        {
          ctx,
          client,
          tools: [...builtins, ...(mcp?.tools ?? [])],
          unavailable: (name) => mcp?.unavailable(name),
          messages,
          maxTurns: p.max_turns,
        },
        transcript,
      );
      ctx.addOutputBytes(Buffer.byteLength(answer.answer));
      const file = await writeTranscript();
      return {
        result: {
          model_mode: client.facts.mode,
          model: client.facts.name,
          turns: answer.turns,
          tool_calls: answer.tool_calls,
          refused_tool_calls: answer.refused_tool_calls,
          model_tokens: transcript.model_tokens,
          finish_reason: answer.finish_reason,
          answer: answer.answer.slice(0, 1000),
          answer_sha256: sha256Hex(answer.answer),
          transcript: file,
        },
      };
    } catch (err) {
      await writeTranscript().catch(() => undefined);
      throw err;
    } finally {
      await mcp?.close();
    }

    function transcriptKey(): string | undefined {
      try {
        const r = resolveModel(config, p.model);
        return r.kind === 'live' ? apiKeyOf(r.endpoint, sandbox.env) : undefined;
      } catch {
        return undefined; // no model, or no key: nothing to redact
      }
    }

    async function writeTranscript(): Promise<string> {
      if (mcp) await mcp.close(); // its facts include how each server ended
      const body = {
        model: client?.facts ?? agentModelFacts(config, p.model),
        requested_model: p.model ?? null,
        max_turns: p.max_turns,
        budgets: {
          max_tool_calls: job.budgets.max_tool_calls,
          max_model_tokens: job.budgets.max_model_tokens ?? null,
        },
        allowed_tools: job.tool_policy.allowed_tools,
        ...transcript,
        mcp: mcp ? { servers: mcp.facts(), problems: mcp.problems } : null,
      };
      // The turns' bodies are redacted by the client; a tool's result (a workspace .env read by
      // read_file, a command's output) may hold the key too.
      const redacted = redactor(transcriptKey()).deep(body);
      const file = await ctx.writeEvidence('transcript.json', JSON.stringify(redacted, null, 2) + '\n');
      return file.path;
    }
  };
}

/** One system note naming each MCP server (or tool) the job allowed but cannot have, and why. */
export function unavailableNote(problems: readonly McpProblem[]): string | undefined {
  if (problems.length === 0) return undefined;
  const lines = problems.map(
    (q) =>
      `- ${q.tool === undefined ? `mcp__${q.server}__* (server ${q.server})` : `${q.server}'s tool ${JSON.stringify(q.tool)}`}: ` +
      `${q.blocked_by}: ${q.message.slice(0, 300)}`,
  );
  return ['Unavailable in this run (calls to them fail with blocked_by):', ...lines].join('\n');
}
