#!/usr/bin/env bash
# The model card's numbers (MODEL.md): score the held-out photos of a `qassess data synth` output with a
# model, with the caption-only self-check, then compare with the labels and the reference texts.
#   bash scripts/eval_model.sh MODEL NAME [SYNTH_DIR] [extra qassess score options...]
set -euo pipefail
model=$1; name=$2; synth=${3:-.cache/synth}; shift $(( $# < 3 ? $# : 3 ))
QA=${QA:-.venv/bin/qassess}
mkdir -p runs/eval
mapfile -t folders < <(.venv/bin/python -c "
import json, sys
rows = json.load(open('$synth/test.json'))
for s in sorted({r['source'] for r in rows}): print('$synth/images/' + s)")
$QA score "${folders[@]}" -o "runs/eval/$name.jsonl" --model "$model" --self-check "$@"
$QA compare "runs/eval/$name.jsonl" "$synth/test.json" --refs "$synth/test.json" \
  --json "runs/eval/$name.metrics.json" --markdown "runs/eval/$name.metrics.md"
# the caption-only (stage 2) rating of each image's own caption against the same labels
$QA compare "runs/eval/$name.jsonl" "$synth/test.json" --pred-col self_check_rating \
  --json "runs/eval/$name.caption.metrics.json" --markdown "runs/eval/$name.caption.metrics.md"
