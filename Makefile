# Two entry points; both set up .venv first (scripts/setup.sh is a no-op when nothing changed).
.PHONY: setup demo test model model-grpo ablation bench clean
PY := .venv/bin/python
QA := .venv/bin/qassess

setup:
	@bash scripts/setup.sh

# Score samples/ with the embedded default model, then compare with the samples' labels.
demo: setup
	$(QA) score samples/real -o demo-out.csv --overwrite
	$(QA) compare demo-out.csv samples/real/labels.csv --refs samples/real/references.json

test: setup
	$(PY) -m pytest -q

# Rebuild the embedded default model from this clone (MODEL.md): each stage skips when its output exists.
# VAL=folder (real photos + labels.csv) logs a validation SRCC every 100 vision steps and keeps the tower that
# scored best on it (the checkpoint choice); it never trains on it.
# THREADS: torch threads per stage. 1 by default: on this 2-core machine shared with other jobs, a vision
# step took 2.1 s with one thread and 8.9 s with two (MODEL.md); raise it on a machine of your own.
THREADS ?= 1
BUILD := OMP_NUM_THREADS=$(THREADS) MKL_NUM_THREADS=$(THREADS)
model: setup
	$(BUILD) $(QA) data synth data/photos -o .cache/synth --manifest data/photos/manifest.csv --seed 0 --workers 2
	$(BUILD) $(PY) -m qassess.build.model init .cache/model/init --data .cache/synth
	$(BUILD) $(PY) -m qassess.build.model vision .cache/model/init -o .cache/model/vision --data .cache/synth $(if $(VAL),--val $(VAL) --select val --eval-every 100)
	$(BUILD) $(QA) train recipes/default/sft.yaml
	$(PY) -m qassess.build.model package runs/default-sft -o qassess/models/qassess-demo-v2-sft --id qassess-demo-v2-sft
	$(BUILD) $(QA) train recipes/default/grpo.yaml
	$(PY) -m qassess.build.model package runs/default-grpo/merged -o qassess/models/qassess-demo-v2 --id qassess-demo-v2

# The GRPO stage alone (the paper's four rewards on the warm start in runs/default-sft).
model-grpo: setup
	$(BUILD) $(QA) train recipes/default/grpo.yaml

# The paper's ablation table and the reasoning-vs-score sweep (docs/ablation.md, docs/ablation.*.{csv,json,png}):
# the six arms of recipes/sweeps/ablation.yaml and the five weightings of recipes/sweeps/reasoning-weight.yaml,
# each STEPS GRPO steps of recipes/default/grpo.yaml from the same warm start WARM (the shipped v2 warm start;
# WARM=runs/default-sft after `make model`) and seed 0, then every run and the warm start scored on EVAL_LIMIT
# images of the fixed held-out subset and compared. Budget on this 2-core CPU (THREADS=1, shared): a default
# GRPO step took 8.2 s (median of 3, load ~2) and scoring 0.8 s an image with the self-check, so
# 11 runs x 60 steps x 8.2 s = 1.5 h of training and 12 x 420 images x 0.8 s = 1.1 h of scoring: ~2.7 h, ~4 h
# if steps run 1.5x slower as completions grow. Every stage resumes: rerun after an interruption; finished
# runs and done scoring are skipped. Real per-step times land in the tables' step-time column.
STEPS ?= 60
EVAL_LIMIT ?= 420
WARM ?= qassess-demo-v2-sft
ABLATE := $(BUILD) $(QA) train recipes/default/grpo.yaml --model.name_or_path $(WARM) \
	--max_steps $(STEPS) --evaluate .cache/synth --eval-subset --eval-limit $(EVAL_LIMIT) --table docs/ablation.md
ablation: setup
	$(BUILD) $(QA) data synth data/photos -o .cache/synth --manifest data/photos/manifest.csv --seed 0 --workers 2
	$(ABLATE) --sweep recipes/sweeps/ablation.yaml --output_dir runs/ablation --eval-against full
	$(ABLATE) --sweep recipes/sweeps/reasoning-weight.yaml --output_dir runs/reasoning-weight

clean:
	rm -rf .cache demo-out.*
