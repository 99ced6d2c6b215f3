# Makes tiny random Hugging Face checkpoints (llama, mistral, qwen2, gpt2) with save_pretrained and
# writes what transformers and peft compute on them: logits, greedy tokens, a loss and its
# gradients (full fine-tuning, and LoRA with init_lora_weights=False). The engine is held to these.
#
#   python decoder_fixtures.py OUTDIR [--transformers4]
#
# With --transformers4 it runs transformers 4.57 (the older config style: rope_theta, rope_scaling,
# torch_dtype); otherwise 5.x (rope_parameters, dtype). Each model lands in OUTDIR/<name>/ with the
# checkpoint files and ref.safetensors (the references, f32; tokens int32).
import json
import os
import sys

import importlib.metadata as md

V4 = "--transformers4" in sys.argv
if V4:
    # transformers 4.57 checks for huggingface-hub < 1.0; writing checkpoints needs nothing of the hub.
    _version = md.version
    md.version = lambda n: "0.36.0" if n.replace("_", "-").lower() == "huggingface-hub" else _version(n)
    import transformers
    md.version = _version
else:
    import transformers

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_grad_enabled(True)
torch.use_deterministic_algorithms(True)
OUT = sys.argv[1]
B, T, PROMPT, NEW = 2, 12, 6, 32
LORA_R, LORA_ALPHA = 4, 8
LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def rope_kwargs(theta, scaling):
    """The rope fields in this transformers version's style."""
    if V4:
        out = {"rope_theta": theta}
        if scaling:
            out["rope_scaling"] = scaling
        return out
    return {"rope_parameters": {"rope_type": "default", "rope_theta": theta, **(scaling or {})}}


def specs():
    if not V4:
        yield "llama_gqa_tied", transformers.LlamaConfig(
            vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True, rms_norm_eps=1e-5,
            initializer_range=0.1, **rope_kwargs(10000.0, None)), {"dtype": torch.float32}
        yield "mistral_sliding", transformers.MistralConfig(
            vocab_size=160, hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=1, head_dim=8, max_position_embeddings=64, sliding_window=5, tie_word_embeddings=False,
            initializer_range=0.1, **rope_kwargs(10000.0, None)), {"dtype": torch.float32, "shard": "8KB"}
        yield "llama3_bf16", transformers.LlamaConfig(
            vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=False, initializer_range=0.1,
            **rope_kwargs(10000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 16})), {"dtype": torch.bfloat16}
        yield "qwen2_sliding_layers", transformers.Qwen2Config(
            vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True, initializer_range=0.1,
            use_sliding_window=True, sliding_window=4, max_window_layers=1, **rope_kwargs(10000.0, None)), {"dtype": torch.float32}
        yield "gpt2", transformers.GPT2Config(
            vocab_size=128, n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.1), {"dtype": torch.float32}
    else:
        yield "qwen2_bias_untied", transformers.Qwen2Config(
            vocab_size=112, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False, initializer_range=0.1,
            **rope_kwargs(1000000.0, None)), {"dtype": torch.float32}
        yield "llama_linear_f16", transformers.LlamaConfig(
            vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, max_position_embeddings=64, tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
            initializer_range=0.1, **rope_kwargs(10000.0, {"rope_type": "linear", "factor": 2.0})), {"dtype": torch.float16}


def scale_up(model, gen):
    """Random weights scaled x3 so differences show; norm gains and biases made non-trivial."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.mul_(3)


def load_f32(cls, path):
    kw = {"torch_dtype": torch.float32} if V4 else {"dtype": torch.float32}
    return cls.from_pretrained(path, attn_implementation="eager", **kw)


def loss_of(model, tokens):
    logits = model(input_ids=tokens[:, :T]).logits
    V = logits.shape[-1]
    return logits, F.cross_entropy(logits.reshape(-1, V).float(), tokens[:, 1:].reshape(-1))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, config, opts in specs():
        torch.manual_seed(1234)
        gen = torch.Generator().manual_seed(99)
        is_gpt2 = config.model_type == "gpt2"
        cls = transformers.GPT2LMHeadModel if is_gpt2 else transformers.AutoModelForCausalLM._model_mapping[type(config)]
        model = cls(config).float()
        scale_up(model, gen)
        path = os.path.join(OUT, name)
        model = model.to(opts["dtype"])
        save_kw = {"max_shard_size": opts["shard"]} if "shard" in opts else {}
        model.save_pretrained(path, safe_serialization=True, **save_kw)
        # the reference: transformers in f32 on exactly the weights saved (16-bit ones upcast exactly)
        model = load_f32(cls, path)
        model.eval()
        V = model.config.vocab_size
        tokens = torch.randint(0, V, (B, T + 1), generator=gen)
        ref = {"tokens": tokens.to(torch.int32)}
        logits, loss = loss_of(model, tokens)
        ref["logits"] = logits.detach().contiguous()
        ref["loss"] = loss.detach().reshape(1)
        model.zero_grad()
        loss.backward()
        for n, p in model.named_parameters():
            ref["grad." + n] = p.grad.detach().clone().contiguous()
        model.zero_grad()
        with torch.no_grad():
            prompt = torch.randint(0, V, (1, PROMPT), generator=gen)
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            out = model.generate(prompt, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False)
            ref["prompt"] = prompt[0].to(torch.int32)
            ref["greedy"] = out[0, PROMPT:].to(torch.int32).contiguous()
            # the smallest gap between the top two logits along the greedy path (near-ties flip argmax)
            full = model(out).logits[0, PROMPT - 1:-1]
            top2 = full.topk(2, dim=-1).values
            gap = float((top2[:, 0] - top2[:, 1]).min())
        meta = {"model_type": config.model_type, "transformers": transformers.__version__, "greedy_min_gap": gap}
        if not is_gpt2:
            import peft
            lcfg = peft.LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=LLAMA_TARGETS, init_lora_weights=False,
                                   lora_dropout=0.0)
            pm = peft.get_peft_model(model, lcfg)
            pm.save_pretrained(os.path.join(path, "adapter"))
            _, lloss = loss_of(pm, tokens)
            lloss.backward()
            ref["lora_loss"] = lloss.detach().reshape(1)
            for n, p in pm.named_parameters():
                if "lora_" not in n:
                    assert p.grad is None, n
                    continue
                short = n.removeprefix("base_model.model.").replace(".default.weight", "")
                ref["lora." + short] = p.detach().clone().contiguous()
                ref["lora_grad." + short] = p.grad.detach().clone().contiguous()
            meta.update({"lora_r": LORA_R, "lora_alpha": LORA_ALPHA, "lora_targets": LLAMA_TARGETS})
        save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(path, "ref.safetensors"),
                  metadata={"meta": json.dumps(meta)})
        print(name, json.dumps(meta))


main()
