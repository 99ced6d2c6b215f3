# What transformers does with a model folder for the TextModel oracle test (test/oracle/text-model.test.ts):
# the chat prompt of apply_chat_template(tokenize=True, add_generation_prompt=True), greedy generate
# (eos from the folder's generation_config.json), and log-likelihoods of continuations.
#
#   echo '{"messages": [...], "max_new_tokens": 20, "scores": [{"messages"|"text": ..., "continuation": "..."}]}' \
#     | python text_model.py DIR
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

d = sys.argv[1]
req = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(d)
model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
model.eval()


def chat_ids(messages):
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


prompt = chat_ids(req["messages"])
with torch.no_grad():
    out = model.generate(torch.tensor([prompt]), max_new_tokens=req["max_new_tokens"], do_sample=False)
generated = out[0, len(prompt):].tolist()

scores = []
for s in req["scores"]:
    context = chat_ids(s["messages"]) if "messages" in s else tokenizer(s["text"])["input_ids"]
    continuation = tokenizer(s["continuation"], add_special_tokens=False)["input_ids"]
    ids = torch.tensor([context + continuation])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
    total = sum(float(logprobs[len(context) - 1 + j, t]) for j, t in enumerate(continuation))
    scores.append({"context": context, "continuation": continuation, "logprob": total})

print(json.dumps({"prompt": prompt, "generated": generated, "eos": model.generation_config.eos_token_id, "scores": scores}))
