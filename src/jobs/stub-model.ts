/**
 * The offline stub model (docs/spec.md §8: "stub by default"): a pure function of the conversation, so
 * an agent_task gives the same answer on any machine, any day, with no network and no weights.
 * The live OpenAI-compatible client comes with the model-lane issue.
 */
import { sha256Hex } from '../canonical.js';
import { firstSentence } from './compact-markdown.js';

export const STUB_MODEL_NAME = 'execplane-stub-1';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export function stubReply(messages: readonly ChatMessage[]): ChatMessage {
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const words = user.split(/\s+/).filter(Boolean).length;
  const gist = firstSentence(user).slice(0, 200);
  return {
    role: 'assistant',
    content:
      `[stub model ${STUB_MODEL_NAME}] I received ${words} word(s) (sha256 ${sha256Hex(user).slice(0, 12)}). ` +
      `You asked: "${gist}". This is the deterministic offline stub; configure a live model for real answers.`,
  };
}
