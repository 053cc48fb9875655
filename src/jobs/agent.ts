/**
 * agent_task with the offline stub model: one turn, no tools, no network. The transcript
 * (model, messages, reply) goes to evidence as transcript.json; the reply's bytes count as
 * output. The tool-call loop and the live client arrive with the model lane (docs/spec.md §8).
 */
import { sha256Hex } from '../canonical.js';
import { JobError } from '../worker/errors.js';
import type { JobHandler } from '../worker/types.js';
import { STUB_MODEL_NAME, stubReply, type ChatMessage } from './stub-model.js';

/** The run header's model facts for agent jobs on this worker. */
export const STUB_MODEL_FACTS = { mode: 'stub', name: STUB_MODEL_NAME, endpoint: null } as const;

export function agentHandler(): JobHandler {
  return async (ctx) => {
    const job = ctx.job;
    if (job.job_type !== 'agent_task') throw new JobError('E_WRONG_HANDLER', 'not an agent_task');
    const p = job.payload;
    const messages: ChatMessage[] = [
      ...(p.system !== undefined ? [{ role: 'system' as const, content: p.system }] : []),
      { role: 'user', content: p.prompt },
    ];
    const reply = stubReply(messages);
    ctx.addOutputBytes(Buffer.byteLength(reply.content));
    const transcript = {
      model: { ...STUB_MODEL_FACTS, requested: p.model ?? null },
      max_turns: p.max_turns,
      turns: [{ turn: 1, request: { messages }, response: reply, finish_reason: 'stop' }],
    };
    const file = await ctx.writeEvidence('transcript.json', JSON.stringify(transcript, null, 2) + '\n');
    return {
      result: {
        model_mode: 'stub',
        model: STUB_MODEL_NAME,
        turns: 1,
        tool_calls: 0,
        answer: reply.content.slice(0, 1000),
        answer_sha256: sha256Hex(reply.content),
        transcript: file.path,
      },
    };
  };
}
