"""GRPO step time with and without the self-consistency reward, side by side in one run.

The paper reports that dual-stage training (stage 2 re-rates each completion's caption with the current
policy) roughly doubles training time. This measures what it costs here, on the tiny (or small) random
Qwen2.5-VL, for three set-ups trained from the same weights on the same data and seed:

    no-sc          format + prediction + reasoning
    sc (ours)      + self_consistency: one batched stage-2 call, identical captions generated once,
                   stage 2 capped at --stage2-tokens
    sc (paper)     + self_consistency as the paper's code ran it: also one batched call, but one prompt
                   per completion, everything before <answer> as the stage-2 text (caption + think),
                   and stage 2 allowed as many tokens as stage 1
    sc (prefill)   + self_consistency with `mode: prefill`: no stage-2 generation; one forward pass over
                   each distinct caption's stage-2 prompt and the answer's start reads the rating

A random model never writes a `<caption>`, so stage 2 would cost nothing; the benchmark first teaches the
model the output format with a short supervised warm-up (full fine-tune on templated answers), so that
completions carry captions as a trained model's do. Reported per optimizer step (medians): process CPU
seconds (the steady measure on a shared machine) and wall seconds, each with its ratio to no-sc, the
stage-2 share, the share of completions with a caption and of stage-2 answers that parsed.

    .venv/bin/python bench/bench_train_step.py [--size tiny|small] [--steps 8] [--stage2-tokens 48]
    .venv/bin/python bench/bench_train_step.py --model qassess/models/qassess-demo-v1   # the trained default
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("blurry sharp noisy dark bright clear faded vivid grainy soft crisp hazy tilted balanced cluttered "
         "dull colorful washed overexposed underexposed").split()
SUBJECTS = "dog cat flower street building tree car person sky beach room table".split()


def caption_text(i: int) -> str:
    a, b, s = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)], SUBJECTS[(i * 5 + 1) % len(SUBJECTS)]
    return f"A {a} photo of a {s}, {b} background, with {WORDS[(i * 3 + 1) % len(WORDS)]} detail."


def think_answer(i: int) -> str:
    s, a = SUBJECTS[(i * 5 + 1) % len(SUBJECTS)], WORDS[i % len(WORDS)]
    rating = 1 + (i * 37 % 401) / 100
    return (f"<think>\nThe {s} looks {a}, so the quality is about {rating:.2f}.\n</think>\n"
            f"<answer>\n{{\"rating\": {rating:.2f}}}\n</answer>")


def answer_text(i: int) -> str:
    """A well-formed stage-1 answer with varied words (varied captions, as a real policy's)."""
    return f"<caption>\n{caption_text(i)}\n</caption>\n{think_answer(i)}"


def make_data(folder: Path, n: int) -> dict[str, str]:
    import csv

    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows, refs = [], []
    for i in range(n):
        name = f"img{i}.jpg"
        Image.fromarray((rng.random((80 + 8 * i, 112, 3)) * 255).astype("uint8")).save(folder / name)
        rows.append([name, 10 + 80 * i / max(1, n - 1)])
        refs.append({"image": name, "description": {"answer": f"A {WORDS[i % len(WORDS)]} photo."},
                     "good_aspect": {"answer": "vivid color"}, "bad_aspect": {"answer": "some noise"}})
    with open(folder / "mos.csv", "w", newline="") as f:
        csv.writer(f).writerows([["image_name", "MOS"], *rows])
    (folder / "reasoning.json").write_text(json.dumps(refs))
    return {"scores": str(folder / "mos.csv"), "images": str(folder), "references": str(folder / "reasoning.json")}


def format_warmup(src: Path, out: Path, images: Path, steps: int, seed: int = 0) -> Path:
    """Supervised warm-up on templated answers (prompt tokens masked) so the policy behaves as a trained
    one does: stage 1 writes caption, think, answer; stage 2 (caption prompt, no image) think, answer."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from qassess.io.images import PixelBudget, load_image
    from qassess.core.prompts import get_template

    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(src)
    processor.tokenizer.padding_side = "right"
    model = AutoModelForImageTextToText.from_pretrained(src, dtype=torch.float32).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    budget = PixelBudget(min_pixels=3136, max_pixels=50176)
    pictures = [load_image(p, budget) for p in sorted(images.glob("*.jpg"))]
    template = get_template("paper")
    prompt = processor.apply_chat_template(template.image_messages(), add_generation_prompt=True, tokenize=False)
    for step in range(steps):
        if step % 3 == 2:  # stage 2: text only
            ids = [step * 4 + k for k in range(4)]
            prompts = [processor.apply_chat_template(template.caption_messages(caption_text(i)),
                                                     add_generation_prompt=True, tokenize=False) for i in ids]
            texts = [p + think_answer(i) + "<|im_end|>" for p, i in zip(prompts, ids)]
            enc = processor(text=texts, padding=True, return_tensors="pt")
            prompt_lens = [len(processor.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        else:
            batch = [(pictures[(step * 4 + k) % len(pictures)], answer_text(step * 4 + k)) for k in range(4)]
            texts = [prompt + target + "<|im_end|>" for _, target in batch]
            imgs = [im for im, _ in batch]
            enc = processor(text=texts, images=imgs, padding=True, return_tensors="pt")
            prompt_lens = [len(processor(text=[prompt], images=[im])["input_ids"][0]) for im in imgs]
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
        for row, length in enumerate(prompt_lens):
            labels[row, :length] = -100
        loss = model(**enc, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(out)
    processor.tokenizer.padding_side = "left"
    processor.save_pretrained(out)
    print(f"format warm-up: {steps} steps, final loss {loss.item():.3f}", flush=True)
    return out


class StepClock:
    """Wall and process-CPU seconds per optimizer step, and inside stage-2 generation. CPU time is the
    steadier measure when other processes share the cores (wall time then mostly measures them)."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.stage2_wall: list[float] = []
        self.stage2_cpu: list[float] = []
        self._start = (0.0, 0.0)
        self._s2 = [0.0, 0.0]

    def callback(self):
        from transformers import TrainerCallback

        clock = self

        class Clock(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                clock._start = (time.perf_counter(), time.process_time())
                clock._s2 = [0.0, 0.0]

            def on_step_end(self, args, state, control, **kwargs):
                clock.wall.append(time.perf_counter() - clock._start[0])
                clock.cpu.append(time.process_time() - clock._start[1])
                clock.stage2_wall.append(clock._s2[0])
                clock.stage2_cpu.append(clock._s2[1])

        return Clock()

    def timed(self, generate):
        def wrapper(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return generate(*args, **kwargs)
            finally:
                self._s2[0] += time.perf_counter() - wall
                self._s2[1] += time.process_time() - cpu

        return wrapper


def run(label: str, model: Path, data: dict[str, str], out: Path, rewards: list[dict], args) -> dict:
    from qassess.train.config import parse_recipe
    from qassess.train.trainer import prepare

    raw = {
        "model": {"name_or_path": str(model), "dtype": "float32"},
        "data": {**data, "min_pixels": 3136, "max_pixels": 78400 if args.model else 50176},
        "rewards": rewards,
        "training": {"output_dir": str(out), "use_cpu": True, "bf16": False, "seed": 0,
                     "max_steps": args.steps, "num_generations": 4, "per_device_train_batch_size": 8,
                     "max_completion_length": args.stage1_tokens, "temperature": 1.0, "beta": 0.001,
                     "loss_type": "grpo", "learning_rate": 1e-4, "gradient_checkpointing": False,
                     "logging_steps": 1, "save_strategy": "no"},
    }
    prepared = prepare(parse_recipe(raw), show_progress=False, say=lambda _: None)
    trainer = prepared.trainer
    clock = StepClock()
    trainer.add_callback(clock.callback())
    for reward in trainer.reward_funcs:
        if getattr(reward, "__name__", "") == "self_consistency":
            reward.generate = clock.timed(reward.generate)
            reward.read = clock.timed(reward.read)
    trainer.train()
    logs = [r for r in trainer.state.log_history if "reward" in r][1:]  # step 1 warms caches
    pick = lambda key: statistics.median(r.get(key, 0.0) for r in logs)  # noqa: E731
    return {"label": label, "wall": clock.wall[1:], "cpu": clock.cpu[1:], "stage2_wall": clock.stage2_wall[1:],
            "stage2_cpu": clock.stage2_cpu[1:], "captions": pick("self_consistency/caption_rate"),
            "parsed": pick("self_consistency/stage2_parse_rate"), "prompts": pick("self_consistency/stage2_prompts"),
            "length": pick("completions/mean_length")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=("tiny", "small"), default="tiny")  # ignored with --model
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--warmup-steps", type=int, default=150)
    parser.add_argument("--stage1-tokens", type=int, default=96)
    parser.add_argument("--stage2-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="run the four set-ups this many times, interleaved")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is the work done)")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a trained model folder (e.g. the embedded default) instead of tiny + warm-up")
    parser.add_argument("--synth", type=Path, default=ROOT / ".cache" / "synth",
                        help="with --model: the `qassess data synth` output to train on")
    args = parser.parse_args()

    import torch

    from qassess.build.tiny import build_tiny_model

    torch.set_num_threads(args.threads)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-train-"))
    if args.model is not None:  # a model whose stage 1 and stage 2 both write full answers already
        model, args.size = args.model, args.model.name
        data = {"scores": str(args.synth / "train.json"), "images": str(args.synth / "images"), "limit": 64}
    else:
        base = build_tiny_model(ROOT / ".cache" / f"{args.size}-qwen2.5-vl", size=args.size, seed=0)
        data = make_data(work / "data", args.images)
        model = format_warmup(base, work / "warm", Path(data["images"]), args.warmup_steps)

    common = [{"name": "format"}, {"name": "prediction"}, {"name": "reasoning"}]
    ours = {"name": "self_consistency", "params": {"max_new_tokens": args.stage2_tokens}}
    paper = {"name": "self_consistency",
             "params": {"max_new_tokens": args.stage1_tokens, "dedupe": False, "stage2_input": "before_answer"}}
    prefill = {"name": "self_consistency", "params": {"mode": "prefill"}}
    setups = (("no-sc", common), ("sc (ours)", common + [ours]), ("sc (paper)", common + [paper]),
              ("sc (prefill)", common + [prefill]))
    runs: dict[str, list[dict]] = {label: [] for label, _ in setups}
    for repeat in range(args.repeats):  # interleaved, so load from other processes hits every set-up alike
        for label, rewards in setups:
            runs[label].append(run(label, model, data, work / f"{label.replace(' ', '_')}-{repeat}", rewards, args))
            print(f"  {label} (repeat {repeat + 1}): done", flush=True)

    def median(label: str, key: str) -> float:
        return statistics.median(v for r in runs[label] for v in (r[key] if isinstance(r[key], list) else [r[key]]))

    base_cpu, base_wall = median("no-sc", "cpu"), median("no-sc", "wall")
    print(f"\n{args.size} model, torch threads {args.threads}, {os.cpu_count()} cores shared with other work; "
          f"per step 2 images x 4 generations; medians over steps 2..{args.steps} of {args.repeats} interleaved "
          f"runs; stage 1 <= {args.stage1_tokens} tokens, stage 2 (ours) <= {args.stage2_tokens}")
    print(f"{'set-up':<12} {'CPU s/step':>10} {'ratio':>6} {'stage-2 CPU s':>13} {'wall s/step':>11} {'ratio':>6} "
          f"{'captions':>8} {'stage-2 parsed':>14} {'stage-2 prompts':>15} {'stage-1 tokens':>14}")
    for label, _ in setups:
        cpu, wall = median(label, "cpu"), median(label, "wall")
        print(f"{label:<12} {cpu:>10.2f} {cpu / base_cpu:>6.2f} {median(label, 'stage2_cpu'):>13.2f} "
              f"{wall:>11.2f} {wall / base_wall:>6.2f} {median(label, 'captions'):>8.0%} "
              f"{median(label, 'parsed'):>14.0%} {median(label, 'prompts'):>15.1f} {median(label, 'length'):>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
