"""A SmolLM2-135M-shaped llama folder with random weights, for timing the two engines of `hearth node`.

hidden 576, intermediate 1536, 9 heads / 3 kv heads of 64, vocabulary 49152 with tied embeddings, rope
theta 100000, --layers of them (30 is the real model), bf16 weights in one model.safetensors; a
byte-level BPE tokenizer trained on a few support sentences (its ids are a small part of the
vocabulary, which is kept at full size so the LM head costs what it costs), a chat template and a
generation config. Used by test/bench/engines.bench.ts (CPU) and test/bench/gpu-check.ts (CUDA).

  python test/bench/engines_folder.py OUTDIR --layers 2
"""

import argparse
import json

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "Refunds are possible within thirty days of delivery.",
    "Shipping takes five working days; express takes two.",
    "A damaged parcel is replaced at no cost once the photo is checked.",
    "Hello! How can I help you today?",
] * 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=30)
    a = ap.parse_args()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>")
    fast.chat_template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    fast.save_pretrained(a.out)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=a.layers, num_attention_heads=9, num_key_value_heads=3,
        max_position_embeddings=2048, rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, initializer_range=0.041666666666666664,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(a.out, max_shard_size="1000GB")
    print(json.dumps({"out": a.out, "layers": a.layers, "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
