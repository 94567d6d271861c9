"""Scale-out without a model: --shard, `qassess merge`, compare over several files, and the remote
backend's error handling against a stdlib fake server on loopback (500s, 429s, bad URLs, API keys).
The real-vLLM-server tests are in test_remote.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeServer
from PIL import Image
from typer.testing import CliRunner

from qassess.cli import app
from qassess.errors import UserError
from qassess.engines.merge import merge
from qassess.engines.local import run_score
from qassess.core.assessor import Settings
from qassess.engines.partition import parse_shard, select_shard, shard_key

MODEL = "fake-model"


def make_tree(root: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        p = root / f"d{i % 3}" / f"img{i:02d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40 + i, 30), (i * 7 % 255, 90, 180)).save(p)
        paths.append(p)
    return paths


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def score(inputs, out, url, **kw):
    opts = dict(kw.pop("backend_options", {}))
    settings = Settings(model=MODEL, backend="openai", max_new_tokens=8, batch_size=kw.pop("batch_size", 4),
                        backend_options={"base_url": url if isinstance(url, list) else [url], **opts})
    return run_score(inputs, out, settings, log=kw.pop("log", lambda m: None), **kw)


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# --- shards -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["3", "3/3", "-1/2", "a/b", "1/0"])
def test_bad_shard_specs_are_one_line_errors(spec):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(spec)


def test_shards_partition_and_do_not_depend_on_root_or_order(tmp_path):
    a = make_tree(tmp_path / "a" / "photos", 30)
    keys = [str(p) for p in a]
    shards = [select_shard(keys, keys, [tmp_path / "a" / "photos"], (i, 4)) for i in range(4)]
    assert sorted(sum(shards, [])) == sorted(keys)  # every input exactly once
    assert all(shards)  # 30 inputs over 4 shards: none empty (sha1 spreads them)
    # The same tree elsewhere, listed in another order: the same relative paths land in the same shards.
    moved = [str(tmp_path / "elsewhere" / Path(k).relative_to(tmp_path / "a" / "photos")) for k in reversed(keys)]
    again = [select_shard(moved, moved, [tmp_path / "elsewhere"], (i, 4)) for i in range(4)]
    rel = lambda ks, root: sorted(Path(k).relative_to(root).as_posix() for k in ks)  # noqa: E731
    assert [rel(s, tmp_path / "a" / "photos") for s in shards] == [rel(s, tmp_path / "elsewhere") for s in again]


def test_shard_keys_of_files_and_caption_rows(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("id,caption\n")
    assert shard_key(f"{table}:12", [table]) == "t.csv:12"
    assert shard_key(str(tmp_path / "x" / "y.png"), [tmp_path]) == "x/y.png"
    assert shard_key(str(table), [table]) == "t.csv"
    assert shard_key(str(tmp_path / "a" / "00000.tar#k1"), [tmp_path]) == "a/00000.tar#k1"
    assert shard_key(str(tmp_path / "00000.tar#k1"), [tmp_path / "00000.tar"]) == "00000.tar#k1"
    assert shard_key("s3://bucket/photos/x/y.jpg", ["s3://bucket/photos/"]) == "x/y.jpg"


# --- merge --------------------------------------------------------------------------------------

def row(path, rating, status="ok", model="m"):
    return {"id": Path(path).stem, "path": path, "mode": "image", "model": model, "template": "paper",
            "rating": rating, "status": status}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_merge_collapses_identical_duplicates_and_replaces_failed_rows(tmp_path):
    (tmp_path / "parts").mkdir()
    write_jsonl(tmp_path / "parts" / "p0.jsonl", [row("a.png", 3.0), row("b.png", None, "generation_error")])
    write_jsonl(tmp_path / "parts" / "p1.jsonl", [row("a.png", 3.0), row("b.png", 4.0), row("c.png", 2.0)])
    out = tmp_path / "parts" / "all.csv"
    result = merge([tmp_path / "parts"], out)
    assert (result.collapsed, result.replaced, result.read) == (1, 1, 5)
    again = merge([str(tmp_path / "parts" / "p*.jsonl"), out], tmp_path / "all.jsonl")  # glob + a CSV input
    assert [(r["path"], r["rating"], r["status"]) for r in rows_of(tmp_path / "all.jsonl")] == [
        ("a.png", 3.0, "ok"), ("b.png", 4.0, "ok"), ("c.png", 2.0, "ok")]
    assert (again.collapsed, again.replaced) == (4, 1)
    # The output inside the folder it merges is not read back as an input on a second run.
    assert merge([tmp_path / "parts"], out).read == 5


def test_merge_refuses_conflicts_and_other_setups(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [row("x.png", 3.0), row("y.png", 2.0)])
    b = write_jsonl(tmp_path / "b.jsonl", [row("x.png", 4.5)])
    res = cli("merge", a, b, "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 2 and "Error: 1 input(s) have conflicting rows: x.png (a.jsonl: ok 3.0; b.jsonl: ok 4.5)" in res.output
    assert not (tmp_path / "out.jsonl").exists()
    res = cli("merge", a, b, "-o", tmp_path / "out.jsonl", "--on-conflict", "first")
    assert res.exit_code == 0 and "1 conflicting duplicate(s): first file's row kept" in res.output
    assert [r["rating"] for r in rows_of(tmp_path / "out.jsonl")] == [3.0, 2.0]
    other = write_jsonl(tmp_path / "c.jsonl", [row("z.png", 3.0, model="other")])
    res = cli("merge", a, other, "-o", tmp_path / "o2.jsonl")
    assert res.exit_code == 2 and "different set-ups (model 'm' vs 'other')" in res.output
    assert "no such file or folder" in cli("merge", tmp_path / "nope.jsonl", "-o", tmp_path / "o3.jsonl").output


def test_compare_pools_several_prediction_files(tmp_path):
    rows = [row(f"img{i}.png", float(1 + (i * 7) % 5)) for i in range(12)]
    one = write_jsonl(tmp_path / "all.jsonl", rows)
    write_jsonl(tmp_path / "p0.jsonl", rows[:5])
    write_jsonl(tmp_path / "p1.jsonl", rows[5:])
    gt = tmp_path / "gt.csv"
    gt.write_text("image,MOS\n" + "".join(f"img{i}.png,{(i * 7) % 5 + (i % 3) / 10}\n" for i in range(12)))
    whole = cli("compare", one, gt, "--json", tmp_path / "a.json", "-q")
    split = cli("compare", tmp_path / "p0.jsonl", gt, "--preds", tmp_path / "p1.jsonl", "--json", tmp_path / "b.json", "-q")
    globbed = cli("compare", str(tmp_path / "p?.jsonl"), gt, "--json", tmp_path / "c.json", "-q")
    assert whole.exit_code == split.exit_code == globbed.exit_code == 0, split.output
    metrics = [json.loads((tmp_path / f"{n}.json").read_text())["overall"] for n in "abc"]
    assert metrics[0]["n"] == 12 and metrics[0] == metrics[1] == metrics[2]


# --- the remote backend against a fake server -----------------------------------------------------

def test_unreachable_and_broken_servers_are_one_line_errors(tmp_path):
    make_tree(tmp_path / "photos", 2)
    res = cli("score", tmp_path / "photos", "-o", tmp_path / "o.jsonl", "--model", MODEL,
              "--base-url", "http://127.0.0.1:9/v1")
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1].startswith("Error: no server answers: http://127.0.0.1:9/v1: cannot connect")
    with FakeServer(MODEL, models_status=500) as broken:
        res = cli("score", tmp_path / "photos", "--model", MODEL, "--base-url", broken.url)
    assert res.exit_code == 2 and "Error: no server answers" in res.output and "HTTP 500: models listing is broken" in res.output
    with FakeServer("another-model") as other:
        res = cli("score", tmp_path / "photos", "--model", MODEL, "--base-url", other.url)
    assert res.exit_code == 2 and "serves 'another-model', not 'fake-model'" in res.output
    assert "--backend openai needs --base-url" in cli("score", tmp_path / "photos", "--backend", "openai").output
    assert "is for --backend openai" in cli("score", tmp_path / "photos", "-b", "vllm", "--base-url", "http://x/v1").output


def test_all_servers_failing_stops_the_run_and_a_rerun_retries_those_rows(tmp_path):
    make_tree(tmp_path / "photos", 6)
    out = tmp_path / "out.jsonl"
    with FakeServer(MODEL, chat_status=500) as bad:
        res = cli("score", tmp_path / "photos", "-o", out, "--model", MODEL, "--base-url", bad.url,
                  "--batch-size", "3", "--max-in-flight", "2")
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1].startswith("Error: every server is down (")
    assert "HTTP 500: fake failure 500" in res.output and "Traceback" not in res.output
    written = rows_of(out)
    assert written and {r["status"] for r in written} == {"generation_error"}
    assert "fake failure 500" in written[0]["error"]
    manifest = json.loads(out.with_name("out.manifest.json").read_text())
    assert manifest["segments"][-1]["outcome"] == "interrupted"
    with FakeServer(MODEL, chat_status=200) as good:  # a rerun retries the failed rows (no --retry-errors)
        res = cli("score", tmp_path / "photos", "-o", out, "--model", MODEL, "--base-url", good.url)
    assert res.exit_code == 0, res.output
    final = rows_of(out)
    assert len(final) == 6 and {r["status"] for r in final} == {"ok"} and len({r["path"] for r in final}) == 6


def test_a_failing_server_leaves_the_rotation_and_the_run_goes_on(tmp_path):
    make_tree(tmp_path / "photos", 10)
    logs: list[str] = []
    with FakeServer(MODEL, chat_status=502) as bad, FakeServer(MODEL, chat_status=200) as good:
        tally = score([tmp_path / "photos"], tmp_path / "o.jsonl", [bad.url, good.url], log=logs.append,
                      backend_options={"max_in_flight": 2})
    rows = rows_of(tmp_path / "o.jsonl")
    assert tally.statuses == {"ok": 10} and len({r["path"] for r in rows}) == 10
    assert any("left the rotation" in line for line in logs) or len(bad.bodies) >= 3


def test_busy_server_429_rows_fail_with_the_reason_and_the_run_finishes(tmp_path):
    make_tree(tmp_path / "photos", 3)
    with FakeServer(MODEL, chat_status=429) as busy:
        tally = score([tmp_path / "photos"], tmp_path / "o.jsonl", busy.url,
                      backend_options={"attempts": 2})
    rows = rows_of(tmp_path / "o.jsonl")
    assert tally.statuses == {"generation_error": 3}
    assert all("HTTP 429" in r["error"] and "after 2 attempts" in r["error"] for r in rows)


def test_api_key_is_sent_but_never_written(tmp_path, monkeypatch):
    make_tree(tmp_path / "photos", 2)
    secret = "sk-test-DO-NOT-LEAK-4242"
    monkeypatch.setenv("MY_KEY", secret)
    out = tmp_path / "out.jsonl"
    with FakeServer(MODEL, chat_status=200) as server:
        res = cli("score", tmp_path / "photos", "-o", out, "--model", MODEL, "--base-url", server.url,
                  "--api-key-env", "MY_KEY", "--self-check")
    assert res.exit_code == 0, res.output
    assert {h.get("Authorization") for h in server.headers} == {f"Bearer {secret}"}
    for text in (out.read_text(), out.with_name("out.manifest.json").read_text(), res.output):
        assert secret not in text
    # --self-check and --samples ride on the same servers: caption-only requests, and n in one request
    chats = [b for b in server.bodies if "messages" in b]
    assert sum(1 for b in chats if all(p.get("type") != "image_url" for m in b["messages"]
                                               for p in (m["content"] if isinstance(m["content"], list) else []))) == 2
    monkeypatch.delenv("MY_KEY")
    assert "MY_KEY: that environment variable is not set" in cli(
        "score", tmp_path / "photos", "--model", MODEL, "--base-url", server.url, "--api-key-env", "MY_KEY").output


def test_request_body_carries_the_offline_settings(tmp_path):
    make_tree(tmp_path / "photos", 1)
    with FakeServer(MODEL, chat_status=200) as server:
        settings = Settings(model=MODEL, backend="openai", template="visualquality-r1", temperature=0.7, top_p=0.9, top_k=20,
                            seed=5, samples=1, max_new_tokens=33, backend_options={"base_url": [server.url]})
        run_score([tmp_path / "photos"], tmp_path / "o.jsonl", settings, log=lambda m: None)
    body = server.bodies[-1]
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "seed", "max_completion_tokens", "n",
                                 "repetition_penalty")} == {
        "temperature": 0.7, "top_p": 0.9, "top_k": 20, "seed": 5, "max_completion_tokens": 33, "n": 1,
        "repetition_penalty": 1.0}
    assert body["chat_template_kwargs"] == {"add_vision_id": True}
    url = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]
           if p["type"] == "image_url"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")


def test_a_server_refusing_every_request_stops_the_run(tmp_path):
    make_tree(tmp_path / "photos", 3)
    with FakeServer(MODEL, chat_status=400) as refusing:
        res = cli("score", tmp_path / "photos", "-o", tmp_path / "o.jsonl", "--model", MODEL, "--base-url", refusing.url)
    assert res.exit_code == 2 and len(refusing.bodies) == 3 + 2  # no retries of a 400 (2 /tokenize probes)
    assert res.output.strip().splitlines()[-1].startswith(
        "Error: the server refused every request of a batch: http://127.0.0.1:")


def test_cli_shards_cover_every_input_once_and_merge_to_the_unsharded_run(tmp_path):
    make_tree(tmp_path / "photos", 12)
    with FakeServer(MODEL, chat_status=200) as server:
        base = ["--model", MODEL, "--base-url", server.url]
        assert cli("score", tmp_path / "photos", "-o", tmp_path / "all.jsonl", *base).exit_code == 0
        (tmp_path / "parts").mkdir()
        for i in range(3):
            res = cli("score", tmp_path / "photos", "-o", tmp_path / "parts" / f"p{i}.csv", "--shard", f"{i}/3", *base)
            assert res.exit_code == 0 and f"shard {i}/3:" in res.output
    assert cli("merge", tmp_path / "parts", "-o", tmp_path / "merged.jsonl").exit_code == 0
    key = lambda r: (r["path"], r["status"], r["rating"], r["raw"])  # noqa: E731
    assert sorted(map(key, rows_of(tmp_path / "merged.jsonl"))) == sorted(map(key, rows_of(tmp_path / "all.jsonl")))
    assert len(rows_of(tmp_path / "all.jsonl")) == 12


# --- credentials in URLs and servers that come back ----------------------------------------------

def test_display_url_hides_userinfo_and_secret_query_values():
    from qassess.backends.servers import display_url, redact_text

    assert display_url("http://user:pw123@node1:8000/v1") == "http://***@node1:8000/v1"
    assert display_url("https://h/v1?api_key=abc&x-amz-signature=zz&region=eu") == \
        "https://h/v1?api_key=***&x-amz-signature=***&region=eu"
    assert display_url("http://node1:8000/v1") == "http://node1:8000/v1"
    assert redact_text("cannot connect to 'http://u:pw123@h:1/v1/models' (refused)") == \
        "cannot connect to 'http://***@h:1/v1/models' (refused)"


def test_a_password_in_a_base_url_never_reaches_any_file_the_run_writes(tmp_path):
    """Userinfo on a live server, a token in the query of a dead one: neither in the rows, the manifest,
    the report, the log, nor in any file left in the output folder."""
    make_tree(tmp_path / "photos", 3)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "scores.jsonl"
    password, token = "pw-DO-NOT-LEAK-77", "tok-DO-NOT-LEAK-88"
    with FakeServer(MODEL, chat_status=200) as good:
        live = good.url.replace("http://", f"http://alice:{password}@")
        dead = f"http://bob:{password}@127.0.0.1:9/v1?api_key={token}"
        res = cli("score", tmp_path / "photos", "-o", out, "--model", MODEL, "--base-url", live,
                  "--base-url", dead, "--max-new-tokens", "8")
    assert res.exit_code == 0, res.output
    assert {r["status"] for r in rows_of(out)} == {"ok"}
    report = cli("report", out, "-o", out_dir / "report.html")
    assert report.exit_code == 0, report.output
    bad = cli("score", tmp_path / "photos", "--model", MODEL, "--base-url", f"ftp://carol:{password}@h/v1")
    assert bad.exit_code == 2
    written = sorted(p for p in out_dir.rglob("*") if p.is_file())
    assert {p.name for p in written} >= {"scores.jsonl", "scores.manifest.json", "report.html"}
    for text in [p.read_bytes().decode("utf-8", "replace") for p in written] + [res.output, report.output, bad.output]:
        assert password not in text and token not in text
    manifest = (out_dir / "scores.manifest.json").read_text()
    assert "http://***@127.0.0.1:9/v1?api_key=***" in manifest


def test_a_server_that_left_the_rotation_is_tried_again_and_rejoins(tmp_path):
    from qassess.backends.servers import PoolPolicy, ServerPool

    logs: list[str] = []
    with FakeServer(MODEL, chat_status=502) as flaky, FakeServer(MODEL, chat_status=200) as good:
        pool = ServerPool([flaky.url, good.url], None,
                          PoolPolicy(max_in_flight=1, attempts=3, backoff=0.01, down_after=1, rejoin_after=0.2),
                          logs.append)
        try:
            for _ in range(4):  # the flaky server fails once and leaves; the good one serves the rest
                pool.post("/chat/completions", {"model": MODEL})
            assert [s.alive for s in pool.servers] == [False, True]
            assert any("left the rotation" in line and "trying it again in 0.2 s" in line for line in logs)
            import time

            time.sleep(0.3)
            pool.post("/chat/completions", {"model": MODEL})  # its trial request: still failing, back-off doubles
            assert not pool.servers[0].alive and pool.servers[0].retry_after == pytest.approx(0.4)
            flaky.chat_status = 200
            before = len(flaky.bodies)
            time.sleep(0.5)
            pool.post("/chat/completions", {"model": MODEL})
            assert pool.servers[0].alive and len(flaky.bodies) == before + 1
            assert any(line.startswith(f"server {flaky.url} rejoined the rotation") for line in logs)
        finally:
            pool.close()
