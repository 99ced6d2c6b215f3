"""The peer of Hearth's LoRA fine-tuning benchmark: the same training step in transformers + peft.

A SmolLM2-135M-shaped llama (random weights) in bfloat16, peft LoRA adapters (rank, alpha, all
seven projections, no dropout; peft keeps them float32 over a bf16 base), batch 1: forward, mean
cross-entropy over every position, backward, global-norm clipping at 1.0, AdamW on the adapters,
zeroed gradients; the loss is read back each step (as Hearth's loop does), which also waits for the
device. The first steps (--warm) are not timed.

Run by test/bench/lora-finetune.bench.ts (CPU, the oracle venv, 2 threads) and by
test/bench/gpu-check.ts (CUDA). Prints progress on stderr and one JSON object on stdout.

  python test/bench/lora_finetune_peer.py --device cpu --threads 2 --layers 30 --warm 1 --steps 3
"""

import argparse
import json
import resource
import sys
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--warm", type=int, default=1, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    a = ap.parse_args()

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("lora_finetune_peer: --device cuda but torch.cuda.is_available() is False (no CUDA GPU or a CPU-only torch)")
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    import transformers
    import peft
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=a.layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        head_dim=64,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
    )
    dtype = getattr(torch, a.dtype)
    t_load = time.perf_counter()
    model = LlamaForCausalLM(config).to(device=a.device, dtype=dtype)
    lcfg = peft.LoraConfig(
        r=a.rank,
        lora_alpha=a.alpha,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(model, lcfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    adapter_dtype = str(params[0].dtype).replace("torch.", "")
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    load_s = time.perf_counter() - t_load
    gen = torch.Generator().manual_seed(1)
    V, T, B = config.vocab_size, a.seq, a.batch

    def step() -> float:
        ids = torch.randint(0, V, (B, T + 1), generator=gen).to(a.device)
        x, y = ids[:, :-1], ids[:, 1:]
        logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # waits for the device

    cuda = a.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    losses = []
    for i in range(a.warm):
        losses.append(step())
    warm_s = time.perf_counter() - t0
    print(f"peer: warm-up {a.warm} step(s) in {warm_s:.1f} s", file=sys.stderr, flush=True)
    times = []
    for i in range(a.steps):
        s = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - s)
        print(f"peer: step {i + 1}/{a.steps} {times[-1] * 1000:.0f} ms, loss {losses[-1]:.4f}", file=sys.stderr, flush=True)
    total = sum(times)
    out = {
        "library": f"transformers {transformers.__version__} + peft {peft.__version__} (torch {torch.__version__})",
        "device": torch.cuda.get_device_name() if cuda else f"cpu, {torch.get_num_threads()} threads",
        "dtype": a.dtype,
        "adapterDtype": adapter_dtype,
        "layers": a.layers,
        "tokensPerStep": B * T,
        "warmSteps": a.warm,
        "timedSteps": a.steps,
        "warmSeconds": warm_s,
        "loadSeconds": load_s,
        "stepMs": [t * 1000 for t in times],
        "msPerStep": total / max(1, len(times)) * 1000,
        "tokensPerSec": B * T * len(times) / total if total > 0 else 0,
        "trainableParams": sum(p.numel() for p in params),
        "losses": losses,
        # CUDA: the caching allocator's peak of live tensors; CPU: the process's peak resident memory
        "peakBytes": torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peakKind": "torch.cuda.max_memory_allocated" if cuda else "process max RSS",
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
