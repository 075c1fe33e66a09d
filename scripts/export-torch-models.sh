#!/usr/bin/env bash
# Exports the small PyTorch models Graft's import tests read (default target/torch-models), with
# Debian's PyTorch: python3-torch, python3-torchvision and python3-onnx, installed when missing and
# running as root. scripts/export_torch_models.py says what is exported: torchvision's ResNet-18
# and MobileNetV2 and a torch.nn.TransformerEncoderLayer, narrowed and randomly initialised with a
# fixed seed, each with BatchNorm kept and folded, at opsets 11 to 17, plus manifest.tsv.
#
# Idempotent: a directory exported by the same script and PyTorch is kept. When PyTorch cannot be
# had (no root for apt-get, no package), this says so and exits 0; the tests that need the
# exports skip themselves. Nothing is downloaded at test time.
#
# Usage: scripts/export-torch-models.sh [target-dir]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-target/torch-models}"
python=/usr/bin/python3
packages="python3-torch python3-torchvision python3-onnx"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

say() { echo "export-torch-models: $*"; }

have_torch() {
  [ -x "$python" ] && "$python" -c 'import torch, torchvision, onnx' >/dev/null 2>&1
}

if ! have_torch; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "skipped: Debian's $packages are not installed;"
    say "  install them as root (apt-get install $packages) and run this again"
    exit 0
  fi
  say "installing the Debian packages $packages"
  # apt's own output names its mirrors: keep it in the log, shown to nobody.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >"$log" 2>&1; then
    apt-get update -q >"$log" 2>&1 || true
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >"$log" 2>&1; then
      say "skipped: apt-get install $packages failed"
      exit 0
    fi
  fi
  if ! have_torch; then
    say "skipped: $python cannot import torch, torchvision and onnx after installing them"
    exit 0
  fi
fi

stamp="$(cat "$here/export_torch_models.py" "$0" | sha256sum | cut -d' ' -f1) $("$python" -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__)')"
if [ -f "$target/manifest.tsv" ] && [ "$(cat "$target/.stamp" 2>/dev/null)" = "$stamp" ]; then
  say "exports already in $target"
  exit 0
fi
rm -rf "$target"
mkdir -p "$target"
# The exporter warns about every constant it cannot fold and every training-mode op: keep that
# in the log unless it fails.
if ! "$python" "$here/export_torch_models.py" "$target" >"$log" 2>&1; then
  cat "$log" >&2
  say "error: the export failed" >&2
  exit 1
fi
grep '^export-torch-models:' "$log" || true
echo "$stamp" >"$target/.stamp"
