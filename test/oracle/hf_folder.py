# A tiny but complete Hugging Face model folder, as transformers and tokenizers write one, and what
# transformers computes from a folder (to check that a folder Hearth gives back loads and agrees).
#
#   python hf_folder.py make OUTDIR        llama with grouped-query attention, sharded weights (bf16),
#                                          a byte-level BPE tokenizer, a chat template, a model card
#   python hf_folder.py logits DIR         loads DIR with AutoModelForCausalLM/AutoTokenizer, prints JSON
#   python hf_folder.py serve              the same as forward for one request per stdin line
#                                          ({"dir", "adapter"?, "ids"}), one JSON line answered each,
#                                          so a test file imports torch and transformers once
#   python hf_folder.py forward DIR [ADAPTER]   reads {"ids": [[...], ...]} on stdin; prints the last
#                                          position's logits of each (float32), with ADAPTER (a peft
#                                          folder) applied on DIR when given, and the chat template
import json
import sys

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = ["Refunds are possible within thirty days of delivery.", "Shipping takes five working days.", "Hello! How can I help you today?"] * 20
PROMPT = "Refunds are possible"

if sys.argv[1] == "make":
    out = sys.argv[2]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
    fast.chat_template = "{% for m in messages %}<s>{{ m['role'] }}:\n{{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant:\n{% endif %}"
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, initializer_range=0.25, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, max_shard_size="20KB")
    with open(f"{out}/README.md", "w") as f:
        f.write("---\nlicense: apache-2.0\n---\n# tiny-llama\nA test model.\n")
elif sys.argv[1] in ("forward", "serve"):
    def last_logits(d, adapter, ids_list):
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
        if adapter:
            from peft import PeftModel
            model = PeftModel.from_pretrained(model, adapter)
        model.eval()
        with torch.no_grad():
            return [model(torch.tensor([ids])).logits[0, -1].tolist() for ids in ids_list]

    if sys.argv[1] == "forward":
        req = json.load(sys.stdin)
        print(json.dumps({"logits": last_logits(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None, req["ids"])}))
    else:
        for line in sys.stdin:
            if not line.strip():
                continue
            req = json.loads(line)
            try:
                out = {"logits": last_logits(req["dir"], req.get("adapter"), req["ids"])}
            except Exception as e:  # the test reads the message; the server goes on
                out = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(out), flush=True)
elif sys.argv[1] == "logits":
    d = sys.argv[2]
    tokenizer = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
    print(json.dumps({"ids": ids[0].tolist(), "logits": logits.tolist(), "chat": tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)}))
