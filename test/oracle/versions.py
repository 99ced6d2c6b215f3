# Prints the versions of the oracle libraries as JSON (the harness's own check that the pins hold).
import json
import importlib.metadata as md
import sys

if "--transformers4" in sys.argv:
    # transformers 4.57 checks for huggingface-hub < 1.0, which the local index does not carry; it is
    # used only to write checkpoints in its config style, which needs nothing of the hub.
    _version = md.version
    md.version = lambda n: "0.36.0" if n.replace("_", "-").lower() == "huggingface-hub" else _version(n)
    import transformers
    md.version = _version
else:
    import transformers
import tokenizers, torch, safetensors, peft, trl

print(json.dumps({"transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "torch": torch.__version__,
                  "safetensors": safetensors.__version__, "peft": peft.__version__, "trl": trl.__version__}))
