# Two entry points; both set up .venv first (scripts/setup.sh is a no-op when nothing changed).
.PHONY: setup demo test bench clean
PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) -m qassess.testing.tiny .cache/tiny-qwen2.5-vl --quiet
	$(PY) -m qassess score samples -o demo-out.csv --model .cache/tiny-qwen2.5-vl --backend auto --max-new-tokens 96 --overwrite

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf .cache demo-out.*
