"""`qassess train RECIPE --sweep FILE --evaluate DATA`: the sweep file's whole-list reward override, the
shipped ablation arms against the recipes they stand for, the Pareto front and the paired numbers by
hand, and a real run (two arms x 2 steps on the embedded demo model) writing a complete table that a
rerun reproduces without training or scoring again."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qassess.cli import app
from qassess.errors import UserError
from qassess.evaluate.pareto import pareto_front
from qassess.train.config import load_recipe
from qassess.train.sweep import plan
from test_sweep import write
from test_training import TINY_RECIPE, make_images

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GRPO = ROOT / "recipes" / "default" / "grpo.yaml"


# ------------------------------------------------------------------------------ the sweep file


def test_a_sweep_run_replaces_the_whole_reward_list(tmp_path):
    sweep = write(tmp_path, "two:\n  rewards: [format, {name: prediction, params: {threshold: 0.3}}]\n"
                            "  rewards.format.weight: 2\nall: {}\n")
    _, runs = plan(TINY_RECIPE, [], sweep)
    two, everything = (recipe for _, recipe in runs)
    assert [(r.name, r.weight, r.params) for r in two.rewards] == [("format", 2.0, {}), ("prediction", 1.0, {"threshold": 0.3})]
    assert [r.name for r in everything.rewards] == ["format", "prediction", "self_consistency", "reasoning"]
    # the command line takes the same list as YAML text
    recipe = load_recipe(TINY_RECIPE, ["--rewards", "[format, {name: reasoning, weight: 0.5}]"])
    assert [(r.name, r.weight) for r in recipe.rewards] == [("format", 1.0), ("reasoning", 0.5)]


@pytest.mark.parametrize("text, message", [
    ("a: {rewards: format}\n", "sweep run 'a': --rewards: expected a list of rewards"),
    ("a: {rewards: [{name: format, wieght: 2}]}\n", "sweep run 'a': unknown key 'wieght' in rewards\\[0\\]"),
])
def test_a_bad_reward_list_is_a_one_line_error(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        plan(TINY_RECIPE, [], write(tmp_path, text))


def test_the_ablation_arms_are_the_recipe_minus_one_reward_and_the_baseline_recipe():
    base = load_recipe(DEFAULT_GRPO)
    _, runs = plan(DEFAULT_GRPO, [], ROOT / "recipes" / "sweeps" / "ablation.yaml")
    arms = dict(runs)
    assert list(arms) == ["full", "no-reasoning", "no-self-consistency", "no-prediction", "baseline", "prefill"]
    entries = {r.name: r for r in base.rewards}
    assert arms["full"].rewards == base.rewards
    for arm, removed in (("no-reasoning", "reasoning"), ("no-self-consistency", "self_consistency"),
                         ("no-prediction", "prediction")):
        assert arms[arm].rewards == [r for r in base.rewards if r.name != removed], arm
        assert arms[arm].template == base.template and arms[arm].training == {**base.training, "output_dir": arms[arm].training["output_dir"]}
    baseline = load_recipe(ROOT / "recipes" / "baseline.yaml")
    assert arms["baseline"].rewards == baseline.rewards and arms["baseline"].template == baseline.template
    assert arms["baseline"].model == base.model and arms["baseline"].data == base.data
    prefill = {r.name: r for r in arms["prefill"].rewards}
    assert prefill["self_consistency"].params == {**entries["self_consistency"].params, "mode": "prefill"}
    assert {n: r.params for n, r in prefill.items() if n != "self_consistency"} == \
        {n: r.params for n, r in entries.items() if n != "self_consistency"}


# ------------------------------------------------------------------------------ the numbers


def test_pareto_front_by_hand():
    # a (0.5, 0.2) is beaten by b on both; b, c, d trade off; e ties d exactly; f has no value
    points = [(0.5, 0.2), (0.6, 0.3), (0.7, 0.25), (0.4, 0.4), (0.4, 0.4), (None, 0.9), (0.7, 0.1)]
    assert pareto_front(points) == [False, True, True, True, True, False, False]
    assert pareto_front([]) == [] and pareto_front([(0.1, None)]) == [False]
    assert pareto_front([(0.3, 0.3)]) == [True]


def _held_out_folder(folder: Path, n: int = 8) -> list[dict]:
    """A `qassess data synth`-shaped folder: images/<photo>/<name>, test.json with scores and human text."""
    rows = []
    for i in range(n):
        name = f"p{i % 2}/p{i % 2}__d{i}.png"
        rows.append({"image": name, "normalized_score": round(1.2 + 0.45 * i, 2), "source": f"p{i % 2}",
                     "distortions": "none" if i < 2 else f"gaussian_blur:{i % 5}",
                     "description": "A photo of a street." if i % 2 else "A photo of a dog.",
                     "good_aspect": "The colours are vivid." if i % 3 else "Fine detail is sharp.",
                     "bad_aspect": "There is heavy noise." if i % 2 else "It is slightly blurry."})
    for r in rows:
        make_images(folder / "images" / Path(r["image"]).parent, [Path(r["image"]).name])
    (folder / "test.json").write_text(json.dumps(rows))
    return rows


def _fake_predictions(path: Path, rows: list[dict], noise: float, seed: int, caption: str) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for r in rows:
            s = r["normalized_score"] + rng.normal(0, noise)
            f.write(json.dumps({"path": f"/x/images/{r['image']}", "status": "ok", "rating": round(s, 2),
                                "self_check_rating": round(s + rng.normal(0, noise), 2), "caption": caption,
                                "reasoning": "Fine detail is sharp but there is heavy noise."}) + "\n")


def test_measure_and_paired_differences_agree_with_compare_and_a_hand_computation(tmp_path):
    from qassess.evaluate.ablation import held_out, measure, paired_differences
    from qassess.evaluate.compare import compare

    rows = _held_out_folder(tmp_path / "data", n=12)
    held = held_out(tmp_path / "data")
    new, old = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    _fake_predictions(new, rows, 0.3, 1, "A sharp photo of a dog with vivid colours.")
    _fake_predictions(old, rows, 0.9, 2, "A blurry photo.")
    m_new, per_new = measure(new, held, bootstrap=200)
    assert m_new["notes"] == []
    m_old, per_old = measure(old, held, bootstrap=200)
    report = compare(str(new), {"heldout": str(held.labels)}, refs=str(held.labels), semantic=True, baseline=str(old),
                     bootstrap=200)
    # the means are compare's own summaries; the interval brackets them
    assert m_new["rouge1"]["value"] == pytest.approx(report.overall["rouge1"]["f1"])
    assert m_new["attributes"]["value"] == pytest.approx(report.overall["attributes"]["score"])
    assert m_new["image_srcc"]["value"] == pytest.approx(report.overall["srcc"])
    for key in ("image_plcc", "image_srcc", "caption_plcc", "caption_srcc", "rouge1"):
        lo, hi = m_new[key]["ci"]
        assert lo <= m_new[key]["value"] <= hi, key
    diff = paired_differences(per_new, per_old, n=200)
    # correlations: the same paired bootstrap as compare --baseline, so the same numbers
    for key, theirs in (("image_srcc", "srcc"), ("image_plcc", "plcc"), ("caption_srcc", "self_check_srcc")):
        assert diff[key]["value"] == pytest.approx(report.paired["groups"]["heldout"][theirs]["difference"])
        assert diff[key]["ci"] == pytest.approx(report.paired["groups"]["heldout"][theirs]["ci"])
    # means: the difference of the two means on the same images, and its interval by hand
    assert diff["rouge1"]["value"] == pytest.approx(m_new["rouge1"]["value"] - m_old["rouge1"]["value"])
    d = per_new["rouge1_f1"].to_numpy() - per_old["rouge1_f1"].to_numpy()
    idx = np.random.default_rng(0).integers(0, d.size, size=(200, d.size))
    assert diff["rouge1"]["ci"] == pytest.approx(list(np.percentile(d[idx].mean(axis=1), [2.5, 97.5])))


def test_a_run_that_cannot_be_measured_keeps_its_row_and_says_why(tmp_path):
    from qassess.evaluate.ablation import held_out
    from qassess.evaluate.ablation_table import markdown
    from qassess.train.ablation import WARM_START, Evaluation, _measure_all

    rows = _held_out_folder(tmp_path / "data", n=8)
    good, broken = tmp_path / "good.jsonl", tmp_path / "broken.jsonl"
    _fake_predictions(good, rows, 0.3, 1, "A sharp photo.")
    _fake_predictions(tmp_path / "other.jsonl", rows, 0.6, 2, "A noisy photo.")
    broken.write_text("".join(json.dumps({"path": f"/x/images/{r['image']}", "status": "parse_error", "rating": None,
                                          "caption": None, "reasoning": None, "raw": "no tags"}) + "\n" for r in rows))
    table = [{"run": WARM_START, "predictions": str(good), "steps": 0, "rewards": None, "step_time": None},
             {"run": "collapsed", "predictions": str(broken), "steps": 2, "rewards": [], "step_time": None},
             {"run": "other", "predictions": str(tmp_path / "other.jsonl"), "steps": 2, "rewards": [], "step_time": None}]
    _measure_all(table, held_out(tmp_path / "data"), Evaluation(tmp_path / "data", bootstrap=100), say=lambda _: None)
    collapsed = table[1]
    assert collapsed["measures"]["image_srcc"] is None and collapsed["differences"] is None
    assert collapsed["measures"]["parsed"] == {"ok": 0, "matched": 8, "share": 0.0}
    assert collapsed["front"] == {"rouge1": False, "attributes": False} and table[2]["front"]["rouge1"] is True
    text = markdown({"section": "s", "recipe": "r.yaml", "sweep": "s.yaml", "overrides": [], "date": "today",
                     "warm_start": "w", "seeds": [0], "max_steps": [2], "data": "d", "bootstrap": 100,
                     "reference": WARM_START, "rows": table})
    line = next(x for x in text.splitlines() if x.startswith("| collapsed |"))
    assert line.count("n/a") == 7 and "collapsed: not measured: heldout: only 0 usable matched rows" in text
    assert "collapsed: parsed 0/8 held-out images" in text
    assert sum(x.startswith("| collapsed |") for x in text.splitlines()) == 2  # its row and its (empty) difference


def test_a_constant_caption_only_rating_is_n_a_with_the_reason(tmp_path):
    from qassess.evaluate.ablation import held_out, measure

    rows = _held_out_folder(tmp_path / "data", n=8)
    preds = tmp_path / "p.jsonl"
    _fake_predictions(preds, rows, 0.3, 1, "A photo.")
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    preds.write_text("".join(json.dumps({**r, "self_check_rating": 3.0}) + "\n" for r in lines))
    m, _ = measure(preds, held_out(tmp_path / "data"), bootstrap=100)
    assert m["caption_srcc"] is None and m["caption_plcc"] is None and m["image_srcc"] is not None
    assert len(m["notes"]) == 1 and m["notes"][0].startswith("caption-only rating: all used predictions are equal (3)")


def test_held_out_subset_and_errors(tmp_path):
    from qassess.evaluate.ablation import held_out

    _held_out_folder(tmp_path / "d", n=10)
    held = held_out(tmp_path / "d", subset=True)
    # per photo: the pristine image and single distortions at levels 2 and 4
    assert sorted(p.name for p in held.images) == ["p0__d0.png", "p0__d2.png", "p0__d4.png", "p1__d1.png",
                                                   "p1__d7.png", "p1__d9.png"]
    assert held.description.endswith("test.json (fixed subset: 6 images of 2 photos)")
    spread = held_out(tmp_path / "d", limit=4)  # every third of ten rows: the first, ..., the last
    assert [p.name for p in spread.images] == ["p0__d0.png", "p1__d3.png", "p0__d6.png", "p1__d9.png"]
    assert spread.description.endswith("(4 spread evenly: 4 images of 2 photos)")
    assert len(held_out(tmp_path / "d", subset=True, limit=50).images) == 6  # a limit above the set keeps it
    with pytest.raises(UserError, match="no test.json"):
        held_out(tmp_path)
    with pytest.raises(UserError, match="at least 3"):
        held_out(tmp_path / "d", limit=2)
    (tmp_path / "d" / "images" / "p0" / "p0__d0.png").unlink()
    with pytest.raises(UserError, match="1 held-out images are missing"):
        held_out(tmp_path / "d")


def test_replace_section_keeps_the_rest_of_the_file():
    from qassess.evaluate.ablation_table import replace_section

    text = replace_section("# T\n\nmy notes\n", "a", "table A\n")
    text = replace_section(text, "b", "table B\n")
    text = replace_section(text + "\nclosing words\n", "a", "table A2\n")
    assert "my notes" in text and "closing words" in text and "table B" in text
    assert "table A2" in text and "table A\n" not in text and text.count("begin qassess ablation: a") == 1


@pytest.mark.parametrize("extra, message", [
    (["--evaluate", "x"], "--evaluate measures the runs of a sweep: give --sweep FILE too"),
    (["--eval-subset"], "go with --evaluate DATA"),
    (["--sweep", "SWEEP", "--evaluate", "nowhere"], "--evaluate nowhere: no test.json there"),
    (["--sweep", "SWEEP", "--evaluate", "DATA", "--eval-against", "nope"], "--eval-against 'nope' is not a run of"),
])
def test_command_line_errors_are_one_line(tmp_path, extra, message):
    _held_out_folder(tmp_path / "data", n=4)
    sweep = write(tmp_path, "a: {}\n")
    extra = [str(sweep) if e == "SWEEP" else str(tmp_path / "data") if e == "DATA" else e for e in extra]
    result = CliRunner().invoke(app, ["train", str(TINY_RECIPE), "--output_dir", str(tmp_path / "out"), *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()  # refused before anything trained


# ------------------------------------------------------------------------------ a real run


TABLE_ROW = re.compile(r"^\| (full|no-reasoning|warm start) \|")


def _real_held_out(folder: Path) -> None:
    """samples/real (15 real photos' distorted copies, labels and human-style notes) laid out as a
    `qassess data synth` output, so the demo model's ratings vary as they would on real held-out data."""
    import csv
    import shutil

    real = ROOT / "samples" / "real"
    notes = {r["image"]: r for r in json.loads((real / "references.json").read_text())}
    rows = []
    with open(real / "labels.csv", newline="") as f:
        for label in csv.DictReader(f):
            photo = label["image"].split("__")[0]
            (folder / "images" / photo).mkdir(parents=True, exist_ok=True)
            shutil.copy2(real / label["image"], folder / "images" / photo / label["image"])
            rows.append({**notes[label["image"]], "image": f"{photo}/{label['image']}", "source": photo,
                         "normalized_score": float(label["mos"]), "distortions": label["distortions"]})
    (folder / "test.json").write_text(json.dumps(rows))


@pytest.mark.slow
def test_two_arms_two_steps_write_a_complete_table_and_a_rerun_redoes_nothing(tmp_path):
    """An embedded model as the warm start (v1: it writes parseable ratings and captions and rates captions
    alone with some spread; a random-weight model would leave every column empty, and the v2 warm start's
    caption-only ratings are all 3.00, MODEL.md), two arms of 2 GRPO steps on the recipe's bundled samples, 15 held-out images."""
    _real_held_out(tmp_path / "data")
    sweep = write(tmp_path, "full: {}\nno-reasoning:\n  rewards: [format, {name: prediction}, "
                            "{name: self_consistency, params: {max_new_tokens: 16}}]\n", "ablation.yaml")
    table = tmp_path / "docs" / "ablation.md"
    table.parent.mkdir()
    table.write_text("# Ablations\n\nHand-written discussion.\n")
    args = ["train", str(TINY_RECIPE), "--sweep", str(sweep), "--no-progress", "--model.name_or_path", "qassess-demo-v1",
            "--data.scores", str(ROOT / "samples" / "mos.csv"), "--data.images", str(ROOT / "samples"),
            "--data.references", str(ROOT / "samples" / "reasoning.json"),
            "--output_dir", str(tmp_path / "runs"), "--max_steps", "2", "--save_steps", "2",
            "--rewards.self_consistency.max_new_tokens", "16",
            "--evaluate", str(tmp_path / "data"), "--table", str(table), "--eval-bootstrap", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    text = table.read_text()
    assert text.startswith("# Ablations\n\nHand-written discussion.") and "begin qassess ablation: ablation" in text
    rows = [line for line in text.splitlines() if TABLE_ROW.match(line)]
    assert len(rows) == 3 + 2  # warm start, full, no-reasoning; then the two differences from the warm start
    number = re.compile(r"^-?\d+\.\d{3} \[-?\d+\.\d{3}, -?\d+\.\d{3}\]$")
    for line in rows[:3]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        run = cells[0]
        assert all(number.match(c) for c in cells[3:9]), line  # every measure a value with its interval
        if run == "warm start":
            assert cells[2] == "0" and cells[9:] == ["n/a", "n/a", "n/a"]
        else:
            assert cells[2] == "2" and re.match(r"^\d+\.\d \[\d+\.\d, \d+\.\d\]$", cells[9]), line  # step time
            assert cells[10] in ("yes", "no") and cells[11] in ("yes", "no")
    for line in rows[3:]:
        cells = [c.strip("* ") for c in line.strip("|").split("|")]
        assert all(re.match(r"^[+-]\d+\.\d{3} \[[+-]\d+\.\d{3}, [+-]\d+\.\d{3}\]$", c) for c in cells[1:]), line
    data = json.loads((tmp_path / "docs" / "ablation.ablation.json").read_text())
    assert [r["run"] for r in data["rows"]] == ["warm start", "full", "no-reasoning"]
    assert [r["steps"] for r in data["rows"]] == [0, 2, 2] and data["seeds"] == [0]
    assert [r["name"] for r in data["rows"][2]["rewards"]] == ["format", "prediction", "self_consistency"]
    assert any(r["front"]["rouge1"] for r in data["rows"][1:])  # two runs: at least one is not dominated
    csv_lines = (tmp_path / "docs" / "ablation.ablation.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and (tmp_path / "docs" / "ablation.ablation.png").stat().st_size > 0

    # A rerun trains and scores nothing, and writes the same numbers.
    files = {p: p.read_bytes() for p in (tmp_path / "runs").rglob("*") if p.suffix in (".jsonl", ".safetensors")}
    assert len([p for p in files if p.name.startswith("heldout-")]) == 3
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "full: finished" in result.output and "no-reasoning: finished" in result.output
    assert "training into" not in result.output and result.output.count("nothing left to score") == 3
    assert {p: p.read_bytes() for p in files} == files
    again = json.loads((tmp_path / "docs" / "ablation.ablation.json").read_text())
    assert [r["measures"] for r in again["rows"]] == [r["measures"] for r in data["rows"]]
    assert table.read_text().count("begin qassess ablation: ablation") == 1
