"""A short GRPO run per self-consistency mode on the default model's recipe, same seed and steps.

Both runs continue from the embedded qassess-demo-v1 with recipes/default/grpo.yaml (the paper's four
rewards), changing only `self_consistency`'s `mode` (generate: stage 2 writes its answer; prefill: one
forward pass reads the rating). Reported: wall and CPU time of each run, and on held-out photos the
caption-only SRCC/PLCC (stage 2 generated from each image's own caption, the paper's caption-based BIQA)
and the image SRCC of each trained model, beside the starting model's.

    .venv/bin/python bench/bench_sc_training.py --train .cache/synth/train.json --images .cache/synth/images \
        --synth .cache/synth [--steps 12] [--per-photo 6]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_probs import corr, pick_images  # noqa: E402


def train(mode: str, args) -> tuple[Path, float, float]:
    from qassess.train.config import load_recipe
    from qassess.train.trainer import train as run

    out = args.work / f"sc-{mode}"
    recipe = load_recipe(ROOT / "recipes" / "default" / "grpo.yaml", [
        "--model.name_or_path", str(ROOT / "qassess" / "models" / "qassess-demo-v1"),
        "--data.scores", str(args.train), "--data.images", str(args.images), "--max_steps", str(args.steps),
        "--output_dir", str(out), "--save_strategy", "no", "--rewards.self_consistency.mode", mode,
        "--resume_from_checkpoint", "false"])
    wall, cpu = time.perf_counter(), time.process_time()
    run(recipe, show_progress=False, say=lambda _: None)
    return out / "merged", time.perf_counter() - wall, time.process_time() - cpu


def evaluate(model: str, paths: list[Path], truth: list[float]) -> dict:
    from qassess.core.assessor import Assessor, Settings

    with Assessor(Settings(model=model, backend="transformers", dtype="float32", self_check=True)) as a:
        rows = list(a.score(paths))
    image = corr([r["rating"] for r in rows], truth)
    caption = corr([r["self_check_rating"] for r in rows], truth)
    expected = corr([r["rating_expected"] for r in rows], truth)
    return {"image_srcc": image[0], "image_plcc": image[1], "caption_srcc": caption[0], "caption_plcc": caption[1],
            "caption_n": caption[2], "expected_srcc": expected[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="train.json of a `qassess data synth` set")
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--synth", type=Path, action="append", required=True, help="held-out set(s) (test.json)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--per-photo", type=int, default=6)
    parser.add_argument("--whole-set", action="store_true", help="see bench_probs.py")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the runs already in --work")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-sc")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    trained = {}
    for mode in ("generate", "prefill"):
        if args.eval_only:
            times = json.loads((args.work / f"sc-{mode}" / "bench_times.json").read_text())
            trained[mode] = (args.work / f"sc-{mode}" / "merged", times["wall_s"], times["cpu_s"])
            continue
        trained[mode] = train(mode, args)
        (args.work / f"sc-{mode}" / "bench_times.json").write_text(
            json.dumps({"wall_s": trained[mode][1], "cpu_s": trained[mode][2]}))
        print(f"  {mode}: trained in {trained[mode][1]:.0f} s", flush=True)
    paths, labels = pick_images(args.synth, args.per_photo, args.whole_set)
    truth = [labels[p.stem] for p in paths]
    results = {"start (qassess-demo-v1)": {**evaluate("qassess-demo-v1", paths, truth), "wall_s": 0.0, "cpu_s": 0.0}}
    for mode, (merged, wall, cpu) in trained.items():
        results[f"GRPO, self_consistency {mode}"] = {**evaluate(str(merged), paths, truth), "wall_s": wall, "cpu_s": cpu}
    print(f"\n{args.steps} GRPO steps each (recipes/default/grpo.yaml, seed 0) from qassess-demo-v1; "
          f"{len(paths)} held-out images")
    print(f"{'model':<34} {'train wall s':>12} {'CPU s':>8} {'image SRCC':>10} {'expected SRCC':>13} "
          f"{'caption-only SRCC':>17} {'PLCC':>6}")
    for label, r in results.items():
        print(f"{label:<34} {r['wall_s']:>12.0f} {r['cpu_s']:>8.0f} {r['image_srcc']:>10.3f} {r['expected_srcc']:>13.3f} "
              f"{r['caption_srcc']:>17.3f} {r['caption_plcc']:>6.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
