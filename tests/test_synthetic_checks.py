"""The model card's held-out checks (qassess.evaluate.synthetic) on hand-made rows."""
import json

from qassess.evaluate.synthetic import checks, main


def _lab(source, dist):
    return {"image": f"{source}/{source}__{dist.replace(':', '_')}.png", "source": source, "distortions": dist}


LABELS = [_lab("a", "none"), _lab("a", "jpeg:2"), _lab("a", "jpeg:4"), _lab("a", "gaussian_blur:2"),
          _lab("a", "gaussian_blur:4"), _lab("a", "jpeg:2+gaussian_blur:2"), _lab("b", "none"), _lab("b", "jpeg:4")]


def _row(lab, rating, caption="", status="ok"):
    return {"path": f"/x/images/{lab['image']}", "rating": rating, "caption": caption, "status": status}


def test_series_pristine_and_family_by_hand():
    rows = [_row(LABELS[0], 5.0), _row(LABELS[1], 4.0), _row(LABELS[2], 2.0, "Heavy JPEG blocks."),
            _row(LABELS[3], 3.0), _row(LABELS[4], 4.0, "Strong noise everywhere."),  # blur series not monotone
            _row(LABELS[5], 1.0), _row(LABELS[6], 3.0), _row(LABELS[7], None, "", status="parse_error")]
    out = checks(rows, LABELS)
    assert out["matched"] == 8
    # a/jpeg: levels 0,2,4 -> 5,4,2: -SRCC = 1; a/blur: 0,2,4 -> 5,3,4: SRCC(levels, ratings) = -0.5 -> 0.5
    assert out["series_srcc"] == {"gaussian_blur": 0.5, "jpeg": 1.0}
    # a: 5 > 2 (jpeg) and 5 > 4 (blur); b: its strongest row failed -> a miss
    assert out["pristine_above_strongest"] == round(2 / 3, 3) and out["pristine_pairs"] == 3
    # strong rows: a/jpeg:4 names compression, a/blur:4 names noise (wrong), b/jpeg:4 failed
    assert out["caption_names_family"] == round(1 / 3, 3) and out["caption_strong_rows"] == 3
    assert out["caption_names_family_by_family"] == {"compression": 0.5, "sharpness": 0.0}


def test_cli_writes_json_and_refuses_no_match(tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps(_row(LABELS[0], 5.0)) + "\n", encoding="utf-8")
    labels = tmp_path / "test.json"
    labels.write_text(json.dumps(LABELS), encoding="utf-8")
    assert main([str(preds), str(labels), "--json", str(tmp_path / "o.json")]) == 0
    assert json.loads((tmp_path / "o.json").read_text())["matched"] == 1
    labels.write_text(json.dumps([_lab("zzz", "none")]), encoding="utf-8")
    assert main([str(preds), str(labels)]) == 2
    assert "no prediction" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jsonl"), str(labels)]) == 2


def test_a_constant_series_counts_zero_not_nan():
    """np.std([3.88] * 3) is 4e-16, not 0: a series rated alike throughout must still count 0 (no order)."""
    rows = [_row(LABELS[0], 3.88), _row(LABELS[1], 3.88), _row(LABELS[2], 3.88)]
    out = checks(rows, LABELS)
    assert out["series_srcc"] == {"jpeg": 0.0}
    assert out["series_srcc_mean"] == 0.0
