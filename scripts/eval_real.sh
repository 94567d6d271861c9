#!/usr/bin/env bash
# The model card's real-photo numbers (MODEL.md): score a folder of real photos with human scores
# (FOLDER/images + FOLDER/labels.csv: image, mos) with the caption-only self-check, then compare both
# the image rating and the caption-only rating with the human scores. Validation only: never train on it.
#   bash scripts/eval_real.sh MODEL NAME FOLDER [extra qassess score options...]
set -euo pipefail
model=$1; name=$2; folder=$3; shift 3
QA=${QA:-.venv/bin/qassess}
mkdir -p runs/eval
$QA score "$folder/images" -o "runs/eval/$name.jsonl" --model "$model" --self-check "$@"
$QA compare "runs/eval/$name.jsonl" "$folder/labels.csv" \
  --json "runs/eval/$name.metrics.json" --markdown "runs/eval/$name.metrics.md"
$QA compare "runs/eval/$name.jsonl" "$folder/labels.csv" --pred-col self_check_rating \
  --json "runs/eval/$name.caption.metrics.json" --markdown "runs/eval/$name.caption.metrics.md"
