# The torch engine's inference process for `hearth node`: one Hugging Face folder loaded with
# transformers, answering the agent (node-agent/torch-engine.ts) over JSON lines. The agent keeps the
# text side (tokenizer, chat template, stop strings, graders) in TypeScript, exactly as the WebGPU engine
# does, and sends token ids; this process only runs the network. Requests that arrive together are run
# as one batch: generation with left padding and a key/value cache, log-likelihoods with right padding.
#
#   python infer.py --model DIR
#
# stdin, one JSON object per line:
#   {"op": "generate", "id", "prompt": [ids], "maxNewTokens", "temperature", "topK", "seed", "stop": [ids]}
#   {"op": "loglik", "id", "context": [ids], "continuation": [ids]}
#   {"op": "cancel", "id"}                      a generation ends at its next token
# stdout:
#   {"type": "ready", "device", "dtype", "contextLength", "vocabSize"}
#   {"type": "tokens", "tokens": {id: token, ...}}     one line per generation step of a batch
#   {"type": "done", "id", "reason": "stop" | "length" | "cancelled"}
#   {"type": "loglik", "id", "logprob", "tokens", "greedy"}
#   {"type": "error", "id"?, "message"}          a request's error (the process goes on), or a fatal one
import argparse
import json
import os
import queue
import sys
import threading
import time
import traceback

BATCH = int(os.environ.get("HEARTH_TORCH_BATCH", "16"))
GATHER_S = 0.005


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    device = torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    # On a GPU the folder's own dtype (tensor cores); on a CPU float32, as the WebGPU engine computes.
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(str(name), torch.float32) if device.type == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device)
    model.eval()
    context = getattr(model.config, "max_position_embeddings", None) or 2048
    vocab = model.config.vocab_size
    emit(type="ready", device=str(device), dtype=str(dtype).replace("torch.", ""), contextLength=context, vocabSize=vocab)

    inbox = queue.Queue()
    cancelled = set()

    def read():
        for line in sys.stdin:
            try:
                request = json.loads(line)
            except ValueError:
                emit(type="error", message="a request that is not JSON")
                continue
            if request.get("op") == "cancel":
                cancelled.add(request.get("id"))
            else:
                inbox.put(request)
        inbox.put(None)

    threading.Thread(target=read, daemon=True).start()

    while True:
        first = inbox.get()
        if first is None:
            return
        pending = [first]
        # requests sent together (an eval's cases, a burst of API calls) arrive within a few ms
        deadline = time.monotonic() + GATHER_S
        while len(pending) < BATCH:
            try:
                more = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if more is None:
                inbox.put(None)
                break
            pending.append(more)
        gens = [r for r in pending if r.get("op") == "generate"]
        lls = [r for r in pending if r.get("op") == "loglik"]
        for r in pending:
            if r.get("op") not in ("generate", "loglik"):
                emit(type="error", id=r.get("id"), message=f"unknown op {r.get('op')!r}")
        for batch, run in ((lls, loglik), (gens, generate)):
            if not batch:
                continue
            try:
                with torch.no_grad():
                    run(model, batch, device, torch, cancelled)
            except Exception as error:  # a request's failure (out of memory, a bad id) ends that batch only
                traceback.print_exc(file=sys.stderr)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                for r in batch:
                    emit(type="error", id=r.get("id"), message=f"{type(error).__name__}: {error}")


def loglik(model, batch, device, torch, cancelled):
    """log p(continuation | context) per request, in one right-padded forward."""
    seqs = [list(r["context"]) + list(r["continuation"]) for r in batch]
    inputs = [s[:-1] for s in seqs]
    width = max(len(s) for s in inputs)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, s in enumerate(inputs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    for i, r in enumerate(batch):
        cont = list(r["continuation"])
        n = len(inputs[i])
        rows = logp[i, n - len(cont) : n]
        target = torch.tensor(cont, dtype=torch.long, device=rows.device)
        picked = rows.gather(1, target.view(-1, 1)).view(-1)
        greedy = bool((rows.argmax(dim=-1) == target).all())
        emit(type="loglik", id=r["id"], logprob=float(picked.double().sum()), tokens=len(cont), greedy=greedy)


def generate(model, batch, device, torch, cancelled):
    """New tokens for every request of the batch, left-padded, one step of all rows at a time."""
    R = len(batch)
    prompts = [list(r["prompt"]) for r in batch]
    width = max(len(p) for p in prompts)
    ids = torch.zeros((R, width), dtype=torch.long)
    mask = torch.zeros((R, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    limits = [max(0, int(r.get("maxNewTokens", 0))) for r in batch]
    stops = [set(r.get("stop") or []) for r in batch]
    temps = [float(r.get("temperature") or 0) for r in batch]
    top_ks = [int(r.get("topK") or 0) for r in batch]
    generators = []
    for r in batch:
        g = torch.Generator(device=device)
        g.manual_seed(int(r.get("seed") or 0))
        generators.append(g)
    counts = [0] * R
    active = [limits[i] > 0 for i in range(R)]
    for i in range(R):
        if not active[i]:
            emit(type="done", id=batch[i]["id"], reason="length")
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    past = out.past_key_values
    last = out.logits[:, -1, :].float()
    next_pos = positions[:, -1:] + 1
    while any(active):
        chosen = torch.zeros((R, 1), dtype=torch.long, device=device)
        step = {}
        for i in range(R):
            if not active[i]:
                continue
            rid = batch[i]["id"]
            if rid in cancelled:
                cancelled.discard(rid)
                active[i] = False
                emit(type="done", id=rid, reason="cancelled")
                continue
            row = last[i]
            if temps[i] <= 0:
                token = int(row.argmax())
            else:
                scaled = row / temps[i]
                if 0 < top_ks[i] < scaled.numel():
                    kth = torch.topk(scaled, top_ks[i]).values[-1]
                    scaled = scaled.masked_fill(scaled < kth, float("-inf"))
                token = int(torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=generators[i]))
            chosen[i, 0] = token
            counts[i] += 1
            step[rid] = token
        if step:
            emit(type="tokens", tokens=step)
        for i in range(R):
            rid = batch[i]["id"]
            if rid not in step:
                continue
            if step[rid] in stops[i]:
                active[i] = False
                emit(type="done", id=rid, reason="stop")
            elif counts[i] >= limits[i]:
                active[i] = False
                emit(type="done", id=rid, reason="length")
        if not any(active):
            break
        mask = torch.cat([mask, torch.ones((R, 1), dtype=mask.dtype, device=device)], dim=1)
        out = model(input_ids=chosen, attention_mask=mask, position_ids=next_pos, past_key_values=past, use_cache=True)
        past = out.past_key_values
        last = out.logits[:, -1, :].float()
        next_pos = next_pos + 1


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        emit(type="error", message=f"{type(error).__name__}: {error}")
        sys.exit(1)
