#!/usr/bin/env bash
# The model card's numbers (MODEL.md): score the held-out photos of a `qassess data synth` output with a
# model, with the caption-only self-check, then compare with the labels and the reference texts.
#   bash scripts/eval_model.sh MODEL NAME [SYNTH_DIR] [extra qassess score options...]
# SUBSET=1 scores a fixed subset of each held-out photo's images (about 40 of ~100: the pristine photo,
# every single distortion at levels 2 and 4, the first five mixes), so a CPU evaluation fits in minutes.
set -euo pipefail
model=$1; name=$2; synth=${3:-.cache/synth}; shift $(( $# < 3 ? $# : 3 ))
QA=${QA:-.venv/bin/qassess}
mkdir -p runs/eval
mapfile -t folders < <(.venv/bin/python -c "
import json, os
rows = json.load(open('$synth/test.json'))
if os.environ.get('SUBSET') == '1':
    mixes = {}
    for r in rows:
        d = r['distortions']
        keep = d == 'none' or ('+' not in d and d.endswith((':2', ':4')))
        if '+' in d:
            mixes[r['source']] = mixes.get(r['source'], 0) + 1
            keep = mixes[r['source']] <= 5
        if keep:
            print('$synth/images/' + r['image'])
else:
    for s in sorted({r['source'] for r in rows}): print('$synth/images/' + s)")
$QA score "${folders[@]}" -o "runs/eval/$name.jsonl" --model "$model" --self-check "$@"
$QA compare "runs/eval/$name.jsonl" "$synth/test.json" --refs "$synth/test.json" \
  --json "runs/eval/$name.metrics.json" --markdown "runs/eval/$name.metrics.md"
# the caption-only (stage 2) rating of each image's own caption against the same labels
$QA compare "runs/eval/$name.jsonl" "$synth/test.json" --pred-col self_check_rating \
  --json "runs/eval/$name.caption.metrics.json" --markdown "runs/eval/$name.caption.metrics.md"
