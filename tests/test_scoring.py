"""Scoring logic with a scripted backend (the real backends are exercised in test_backends/test_cli)."""
import pytest

from qassess.errors import UserError
from qassess.core.assessor import Assessor, Settings, summarize_samples


def ans(r, caption="a cat"):
    return f"<caption>{caption}</caption><think>t</think><answer>{{\"rating\": {r}}}</answer>"


def test_single_sample():
    s = summarize_samples([ans(3.2)])
    assert s["rating"] == 3.2 and s["status"] == "ok" and s["ratings"] is None and s["rating_std"] is None


def test_samples_mean_spread_and_representative_text():
    s = summarize_samples([ans(2.0, "low"), ans(3.0, "mid"), ans(4.0, "high"), "garbage"])
    assert s["rating"] == 3.0 and s["caption"] == "mid"
    assert s["ratings"] == [2.0, 3.0, 4.0, None]
    assert s["rating_std"] == pytest.approx(0.8165, abs=1e-4)
    assert s["error"] == "1 of 4 samples unparseable"


def test_all_samples_fail_is_a_parse_error():
    s = summarize_samples(["nope", "<answer>9</answer>"])
    assert s["status"] == "parse_error" and s["rating"] is None
    assert "no <answer> block" in s["error"] and "outside" in s["error"]


@pytest.mark.parametrize("opts, msg", [({"samples": 3}, "temperature"), ({"batch_size": 0}, "batch-size"),
                                       ({"top_p": 0}, "top-p"), ({"max_new_tokens": 0}, "max-new-tokens")])
def test_bad_settings(opts, msg):
    with pytest.raises(UserError, match=msg):
        Settings(model="m", **opts)


class Scripted:
    """Answers from a function of the request; raises for requests it is told to."""

    name = "scripted"

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def generate(self, requests, sampling):
        self.calls.append(len(requests))
        return [[self.reply(r) for _ in range(sampling.n)] for r in requests]

    def pixel_budget(self):
        return (4 * 28 * 28, 16 * 28 * 28, 28)

    def close(self):
        pass


def make(reply, **opts):
    return Assessor(Settings(model="m", **opts), loaded_backend=Scripted(reply))


def caption_of(request):
    return request.messages[-1]["content"][0]["text"]


def test_one_failing_input_costs_one_row():
    from qassess.io.captions import CaptionItem

    def reply(r):
        if "BAD" in caption_of(r):
            raise RuntimeError("boom\nsecond line")
        return "<think>x</think><answer>2.5</answer>"

    items = [CaptionItem(str(i), "BAD" if i == 1 else f"c{i}", f"f:{i}") for i in range(3)]
    rows = list(make(reply, batch_size=3).score_captions(items))
    assert [r["status"] for r in rows] == ["ok", "generation_error", "ok"]
    assert rows[1]["error"] == "RuntimeError: boom second line" and rows[1]["rating"] is None
    assert rows[0]["caption"] == "c0" and rows[0]["mode"] == "caption" and rows[0]["path"] == "f:0"


def test_systemic_failure_stops_the_run():
    from qassess.io.captions import CaptionItem

    def reply(r):
        raise RuntimeError("engine died")

    items = [CaptionItem(str(i), "c", "f") for i in range(2)]
    with pytest.raises(RuntimeError, match="engine died") as err:  # the engine's own error: not bad input
        list(make(reply, batch_size=2).score_captions(items))
    assert not isinstance(err.value, UserError)
    assert "generation failed for every input of a batch" in " ".join(err.value.__notes__)


def test_a_bug_in_a_backend_is_a_traceback_not_a_row():
    """A TypeError in the backend (a bug) must not become a generation_error row that every rerun retries."""
    from qassess.io.captions import CaptionItem

    def reply(r):
        if "BUG" in caption_of(r):
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        return "<think>x</think><answer>2.5</answer>"

    items = [CaptionItem(str(i), "BUG" if i == 1 else "c", "f") for i in range(3)]
    with pytest.raises(TypeError, match="unsupported operand"):
        list(make(reply, batch_size=3).score_captions(items))


def test_model_loaders_keep_one_line_errors_for_what_the_user_can_fix(tiny_model, monkeypatch):
    import transformers

    from qassess.backends import create_backend

    def failing(exc):
        def from_pretrained(*args, **kwargs):
            raise exc
        return from_pretrained

    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained",
                        failing(OSError("model.safetensors is truncated")))
    with pytest.raises(UserError, match="cannot load model .*truncated"):
        create_backend("transformers", str(tiny_model), dtype="float32", device="cpu")
    for bug in (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), AttributeError("'NoneType' object")):
        monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained", failing(bug))
        with pytest.raises(type(bug)) as err:
            create_backend("transformers", str(tiny_model), dtype="float32", device="cpu")
        assert not isinstance(err.value, UserError)


def test_cli_a_bug_is_a_traceback_and_debug_shows_a_user_errors_cause(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from qassess.cli import app
    from qassess.engines import local

    (tmp_path / "a.txt").write_text("a caption")
    result = CliRunner().invoke(app, ["score", str(tmp_path / "missing.jpg")])
    assert result.exit_code == 2 and result.output.startswith("Error: ")
    result = CliRunner().invoke(app, ["--debug", "score", str(tmp_path / "missing.jpg")])
    assert result.exit_code == 1 and isinstance(result.exception, UserError)  # raised: its traceback shows

    def broken(*args, **kwargs):
        raise KeyError("a qassess bug")

    monkeypatch.setattr(local, "run_score", broken)
    result = CliRunner().invoke(app, ["score", str(tmp_path / "a.txt")])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)
    assert "Error:" not in result.output


def test_images_with_self_check(tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "red.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")

    def reply(r):
        if r.image is not None:
            return ans(4.0, "a red square")
        assert "a red square" in caption_of(r)
        return "<think>ok</think><answer>{\"rating\": 3.5}</answer>"

    a = make(reply, self_check=True)
    rows = list(a.score([tmp_path / "broken.jpg", tmp_path / "red.png"]))
    assert [r["status"] for r in rows] == ["load_error", "ok"]
    ok = rows[1]
    assert ok["rating"] == 4.0 and ok["self_check_rating"] == 3.5 and ok["self_check_gap"] == 0.5
    assert ok["pixels"] % (28 * 28) == 0 and ok["max_pixels"] == 16 * 28 * 28
    assert rows[0]["error"] and rows[0]["rating"] is None and rows[0]["self_check_rating"] is None


@pytest.mark.vllm
def test_both_backends_give_the_same_records(tiny_model, tiny_vllm_backend, tmp_path):
    """The whole image pipeline (loader, prompts, generation, parsing) on vLLM and on transformers,
    greedy and float32, on every kind of file in samples/. A random-weight model has near-tied logits, so
    float noise may flip one late token; the texts must agree exactly for nearly all images
    and share their start for all of them."""
    import os
    from pathlib import Path

    from qassess.backends import create_backend

    samples = Path(__file__).resolve().parents[1] / "samples"
    paths = sorted(p for p in samples.iterdir() if p.suffix in {".jpg", ".png", ".gif", ".webp"})
    opts = dict(model=str(tiny_model), max_new_tokens=24, self_check=True, batch_size=4,
                min_pixels=4 * 28 * 28, max_pixels=192 * 28 * 28)
    with Assessor(Settings(backend="vllm", **opts), loaded_backend=tiny_vllm_backend) as a:
        via_vllm = list(a.score(paths))
    hf = create_backend("transformers", str(tiny_model), dtype="float32", min_pixels=4 * 28 * 28,
                        max_pixels=192 * 28 * 28)
    with Assessor(Settings(backend="transformers", **opts), loaded_backend=hf) as a:
        via_hf = list(a.score(paths))
    hf.close()
    assert len(via_vllm) == len(paths) >= 10
    assert [r["backend"] for r in via_vllm] == ["vllm"] * len(paths)
    assert {r["status"] for r in via_vllm if r["id"] == "broken_truncated"} == {"load_error"}
    for a, b in zip(via_vllm, via_hf):
        assert (a["id"], a["status"], a["pixels"]) == (b["id"], b["status"], b["pixels"])
    texts = [(a["raw"], b["raw"]) for a, b in zip(via_vllm, via_hf) if a["raw"] is not None]
    assert sum(x == y for x, y in texts) >= len(texts) - 1
    assert all(len(os.path.commonprefix([x, y])) >= 8 for x, y in texts)
