"""The run manifest beside `qassess score` output: fields, a segment per (resumed) run, secrets kept out,
and `compare` naming it. Tiny local model, transformers backend, in-process CLI."""
import hashlib
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from qassess.io import manifest as mf
from qassess.cli import app
from qassess.core.prompts import get_template


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Weights digests are remembered in the user cache: keep the tests' out of the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def images(folder, n):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (48 + i, 36), (40 * i % 255, 120, 200)).save(folder / f"im{i}.png")
    return folder


def score(*args):
    res = CliRunner().invoke(app, ["score", *map(str, args)])
    assert res.exit_code == 0, (res.stderr if hasattr(res, "stderr") else res.output)[-2000:]
    return res


def test_manifest_fields_and_a_segment_per_resumed_run(tiny_model, tmp_path):
    photos = images(tmp_path / "photos", 3)
    out = tmp_path / "out.csv"
    common = ["--model", tiny_model, "--backend", "transformers", "--max-new-tokens", "6", "--batch-size", "2"]
    score(photos, "-o", out, "--limit", "2", *common)
    path = tmp_path / "out.manifest.json"
    data = json.loads(path.read_text())
    assert data["qassess_manifest"] == 1 and data["output"] == "out.csv" and len(data["segments"]) == 1
    seg = data["segments"][0]
    from qassess import __version__

    assert seg["qassess_version"] == __version__ and seg["outcome"] == "finished"
    assert seg["started"] <= seg["ended"] and sum(seg["counts"].values()) == 2
    assert seg["inputs"] == {"inputs": 3, "done": 0, "todo": 2} and seg["mode"] == "image"
    assert seg["model"]["given"] == str(tiny_model) and seg["model"]["source"] == "local"
    weights = seg["model"]["weights"]
    assert weights, "a local folder's weights are hashed"
    name, digest = next(iter(weights.items()))
    assert digest == hashlib.sha256((tiny_model / name).read_bytes()).hexdigest()
    assert seg["template"] == {"name": "paper", "sha256": get_template("paper").sha256()}
    assert seg["settings"]["max_new_tokens"] == 6 and seg["settings"]["temperature"] == 0.0
    assert seg["settings"]["batch_size"] == 2 and seg["settings"]["from_preset"] == []
    assert seg["backend"]["name"] == "transformers" and seg["backend"]["version"] == seg["versions"]["transformers"]
    assert seg["backend"]["device"] == "cpu"
    assert seg["versions"]["torch"] and seg["versions"]["python"] and "vllm" in seg["versions"]

    score(photos, "-o", out, *common)  # resume: one input left
    data = json.loads(path.read_text())
    assert len(data["segments"]) == 2
    assert data["segments"][1]["inputs"] == {"inputs": 3, "done": 2, "todo": 1}
    assert sum(data["segments"][1]["counts"].values()) == 1
    assert data["segments"][0] == seg  # the first segment is kept as it was

    score(photos, "-o", out, *common)  # nothing left: no empty segment
    assert len(json.loads(path.read_text())["segments"]) == 2

    import pandas as pd  # the random tiny model rarely states a rating: give the rows some to compare

    df = pd.read_csv(out)
    df["rating"], df["status"] = [2.5, 3.5, 4.0], "ok"
    df.to_csv(out, index=False)
    gt = tmp_path / "gt.csv"
    gt.write_text("image,MOS\n" + "".join(f"im{i}.png,{i + 2}.0\n" for i in range(3)))
    res = CliRunner().invoke(app, ["compare", str(out), str(gt), "--quiet"])
    assert res.exit_code == 0, res.stderr
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("predictions from"))
    assert str(path) in line and "template paper" in line and "2 segment(s)" in line

    score(photos, "-o", out, "--overwrite", "--limit", "1", *common)  # a new file: a new manifest
    assert len(json.loads(path.read_text())["segments"]) == 1


def test_no_manifest_for_stdout_output(tiny_model, tmp_path):
    photos = images(tmp_path / "p", 1)
    score(photos, "--model", tiny_model, "--backend", "transformers", "--max-new-tokens", "4")
    assert not list(tmp_path.rglob("*.manifest.json"))


def test_secrets_in_backend_options_are_redacted():
    from qassess.core.assessor import Settings

    s = Settings(backend_options={"api_key": "sk-123", "hf_token": "hf_x", "attn_implementation": "sdpa"})
    rec = mf.settings_record(s)
    assert rec["backend_options"] == {"api_key": "<redacted>", "hf_token": "<redacted>", "attn_implementation": "sdpa"}
    assert "sk-123" not in json.dumps(rec) and "hf_x" not in json.dumps(rec)


def test_interrupted_run_keeps_its_segment(tmp_path):
    m = mf.Manifest(tmp_path / "o.jsonl", fresh=True)
    m.start({"started": mf.now(), "ended": None})
    assert json.loads((tmp_path / "o.manifest.json").read_text())["segments"][0]["ended"] is None
    m.finish({"ok": 3}, interrupted=True)
    seg = json.loads((tmp_path / "o.manifest.json").read_text())["segments"][0]
    assert seg["outcome"] == "interrupted" and seg["counts"] == {"ok": 3}


@pytest.mark.parametrize("name, expected", [("out.csv", "out.manifest.json"), ("a.b.jsonl", "a.b.manifest.json")])
def test_manifest_path(tmp_path, name, expected):
    assert mf.manifest_path(tmp_path / name) == tmp_path / expected
