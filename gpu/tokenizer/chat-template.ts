// Chat templates as transformers renders them (apply_chat_template with tokenize=False): Jinja
// through @huggingface/jinja with trim_blocks and lstrip_blocks, the globals transformers adds
// (raise_exception, strftime_now in Python's C-locale format), the special tokens of
// tokenizer_config.json, and {% generation %} blocks whose spans give the assistant-token mask.

import { Environment, Interpreter, Template } from "@huggingface/jinja";

export class ChatTemplateError extends Error {}

export interface ChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** JSON-schema tools, passed to the template as `tools` (null when absent, as transformers). */
  tools?: object[] | null;
  documents?: object[] | null;
  /** Which of several named templates; default "tool_use" when tools are given and it exists, else "default". */
  templateName?: string;
  /** strftime_now's clock (default: now, local time as Python's datetime.now()). */
  now?: Date;
  /** Further template variables (transformers' **kwargs), e.g. date_string, enable_thinking. */
  variables?: Record<string, unknown>;
  /** bos_token, eos_token, ...: filled from tokenizer_config.json by HfTokenizer. */
  specialTokens?: Record<string, string | undefined>;
}

/** transformers' choice among named templates. */
export function selectChatTemplate(t: string | Record<string, string> | null, name?: string, tools?: unknown): string {
  if (t == null) throw new ChatTemplateError("this tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja)");
  if (typeof t === "string") return t;
  if (name !== undefined) {
    if (!(name in t)) throw new ChatTemplateError(`chat template "${name}" not found; this tokenizer has ${Object.keys(t).join(", ")}`);
    return t[name];
  }
  if (tools && "tool_use" in t) return t.tool_use;
  if ("default" in t) return t.default;
  throw new ChatTemplateError(`this tokenizer has several chat templates (${Object.keys(t).join(", ")}) and none named "default": pass templateName`);
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** Python's datetime.strftime in the C locale (glibc: %-d and the like drop the padding). */
export function strftime(d: Date, format: string): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const dayOfYear = Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000) + 1;
  const h12 = d.getHours() % 12 || 12;
  return format.replace(/%(-?)([a-zA-Z%])/g, (all, nopad: string, c: string) => {
    const p = (n: number, w = 2) => (nopad ? String(n) : pad(n, w));
    switch (c) {
      case "a":
        return DAYS[d.getDay()].slice(0, 3);
      case "A":
        return DAYS[d.getDay()];
      case "b":
      case "h":
        return MONTHS[d.getMonth()].slice(0, 3);
      case "B":
        return MONTHS[d.getMonth()];
      case "d":
        return p(d.getDate());
      case "e":
        return nopad ? String(d.getDate()) : String(d.getDate()).padStart(2, " ");
      case "m":
        return p(d.getMonth() + 1);
      case "y":
        return p(d.getFullYear() % 100);
      case "Y":
        return String(d.getFullYear());
      case "H":
        return p(d.getHours());
      case "I":
        return p(h12);
      case "M":
        return p(d.getMinutes());
      case "S":
        return p(d.getSeconds());
      case "p":
        return d.getHours() < 12 ? "AM" : "PM";
      case "j":
        return p(dayOfYear, 3);
      case "w":
        return String(d.getDay());
      case "F":
        return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      case "%":
        return "%";
      default:
        throw new ChatTemplateError(`strftime_now: the format directive %${nopad}${c} is not supported`);
    }
  });
}

// {% generation %} ... {% endgeneration %} become noncharacter markers in the output; their
// positions are the spans transformers' AssistantTracker records. The replacement keeps the tag's
// own whitespace control: `{%- generation -%}` -> `{%- if true %}MARK{% endif -%}`.
const OPEN = "\uFDD0";
const CLOSE = "\uFDD1";
const GENERATION_TAG = /\{%(-?)\s*(end)?generation\s*(-?)%\}/g;

export function hasGenerationBlocks(template: string): boolean {
  return /\{%-?\s*generation\s*-?%\}/.test(template);
}

/** Python's range(stop) / range(start, stop[, step]) as a list. */
function range(a: number, b?: number, step = 1): number[] {
  const [start, stop] = b === undefined ? [0, a] : [a, b];
  if (step === 0) throw new ChatTemplateError("range() arg 3 must not be zero");
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

const BASE_GLOBALS: Record<string, unknown> = { false: false, true: true, none: null, False: false, True: true, None: null, range };

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`chat template does not parse: ${(err as Error).message}`);
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(source, t);
  }
  return t;
}

function render(template: string, messages: ChatMessage[], opts: ChatTemplateOptions): string {
  if (!Array.isArray(messages)) throw new ChatTemplateError("messages must be an array of {role, content}");
  const t = compile(template);
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts.specialTokens ?? {})) if (v !== undefined) vars[k] = v;
  Object.assign(vars, opts.variables ?? {});
  vars.messages = messages;
  vars.tools = opts.tools ?? null;
  vars.documents = opts.documents ?? null;
  vars.add_generation_prompt = !!opts.addGenerationPrompt;
  vars.raise_exception = (message: unknown) => {
    throw new ChatTemplateError(String(message));
  };
  vars.strftime_now = (format: string) => strftime(opts.now ?? new Date(), String(format));
  try {
    // Template.render would declare jinja's own raise_exception and strftime_now first (a locale
    // date, an Error of another class); this environment declares ours instead.
    const env = new Environment();
    for (const [k, v] of Object.entries({ ...BASE_GLOBALS, ...vars })) env.set(k, v);
    return new Interpreter(env).run(t.parsed).value as string;
  } catch (err) {
    if (err instanceof ChatTemplateError) throw err;
    throw new ChatTemplateError(`chat template failed: ${(err as Error).message}`);
  }
}

/** The rendered conversation, identical to transformers' apply_chat_template(..., tokenize=False). */
export function renderChatTemplate(template: string, messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
  return render(template, messages, opts);
}

/** The rendered conversation and the [start, end) spans (UTF-16 units) of its {% generation %} blocks. */
export function renderChatTemplateWithGeneration(template: string, messages: ChatMessage[], opts: ChatTemplateOptions = {}): { text: string; spans: Array<[number, number]> } {
  const marked = template.replace(GENERATION_TAG, (_all, l: string, end: string | undefined, r: string) => `{%${l} if true %}${end ? CLOSE : OPEN}{% endif ${r}%}`);
  const raw = render(marked, messages, opts);
  let text = "";
  const spans: Array<[number, number]> = [];
  let open = -1;
  let last = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== OPEN && c !== CLOSE) continue;
    text += raw.slice(last, i);
    last = i + 1;
    if (c === OPEN) open = text.length;
    else if (open >= 0) {
      spans.push([open, text.length]);
      open = -1;
    }
  }
  text += raw.slice(last);
  return { text, spans };
}
