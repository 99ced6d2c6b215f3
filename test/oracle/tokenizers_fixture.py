# Makes every fixture of test/oracle/tokenizers.test.ts in one Python run (torch imports slowly):
# tokenizers trained with Hugging Face `tokenizers` in the pipelines of GPT-2, Llama 3, Qwen2,
# SmolLM and SentencePiece-style BPE (Llama 2 / Mistral v0.1, and the Metaspace form newer
# converters write), saved with save_pretrained and reloaded with AutoTokenizer; the ids,
# decodes, chat-template renderings and TRL 1.13's SFT loss masks they give. Prints one JSON object.
import json
import random
import sys
import tempfile
import types
from datetime import datetime

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import AddedToken as TkAddedToken
from transformers import AddedToken, AutoTokenizer, PreTrainedTokenizerFast
import transformers.utils.chat_template_utils as ctu

# ---------- texts ----------

SENTENCES = [
    "The river had been rising for three days before anyone in the village thought to move the boats.",
    "Margaret kept a ledger of every storm since 1962, written in a careful hand that never slanted.",
    "When the bridge finally closed, the baker's son rowed bread across twice a day, and nobody paid him.",
    "It wasn't the water that frightened them; it was the silence after the bells stopped ringing.",
    "They'd learned, over the years, that a town survives by remembering small things: who owes whom, which roof leaks.",
    "The schoolteacher counted 27 children on Monday, 31 on Tuesday, and 1,204 sandbags by Friday evening.",
    "\"We'll rebuild,\" said the mayor, though he said it quietly, as if the river might overhear.",
    "On the hill above the church, the old observatory's telescope still pointed at a star that had moved on.",
    "Thomas repaired clocks for a living and believed, quite sincerely, that every hour deserved the same attention.",
    "By late autumn the fields were brown again, the ditches full of leaves, and the ledger had a new page.",
    "Nobody could say exactly when the tradition began, only that it involved lanterns, soup, and a great deal of arguing.",
    "The newspaper printed a correction on page 4: the flood crest was 6.8 metres, not 8.6 as previously reported.",
    "She walked the length of the embankment every morning, counting steps - 3,417 on a good day - and noting the birds.",
    "In the library, someone had underlined a sentence about patience so many times that the paper had worn through.",
    "I've never trusted a forecast that sounds certain, he wrote, and I don't intend to start now.",
    "The harvest festival was postponed, then cancelled, then held anyway in the barn with the doors open to the rain.",
]


def prose(pages: int, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(pages):
        paragraphs = []
        for _ in range(5):
            paragraphs.append(" ".join(rng.sample(SENTENCES, 5)))
        out.append("\n\n".join(paragraphs))
    return "\n\n\n".join(out)


MIXED = (
    "Café naïve résumé — Ångström, São Paulo, Zürich, Łódź, façade, coöperate.\n"
    "Decomposed: Cafe\u0301 nai\u0308ve and precomposed: Café naïve (NFC matters).\n"
    "Emoji: 👍🏽 🎉 ❤️ 👨‍👩‍👧‍👦 🏳️‍🌈 🤖!! 😀😃😄\n"
    "CJK: 東京は日本の首都です。北京欢迎你！한국어 문장도 있습니다。\n"
    "Arabic: مرحبا بالعالم، كيف حالك؟ Hebrew: שלום עולם, מה שלומך?\n"
    "Numbers: 3.14159, 1,000,000, 2026-07-26, ٣٤٥ and ⅔ and 12345678901234567890.\n"
    "Tabs\tand   multiple    spaces,\r\nWindows line endings\r\n and trailing spaces   \n"
    "```python\ndef fib(n: int) -> int:\n    if n < 2:\n        return n  # base case\n    return fib(n - 1) + fib(n - 2)\n```\n"
    "const x = {a: [1, 2, 3], 'b': \"str\"}; // JS\n    x.map((v) => v ** 2).filter(Boolean);\n"
    "Contractions: I'm, you're, he's, we've, they'll, I'd, DON'T, She'S.\n"
    "Zero-width: a\u200bb, NBSP:\u00a0x, soft\u00adhyphen, fullwidth ＡＢＣ１２３.\n"
    "Odd spaces: BOM\ufeffword, NEL\u0085next, ideographic\u3000space, line\u2028sep, thin\u2009space.\n"
)

# ---------- tokenizers ----------

LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

CORPUS = [prose(6, s) for s in range(4)] + [MIXED] * 3


def byte_level(kind: str):
    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    if kind in ("gpt2", "neox"):
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        specials = ["<|endoftext|>"]
    elif kind == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ])
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    elif kind == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    elif kind == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.decoder = decoders.ByteLevel()
    if kind == "llama3":
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    elif kind == "neox":  # offsets without the spaces tokens carry, as GPT-NeoX-style files say
        tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=True)
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, specials


def sentencepiece_style(kind: str):
    # Trained on Metaspace words (as SentencePiece never merges across a space), then given byte
    # fallback tokens <0x00>..<0xFF> after <unk> <s> </s> and the pipeline of the published files.
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=900, limit_alphabet=90, show_progress=False)
    trainer_tok.train_from_iterator(CORPUS, trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    if kind == "llama2":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    else:  # the Metaspace form (prepend_scheme "first"), as the current LlamaConverter writes it
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"]
    tok.add_special_tokens([TkAddedToken(s, special=True, normalized=False) for s in specials])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    return tok, specials


def extra_tokens(tok, kind):
    # Added tokens with each flag, as fine-tuned vocabularies carry them.
    tok.add_tokens([
        TkAddedToken("<tool_call>", special=False, normalized=False),
        TkAddedToken("</tool_call>", special=False, normalized=False),
        TkAddedToken("<|fim-middle|>", special=True, normalized=False),
        TkAddedToken("[MASK]", special=True, lstrip=True, rstrip=False, normalized=False),
        TkAddedToken("<sep>", special=True, lstrip=False, rstrip=True, normalized=False),
        TkAddedToken("wordpiece", special=False, single_word=True, normalized=False),
        TkAddedToken("Café", special=False, normalized=True),
    ])


SPECIAL_TEXT = (
    "Hello<|endoftext|>world <|im_start|>user\nHi there<|im_end|>\n<|begin_of_text|>x<|eot_id|> "
    "<s>[INST] hi [/INST]</s> a   [MASK]  b <sep>   c <tool_call>{\"x\": 1}</tool_call> wordpiece wordpieces "
    "Cafe\u0301 café <unk> <|fim-middle|>x<|fim-middle|"
)

CONFIGS = {
    "gpt2": dict(bos="<|endoftext|>", eos="<|endoftext|>"),
    "neox": dict(bos="<|endoftext|>", eos="<|endoftext|>"),
    "llama3": dict(bos="<|begin_of_text|>", eos="<|eot_id|>"),
    "qwen2": dict(bos=None, eos="<|im_end|>", pad="<|endoftext|>"),
    "smollm": dict(bos="<|im_start|>", eos="<|im_end|>"),
    "llama2": dict(bos="<s>", eos="</s>", unk="<unk>"),
    "metaspace": dict(bos="<s>", eos="</s>", unk="<unk>"),
}

# ---------- chat templates written for the tests ----------

TEMPLATES = {}
TEMPLATES["llama3"] = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none %}
    {{- "You have access to the following functions.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message.role == 'assistant' %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
        {%- generation %}
        {{- message['content'] | trim + '<|eot_id|>' }}
        {%- endgeneration %}
    {%- else %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

TEMPLATES["qwen2"] = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" and not message.tool_calls %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- generation %}
        {{- message.content + '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

TEMPLATES["llama2"] = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {% generation %}{{- ' ' + message['content'] + eos_token}}{% endgeneration %}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

# Plain loops, role conditions and whitespace control without the '-' forms: trim_blocks and
# lstrip_blocks must do the work.
TEMPLATES["smollm"] = """{% for message in messages %}
{% if loop.first and messages[0]['role'] != 'system' %}
<|im_start|>system
You are a helpful AI assistant named SmolLM<|im_end|>
{% endif %}
<|im_start|>{{ message['role'] }}
{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}
{% else %}{{ message['content'] }}<|im_end|>
{% endif %}
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
"""

GENERATION_CONFIG = {
    "gpt2": {"bos_token_id": 0, "eos_token_id": 0},
    "neox": {"eos_token_id": [0]},
    "llama3": {"bos_token_id": 0, "eos_token_id": [1, 4]},
    "qwen2": {"eos_token_id": [2, 0], "pad_token_id": 0},
    "smollm": {"eos_token_id": 2},
    "llama2": {"bos_token_id": 1, "eos_token_id": 2},
    "metaspace": {"bos_token_id": 1, "eos_token_id": 2},
}

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city — in °C.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "Name, e.g. Zürich"},
                                                                                     "days": {"type": "integer"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "noop", "description": "Does nothing.", "parameters": {"type": "object", "properties": {}}}},
]

SYSTEM = {"role": "system", "content": "You are terse. Answer in one line."}
CONV = [
    {"role": "user", "content": "What's the capital of France?"},
    {"role": "assistant", "content": "Paris. 🇫🇷"},
    {"role": "user", "content": "And of Japan — 日本?"},
    {"role": "assistant", "content": " Tokyo (東京).\nAnything else? "},
    {"role": "user", "content": "No, thanks!"},
]
TOOL_CONV = [
    {"role": "user", "content": "Weather in Zürich for 2 days?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]},
    {"role": "tool", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
    {"role": "tool", "content": "{\"temp\": 19}"},
    {"role": "assistant", "content": "21 °C and clear, then 19 °C."},
]
BAD_ORDER = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]

FIXED_NOW = datetime(2026, 7, 26, 9, 5, 3)


class _FixedDatetime:
    @staticmethod
    def now():
        return FIXED_NOW


ctu.datetime = _FixedDatetime  # strftime_now reads the module's datetime when called


def sft_masks(tok, rows, assistant_only_loss=True):
    """TRL 1.13's own SFT dataset preparation (SFTTrainer._prepare_dataset): its labels give the mask.
    Conversations use assistant_only_loss (the template's {% generation %} blocks); prompt-completion
    rows use completion_only_loss."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, assistant_only_loss=assistant_only_loss, max_length=None, report_to=[],
                         dataset_num_proc=None, use_cpu=True, bf16=False)
        fake = types.SimpleNamespace(_tokenizer=tok, chat_template=None, completion_only_loss=True)
        ds = SFTTrainer._prepare_dataset(fake, Dataset.from_list(rows), tok, args,
                                         packing=False, formatting_func=None, dataset_name="train")
        return [{"input_ids": r["input_ids"], "mask": [0 if l == -100 else 1 for l in r["labels"]]} for r in ds]


def components():
    """Each component alone, on texts that reach its corners: pre-tokenizer splits with offsets,
    normalizer output, decoder output."""
    state = lambda c: json.loads(c.__getstate__())
    texts = ["a--b-c-", "  hello  world, it's 12345 x_y!", "-start and end-", "ab123c45 ٣٤٥ Ünïcode\tTabs\n\nnew lines  "]
    pres = [pre_tokenizers.Split(pat, b, invert=inv) for pat in ("-", Regex(r"\s+"), Regex(r"\p{N}{1,2}"))
            for b in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous") for inv in (False, True)]
    pres += [pre_tokenizers.Digits(individual_digits=False), pre_tokenizers.Digits(individual_digits=True),
             pre_tokenizers.Metaspace(prepend_scheme="always", split=True), pre_tokenizers.Metaspace(prepend_scheme="first", split=True),
             pre_tokenizers.Metaspace(prepend_scheme="never", split=False), pre_tokenizers.Whitespace(), pre_tokenizers.WhitespaceSplit(),
             pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
             pre_tokenizers.Sequence([pre_tokenizers.Split(" ", "isolated"), pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)]),
             pre_tokenizers.Split(Regex(LLAMA3_REGEX), "isolated"), pre_tokenizers.Split(Regex(QWEN2_REGEX), "isolated")]
    pre_cases = [{"json": state(p), "text": t, "want": p.pre_tokenize_str(t)} for p in pres for t in texts]
    norms = [normalizers.NFKC(), normalizers.NFD(), normalizers.Lowercase(), normalizers.Strip(left=True, right=True),
             normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), normalizers.Replace(Regex(r"\s+"), " ")]
    norm_texts = ["ＡＢＣ①２ Ünïcode  CAFÉ Cafe\u0301", "  padded\t\n", "İstanbul ΣΊΣΥΦΟΣ"]
    norm_cases = [{"json": state(n), "text": t, "want": n.normalize_str(t)} for n in norms for t in norm_texts]
    decs = [decoders.Metaspace(prepend_scheme="first"), decoders.Metaspace(prepend_scheme="never"), decoders.Strip(" ", 1, 1),
            decoders.ByteFallback(), decoders.Fuse(), decoders.ByteLevel(), decoders.Replace("▁", " "),
            decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])]
    dec_tokens = [["▁▁a▁x", "▁b", "  c  "], ["<0xE6>", "<0x97>", "<0xA5>", "a", "<0xFF>", "<0x41>", "▁z"], ["Ġhello", "Ġw", "orld", "ĠðŁ", "ĺ", "Ģ", "Ã©"]]
    dec_cases = [{"json": state(d), "tokens": t, "want": d.decode(t)} for d in decs for t in dec_tokens]
    return {"pre_tokenizers": pre_cases, "normalizers": norm_cases, "decoders": dec_cases}


def main():
    texts = {"prose": prose(3, 1234), "mixed": MIXED, "special": SPECIAL_TEXT, "empty": "", "spaces": "   leading and trailing   "}
    out = {"texts": texts, "tokenizers": {},
           "components": components(),
           "chat_inputs": {"plain": CONV, "system": [SYSTEM] + CONV, "tool_conv": TOOL_CONV, "tools": TOOLS, "bad_order": BAD_ORDER}}
    for kind in ["gpt2", "neox", "llama3", "qwen2", "smollm", "llama2", "metaspace"]:
        tok, specials = byte_level(kind) if kind not in ("llama2", "metaspace") else sentencepiece_style(kind)
        extra_tokens(tok, kind)
        if kind == "qwen2":
            tok.add_special_tokens([TkAddedToken("<|im_start|>", special=True, normalized=False)])
        cfg = CONFIGS[kind]
        kwargs = {f"{k}_token": v for k, v in cfg.items() if v is not None}
        if kind == "metaspace":  # transformers then rebuilds the post-processor: <s> $A </s>
            kwargs.update(add_bos_token=True, add_eos_token=True)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)
        if kind in TEMPLATES:
            fast.chat_template = TEMPLATES[kind]
        with tempfile.TemporaryDirectory() as d:
            fast.save_pretrained(d)
            if kind == "llama2":  # transformers 5 keeps tokenizer.json's post-processor all the same
                with open(f"{d}/tokenizer_config.json", encoding="utf-8") as f:
                    config = json.load(f)
                config.update(add_bos_token=False, add_eos_token=True)
                with open(f"{d}/tokenizer_config.json", "w", encoding="utf-8") as f:
                    json.dump(config, f, indent=2, ensure_ascii=False)
            files = {}
            for name in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]:
                try:
                    with open(f"{d}/{name}", encoding="utf-8") as f:
                        files[name] = f.read()
                except FileNotFoundError:
                    pass
            hf = AutoTokenizer.from_pretrained(d)
        entry = {"files": files, "generation_config": GENERATION_CONFIG[kind], "encode": {}, "decode": {}, "chat": {}}
        for name, text in texts.items():
            ids = hf(text, add_special_tokens=False)["input_ids"]
            with_special = hf(text, add_special_tokens=True)["input_ids"]
            offsets = [list(o) for o in hf(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
            entry["encode"][name] = {"ids": ids, "with_special": with_special, "offsets": offsets}
            entry["decode"][name] = {"text": hf.decode(ids), "skip_special": hf.decode(with_special, skip_special_tokens=True),
                                     "with_special": hf.decode(with_special)}
        if kind in TEMPLATES:
            chat = {}
            variants = {"plain": CONV, "system": [SYSTEM] + CONV}
            if kind == "qwen2":
                variants["tool_conv"] = TOOL_CONV
            for vname, conv in variants.items():
                for agp in (False, True):
                    for tools in ((None, TOOLS) if kind in ("qwen2", "llama3") else (None,)):
                        key = f"{vname}|agp={agp}|tools={tools is not None}"
                        chat[key] = hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=agp, tools=tools)
            try:
                hf.apply_chat_template(BAD_ORDER, tokenize=False)
                chat["bad_order_error"] = None
            except Exception as e:  # noqa: BLE001 - the template's own message is the fixture
                chat["bad_order_error"] = str(e)
            entry["chat"] = chat
            convs = [CONV[:2], CONV[:4], [SYSTEM] + CONV[:4]]
            if kind == "qwen2":
                convs.append(TOOL_CONV)
            pcs = [{"prompt": c[:-1], "completion": c[-1:]} for c in convs]
            entry["sft"] = {"conversations": convs, "trl": sft_masks(hf, [{"messages": c} for c in convs]),
                            "prompt_completion": pcs, "trl_prompt_completion": sft_masks(hf, pcs, assistant_only_loss=False)}
        out["tokenizers"][kind] = entry
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
