#!/usr/bin/env bash
# GPU check (under 5 minutes on one NVIDIA GPU): the LoRA fine-tuning step of
# `BENCH_ONLY=lora-finetune npm run bench` (SmolLM2-135M-shaped llama, bf16 base, LoRA r=8 on the
# seven projections, batch 1 x 256) by Hearth in Node on Dawn/Vulkan and by transformers + peft on
# PyTorch/CUDA: tokens/s of each and the ratio; then the torch engine of `hearth node` itself
# (node-agent/torch/train.py on one GPU) on a LoRA job over a folder of that shape; printed, and with $OUT set written to
# $OUT/gpu-check.json (and the log to $OUT/gpu-check.log). The work is test/bench/gpu-check.ts.
#
#   scripts/gpu-check.sh              run the check, from the repo root (exit 2 and why: no CUDA, no Vulkan GPU)
#   scripts/gpu-check.sh --prepare    here, on a machine with this repo's node_modules and apt: make what a
#                                     bare GPU machine lacks, in ignored folders to carry along:
#                                     .gpu-check/ (the check bundled by esbuild, Dawn's dawn.node and this
#                                     machine's node binary, gzipped) and .gl/ (the Vulkan loader, libvulkan1)
#
# On a GPU machine without node_modules (this workplace's device machine), after --prepare here:
#   device run: command "bash scripts/gpu-check.sh", carry [".gpu-check", ".gl"], timeout_s 420
# With node_modules present the check runs from source (tsx); otherwise from the bundle, whose
# build stamp (commit, and "+dirty" for uncommitted changes) it prints: re-run --prepare after edits.
#
# Setup it does when run: unpacks .gl/*.deb into / (as root, only where no libvulkan.so.1 is
# installed) and points VK_DRIVER_FILES at the NVIDIA ICD when one is found and none is set.
# Environment: GPU_CHECK_PYTHON (default python3, which must have torch with CUDA, transformers,
# peft), GPU_CHECK_ALLOW_CPU=1 (no GPU needed: Dawn on a CPU Vulkan driver, torch on the CPU; for
# trying the script itself), and the GPU_CHECK_* sizes in test/bench/gpu-check.ts (layers, steps).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

die() { echo "GPU CHECK FAILED: $*" >&2; exit 2; }

prepare() {
  set -e
  [ -d node_modules/esbuild ] && [ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || die "--prepare needs this repo's node_modules (npm install)"
  rm -rf .gpu-check
  mkdir -p .gpu-check/webgpu/dist/linux-x64
  local stamp
  stamp="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [ -z "$(git status --porcelain -- gpu test/bench scripts/gpu-check.sh 2>/dev/null)" ] || stamp="$stamp+dirty"
  npx esbuild test/bench/gpu-check.ts --bundle --platform=node --format=esm --target=node20 --external:webgpu \
    --log-level=warning --outfile=.gpu-check/gpu-check.mjs
  echo "$stamp built $(date -u +%FT%TZ)" >.gpu-check/STAMP
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json .gpu-check/webgpu/
  gzip -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >.gpu-check/webgpu/dist/linux-x64/dawn.node.gz
  gzip -6 -c "$(command -v node)" >.gpu-check/node.gz
  echo "node $(node --version) and Dawn (webgpu $(node -p 'require("./node_modules/webgpu/package.json").version')) packed"
  # The Vulkan loader, as /work/.library/device/README.md does it (amd64 packages of this machine's apt sources).
  mkdir -p .gl /tmp/amd64/partial
  local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
    apt-get "${o[@]}" update -qq && (cd .gl && apt-get "${o[@]}" download libvulkan1) || echo "warning: could not download libvulkan1 into .gl/ (the GPU machine must then have a Vulkan loader)"
  fi
  du -sh .gpu-check .gl
  echo "prepared ($stamp). Carry .gpu-check and .gl; run: bash scripts/gpu-check.sh"
}

if [ "${1:-}" = "--prepare" ]; then prepare; exit $?; fi
[ -z "${1:-}" ] || die "unknown argument $1 (none, or --prepare)"

if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; exec > >(tee "$OUT/gpu-check.log") 2>&1; fi
echo "gpu-check: $(date -u +%FT%TZ) on $(uname -n), $(nproc) CPUs"

# --- Vulkan: the loader, then the NVIDIA driver's ICD ---
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if ls .gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing the carried Vulkan loader (.gl/*.deb)"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
fi
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; echo "VK_DRIVER_FILES=$icd"; break; fi
  done
fi
if [ "${GPU_CHECK_ALLOW_CPU:-0}" != 1 ]; then
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || die "no Vulkan loader (libvulkan.so.1): install libvulkan1, or carry .gl/ from 'scripts/gpu-check.sh --prepare'"
  command -v nvidia-smi >/dev/null && nvidia-smi -L || die "nvidia-smi finds no NVIDIA GPU"
  [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] || echo "warning: no NVIDIA Vulkan ICD file found; Dawn will use whatever the loader finds"
fi

# --- Node and the check: from source with tsx, or the carried bundle ---
NODE=""
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then NODE=$(command -v node); fi
if [ -d node_modules/tsx ] && [ -d node_modules/webgpu ] && [ -n "$NODE" ] && [ "${GPU_CHECK_FROM:-}" != bundle ]; then
  export GPU_CHECK_BUILD="source $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  "$NODE" --import tsx test/bench/gpu-check.ts
  exit $?
fi
[ -f .gpu-check/gpu-check.mjs ] || die "no node_modules here and no carried bundle: run 'scripts/gpu-check.sh --prepare' where the repo is installed and carry .gpu-check"
RUN=/tmp/hearth-gpu-check
rm -rf "$RUN" && mkdir -p "$RUN/node_modules" || die "cannot write $RUN"
cp .gpu-check/gpu-check.mjs "$RUN/" && cp -r .gpu-check/webgpu "$RUN/node_modules/" && gunzip "$RUN/node_modules/webgpu/dist/linux-x64/dawn.node.gz" || die "cannot unpack the carried Dawn"
if [ -z "$NODE" ] || [ "${GPU_CHECK_NODE:-}" = carried ]; then
  gunzip -c .gpu-check/node.gz >"$RUN/node" && chmod +x "$RUN/node" && NODE=$RUN/node || die "no node >= 20 here and none carried"
fi
export GPU_CHECK_BUILD="bundle $(cat .gpu-check/STAMP)"
echo "node $("$NODE" --version) ($NODE), check from the bundle: $GPU_CHECK_BUILD"
"$NODE" "$RUN/gpu-check.mjs"
