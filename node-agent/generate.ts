// Streaming text generation for the serving API on a TextModel (gpu/nn/text-model.ts): a raw prompt
// for /completions, a conversation through the model's chat template for chat; text streamed as it
// becomes final (stop strings cut out), ending at the model's stop tokens too.
import { completeText, type TextModel } from "@/gpu/nn/text-model";
import type { CompletionRequest, CompletionResult } from "@/contracts/serving";

export async function streamCompletion(
  model: TextModel,
  request: Pick<CompletionRequest, "prompt" | "messages" | "maxTokens" | "temperature" | "topK" | "seed" | "stop">,
  o: { onText?: (delta: string) => void; cancelled?: () => boolean } = {},
): Promise<CompletionResult> {
  const chat = request.messages;
  const prompt = chat ? model.chatPromptIds(chat) : model.promptIds(request.prompt);
  const result = await completeText(model, prompt, {
    maxNewTokens: request.maxTokens,
    temperature: request.temperature,
    topK: request.topK,
    seed: request.seed,
    stop: chat ? [...request.stop, ...model.chatStops] : request.stop,
    onText: o.onText,
    cancelled: o.cancelled,
  });
  return { text: result.text, promptTokens: prompt.length, completionTokens: result.tokens.length, finishReason: result.finishReason };
}
