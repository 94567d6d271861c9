"""What the `semantic` reward costs, beside the `reasoning` (ROUGE-1) reward it can replace or join.

Two measurements in one run:

  per call     the reward functions alone on the completions of one GRPO step of recipes/full.yaml per
               device (16 = 4 images x 4 generations), texts and references of samples/real's length:
               reasoning, semantic (embedding: first call with the model load, then steady), semantic
               (attributes); median wall and CPU ms of --calls calls, ratio to reasoning
  per step     GRPO on the tiny random Qwen2.5-VL after bench_train_step's format warm-up, the same
               data and seed: format + prediction + reasoning, then + semantic (embedding), then
               + semantic (attributes); CPU and wall seconds per optimizer step (medians over steps
               2..N, interleaved repeats), ratio to the first, and the reward's own share

    .venv/bin/python bench/bench_semantic_reward.py [--steps 6] [--repeats 1] [--calls 20] [--no-train]
"""
from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def step_texts(n: int = 16) -> tuple[list[str], list[str]]:
    """n completions and their references, from samples/real's reference texts (a model-like length)."""
    refs = json.loads((ROOT / "samples" / "real" / "references.json").read_text())
    texts = [" ".join(r[f] for f in ("description", "good_aspect", "bad_aspect")) for r in refs]
    completions = [f"<caption>\n{texts[(i + 1) % len(texts)]}\n</caption>\n<think>\nThe flaws lower the quality; "
                   f"overall it is fair.\n</think>\n<answer>\n{{\"rating\": 3.00}}\n</answer>" for i in range(n)]
    return completions, [texts[i // 4 % len(texts)] for i in range(n)]  # 4 generations share a reference


def per_call(calls: int) -> list[tuple[str, float, float, float]]:
    from qassess.evaluate import semantic
    from qassess.train.rewards import build_reward

    completions, references = step_texts()
    out = []
    setups = (("reasoning (ROUGE-1)", "reasoning", {}), ("semantic, embedding", "semantic", {"mode": "embedding"}),
              ("semantic, attributes", "semantic", {"mode": "attributes"}))
    semantic._load.cache_clear()
    for label, name, params in setups:
        reward = build_reward(name, params, name, {"template": "paper"})
        wall, cpu = [], []
        for i in range(calls + 1):
            w, c = time.perf_counter(), time.process_time()
            reward(completions, reference=references)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        out.append((label, wall[0], statistics.median(wall[1:]), statistics.median(cpu[1:])))
    return out


def train(args) -> dict[str, list[dict]]:
    from bench_train_step import StepClock, make_data, format_warmup

    from qassess.train.config import parse_recipe
    from qassess.build.tiny import build_tiny_model
    from qassess.train.trainer import prepare

    work = Path(tempfile.mkdtemp(prefix="bench-semantic-"))
    base = build_tiny_model(ROOT / ".cache" / "tiny-qwen2.5-vl", size="tiny", seed=0)
    data = make_data(work / "data", 8)
    model = format_warmup(base, work / "warm", Path(data["images"]), args.warmup_steps)
    common = [{"name": "format"}, {"name": "prediction"}, {"name": "reasoning"}]
    setups = (("reasoning", common), ("+ semantic (embedding)", common + [{"name": "semantic"}]),
              ("+ semantic (attributes)", common + [{"name": "semantic", "params": {"mode": "attributes"}}]))
    runs: dict[str, list[dict]] = {label: [] for label, _ in setups}
    for repeat in range(args.repeats):
        for label, rewards in setups:
            raw = {"model": {"name_or_path": str(model), "dtype": "float32"},
                   "data": {**data, "min_pixels": 3136, "max_pixels": 50176}, "rewards": rewards,
                   "training": {"output_dir": str(work / f"run-{repeat}-{len(runs[label])}-{len(rewards)}"),
                                "use_cpu": True, "bf16": False, "seed": 0, "max_steps": args.steps,
                                "num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 96,
                                "temperature": 1.0, "beta": 0.001, "loss_type": "grpo", "learning_rate": 1e-4,
                                "gradient_checkpointing": False, "logging_steps": 1, "save_strategy": "no"}}
            trainer = prepare(parse_recipe(raw), show_progress=False, say=lambda _: None).trainer
            clock = StepClock()
            trainer.add_callback(clock.callback())
            for i, fn in enumerate(trainer.reward_funcs):
                if getattr(fn, "__name__", "") == "semantic":
                    trainer.reward_funcs[i] = functools.wraps(fn)(clock.timed(fn))
            trainer.train()
            runs[label].append({"cpu": clock.cpu[1:], "wall": clock.wall[1:], "reward_cpu": clock.stage2_cpu[1:],
                                "reward_wall": clock.stage2_wall[1:]})
            print(f"  {label} (repeat {repeat + 1}): done", flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup-steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is the work done)")
    parser.add_argument("--no-train", action="store_true", help="only the per-call measurement")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    rows = per_call(args.calls)
    base = rows[0][2]
    print(f"\nper call: 16 completions (one GRPO step of recipes/full.yaml per device), torch threads {args.threads}")
    print(f"{'reward':<22} {'first call s':>12} {'wall ms/call':>12} {'ratio':>7} {'CPU ms/call':>11}")
    for label, first, wall, cpu in rows:
        print(f"{label:<22} {first:>12.2f} {wall * 1000:>12.1f} {wall / base:>7.1f} {cpu * 1000:>11.1f}")
    if args.no_train:
        return 0
    runs = train(args)

    def median(label: str, key: str) -> float:
        return statistics.median(v for r in runs[label] for v in r[key])

    cpu0, wall0 = median("reasoning", "cpu"), median("reasoning", "wall")
    print(f"\nper GRPO step: tiny model, 2 images x 4 generations, <= 96 tokens, medians over steps 2..{args.steps}, "
          f"{args.repeats} repeat(s)")
    print(f"{'set-up':<24} {'CPU s/step':>10} {'ratio':>6} {'wall s/step':>11} {'ratio':>6} {'semantic CPU s':>14}")
    for label in runs:
        cpu, wall = median(label, "cpu"), median(label, "wall")
        print(f"{label:<24} {cpu:>10.2f} {cpu / cpu0:>6.2f} {wall:>11.2f} {wall / wall0:>6.2f} "
              f"{median(label, 'reward_cpu'):>14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
