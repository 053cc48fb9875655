/**
 * The built-in offline model `stub` (docs/model-lane.md): a pure function of the conversation,
 * so an agent_task gives the same answer on any machine, any day, with no network and no
 * weights — and still exercises the loop. Offered `list_files`, it lists the workspace; then,
 * offered `read_file`, it reads the first file the listing named (README.md when there is
 * one); then it answers. It counts a token per 4 characters, so budgets behave as with a
 * real server.
 */
import { sha256Hex } from '../canonical.js';
import type { ChatMessage, ModelClient, ModelRequest, ModelTurn, ToolCallMessage } from './types.js';

export const STUB_MODEL_ID = 'execplane-stub-1';

const tokens = (text: string) => Math.ceil(text.length / 4);

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return /^(.*?[.!?])(?=\s|$)/.exec(flat)?.[1] ?? flat;
}

/** The file the stub reads: README.md if the listing has one, else the first path it shows. */
export function pickFileFromListing(listing: string): string | undefined {
  const paths = listing
    .split('\n')
    .map((line) => /^(\S+)\t/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
  return paths.find((p) => /(^|\/)README\.md$/i.test(p)) ?? paths[0];
}

export function stubClient(): ModelClient {
  return {
    facts: { mode: 'stub', name: 'stub', model: STUB_MODEL_ID, endpoint: null },
    chat: (request: ModelRequest) => {
      request.signal.throwIfAborted();
      return Promise.resolve(stubTurn(request));
    },
  };
}

function stubTurn(request: ModelRequest): ModelTurn {
  const { messages } = request;
  const offered = new Set(request.tools.map((t) => t.function.name));
  const asked = messages.flatMap((m) => (m.role === 'assistant' ? (m.tool_calls ?? []) : []));
  const resultOf = (name: string) => {
    const call = asked.find((c) => c.function.name === name);
    const reply = call && messages.find((m) => m.role === 'tool' && m.tool_call_id === call.id);
    return reply?.role === 'tool' ? reply.content : undefined;
  };
  const turn = messages.filter((m) => m.role === 'assistant').length + 1;
  const call = (name: string, args: unknown): ToolCallMessage => ({
    id: `call_stub_${turn}`,
    type: 'function',
    function: { name, arguments: JSON.stringify(args) },
  });

  let toolCall: ToolCallMessage | undefined;
  const listing = resultOf('list_files');
  if (offered.has('list_files') && !asked.some((c) => c.function.name === 'list_files')) {
    toolCall = call('list_files', { path: '.', max_entries: 50 });
  } else if (offered.has('read_file') && listing !== undefined && resultOf('read_file') === undefined) {
    const file = asked.some((c) => c.function.name === 'read_file')
      ? undefined
      : pickFileFromListing(listing);
    if (file !== undefined) toolCall = call('read_file', { path: file, max_bytes: 2048 });
  }
  const content = toolCall ? null : answer(messages, listing, resultOf('read_file'));
  const prompt = messages.reduce((n, m) => n + tokens(JSON.stringify(m)), 0);
  const completion = tokens(content ?? JSON.stringify(toolCall));
  const message = { role: 'assistant' as const, content, ...(toolCall ? { tool_calls: [toolCall] } : {}) };
  const finish_reason = toolCall ? 'tool_calls' : 'stop';
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  return {
    content,
    tool_calls: toolCall ? [toolCall] : [],
    finish_reason,
    usage,
    tries: [{ try: 1, duration_ms: 0, outcome: 'ok' }],
    request: { model: STUB_MODEL_ID, messages: [...messages], tools: request.tools },
    response: { model: STUB_MODEL_ID, choices: [{ index: 0, message, finish_reason }], usage },
  };
}

function answer(
  messages: readonly ChatMessage[],
  listing: string | undefined,
  file: string | undefined,
): string {
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const words = user.split(/\s+/).filter(Boolean).length;
  const gist = firstSentence(user).slice(0, 200);
  const looked =
    listing === undefined
      ? ''
      : ` I listed the workspace (${listing.split('\n').filter((l) => l.includes('\t')).length} file(s))` +
        (file === undefined ? '.' : ` and read one file (${Buffer.byteLength(file)} bytes of tool output).`);
  return (
    `[stub model ${STUB_MODEL_ID}] I received ${words} word(s) (sha256 ${sha256Hex(user).slice(0, 12)}). ` +
    `You asked: "${gist}".${looked} This is the deterministic offline stub; configure a live model for real answers.`
  );
}
