# Loads a tokenizer Hearth exported (tokenizer.json + tokenizer_config.json on stdin as JSON, with
# texts) with transformers' AutoTokenizer and prints the ids and decodes of each text.
import json
import sys
import tempfile

from transformers import AutoTokenizer

req = json.load(sys.stdin)
with tempfile.TemporaryDirectory() as d:
    with open(f"{d}/tokenizer.json", "w") as f:
        json.dump(req["tokenizer_json"], f)
    with open(f"{d}/tokenizer_config.json", "w") as f:
        json.dump(req["tokenizer_config"], f)
    tok = AutoTokenizer.from_pretrained(d)
    ids = [tok(t)["input_ids"] for t in req["texts"]]
    print(json.dumps({"ids": ids, "decoded": [tok.decode(i) for i in ids], "eos": tok.eos_token_id}))
