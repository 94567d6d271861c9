"""`make model`'s package stage: the folder that ships, stamped with its id, with the run record of a LoRA run."""
import json

import pytest

from qassess.build.model import package
from qassess.errors import UserError


def _model(folder):
    folder.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "processor_config.json"):
        (folder / name).write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "optimizer.pt").write_bytes(b"not shipped")
    return folder


def test_a_merged_folder_ships_with_its_runs_record(tmp_path):
    run = tmp_path / "runs" / "default-grpo"
    merged = _model(run / "merged")
    (run / "qassess_train.json").write_text(json.dumps({"global_step": 120}), encoding="utf-8")
    out = package(merged, tmp_path / "pkg" / "qassess-demo-v2", "qassess-demo-v2")
    assert json.loads((out / "qassess_model.json").read_text()) == {"id": "qassess-demo-v2"}
    assert json.loads((out / "qassess_train.json").read_text()) == {"global_step": 120}
    assert (out / "model.safetensors").read_bytes() == b"weights" and not (out / "optimizer.pt").exists()


def test_a_full_model_keeps_its_own_record_and_an_incomplete_one_is_refused(tmp_path):
    full = _model(tmp_path / "runs" / "default-sft")
    (full / "qassess_train.json").write_text(json.dumps({"global_step": 1200}), encoding="utf-8")
    out = package(full, tmp_path / "pkg" / "sft", "qassess-demo-v2-sft")
    assert json.loads((out / "qassess_train.json").read_text()) == {"global_step": 1200}
    (full / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="missing tokenizer.json"):
        package(full, tmp_path / "pkg" / "again", "x")
