// Supervised fine-tuning examples: a conversation rendered through the chat template and tokenized
// as transformers does (add_special_tokens=False: the template writes its own BOS), with a loss
// mask of 1 on the tokens of the template's {% generation %} blocks (the assistant turns). The
// mask follows transformers' return_assistant_tokens_mask, which TRL's SFTTrainer uses for
// assistant_only_loss: each block spans from the token holding its first character to the token
// holding its last.

import { type ChatMessage, type ChatTemplateOptions, ChatTemplateError, hasGenerationBlocks, renderChatTemplate, renderChatTemplateWithGeneration } from "./chat-template";

/** What an SFT example needs of a tokenizer (HfTokenizer has it; named here so sft.ts imports no tokenizer module: no cycle). */
export interface SftTokenizer {
  template(name?: string, tools?: unknown): string;
  readonly specialTokens: Record<string, string | undefined>;
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  encodeWithOffsets(text: string, opts?: { addSpecialTokens?: boolean }): { ids: number[]; offsets: Array<[number, number]> };
}

export interface SftOptions extends Omit<ChatTemplateOptions, "addGenerationPrompt"> {}

export interface SftExample {
  /** The rendered conversation. */
  text: string;
  ids: number[];
  /** 1 where the loss applies (assistant tokens), 0 elsewhere; as long as ids. */
  lossMask: number[];
}

export function renderSftExample(tok: SftTokenizer, messages: ChatMessage[], opts: SftOptions = {}): SftExample {
  const template = tok.template(opts.templateName, opts.tools);
  if (!hasGenerationBlocks(template)) {
    throw new ChatTemplateError(
      "chat template has no {% generation %} ... {% endgeneration %} block around the assistant's turn, so its assistant tokens cannot be told apart: use a training template that marks them",
    );
  }
  const { text, spans } = renderChatTemplateWithGeneration(template, messages, { ...opts, specialTokens: { ...tok.specialTokens, ...opts.specialTokens } });
  const { ids, offsets } = tok.encodeWithOffsets(text, { addSpecialTokens: false });
  const charToToken = (c: number): number | null => {
    for (let t = 0; t < offsets.length; t++) if (c >= offsets[t][0] && c < offsets[t][1]) return t;
    return null;
  };
  const lossMask = new Array<number>(ids.length).fill(0);
  for (const [start, end] of spans) {
    const first = charToToken(start);
    const last = charToToken(end - 1);
    if (first === null) break; // as transformers: the span lies past the tokens
    const stop = last ? last + 1 : ids.length; // transformers tests `if end_token`, so 0 counts as missing
    for (let t = first; t < stop; t++) lossMask[t] = 1;
  }
  if (!lossMask.includes(1)) throw new ChatTemplateError("this conversation has no assistant tokens to train on (no {% generation %} block rendered)");
  return { text, ids, lossMask };
}

/**
 * A prompt-completion example (TRL's completion_only_loss): the prompt rendered with the generation
 * prompt, then prompt + completion; the loss covers the tokens past the prompt's. Works with any
 * template, {% generation %} blocks or not.
 */
export function renderSftPromptCompletion(tok: SftTokenizer, prompt: ChatMessage[], completion: ChatMessage[], opts: SftOptions = {}): SftExample {
  const template = tok.template(opts.templateName, opts.tools);
  const o = { ...opts, specialTokens: { ...tok.specialTokens, ...opts.specialTokens } };
  const promptIds = tok.encode(renderChatTemplate(template, prompt, { ...o, addGenerationPrompt: true }), { addSpecialTokens: false });
  const text = renderChatTemplate(template, [...prompt, ...completion], o);
  const ids = tok.encode(text, { addSpecialTokens: false });
  const lossMask = ids.map((_, i) => (i < promptIds.length ? 0 : 1));
  return { text, ids, lossMask };
}
