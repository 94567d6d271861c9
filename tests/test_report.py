"""`qassess report`: the data it computes, and the page itself driven in headless Debian chromium."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qassess.evaluate.compare import compare
from qassess.errors import UserError
from qassess.evaluate.report import build_report, script_json
from qassess.evaluate.report.rows import choose_thumbnails, load_run
from qassess.io.results import open_results

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "samples" / "real"
CHROMIUM = os.environ.get("QASSESS_TEST_CHROMIUM", "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def write_rows(path: Path, rows: list[dict]) -> Path:
    writer, _ = open_results(path, resume=False)
    writer.write(rows)
    writer.close()
    return path


def row(path: str | Path, rating: float | None, *, status: str = "ok", error: str | None = None, caption: str = "",
        reasoning: str = "", raw: str = "", **extra) -> dict:
    return {"id": Path(path).stem, "path": str(path), "mode": "image", "model": "tiny", "backend": "transformers",
            "template": "paper", "rating": rating, "caption": caption, "reasoning": reasoning,
            "raw": raw or f"<caption>{caption}</caption><think>{reasoning}</think><answer>{rating}</answer>",
            "status": status, "error": error, **extra}


@pytest.fixture(scope="module")
def rich_run(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The 15 real sample images with self-check and samples, plus a parse error, an unreadable file and
    a scored file that has since been deleted."""
    folder = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    rows = []
    for k, image in enumerate(sorted(REAL.glob("*.png"))):
        samples = [float(v) for v in rng.integers(1, 6, size=3)]
        rating = float(np.mean(samples))
        sc = float(rng.integers(1, 6))
        rows.append(row(image, rating, caption=f"caption {k}: {image.stem.split('__')[1]} on the photo",
                        reasoning=f"reasoning {k}", ratings=samples, rating_std=round(float(np.std(samples)), 4),
                        self_check_rating=sc, self_check_gap=abs(sc - rating), pixels=50176, max_pixels=50176))
    gone = folder / "kodak_kodim15__jpeg_4_copy.png"
    shutil.copy(REAL / "kodak_kodim15__jpeg_4.png", gone)
    rows.append(row(gone, 4.0, caption="scored, then the file was deleted", reasoning="still a card"))
    gone.unlink()
    rows.append(row(REAL / "kodak_kodim21__jpeg_4.png", None, status="parse_error", error="no <answer> block",
                    raw="<caption>half a caption</caption> and then nothing"))
    rows.append(row(REPO / "samples" / "broken_truncated.jpg", None, status="load_error",
                    error="truncated image: image file is truncated", raw=""))
    return write_rows(folder / "out.jsonl", rows), rows


# --- the data ------------------------------------------------------------------------------------


def test_script_json_cannot_close_the_script_element():
    value = {"a": "</script><script>alert(1)</script>", "b": "x\u2028y\u2029z & <!-- -->", "c": "\\<"}
    text = script_json(value)
    assert not any(ch in text for ch in "<>&\u2028\u2029")
    assert json.loads(text) == value


def test_csv_and_jsonl_give_the_same_rows(rich_run, tmp_path):
    path, rows = rich_run
    csv_path = write_rows(tmp_path / "out.csv", rows)
    a, b = load_run(path).rows, load_run(csv_path).rows
    assert list(a["status"]) == list(b["status"]) == [r["status"] for r in rows]
    for col in ("rating", "spread", "gap", "sc"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), equal_nan=True)
    assert list(a["ratings"]) == list(b["ratings"])
    assert a["raw"].iloc[-2] == "<caption>half a caption</caption> and then nothing"  # kept for failures
    assert a["raw"].iloc[0] == ""  # ok rows: the caption and reasoning say it


def test_metrics_are_compare_s(rich_run):
    path, rows = rich_run
    labels = REAL / "labels.csv"
    run = load_run(path, [str(labels)])
    expected = compare(path, [str(labels)], min_rows=1).overall
    got = run.summary["compare"]["overall"]
    assert got["plcc"] == pytest.approx(expected["plcc"]) and got["srcc"] == pytest.approx(expected["srcc"])
    mos = pd.read_csv(labels).set_index("image")["mos"]
    for i, r in enumerate(rows[:15]):
        assert run.rows["mos"].iloc[i] == pytest.approx(mos[Path(r["path"]).name])
    used = np.isfinite(run.rows["err"].to_numpy(float))
    assert used.sum() == expected["n"]
    slope, intercept = np.polyfit(run.rows["rating"][used], run.rows["mos"][used], 1)
    np.testing.assert_allclose(run.rows["err"][used], slope * run.rows["rating"][used] + intercept
                               - run.rows["mos"][used])
    assert len(run.summary["scatter"]["rating"]) == expected["n"]


def test_thumbnail_choice_is_capped_deterministic_and_covers_the_extremes():
    n = 5000
    rng = np.random.default_rng(1)
    rows = pd.DataFrame({"mode": "image", "status": np.where(rng.random(n) < 0.02, "parse_error", "ok"),
                         "rating": rng.uniform(1, 5, n), "err": rng.normal(0, 1, n), "gap": rng.normal(0, 1, n),
                         "spread": rng.uniform(0, 1, n)})
    chosen, note = choose_thumbnails(rows, 200)
    again, _ = choose_thumbnails(rows, 200)
    assert len(chosen) == 200 and list(chosen) == list(again)
    picked = set(chosen.tolist())
    for col, extreme in (("rating", np.argmax), ("rating", np.argmin), ("err", lambda v: np.argmax(np.abs(v))),
                         ("gap", lambda v: np.argmax(np.abs(v))), ("spread", np.argmax)):
        assert int(extreme(rows[col].to_numpy())) in picked, col
    assert any(rows["status"].iloc[i] != "ok" for i in chosen)
    assert "200 of 5,000" in note
    all_rows, note = choose_thumbnails(rows.iloc[:150], 200)
    assert len(all_rows) == 150 and "all 150" in note
    none, note = choose_thumbnails(rows, 0)
    assert len(none) == 0 and note.startswith("No thumbnails")


def test_missing_and_unreadable_files_get_cards_that_say_why(rich_run, tmp_path):
    path, rows = rich_run
    result = build_report(path, tmp_path / "r.html", log=lambda m: None)
    assert result["rows"] == 18 and result["thumbnails"] == 16 and result["without_picture"] == 2
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    data = json.loads(html.split('id="qassess-data" data-encoding="json">')[1].split("</script>")[0])
    why = data["columns"]["why"]
    assert why[15].startswith("file not found: ") and why[17].startswith("no picture: truncated image")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "content=\"default-src 'none'; script-src 'sha256-" in html  # no network, only the page's own script


def test_a_plain_prediction_table_finds_its_images_under_root(tmp_path):
    names = sorted(p.name for p in REAL.glob("*.png"))[:4]
    preds = tmp_path / "preds.csv"
    pd.DataFrame({"image_name": names + ["gone.png"], "score": [1.5, 2, 3, 4.5, 5],
                  "rating_expected": [1.7, 2.2, None, 4.1, 4.8]}).to_csv(preds, index=False)
    result = build_report(preds, tmp_path / "r.html", ground_truth=[str(REAL / "labels.csv")], roots=[REAL],
                          log=lambda m: None)
    assert result["rows"] == 5 and result["thumbnails"] == 4 and result["without_picture"] == 1
    assert result["statuses"] == {"ok": 5}
    np.testing.assert_allclose(load_run(preds).rows["expected"], [1.7, 2.2, np.nan, 4.1, 4.8])


def test_bad_options_are_user_errors(rich_run, tmp_path):
    path, _ = rich_run
    with pytest.raises(UserError, match="ending in .html"):
        build_report(path, tmp_path / "r.txt")
    with pytest.raises(UserError, match="no such file"):
        build_report(tmp_path / "nope.jsonl", tmp_path / "r.html")
    with pytest.raises(UserError, match="thumbnail format"):
        build_report(path, tmp_path / "r.html", thumb_format="gif", log=lambda m: None)


def test_cli(rich_run, tmp_path):
    from typer.testing import CliRunner

    from qassess.cli import app

    path, _ = rich_run
    out = tmp_path / "cli.html"
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(out), "--gt", str(REAL / "labels.csv"),
                                   "--refs", str(REAL / "references.json"), "--max-thumbnails", "5"])
    assert res.exit_code == 0, res.output
    assert re.search(r"report: 18 rows \(load_error 1, ok 16, parse_error 1\), [45] pictures", res.output)
    assert "Thumbnails for 5 of 18 image rows (--max-thumbnails 5)" in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(tmp_path / "x.html"), "--gt", str(tmp_path / "no.csv")])
    assert res.exit_code == 2 and "Error: no such file" in res.output


# --- the page in a real browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright; missing is a skip locally and a failure in CI."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = f"playwright cannot be imported ({exc})"
    if problem is None and not Path(CHROMIUM).is_file():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem:
        if _in_ci():
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, path: Path, init_script: str | None = None):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    if init_script:
        page.add_init_script(init_script)
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page, events


def card_rows(page) -> list[int]:
    return [int(v) for v in page.eval_on_selector_all("#grid .card", "cs => cs.map(c => c.dataset.row)")]


def test_gallery_sorts_filters_and_opens_details(browser, rich_run, tmp_path):
    path, rows = rich_run
    out = tmp_path / "report.html"
    build_report(path, out, ground_truth=[str(REAL / "labels.csv")], refs=REAL / "references.json", log=lambda m: None)
    run = load_run(path, [str(REAL / "labels.csv")])
    page, events = open_page(browser, out)

    assert card_rows(page) == list(range(18))
    assert page.locator("#grid .card img.thumb").count() == 16
    assert page.locator("#summary canvas").count() == 1  # the scatter against MOS
    assert page.locator("#summary svg").count() == 3  # rating, gap, spread histograms
    assert "PLCC" in page.inner_text("#summary")

    def expect(option: str, key) -> None:
        page.select_option("#sort", option)
        values = [round(key(i), 4) for i in range(18)]  # the page holds 4 decimals
        finite = [i for i in range(18) if np.isfinite(values[i])]
        want = sorted(finite, key=lambda i: (values[i], i)) + [i for i in range(18) if i not in finite]
        assert card_rows(page) == want, option

    r = run.rows
    expect("rating-desc", lambda i: -r["rating"].iloc[i])
    expect("rating-asc", lambda i: r["rating"].iloc[i])
    expect("error", lambda i: -abs(r["err"].iloc[i]))
    expect("gap", lambda i: -abs(r["gap"].iloc[i]))
    expect("spread", lambda i: -r["spread"].iloc[i])

    page.select_option("#status", "parse_error")
    assert card_rows(page) == [16]
    assert page.inner_text("#shown") == "Showing 1–1 of 1 rows (filtered from 18)"
    page.select_option("#status", "")
    page.check("#withpic")
    assert len(card_rows(page)) == 16
    page.uncheck("#withpic")
    page.fill("#search", "kodim21")
    assert sorted(card_rows(page)) == [10, 11, 12, 13, 14, 16]  # the five distorted copies and the parse error
    page.fill("#search", "")

    page.select_option("#sort", "file")
    gone = page.locator('#grid .card[data-row="15"] .nothumb')
    assert "file not found" in gone.inner_text()
    assert "truncated image" in page.inner_text("#failures")

    page.click('#grid .card[data-row="3"]')
    assert page.locator("#detail[open]").count() == 1
    detail = page.inner_text("#detail-body")
    assert rows[3]["caption"] in detail and rows[3]["reasoning"] in detail and "MOS" in detail
    assert page.locator("#detail-body img").count() == 1
    page.keyboard.press("ArrowRight")  # the next card of the gallery's order (file order here)
    assert rows[4]["caption"] in page.inner_text("#detail-body")
    page.click("#detail-prev")
    assert rows[3]["caption"] in page.inner_text("#detail-body")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    page.click("#close")
    assert page.locator("#detail[open]").count() == 0
    page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
    for png in (shot, tmp_path / "gallery.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert events == {"dialogs": [], "errors": []}  # a CSP violation would be a console error


def test_pages_of_a_larger_run_with_compressed_data(browser, tmp_path):
    images = sorted(REAL.glob("*.png"))
    rows = [row(images[i % len(images)], float(1 + i % 5), caption=f"row {i}") for i in range(150)]
    path = write_rows(tmp_path / "big.csv", rows)
    out = tmp_path / "big.html"
    build_report(path, out, max_thumbnails=20, compress=True, log=lambda m: None)
    assert 'data-encoding="gzip+base64"' in out.read_text(encoding="utf-8")
    page, events = open_page(browser, out)
    assert "20 of 150" in page.inner_text("#thumbnote")
    assert card_rows(page) == list(range(60)) and "page 1 of 3" in page.inner_text("#page")
    page.click("#next")
    assert card_rows(page) == list(range(60, 120))
    page.click("#next")
    assert card_rows(page) == list(range(120, 150)) and page.locator("#next").is_disabled()
    assert page.locator("#grid .card img").count() + page.locator("#grid .card .nothumb").count() == 30
    assert page.inner_text('#grid .card[data-row="149"] .text') == "row 149"
    assert events == {"dialogs": [], "errors": []}
    # browsers without Uint8Array.fromBase64 (Firefox, Safari, older Chrome) take the atob path
    page, events = open_page(browser, out, init_script="delete Uint8Array.fromBase64")
    assert page.evaluate("typeof Uint8Array.fromBase64") == "undefined"
    assert card_rows(page) == list(range(60)) and events == {"dialogs": [], "errors": []}


def test_text_from_files_and_the_model_runs_nothing(browser, tmp_path):
    hostile = tmp_path / "<img src=x onerror=alert(1)>.jpg"
    shutil.copy(REPO / "samples" / "sunset_clean.jpg", hostile)
    gone = tmp_path / "<svg onload=alert(5)>.png"
    rows = [
        row(hostile, 4.0, caption="<script>alert(2)</script> a sunset", reasoning="</script><script>alert(3)</script>"),
        row(gone, 2.0, caption="<img src=y onerror=alert(6)>", reasoning="\u2028line\u2029 & <b>bold</b>"),
        row(tmp_path / "x.jpg", None, status="parse_error", error="<iframe src=javascript:alert(7)>",
            raw="<answer>{\"rating\": \"<script>alert(8)</script>\"}</answer>"),
    ]
    path = write_rows(tmp_path / "<b>out<i>.jsonl", rows)
    out = tmp_path / "hostile.html"
    build_report(path, out, title="<script>alert(4)</script>", log=lambda m: None)
    page, events = open_page(browser, out)
    assert page.locator("#grid .card").count() == 3
    names = page.locator("#grid .card .id").all_inner_texts()
    assert names[0] == "<img src=x onerror=alert(1)>" and names[1] == "<svg onload=alert(5)>"
    assert page.locator("#grid .card img.thumb").count() == 1  # the hostile name's picture is shown
    assert "<script>alert(2)</script> a sunset" in page.inner_text('#grid .card[data-row="0"] .text')
    assert page.title() == "<script>alert(4)</script>"
    page.click('#grid .card[data-row="2"]')
    detail = page.inner_text("#detail-body")
    assert "<iframe src=javascript:alert(7)>" in detail and "<script>alert(8)</script>" in detail
    page.click("#close")
    page.click('#grid .card[data-row="1"]')
    assert "<b>bold</b>" in page.inner_text("#detail-body")
    injected = page.evaluate("""() => ({
        scripts: document.scripts.length,
        bad: document.querySelectorAll('img[src="x"], img[src="y"], svg[onload], iframe, b, [onerror], [onload]').length,
    })""")
    assert injected == {"scripts": 3, "bad": 0}
    assert events == {"dialogs": [], "errors": []}
