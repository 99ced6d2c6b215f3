# What this Python can run for `hearth node`'s torch engine: prints one JSON object with the versions
# of the packages the engine needs (null when missing, with the import error) and the CUDA devices.
# Never fails: a missing package is reported, not raised.
import importlib
import json
import platform
import sys

NEEDED = ["torch", "transformers", "peft", "safetensors", "tokenizers"]

report = {"python": platform.python_version(), "executable": sys.executable, "packages": {}, "missing": [], "errors": {}, "cuda": None, "gpus": []}
for name in NEEDED:
    try:
        module = importlib.import_module(name)
        report["packages"][name] = getattr(module, "__version__", "unknown")
    except Exception as error:  # an ImportError, or a broken install raising anything else
        report["packages"][name] = None
        report["missing"].append(name)
        report["errors"][name] = f"{type(error).__name__}: {error}"

if report["packages"].get("torch"):
    import torch

    report["cuda"] = torch.version.cuda
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                report["gpus"].append({"index": i, "name": p.name, "memoryBytes": int(p.total_memory), "capability": f"{p.major}.{p.minor}"})
    except Exception as error:
        report["errors"]["cuda"] = f"{type(error).__name__}: {error}"

print(json.dumps(report))
