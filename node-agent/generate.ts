// Streaming text generation for the serving API: gpu/nn generate (KV cache) token by token, with
// stop strings cut out and text released only once no stop string can still start in it.
import { generate, type GPT } from "@/gpu/nn";
import type { CompletionRequest, CompletionResult } from "@/contracts/serving";

interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  vocabSize: number;
}

/** Characters at the end of `text` that could be the start of a stop string (held back until known). */
function pendingStopPrefix(text: string, stops: string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

export async function streamCompletion(
  model: GPT,
  tokenizer: Tokenizer,
  request: Pick<CompletionRequest, "prompt" | "maxTokens" | "temperature" | "topK" | "seed" | "stop">,
  o: { onText?: (delta: string) => void; cancelled?: () => boolean } = {},
): Promise<CompletionResult> {
  const stops = request.stop.filter((s) => s.length > 0);
  const encoded = tokenizer.encode(request.prompt);
  // An empty prompt still needs one token of context.
  const prompt = encoded.length ? encoded : [0];
  const tokens: number[] = [];
  let emitted = 0;
  let stopAt = -1;
  const emit = (end: number, text: string) => {
    if (end > emitted) o.onText?.(text.slice(emitted, end));
    emitted = Math.max(emitted, end);
  };
  let text = "";
  if (request.maxTokens > 0) {
    await generate(model, prompt, {
      maxNewTokens: request.maxTokens,
      temperature: request.temperature,
      topK: request.topK,
      seed: request.seed,
      vocabLimit: tokenizer.vocabSize,
      onToken: (t) => {
        tokens.push(t);
        text = tokenizer.decode(tokens);
        for (const s of stops) {
          const at = text.indexOf(s);
          if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) return false;
        // A byte-level tokenizer decodes a partial UTF-8 sequence as U+FFFD: wait for the rest.
        let end = text.length - pendingStopPrefix(text, stops);
        while (end > emitted && text[end - 1] === "\uFFFD") end--;
        emit(end, text);
        return !o.cancelled?.();
      },
    });
  }
  const final = stopAt >= 0 ? text.slice(0, stopAt) : text;
  emit(final.length, final);
  return { text: final, promptTokens: encoded.length, completionTokens: tokens.length, finishReason: stopAt >= 0 ? "stop" : "length" };
}
