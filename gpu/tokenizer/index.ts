export * from "./bpe";
export * from "./hf-tokenizer";
export { ChatTemplateError, renderChatTemplate, renderChatTemplateWithGeneration, hasGenerationBlocks, strftime } from "./chat-template";
export type { ChatMessage, ChatTemplateOptions } from "./chat-template";
export { renderSftExample, renderSftPromptCompletion } from "./sft";
export type { SftExample, SftOptions, SftTokenizer } from "./sft";
export { translateRegex } from "./hf-components";
