# The torch engine of `hearth node`: one training job (a TrainJobSpec, gpu/train/job-types.ts) on a
# Hugging Face decoder folder, with transformers and peft. Started by the agent (node-agent/torch-engine.ts)
# as plain Python on a CPU, or through torchrun, one process per GPU.
#
#   python train.py --spec spec.json --dataset DATA --parent DIR --work DIR [--resume CHECKPOINT.tar]
#
# It does what the WebGPU engine's decoder job does (gpu/train/decoder-job.ts): SFT and LoRA on
# prompt/response pairs or conversations rendered through the tokenizer's chat template with the loss on
# the completion only, continued pre-training on a corpus; AdamW (betas 0.9/0.95, weight decay 0.1 on
# matrices), linear warm-up then cosine decay to lr/10, gradient clipping at 1, gradient accumulation.
# It prints JSON lines on stdout (rank 0 only), which the agent relays to the server:
#   {"type": "start", "device", "processes", "dtype", "trainable"}   the model is loaded
#   {"type": "step", "step", "loss", "lr", "tokens", "elapsedMs"[, "valLoss"]}
#   {"type": "checkpoint", "step", "path"}   a ustar archive: the folder (adapter/ or model.safetensors)
#                                            and trainer_state.pt (optimizer, step, RNG states)
#   {"type": "done", "path", "steps", "parameters", "finalLoss"}   the result folder
#   {"type": "error", "message"}             and exit status 1
import argparse
import contextlib
import json
import math
import os
import pickle
import shutil
import sys
import tarfile
import time
import traceback

STATE_FORMAT = "hearth-torch-train/2"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
COPIED = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json", "README.md", "LICENSE", "NOTICE"]

RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))
LOCAL_RANK = int(os.environ.get("LOCAL_RANK", "0"))


class JobError(Exception):
    """A problem with the job itself (its data, config or parent): another attempt fails the same way."""


def emit(**event):
    if RANK == 0:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def learning_rate(step, lr, warmup, steps):
    """Step is 0-based; the same schedule as gpu/train/train.ts learningRate."""
    min_lr = lr / 10
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, steps - warmup)
    ratio = min(1.0, (step - warmup) / span)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def sft_examples(text, tok):
    """(ids, mask) per JSON line, the same rules and messages as decoderSftExamples."""
    out = []
    template = getattr(tok, "chat_template", None)
    eos = tok.eos_token_id
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        where = f"dataset line {i + 1}"
        try:
            v = json.loads(line)
        except ValueError:
            raise JobError(f"{where}: not valid JSON")
        if isinstance(v, dict) and isinstance(v.get("messages"), list):
            msgs = v["messages"]
            if not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in msgs):
                raise JobError(f'{where}: every message needs a "role" and a text "content"')
            if not msgs or msgs[-1]["role"] != "assistant":
                raise JobError(f"{where}: the conversation must end with the assistant's message")
            prompt, completion = msgs[:-1], msgs[-1:]
        elif isinstance(v, dict) and isinstance(v.get("prompt"), str) and isinstance(v.get("response"), str):
            prompt = [{"role": "user", "content": v["prompt"]}]
            completion = [{"role": "assistant", "content": v["response"]}]
        else:
            raise JobError(f'{where}: expected {{"prompt": "...", "response": "..."}} or {{"messages": [...]}}')
        if template:
            # TRL's prompt-completion convention: the loss on what follows the prompt's generation prompt.
            p = list(tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False))
            full = list(tok.apply_chat_template(prompt + completion, tokenize=True, return_dict=False))
            if full[: len(p)] != p:
                raise JobError(f"{where}: the chat template renders the prompt differently inside the conversation")
            out.append((full, [0] * len(p) + [1] * (len(full) - len(p))))
        else:
            p = tok.encode("\n".join(m["content"] for m in prompt))
            r = tok.encode(completion[0]["content"], add_special_tokens=False) + ([] if eos is None else [eos])
            out.append((p + r, [0] * len(p) + [1] * len(r)))
    if not out:
        raise JobError("dataset holds no examples")
    if not any(1 in m for _, m in out):
        raise JobError("no example has tokens to learn (assistant tokens)")
    return out


class Mulberry32:
    """The WebGPU engine's seeded generator (mulberry32 in gpu/nn/config.ts), number for number: with the
    same seed both engines draw the same batches and the same initial LoRA weights."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF

    def __call__(self):
        self.state = (self.state + 0x6D2B79F5) & 0xFFFFFFFF
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    def below(self, n):
        """Math.floor(rand() * n)."""
        return math.floor(self() * n)


def _imul(a, b):
    return (a * b) & 0xFFFFFFFF


def init_lora_like_webgpu(model, layers, targets, seed, torch):
    """LoRA's A matrices drawn as the WebGPU engine draws them (Decoder.attachLora): uniform in
    +-1/sqrt(in) (nn.Linear's and peft's bound) from mulberry32(seed), layer by layer, target by target;
    B stays zero. The same seed gives both engines the same initial adapter."""
    rand = Mulberry32(seed)
    modules = dict(model.named_modules())
    for l in range(layers):
        for t in targets:
            part = "mlp" if t in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            a = modules[f"base_model.model.model.layers.{l}.{part}.{t}"].lora_A["default"].weight
            r, fan_in = a.shape
            bound = 1 / math.sqrt(fan_in)
            values = [(rand() * 2 - 1) * bound for _ in range(r * fan_in)]
            with torch.no_grad():
                a.copy_(torch.tensor(values, dtype=torch.float32).view(r, fan_in))


class MaskedSampler:
    """Random examples, each left-aligned in its row, the window ending at its last masked token (MaskedSampler in decoder-job.ts)."""

    def __init__(self, examples, batch, seq_len, seed, pad):
        self.examples, self.batch, self.seq_len, self.pad = examples, batch, seq_len, pad
        self.rand = Mulberry32(seed)

    def next(self, torch):
        B, T = self.batch, self.seq_len
        x = torch.full((B, T), self.pad, dtype=torch.long)
        y = torch.full((B, T), -100, dtype=torch.long)
        for b in range(B):
            ids, mask = self.examples[self.rand.below(len(self.examples))]
            end = len(mask) - mask[::-1].index(1) if 1 in mask else len(ids)
            start = max(0, end - (T + 1))
            ids_w = ids[start : max(end, min(len(ids), start + T + 1))]
            mask_w = mask[start : start + len(ids_w)]
            for t in range(min(len(ids_w) - 1, T)):
                x[b, t] = ids_w[t]
                if mask_w[t + 1]:
                    y[b, t] = ids_w[t + 1]
        return x, y


class CorpusSampler:
    """Random windows of seq_len + 1 tokens of a token stream."""

    def __init__(self, ids, batch, seq_len, seed):
        if len(ids) < seq_len + 1:
            raise JobError(f"the corpus is {len(ids)} tokens, fewer than one sequence of {seq_len} + 1")
        self.ids, self.batch, self.seq_len = ids, batch, seq_len
        self.rand = Mulberry32(seed)

    def next(self, torch):
        rows = []
        for _ in range(self.batch):
            s = self.rand.below(len(self.ids) - self.seq_len)
            rows.append(self.ids[s : s + self.seq_len + 1])
        t = torch.tensor(rows, dtype=torch.long)
        return t[:, :-1].contiguous(), t[:, 1:].contiguous()


def write_tar(path, root):
    """A ustar archive of the files under root (what gpu/io/tar.ts reads)."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for dirpath, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                tar.add(full, arcname=os.path.relpath(full, root), recursive=False)


def parent_dtype(config, torch):
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}.get(str(name), torch.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--parent", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--resume")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with open(args.spec) as f:
        spec = json.load(f)
    kind = spec["kind"]
    steps, batch, lr = int(spec["steps"]), int(spec["batchSize"]), float(spec["lr"])
    accum = int(spec.get("gradAccum") or 1)
    warmup = int(spec.get("warmupSteps") or 0)
    every = int(spec["checkpointEvery"])
    seed = int(spec.get("seed") or 1)
    eval_every = int(spec.get("evalEvery") or 0)
    strategy = spec.get("strategy") or "ddp"
    fsdp = WORLD > 1 and strategy == "fsdp"
    if batch % WORLD:
        raise JobError(f"batchSize {batch} must be a multiple of the {WORLD} processes: each takes an equal share of every batch")

    if WORLD > 1:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{LOCAL_RANK}") if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(seed)

    with open(os.path.join(args.parent, "config.json")) as f:
        parent_config = json.load(f)
    if parent_config.get("model_type") == "gpt2":
        raise JobError("fine-tuning a GPT-2 folder is not supported; choose a llama, mistral or qwen2 model")
    source_dtype = parent_dtype(parent_config, torch)
    tok = AutoTokenizer.from_pretrained(args.parent)
    # LoRA keeps the base frozen (in its own dtype on a GPU); full training needs float32 master weights,
    # and so does FSDP (its shards are float32 masters; on a GPU it computes in the folder's dtype).
    load_dtype = source_dtype if kind == "LORA" and device.type == "cuda" and not fsdp else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.parent, dtype=load_dtype).to(device)
    context = getattr(model.config, "max_position_embeddings", None) or 512
    seq_len = min(int(spec.get("seqLen") or 512), context)

    lora = None
    if kind == "LORA":
        from peft import LoraConfig, get_peft_model

        l = spec.get("lora") or {"rank": 8, "alpha": 16}
        targets = l.get("targets") or LORA_TARGETS
        for t in targets:
            if t not in LORA_TARGETS:
                raise JobError(f'lora.targets: "{t}" is not a projection of this model ({", ".join(LORA_TARGETS)})')
        lora = LoraConfig(r=int(l["rank"]), lora_alpha=l["alpha"], lora_dropout=float(l.get("dropout") or 0.0), target_modules=list(targets), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
        init_lora_like_webgpu(model, model.config.num_hidden_layers, targets, seed, torch)
    if fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=source_dtype, reduce_dtype=torch.float32) if device.type == "cuda" else MixedPrecisionPolicy()
        for layer in (model.base_model.model if kind == "LORA" else model).model.layers:
            fully_shard(layer, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
    model.train()
    emit(type="start", device=str(device), processes=WORLD, strategy=strategy if WORLD > 1 else None, dtype=str(next(model.parameters()).dtype).replace("torch.", ""), trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))

    with open(args.dataset, "rb") as f:
        text = f.read().decode("utf-8")
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    val = None
    if kind == "PRETRAIN":
        ids = tok.encode(text, add_special_tokens=False)
        split = int(len(ids) * 0.9)
        can_val = eval_every > 0 and split >= seq_len + 1 and len(ids) - split >= seq_len + 1
        # every process draws the whole batch (the same generator) and takes its share of the rows
        data = CorpusSampler(ids[:split] if can_val else ids, batch, seq_len, seed)
        val = CorpusSampler(ids[split:], batch, seq_len, seed + 7919) if can_val else None
    else:
        examples = sft_examples(text, tok)
        split = int(len(examples) * 0.9)
        can_val = eval_every > 0 and 1 <= split < len(examples)
        data = MaskedSampler(examples[:split] if can_val else examples, batch, seq_len, seed, pad)
        val = MaskedSampler(examples[split:], batch, seq_len, seed + 7919, pad) if can_val else None
    val_batches = [val.next(torch) for _ in range(4)] if val else []

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for _, p in trainable if p.ndim == 2], "weight_decay": 0.1},
        {"params": [p for _, p in trainable if p.ndim != 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=(0.9, 0.95), eps=1e-8)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[LOCAL_RANK] if device.type == "cuda" else None) if WORLD > 1 and not fsdp else model

    fingerprint = json.dumps({k: spec.get(k) for k in ["kind", "steps", "batchSize", "seqLen", "lr", "warmupSteps", "gradAccum", "seed", "lora", "strategy"]}, sort_keys=True)
    start = 0
    if args.resume:
        start = restore(args.resume, args.work, model, optimizer, data, kind, fingerprint, torch, fsdp)

    def full_states():
        """The model's weights and the optimizer's state, whole, on rank 0: FSDP gathers its shards (every rank calls this)."""
        if not fsdp:
            return None, optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_optimizer_state_dict

        o = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return get_model_state_dict(model, options=o), get_optimizer_state_dict(model, optimizer, options=o)

    def save_folder(into, weights):
        os.makedirs(into, exist_ok=True)
        if weights is None:
            if kind == "LORA":
                model.save_pretrained(os.path.join(into, "adapter"))
            else:
                model.save_pretrained(into, max_shard_size="1000GB")
            return
        from safetensors.torch import save_file

        if kind == "LORA":
            from peft import get_peft_model_state_dict

            os.makedirs(os.path.join(into, "adapter"), exist_ok=True)
            adapter = get_peft_model_state_dict(model, state_dict=weights)
            save_file({k: v.contiguous() for k, v in adapter.items()}, os.path.join(into, "adapter", "adapter_model.safetensors"))
            model.peft_config["default"].save_pretrained(os.path.join(into, "adapter"))
        else:
            save_file({k: v.clone().contiguous() for k, v in weights.items()}, os.path.join(into, "model.safetensors"))

    def checkpoint(step):
        weights, optim = full_states()
        if RANK != 0:
            return
        d = os.path.join(args.work, f"checkpoint-{step}")
        shutil.rmtree(d, ignore_errors=True)
        save_folder(d, weights)
        with open(os.path.join(d, "job.json"), "w") as f:
            # read by the agent that resumes it: the same strategy must load this optimizer state
            json.dump({"strategy": strategy if WORLD > 1 else None, "processes": WORLD}, f)
        state = {
            "format": STATE_FORMAT,
            "fingerprint": fingerprint,
            "step": step,
            "optimizer": optim,
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None, "sampler": data.rand.state},
        }
        torch.save(state, os.path.join(d, "trainer_state.pt"))
        path = d + ".tar"
        write_tar(path, d)
        shutil.rmtree(d)
        emit(type="checkpoint", step=step, path=path)

    started = time.time()
    tokens = 0
    last_loss = None
    for step in range(start, steps):
        for g in optimizer.param_groups:
            g["lr"] = learning_rate(step, lr, warmup, steps)
        optimizer.zero_grad(set_to_none=True)
        # Mean over the tokens that carry a loss, across the accumulated micro-batches.
        micro = [data.next(torch) for _ in range(accum)]
        count = sum(int((y != -100).sum()) for _, y in micro)
        if count == 0:
            raise JobError("a batch has no tokens to learn; use longer sequences (seqLen)")
        total = 0.0
        share = batch // WORLD
        for i, (x, y) in enumerate(micro):
            # this process's rows of the global batch; the loss is its part of the global mean, and
            # since DDP and FSDP average gradients over processes, each backward is scaled by their number
            x, y = x[RANK * share : (RANK + 1) * share].to(device), y[RANK * share : (RANK + 1) * share].to(device)
            quiet = ddp.no_sync() if ddp is not model and i < len(micro) - 1 else contextlib.nullcontext()
            with quiet:
                logits = ddp(input_ids=x).logits.float()
                loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-100, reduction="sum") / count
                (loss * WORLD).backward()
            total += float(loss.detach())
            tokens += x.numel()
        if WORLD > 1:
            summed = torch.tensor([total], dtype=torch.float64, device=device)
            torch.distributed.all_reduce(summed)
            total = float(summed)
        torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
        optimizer.step()
        last_loss = total
        event = {"type": "step", "step": step + 1, "loss": total, "lr": learning_rate(step, lr, warmup, steps), "tokens": tokens * WORLD, "elapsedMs": (time.time() - started) * 1000}
        if val_batches and ((step + 1) % eval_every == 0 or step + 1 == steps):
            model.eval()
            with torch.no_grad():
                # the mean over every target token of the fixed batches, as validationLoss in gpu/train/train.ts
                total_val, targets_val = 0.0, 0
                for x, y in val_batches:
                    lg = model(input_ids=x.to(device)).logits.float()
                    total_val += float(torch.nn.functional.cross_entropy(lg.view(-1, lg.size(-1)), y.to(device).view(-1), ignore_index=-100, reduction="sum"))
                    targets_val += int((y != -100).sum())
            model.train()
            event["valLoss"] = total_val / max(1, targets_val)
        emit(**event)
        if (step + 1) % every == 0 or step + 1 == steps:
            checkpoint(step + 1)

    final = model
    if fsdp:
        # the trained weights, whole, in an unsharded copy of the model on rank 0
        weights, _ = full_states()
        if RANK == 0:
            final = AutoModelForCausalLM.from_pretrained(args.parent, dtype=torch.float32)
            if kind == "LORA":
                final = get_peft_model(final, lora)
            final.load_state_dict(weights, strict=False)
    if RANK == 0:
        out = os.path.join(args.work, "result")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        for name in ["config.json", *COPIED]:
            if os.path.exists(os.path.join(args.parent, name)):
                shutil.copyfile(os.path.join(args.parent, name), os.path.join(out, name))
        parameters = sum(p.numel() for p in (final.get_base_model() if kind == "LORA" else final).parameters())
        if kind == "LORA":
            final.save_pretrained(os.path.join(out, "adapter"))
            merged = final.merge_and_unload()
        else:
            merged = final
        # The merged weights in the parent's dtype, under transformers' names, as one file; the parent's config stays.
        weights = os.path.join(args.work, "weights")
        shutil.rmtree(weights, ignore_errors=True)
        merged.to(source_dtype).save_pretrained(weights, max_shard_size="1000GB")
        shutil.move(os.path.join(weights, "model.safetensors"), os.path.join(out, "model.safetensors"))
        shutil.rmtree(weights)
        emit(type="done", path=out, steps=steps, parameters=parameters, finalLoss=last_loss)
    if WORLD > 1:
        # every process leaves together: with gloo, a process that tears the group down while another is
        # still writing the result can leave that one waiting in destroy_process_group for ever
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def restore(path, work, model, optimizer, data, kind, fingerprint, torch, fsdp):
    d = os.path.join(work, f"resume-{RANK}")
    shutil.rmtree(d, ignore_errors=True)
    try:
        with tarfile.open(path) as tar:
            tar.extractall(d, filter="data")
        # weights_only: a checkpoint is data from the server; it must never run code on this machine
        state = torch.load(os.path.join(d, "trainer_state.pt"), weights_only=True)
    except (tarfile.TarError, FileNotFoundError, RuntimeError, pickle.UnpicklingError) as error:
        raise JobError(f"the checkpoint is not a torch training state ({error}); only the torch engine resumes a torch run")
    if state.get("format") != STATE_FORMAT:
        raise JobError("the checkpoint is not a torch training state; it cannot resume this job")
    if state.get("fingerprint") != fingerprint:
        raise JobError("the checkpoint was written by a different training configuration; it cannot be resumed with this one")
    from safetensors.torch import load_file

    if fsdp:
        # every process reads the whole state and keeps its shards
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

        if kind == "LORA":
            saved = load_file(os.path.join(d, "adapter", "adapter_model.safetensors"))
            weights = {k[: -len(".weight")] + ".default.weight" if ".lora_" in k else k: v for k, v in saved.items()}
        else:
            weights = load_file(os.path.join(d, "model.safetensors"))
        set_model_state_dict(model, weights, options=StateDictOptions(full_state_dict=True, strict=False))
        set_optimizer_state_dict(model, optimizer, optim_state_dict=state["optimizer"], options=StateDictOptions(full_state_dict=True))
    elif kind == "LORA":
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(os.path.join(d, "adapter", "adapter_model.safetensors")))
    else:
        missing = model.load_state_dict(load_file(os.path.join(d, "model.safetensors")), strict=False)
        if missing.unexpected_keys:
            raise JobError(f"the checkpoint's weights do not fit the model: {missing.unexpected_keys[:3]}")
    if not fsdp:
        optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"].get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    data.rand.state = int(state["rng"]["sampler"])
    shutil.rmtree(d)
    return int(state["step"])


if __name__ == "__main__":
    try:
        main()
    except JobError as error:
        emit(type="error", message=str(error), retryable=False)
        sys.exit(1)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        emit(type="error", message=f"{type(error).__name__}: {error}", retryable=True)
        sys.exit(1)
