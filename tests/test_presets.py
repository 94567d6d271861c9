"""Model presets: prompt bytes pinned to the authors' code, answer formats, defaults, user presets,
offline-first resolution (fast failure, cache hits without network), `qassess models`."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from qassess import models
from qassess.models import presets
from qassess.errors import UserError
from qassess.core.parsing import parse_completion
from qassess.core.prompts import get_template
from qassess.core.assessor import Settings


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Weights digests are remembered in the user cache: keep the tests' out of the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# sha256 of each prompt string as it appears in the source named in qassess/presets.py (computed from
# those files, evaluated as Python literals): bytedance/Q-Insight src/eval/demo_score.py @ 08308fdb,
# TianheWu/VisualQuality-R1 README.md @ a16dcdb6 (QUESTION_TEMPLATE.format(Question=PROMPT)).
QINSIGHT_SYSTEM = "89e8be09d8ba0f3759eb79471ef87c2cf6797879a6d4e8e4772ec877a263e593"
QINSIGHT_USER = "989feae90619746e3617646ee40c00ceed55b10784ccf3e1b914b760bbac3ad5"
VQR1_USER = "f0f7669e0707fee790e9b7c5000af610c1579eae269ea0d6d856900d6757e09f"


def test_every_builtin_preset_names_a_known_template_and_sources():
    assert set(presets.BUILTIN) >= {"qassess-demo-v1", "qwen2.5-vl-7b", "q-insight", "visualquality-r1"}
    for p in presets.BUILTIN.values():
        get_template(p.template)
        assert set(p.sampling) <= set(presets.SAMPLING_KEYS) and p.answer_format in presets.ANSWER_FORMATS
        assert p.licence and p.source and p.paper
        if p.hub_id:
            assert p.source.get("commit"), p.name  # every copied prompt says from which commit


def test_qinsight_prompt_bytes_and_layout():
    t = get_template(presets.BUILTIN["q-insight"].template)
    assert sha(t.system) == QINSIGHT_SYSTEM and sha(t.user) == QINSIGHT_USER
    msgs = t.image_messages()
    assert msgs[0] == {"role": "system", "content": [{"type": "text", "text": t.system}]}
    assert msgs[1]["content"] == [{"type": "text", "text": t.user}, {"type": "image"}]  # demo_score.py: text first
    assert t.chat_template_kwargs == {}
    train = get_template("q-insight")  # the training script's order (image first), same strings
    assert (train.system, train.user) == (t.system, t.user) and train.image_messages()[1]["content"][0] == {"type": "image"}


def test_visualquality_prompt_bytes_and_layout():
    t = get_template(presets.BUILTIN["visualquality-r1"].template)
    assert sha(t.user) == VQR1_USER and t.system == ""
    assert t.image_messages() == [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": t.user}]}]
    assert t.chat_template_kwargs == {"add_vision_id": True} and not t.has_caption_stage
    with pytest.raises(UserError, match="no caption-only stage"):
        t.caption_messages("a photo")


def test_paper_presets_use_the_pinned_paper_template():
    paper = get_template("paper")  # checked against the paper's code in test_prompts; pinned here per string
    assert sha(paper.system) == "581e479c030ee53e6a1cb45289fc002a18b8f21396069fe0219dcfca0450a6db"
    assert sha(paper.user) == "ed3814d6f867d64e8abc2a5536d5fdb182b73bef019981e37b40276e5e579066"
    assert sha(paper.caption_system) == QINSIGHT_SYSTEM  # stage 2 uses Q-Insight's system prompt
    assert paper.image_messages()[1]["content"][0] == {"type": "image"} and paper.chat_template_kwargs == {}
    for name in ("qwen2.5-vl-7b", "qassess-demo-v1"):
        assert get_template(presets.BUILTIN[name].template) == paper


def test_template_sha256_tracks_every_prompt_byte(tmp_path):
    paper = get_template("paper")
    f = tmp_path / "t.yaml"
    f.write_text(json.dumps({"system": paper.system + " ", "user": paper.user, "caption_system": paper.caption_system,
                             "caption_user": paper.caption_user}))
    assert get_template(str(f)).sha256() != paper.sha256()
    f.write_text(json.dumps({"system": paper.system, "user": paper.user, "caption_system": paper.caption_system,
                             "caption_user": paper.caption_user}))
    assert get_template(str(f)).sha256() == paper.sha256()  # the name is not part of the digest
    assert get_template("q-insight").sha256() != get_template("q-insight-demo").sha256()  # image position is


def test_add_vision_id_reaches_the_chat_template(tiny_model):
    from qassess.backends.base import Backend, Request, load_processor

    class Bare(Backend):
        def generate(self, requests, sampling):
            raise NotImplementedError

    b = Bare(str(tiny_model))
    b.processor = load_processor(str(tiny_model))
    t = get_template("visualquality-r1")
    text = b.chat_text(Request(t.image_messages(), chat_kwargs=t.chat_template_kwargs))
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")  # Qwen's default turn
    assert "<|im_start|>user\nPicture 1: <|vision_start|><|image_pad|><|vision_end|>" + t.user + "<|im_end|>" in text
    plain = get_template("q-insight-demo")
    text = b.chat_text(Request(plain.image_messages()))
    assert "Picture 1:" not in text and text.index(plain.user) < text.index("<|vision_start|>")


@pytest.mark.parametrize("text, rating", [
    ('<think>sharp, well exposed</think><answer>{"rating": 4.12}</answer>', 4.12),  # q-insight / paper
    ('<think>t</think><answer>```json\n{"rating": "3.5"}\n```</answer>', 3.5),
    ("<think>slightly noisy</think><answer>3.85</answer>", 3.85),  # visualquality-r1
    ("<think>t</think> <answer> 2 </answer>", 2.0),
])
def test_preset_answer_formats_parse(text, rating):
    p = parse_completion(text)
    assert p.ok and p.rating == rating


@pytest.mark.parametrize("text, why", [
    ('<think>t</think><answer>{"rating": 6.3}</answer>', "outside"),
    ("<think>t</think><answer>0.7</answer>", "outside"),
    ("<think>the photo is blurry</think>", "no <answer>"),
    ("<think>t</think><answer>the quality is good</answer>", "no rating"),
    ("<think>t</think><answer>3.2 or maybe 4.1</answer>", "no rating"),  # never the first number, as the authors' regex did
    ('<think>t</think><answer>{"rating": 3, "score": 4}</answer>', None),
])
def test_preset_answer_format_failures(text, why):
    p = parse_completion(text)
    if why is None:
        assert p.ok and p.rating == 3.0  # the first rating key of the JSON object
    else:
        assert p.status == "parse_error" and p.rating is None and why in p.error


def test_preset_supplies_unset_options_only():
    s = Settings(model="q-insight")
    assert (s.template, s.temperature, s.top_p, s.top_k, s.max_new_tokens, s.seed) == ("q-insight-demo", 1.0, 0.95, 50, 1024, 42)
    assert set(s.from_preset) == {"template", "temperature", "top_p", "top_k", "max_new_tokens", "seed"}
    s = Settings(model="visualquality-r1", temperature=0.0, template="paper")
    assert (s.template, s.temperature, s.top_k, s.max_new_tokens) == ("paper", 0.0, 50, 512)
    assert "temperature" not in s.from_preset
    generic = Settings(model="TianheWu/VisualQuality-R1-7B")  # a hub id alone keeps the generic defaults
    assert (generic.template, generic.temperature, generic.seed, generic.from_preset) == ("paper", 0.0, None, [])
    default = Settings()
    assert (default.template, default.temperature, default.max_new_tokens) == ("paper", 0.0, 1024)
    with pytest.raises(UserError, match="self-check"):
        from qassess.core.assessor import Assessor

        Assessor(Settings(model="visualquality-r1", self_check=True))


def test_user_presets_file(tmp_path, monkeypatch, tiny_model):
    f = tmp_path / "presets.yaml"
    f.write_text(f"mine:\n  model: {tiny_model}\n  template: q-insight\n  sampling: {{temperature: 0.7, seed: 3}}\n"
                 "  licence: CC-BY-4.0\n")
    assert presets.get_preset("mine", f).template == "q-insight"
    monkeypatch.setenv(presets.ENV_VAR, str(f))
    s = Settings(model="mine")
    assert (s.template, s.temperature, s.seed, s.top_p) == ("q-insight", 0.7, 3, 1.0)
    r = models.resolve_model("mine")
    assert r.source == "local" and r.path == str(tiny_model) and r.preset.user


@pytest.mark.parametrize("body, message", [
    ("mine: {template: paper}\n", "`model`"),
    ("q-insight: {model: a/b}\n", "built-in"),
    ("mine: {model: a/b, colour: red}\n", "unknown key"),
    ("mine: {model: a/b, sampling: {temp: 1}}\n", "sampling takes only"),
    ("mine: {model: a/b, sampling: {temperature: hot}}\n", "must be a number"),
    ("mine: {model: a/b, answer_format: xml}\n", "answer_format"),
    ("- a\n- b\n", "mapping"),
    ("mine: [unclosed\n", "not valid YAML"),
])
def test_user_presets_errors_are_one_line(tmp_path, body, message):
    f = tmp_path / "p.yaml"
    f.write_text(body)
    with pytest.raises(UserError, match=message) as err:
        presets.load_user_presets(f)
    assert "\n" not in str(err.value)


# --- offline-first ------------------------------------------------------------------------------------

def _cli(*args, env=None, timeout=120):
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "qassess", *map(str, args)], capture_output=True, text=True,
                          env=full, timeout=timeout)
    return proc, time.monotonic() - t0


@pytest.mark.parametrize("env, reason", [({"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
                                         ({"HF_ENDPOINT": "http://127.0.0.1:9"}, "unreachable")])
def test_uncached_hub_model_fails_fast_when_offline(tmp_path, env, reason):
    img = tmp_path / "a.png"
    Image.new("RGB", (64, 48), (90, 120, 200)).save(img)
    env = {"HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "", **env}
    proc, took = _cli("score", img, "--model", "someone/not-cached", "--backend", "transformers", env=env)
    assert proc.returncode == 2, proc.stderr[-1000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: model someone/not-cached is not in the local Hugging Face cache")
    assert reason in lines[0] and "--model /path/to/a/local/copy" in lines[0]
    assert took < 10, f"took {took:.1f}s"
    proc, took = _cli("models", "--download", "q-insight", env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and took < 10
    assert "huggingface-cli download ByteDance/Q-Insight --include 'score_degradation/*'" in proc.stderr


def _fake_cache(cache: Path, hub_id: str, model_dir: Path, subfolder: str | None = None) -> tuple[Path, str]:
    """A Hugging Face cache entry laid out as huggingface_hub writes it (refs/main -> snapshots/<commit>)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    shutil.copytree(model_dir, snap / subfolder if subfolder else snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snap, commit


NO_NETWORK = ("import socket, sys, runpy\n"
              "def refuse(*a, **k): raise OSError('network call attempted: %r' % (a,))\n"
              "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
              "sys.argv = ['qassess'] + sys.argv[1:]\n"
              "runpy.run_module('qassess', run_name='__main__')\n")


def test_cached_hub_model_loads_without_network(tmp_path, tiny_model):
    cache = tmp_path / "hub"
    snap, commit = _fake_cache(cache, "someone/tiny-vl", tiny_model)
    img = tmp_path / "a.png"
    Image.new("RGB", (64, 48), (90, 120, 200)).save(img)
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": ""}
    proc = subprocess.run([sys.executable, "-c", NO_NETWORK, "score", str(img), "-o", str(out), "--model",
                           "someone/tiny-vl", "--backend", "transformers", "--max-new-tokens", "4"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "network call attempted" not in proc.stderr
    row = json.loads(out.read_text().splitlines()[0])
    assert row["model"] == "someone/tiny-vl" and row["status"] in ("ok", "parse_error")
    seg = json.loads((tmp_path / "out.manifest.json").read_text())["segments"][0]
    assert seg["model"]["source"] == "hub-cache" and seg["model"]["revision"] == commit
    assert seg["model"]["hub_id"] == "someone/tiny-vl" and seg["model"]["path"] == str(snap)


def test_resolve_preset_with_subfolder_from_cache(tmp_path, tiny_model, monkeypatch):
    cache = tmp_path / "hub"
    snap, commit = _fake_cache(cache, "someone/multi", tiny_model, subfolder="score")
    f = tmp_path / "p.yaml"
    f.write_text("multi: {model: someone/multi, subfolder: score, template: q-insight-demo}\n")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = models.resolve_model("multi", str(f))
    assert (r.source, r.path, r.revision, r.subfolder) == ("hub-cache", str(snap / "score"), commit, "score")
    (snap / "score" / "model.safetensors").unlink()
    with pytest.raises(UserError, match=r"incomplete in the local Hugging Face cache \(no weights file\)"):
        models.resolve_model("multi", str(f))


def test_models_command_lists_presets():
    from typer.testing import CliRunner

    from qassess.cli import app

    res = CliRunner().invoke(app, ["models"])
    assert res.exit_code == 0
    for name in ("qassess-demo-v1", "qwen2.5-vl-7b", "q-insight", "visualquality-r1"):
        assert f"\n{name}:" in "\n" + res.stdout
    assert "src/eval/demo_score.py" in res.stdout and "licence" in res.stdout
    res = CliRunner().invoke(app, ["models", "--download", "visualquality-r1", "--dry-run"])
    assert res.exit_code == 0 and res.stdout.strip() == "huggingface-cli download TianheWu/VisualQuality-R1-7B"
    res = CliRunner().invoke(app, ["models", "--download", "nope"])
    assert res.exit_code == 2
