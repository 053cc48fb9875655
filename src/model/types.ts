/**
 * The model lane's vocabulary (docs/model-lane.md): the chat messages we send and record (the
 * OpenAI chat-completions shape), a model client, and a tool the loop may run for the model.
 *
 * The loop (loop.ts) is the only caller of a client and of a tool: it gates every call (name in
 * allowed_tools, arguments valid, budget left) and appends the `tool_call` event through the
 * tool's `announce` before the tool does anything (M2 there).
 */
import type { JobHandlerContext } from '../worker/types.js';

export interface ToolCallMessage {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export type ChatMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string }
  | {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly tool_calls?: readonly ToolCallMessage[];
    }
  | { readonly role: 'tool'; readonly tool_call_id: string; readonly content: string };

/** A tool as the model sees it (`tools` of a chat-completions request). */
export interface ToolDefinition {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description: string;
    readonly parameters: Readonly<Record<string, unknown>>;
  };
}

/** What the run header, transcript and `models` say about a model. */
export interface ModelFacts {
  /** stub: the built-in offline model; live: an OpenAI-compatible server. */
  readonly mode: 'stub' | 'live';
  /** The configured name (config.json `models[].name`, or `stub`). */
  readonly name: string;
  /** The model id sent to the server. */
  readonly model: string;
  /** The API root, or null for the stub. */
  readonly endpoint: string | null;
}

export interface ModelRequest {
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolDefinition[];
  /** The job's signal: wall time, lease lost, kill switch, shutdown. */
  readonly signal: AbortSignal;
  /** Upper bound for the completion (the token budget left), when the job has one. */
  readonly maxTokens?: number;
}

export interface TokenUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** One HTTP try of a model turn, as the transcript records it. */
export interface ModelTry {
  readonly try: number;
  readonly duration_ms: number;
  /** `ok`, or the error code of this try (model_http_5xx, model_unreachable, …). */
  readonly outcome: string;
  readonly http_status?: number;
  /** How long we waited before the next try (retry-after or backoff). */
  readonly wait_ms?: number;
  readonly message?: string;
}

export interface ModelTurn {
  readonly content: string | null;
  readonly tool_calls: readonly ToolCallMessage[];
  /** As the server said: stop, tool_calls, length, … */
  readonly finish_reason: string;
  /** As the server reported it; null when it did not. */
  readonly usage: TokenUsage | null;
  readonly tries: readonly ModelTry[];
  /** The request body sent (no key: keys travel only in headers) and the response body, for the transcript. */
  readonly request: unknown;
  readonly response: unknown;
}

export interface ModelClient {
  readonly facts: ModelFacts;
  /** One model turn; throws a ModelError (errors.ts) with the tries it made. */
  chat(request: ModelRequest): Promise<ModelTurn>;
}

export type ToolNeed = 'subprocess' | 'network';

/** What the loop hands a tool for one call. */
export interface ToolCallScope {
  readonly ctx: JobHandlerContext<unknown>;
  /** 1-based number of this model tool call within the attempt (evidence file names). */
  readonly index: number;
  /**
   * Appends the call's `tool_call` event (args = the model's parsed arguments). A tool calls it
   * exactly once, after its own checks and before it reads, writes or starts anything; a tool
   * that returns without calling it was refused and is not in the ledger. Throws as
   * JobHandlerContext.toolCall does (budget, policy, lease lost).
   */
  announce(): Promise<void>;
}

export type ToolResult =
  | {
      readonly ok: true;
      /** What the model reads (the loop caps it). */
      readonly content: string;
      /** Evidence paths (relative to evidence/<job_id>/) the call wrote. */
      readonly evidence?: readonly string[];
    }
  | {
      readonly ok: false;
      /** A stable code: path_rejected:…, E_POLICY_DENIED, mcp_timeout, … */
      readonly code: string;
      readonly message: string;
      /** For MCP: why the server could not serve (mcp_server_not_installed, mcp_server_exited, mcp_timeout, …). */
      readonly blocked_by?: string;
      readonly evidence?: readonly string[];
    };

export interface ModelTool {
  /** A valid OpenAI function name: [a-zA-Z0-9_-]{1,64}. */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of its arguments (an object schema); the loop validates before the tool runs. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Capabilities a call uses, for the tool_call event's `needs`. */
  readonly needs: readonly ToolNeed[];
  /** Runs one call; a refusal is a ToolResult with ok false, never a throw (a throw fails the job). */
  run(args: Record<string, unknown>, scope: ToolCallScope): Promise<ToolResult>;
}

/** OpenAI's function-name rule. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
