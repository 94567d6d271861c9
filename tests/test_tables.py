"""qassess.io.tables, the one table reader: the messy cases each former reader handled, now shared by
compare, train and captions, plus Parquet (compare, train, caption tables) and UTF-16 / gzip everywhere."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qassess.io.captions import scan_captions
from qassess.evaluate.compare import compare
from qassess.errors import UserError
from qassess.io.tables import read_records, read_table
from qassess.train.data import read_rows

NAMES = [f"img{i:03d}.jpg" for i in range(30)]
RNG = np.random.default_rng(5)
MOS = np.round(RNG.uniform(1, 5, len(NAMES)), 3)
PRED = np.round(MOS + RNG.normal(0, 0.5, len(NAMES)), 2)


def test_spaq_semicolons_decimal_commas_through_every_consumer(tmp_path):
    p = tmp_path / "spaq.csv"
    p.write_text("Image name;MOS\n" + "".join(f"{n};{str(m).replace('.', ',')}\n" for n, m in zip(NAMES, MOS)),
                 encoding="utf-8")
    table = read_table(p, lambda cols, headerless: {"Image name": "text", "MOS": "number"})
    assert table.kind == "csv" and table.frame["MOS"].tolist() == pytest.approx(MOS.tolist())
    assert any("decimal mark ','" in n for n in table.notes)
    rows = read_rows(p)  # training keeps cells as written (its own decimal-comma rule parses them)
    assert rows[0] == {"Image name": NAMES[0], "MOS": str(MOS[0]).replace(".", ",")}
    raw = read_table(p, raw=True)
    assert raw.origins[:2] == [f"{p}:2", f"{p}:3"]


def test_headerless_gzip_and_utf16(tmp_path):
    body = "".join(f"{n},{m}\n" for n, m in zip(NAMES, MOS))
    gz = tmp_path / "pipal.txt.gz"
    gz.write_bytes(gzip.compress(body.encode()))
    table = read_table(gz)
    assert table.headerless and list(table.frame.columns) == ["column1", "column2"] and len(table.frame) == 30
    u16 = tmp_path / "mos16.csv"
    u16.write_bytes(("image,mos\n" + body).encode("utf-16"))  # Windows "Unicode" (BOM + UTF-16LE)
    assert read_table(u16).frame["image"].tolist() == NAMES  # compare never read UTF-16 before
    assert read_rows(u16)[1] == {"image": NAMES[1], "mos": str(MOS[1])}
    caps = tmp_path / "caps16.csv"
    caps.write_bytes("id,caption\na,Sharp dog.\n".encode("utf-16"))
    assert [(i.id, i.caption, i.source) for i in scan_captions([caps]).items] == [("a", "Sharp dog.", f"{caps}:2")]


def test_jsonl_torn_line_and_raw_values(tmp_path):
    p = tmp_path / "rows.jsonl"
    p.write_text('{"image": "a.jpg", "quality": 3, "description": ["red", "dark"]}\n\n'
                 '{"image": "b.jpg", "quality": null}\n{"image": "c.jp', encoding="utf-8")
    table = read_table(p, raw=True)
    assert table.origins == [f"{p}:1", f"{p}:3"] and table.dropped == [(f"{p}:4", "incomplete last line")]
    assert read_records(p) == [{"image": "a.jpg", "quality": 3, "description": ["red", "dark"]}, {"image": "b.jpg"}]
    assert len(read_table(p).frame) == 2 and "partial last line 4" in read_table(p).notes[0]


def test_json_layouts_and_origins(tmp_path):
    keyed = tmp_path / "k.json"
    keyed.write_text(json.dumps({"a.jpg": {"quality": 2}, "b.jpg": {"quality": 4}}))
    t = read_table(keyed, raw=True)
    assert t.layout == "keyed" and t.origins == [f'{keyed}["a.jpg"]', f'{keyed}["b.jpg"]']
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"x": "A cat.", "y": "A dog."}))
    assert [(i.id, i.caption) for i in scan_captions([mapping]).items] == [("x", "A cat."), ("y", "A dog.")]
    assert read_table(mapping).frame.columns.tolist() == ["image", "score"]  # compare's reading of the same file


def test_parquet_everywhere(tmp_path):
    preds = tmp_path / "preds.parquet"
    pd.DataFrame({"id": [Path(n).stem for n in NAMES], "path": [f"imgs/{n}" for n in NAMES], "rating": PRED,
                  "status": "ok", "caption": "a photo", "raw": "x" * 500}).to_parquet(preds)
    gt = tmp_path / "gt.parquet"
    pd.DataFrame({"image_name": NAMES, "MOS": MOS}).to_parquet(gt)
    gt_csv = tmp_path / "gt.csv"
    pd.DataFrame({"image_name": NAMES, "MOS": MOS}).to_csv(gt_csv, index=False)
    a, b = compare(preds, {"g": gt}).groups["g"], compare(preds, {"g": gt_csv}).groups["g"]
    assert a["n"] == 30 and a["plcc"] == pytest.approx(b["plcc"]) and a["srcc"] == pytest.approx(b["srcc"])
    only = read_table(preds, lambda cols, h: {"id": "text", "rating": "number"})
    assert only.frame.columns.tolist() == ["id", "rating"]
    assert read_rows(gt)[2] == {"image_name": NAMES[2], "MOS": pytest.approx(MOS[2])}
    caps = tmp_path / "caps.parquet"
    pd.DataFrame({"key": ["k1", "k2", "k3"], "caption": ["Sharp.", None, "Blurry."]}).to_parquet(caps)
    scan = scan_captions([caps])
    assert [(i.id, i.caption, i.source) for i in scan.items] == [("k1", "Sharp.", f"{caps}#0"), ("k3", "Blurry.", f"{caps}#2")]
    assert scan.skipped == [(f"{caps}#1", "empty caption")]
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UserError, match="bad.parquet: not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet")


def test_clear_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "s.xlsx").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="s.xlsx: .*(openpyxl|Excel workbook)"):
        read_table(tmp_path / "s.xlsx")
    (tmp_path / "w.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(UserError, match="export the table as CSV, JSON or Parquet"):
        read_table(tmp_path / "w.npy")
    (tmp_path / "r.csv").write_text("id,caption\na,dark, noisy\n")
    with pytest.raises(UserError, match=r"r.csv:2: 3 fields but the header has 2"):
        read_table(tmp_path / "r.csv", raw=True)
