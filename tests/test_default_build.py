"""The default model's build stages: vision cues, whitening init, SFT rows (both stages), sft recipes."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qassess.errors import UserError
from qassess.train.config import load_recipe, parse_recipe
from qassess.build.vision import CUES, token_cues, whitening_init

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "data" / "photos" / "kodak" / "kodim05.png"


def _photo(size=(308, 224)) -> Image.Image:
    return Image.open(PHOTO).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def test_token_cues_shape_and_what_they_see():
    import albumentations as A

    im = _photo()
    cues = token_cues(im)
    assert tuple(cues.shape) == (224 // 28, 308 // 28, len(CUES))
    arr = np.asarray(im)
    blurred = A.GaussianBlur(blur_limit=0, sigma_limit=(3, 3), p=1)(image=arr)["image"]
    jpeg = A.ImageCompression(quality_range=(5, 5), p=1)(image=arr)["image"]
    dark = (arr * 0.3).astype(np.uint8)
    mean = lambda a, name: float(token_cues(Image.fromarray(a))[..., CUES.index(name)].mean())  # noqa: E731
    assert mean(blurred, "grad1") < mean(arr, "grad1") - 0.3
    assert mean(jpeg, "block_x") > mean(arr, "block_x") + 0.3
    assert mean(dark, "mean") < mean(arr, "mean") * 0.5


def test_whitening_init_gives_unit_variance_patches(tiny_model):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_model, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(tiny_model)
    images = [_photo((224, 168)), _photo((168, 224))]
    whitening_init(model, processor.image_processor, images)
    pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"].float()
    with torch.no_grad():
        emb = model.model.visual.patch_embed(pixels)
    var = emb.var(0)
    assert 0.3 < float(var.median()) < 3.0  # every direction at about unit variance
    assert float(var.min()) > 0.05  # high frequencies are not buried under the patch mean


def test_sft_rows_cover_both_stages():
    from qassess.core.prompts import get_template
    from qassess.train.data import Example
    from qassess.train.sft import sft_dataset

    examples = [Example(f"{i}.png", str(PHOTO), 1 + i % 5, "The photo shows a race. Strong blur.") for i in range(20)]
    data = sft_dataset(examples, get_template("paper"), 3136, 78400, seed=0, stage2=0.5)
    rows = [data[i] for i in range(len(data))]
    with_image = [r for r in rows if r["images"]]
    caption_only = [r for r in rows if not r["images"]]
    assert len(with_image) == 20 and 3 <= len(caption_only) <= 17
    first = with_image[0]["completion"][0]["content"][0]["text"]
    assert first.startswith("<caption>\nThe photo shows a race. Strong blur.\n</caption>\n<think>\n")
    second = caption_only[0]
    assert "The photo shows a race. Strong blur." in second["prompt"][-1]["content"][0]["text"]
    assert second["completion"][0]["content"][0]["text"].startswith("<think>")


def test_sft_caption_only_rows_and_their_settings():
    from qassess.core.prompts import get_template
    from qassess.train.config import parse_recipe
    from qassess.train.data import Example
    from qassess.train.sft import sft_dataset

    examples = [Example(f"{i}.png", str(PHOTO), 1 + i % 5, f"Blur of strength {i}.") for i in range(12)]
    data = sft_dataset(examples, get_template("paper"), 3136, 78400, seed=0, stage2=1.0, images=False)
    rows = [data[i] for i in range(len(data))]
    assert len(rows) == 12 and not any(r["images"] for r in rows)
    assert all(f"Blur of strength {i}." in r["prompt"][-1]["content"][0]["text"] for i, r in enumerate(rows))
    # the same seed gives the caption rows the same targets as in the mixed set
    mixed = sft_dataset(examples, get_template("paper"), 3136, 78400, seed=0, stage2=1.0)
    assert [r["completion"] for r in rows] == [mixed[i]["completion"] for i in range(len(mixed)) if not mixed[i]["images"]]
    with pytest.raises(UserError, match="no training rows"):
        sft_dataset(examples, get_template("paper"), 3136, 78400, stage2=0.0, images=False)
    base = {"method": "sft", "model": {"name_or_path": "m"}, "data": {"scores": "s.json"}}
    assert parse_recipe({**base, "sft": {"stage2": 1.0, "images": False}}).sft.images is False
    for bad, why in (({"stage2": 1.5}, "between 0 and 1"), ({"stage2": 0, "images": False}, "nothing to train"),
                     ({"stages": 1}, "stages")):
        with pytest.raises(UserError, match=why):
            parse_recipe({**base, "sft": bad})


def test_sft_needs_references():
    from qassess.core.prompts import get_template
    from qassess.train.data import Example
    from qassess.train.sft import sft_dataset

    with pytest.raises(UserError, match="reference"):
        sft_dataset([Example("a.png", str(PHOTO), 3.0, "")], get_template("paper"), 3136, 78400)


def test_default_recipes_parse_and_make_trl_configs(tmp_path):
    from qassess.train.trainer import grpo_config
    from qassess.train.sft import sft_config

    sft = load_recipe(ROOT / "recipes" / "default" / "sft.yaml")
    assert sft.method == "sft" and not sft.lora.enabled
    assert sft_config(sft, tmp_path).max_steps == sft.training["max_steps"]
    grpo = load_recipe(ROOT / "recipes" / "default" / "grpo.yaml")
    assert grpo.method == "grpo" and [r.name for r in grpo.rewards] == ["format", "prediction", "self_consistency",
                                                                        "reasoning"]
    assert grpo_config(grpo, tmp_path, [1.0] * 4).num_generations == 4
    caption = load_recipe(ROOT / "recipes" / "experiments" / "caption-stage.yaml", ["--sft.images", "false"])
    assert caption.sft.stage2 == 1.0 and caption.sft.images is False


def test_method_is_checked():
    base = {"model": {"name_or_path": "m"}, "data": {"scores": "s.csv"}}
    with pytest.raises(UserError, match="method must be one of"):
        parse_recipe({**base, "method": "dpo"})
    with pytest.raises(UserError, match="SFTConfig"):
        parse_recipe({**base, "method": "sft", "training": {"num_generations": 4}})
