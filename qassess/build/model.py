"""Build the shipped default model from a fresh clone (`make model`), stage by stage, resumably.

    python -m qassess.build.model init   .cache/model/init   --data .cache/synth
    python -m qassess.build.model vision .cache/model/init   -o .cache/model/vision --data .cache/synth
    qassess train recipes/default/sft.yaml                   # TRL SFTTrainer: the output format
    qassess train recipes/default/grpo.yaml                  # GRPO with the paper's four rewards
    python -m qassess.build.model package runs/default-sft -o qassess/models/qassess-demo-v2-sft

`init` trains the tokenizer on the prompts and the synthetic references and writes a random
Qwen2.5-VL of the `demo` shape (tied embeddings, ~5.8M parameters) whose patch embedding is a
PCA whitening of real patches; `vision` trains the vision tower alone (qassess.build.vision);
`package` copies the final model into the package with its id. Each stage skips when its output exists.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

from qassess.errors import UserError

MODEL_ID = "qassess-demo-v2-sft"
PATCH = 14
# The pixel budget the default model was trained for: 256 vision tokens, so a 500x500 photo is seen at
# 448x448 (noise and JPEG blocks survive; at v1's 100 tokens they were shrunk away). The synthetic
# images are made at this size (448 px long side: 176-192 tokens for 3:2 and 4:3 photos).
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 256 * 28 * 28


def _corpus(synth_dir: Path) -> list[str]:
    from qassess.synth.text import target_text
    from qassess.build.tiny import training_corpus
    from qassess.train.data import reference_text

    base = training_corpus()
    rows = json.loads((synth_dir / "train.json").read_text(encoding="utf-8"))
    rng = random.Random(0)
    return base * 4 + [target_text(reference_text(r), float(r["normalized_score"]), rng) for r in rows]


def init(out: Path, synth_dir: Path, seed: int = 0) -> Path:
    import torch
    from PIL import Image
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from qassess.build import tiny
    from qassess.build.vision import load_rows, whitening_init

    if (out / "model.safetensors").is_file():
        return out
    tokenizer = tiny.train_tokenizer(_corpus(synth_dir))
    config = tiny._model_config(tiny.SHAPES["demo"], tokenizer, tie_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    processor = _processor(tokenizer)
    rows = load_rows(synth_dir, "train")
    sample = random.Random(seed).sample(rows, min(64, len(rows)))
    whitening_init(model, processor.image_processor, [Image.open(r["path"]).convert("RGB") for r in sample], seed=seed)
    end, im_end = tokenizer.convert_tokens_to_ids("<|endoftext|>"), tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config = GenerationConfig(bos_token_id=end, eos_token_id=[im_end, end], pad_token_id=end)
    from qassess.io.results import replace_dir

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)

    return replace_dir(out, write)


def _processor(tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    from qassess.build.tiny import CHAT_TEMPLATE

    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    image = Qwen2VLImageProcessor(size=size, patch_size=PATCH, merge_size=2, temporal_patch_size=2)
    video = Qwen2VLVideoProcessor(size=size, patch_size=PATCH, merge_size=2, temporal_patch_size=2)
    return Qwen2_5_VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video,
                               chat_template=CHAT_TEMPLATE)


def vision(model_dir: Path, out: Path, synth_dir: Path, steps: int, seed: int = 0, eval_rows: int = 0,
           eval_every: int = 0, **options) -> Path:
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from qassess.build.vision import VisionConfig, load_rows, pretrain_vision

    if (out / "model.safetensors").is_file():
        return out
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(model_dir)
    test = load_rows(synth_dir, "test")
    if eval_rows and len(test) > eval_rows:  # the curves during training: a fixed sample keeps each evaluation short
        test = random.Random(seed).sample(test, eval_rows)
    config = VisionConfig(steps=steps, seed=seed, eval_every=eval_every or max(1, steps // 2), **options)
    history = pretrain_vision(model, processor.image_processor, load_rows(synth_dir, "train"), test, config,
                              log=lambda m: print(m, flush=True))
    from qassess.io.results import replace_dir

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / "vision_pretrain.json").write_text(json.dumps(history) + "\n", encoding="utf-8")

    return replace_dir(out, write)


def package(model_dir: Path, out: Path, model_id: str = MODEL_ID) -> Path:
    """Copy a trained model folder into the package, stamped with its id (what score rows name)."""
    needed = ["config.json", "model.safetensors", "tokenizer.json", "processor_config.json"]
    missing = [n for n in needed if not (model_dir / n).is_file()]
    if missing:
        raise UserError(f"{model_dir} is not a complete model folder (missing {', '.join(missing)})")
    from qassess.io.results import replace_dir

    from qassess.models.adapters import MERGED_DIR
    from qassess.train.trainer import RUN_INFO

    # a LoRA run's merged/ folder holds the weights; its run record (recipe, steps) sits one level up
    record = model_dir.parent / RUN_INFO
    merged_run = model_dir.name == MERGED_DIR and not (model_dir / RUN_INFO).is_file()
    extra = [record] if merged_run and record.is_file() else []

    def write(tmp: Path) -> None:
        for f in sorted(model_dir.iterdir()) + extra:
            if f.is_file() and f.suffix in (".json", ".safetensors", ".jinja", ".txt"):
                shutil.copy(f, tmp / f.name)
        (tmp / "qassess_model.json").write_text(json.dumps({"id": model_id}) + "\n", encoding="utf-8")

    return replace_dir(out, write)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qassess.build.model", description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["init", "vision", "package"])
    parser.add_argument("model", help="init: output folder; vision/package: the input model folder")
    parser.add_argument("-o", "--out", help="output folder (vision, package)")
    parser.add_argument("--data", default=".cache/synth", help="`qassess data synth` output folder")
    parser.add_argument("--steps", type=int, default=500, help="vision pre-training steps")
    parser.add_argument("--eval-rows", type=int, default=600, help="vision: held-out images per evaluation (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cue-weight", type=float, default=1.0, help="vision: weight of the per-token cues (0: off)")
    parser.add_argument("--lr", type=float, default=3e-4, help="vision: peak learning rate of the tower")
    parser.add_argument("--crop", type=int, default=168, help="vision: crop side in px (a multiple of 28)")
    parser.add_argument("--val", default="", help="vision: a folder of real photos with labels.csv (image, mos), "
                                                  "validation only: its SRCC is logged at every evaluation")
    parser.add_argument("--eval-every", type=int, default=0, help="vision: evaluate every N steps (0: halfway and at the end)")
    parser.add_argument("--select", choices=["last", "val"], default="last",
                        help="vision: the tower to keep: the last step's, or the evaluation's with the best --val SRCC")
    parser.add_argument("--id", default=MODEL_ID, help="package: the model id its rows carry")
    args = parser.parse_args(argv)
    try:
        if args.stage == "init":
            path = init(Path(args.model), Path(args.data), args.seed)
        elif not args.out:
            raise UserError(f"{args.stage}: -o/--out is required")
        elif args.stage == "vision":
            path = vision(Path(args.model), Path(args.out), Path(args.data), args.steps, args.seed, args.eval_rows,
                          args.eval_every, cue_weight=args.cue_weight, lr=args.lr, crop=args.crop, val=args.val,
                          select=args.select)
        else:
            path = package(Path(args.model), Path(args.out), args.id)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.stage}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
