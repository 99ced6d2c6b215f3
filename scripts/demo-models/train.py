# Trains the demo project's three small models (server/demo/models/support-v{1,2,3}) on the demo's own
# text, with PyTorch and transformers, as Hugging Face folders. Run by `npx tsx scripts/demo-models/make.ts`,
# which writes the demo's text (server/demo/content.ts) to a JSON file and calls this with the oracle's
# Python (.venv-oracle); the folders are committed, so a fresh clone needs no Python to show the demo.
#
#   python train.py TEXT.json OUTDIR
#
# TEXT.json: {"policy": "...", "pairs": [{"prompt", "response"}], "cases": [{"input", "values"}]}.
# One byte-level BPE tokenizer and one llama architecture for all three, trained in stages from one seed:
#   a base that read the policy as plain text (language modelling only; never saved: it has not seen a
#       question answered and passes none of the suite),
#   v1  the base fine-tuned briefly on the prompt/response pairs (loss on the responses only),
#   v2  v1 fine-tuned a little longer,
#   v3  v2 fine-tuned until it has learnt the pairs.
# Each stage's greedy answers to the demo suite's inputs are graded here as the suite grades them (the
# answer must contain each case's phrase, ignoring case) and printed, so the stages' pass rates can be
# seen to differ before the folders are committed; Hearth's own eval of the seeded demo measures them again.
import json
import os
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }}:\n{{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant:\n{% endif %}"
STAGES = [(None, "policy", int(os.environ.get("DEMO_STEPS_0", 150))), ("support-v1", "pairs", int(os.environ.get("DEMO_STEPS_1", 30))),
          ("support-v2", "pairs", int(os.environ.get("DEMO_STEPS_2", 10))), ("support-v3", "pairs", int(os.environ.get("DEMO_STEPS_3", 300)))]
MAX_NEW_TOKENS = 32


def main(text_file: str, out: str) -> None:
    text = json.load(open(text_file))
    transcripts = [f"Customer: {p['prompt']}\nAgent: {p['response']}\n" for p in text["pairs"]]
    corpus = [text["policy"], *transcripts]

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=384, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
    fast.chat_template = CHAT_TEMPLATE

    def ids(s: str) -> list[int]:
        return fast(s, add_special_tokens=False).input_ids

    # Plain text: the whole sequence is learnt. Pairs: the prompt as the eval sends it (the input with the
    # tokenizer's <s>, then a newline) and as a chat; only the answer and its </s> are learnt.
    # The policy in paragraphs: v1 has read the policy but never seen a question answered.
    corpus_seqs = [([bos] + ids(par.strip()) + [eos], None) for par in text["policy"].split("\n\n") if par.strip()]
    pair_seqs = []
    for p in text["pairs"]:
        plain = fast(p["prompt"]).input_ids
        chat = ids(fast.apply_chat_template([{"role": "user", "content": p["prompt"]}], tokenize=False, add_generation_prompt=True))
        pair_seqs.append((plain + ids("\n" + p["response"]) + [eos], len(plain)))
        pair_seqs.append((chat + ids(p["response"]) + [eos], len(chat)))

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, bos_token_id=bos, eos_token_id=eos, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)

    def batch(seqs, size=8):
        pick = [seqs[i] for i in torch.randint(len(seqs), (size,), generator=gen).tolist()]
        width = max(len(s) for s, _ in pick)
        x = torch.full((size, width), eos)
        y = torch.full((size, width), -100)
        for i, (s, start) in enumerate(pick):
            x[i, : len(s)] = torch.tensor(s)
            y[i, : len(s)] = torch.tensor(s)
            if start:
                y[i, :start] = -100
        return x, y

    def passes() -> int:
        model.eval()
        n = 0
        with torch.no_grad():
            for c in text["cases"]:
                prompt = torch.tensor([fast(c["input"]).input_ids])
                got = model.generate(prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=eos, pad_token_id=eos)
                answer = fast.decode(got[0, prompt.shape[1]:], skip_special_tokens=True)
                n += all(v.lower() in answer.lower() for v in c["values"])
                if os.environ.get("DEMO_VERBOSE"):
                    print(repr(c["input"]), "->", repr(answer), file=sys.stderr)
        model.train()
        return n

    model.train()
    for name, data, steps in STAGES:
        seqs = corpus_seqs if data == "policy" else pair_seqs
        for _ in range(steps):
            x, y = batch(seqs)
            loss = model(input_ids=x, labels=y).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        if name is None:
            continue
        folder = os.path.join(out, name)
        model.save_pretrained(folder)
        fast.save_pretrained(folder)
        with open(os.path.join(folder, "README.md"), "w") as f:
            f.write(f"---\nlicense: apache-2.0\n---\n# {name}\nA small support model trained for Hearth's demo project by scripts/demo-models/train.py "
                    f"({data}, {steps} steps after the previous stage). It answers only the demo's questions.\n")
        print(json.dumps({"version": name, "data": data, "steps": steps, "loss": round(loss.item(), 4), "passed": passes(), "cases": len(text["cases"])}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
