"""Stage 0 of the default model: teach a from-scratch Qwen2.5-VL vision tower to see distortions.

Why a separate stage (measured in MODEL.md): trained end to end from
random weights the tower learns brightness and little else, while the evidence for blur, noise and
compression sits in the pixels' local differences, which a random patch embedding buries under each
patch's mean colour. So:

* the patch embedding starts as a PCA-whitening of real patches (every direction, high frequencies
  included, at unit variance), so local texture energy is as loud as brightness from step one;
* the tower is trained on the synthetic set's labels with a small head on mean+std pooled merger
  outputs (std pooling keeps "how uneven" the tokens are, which mean pooling averages away):
  quality regression plus distortion-type classification, on crops at the model's native resolution
  (the synthetic images are already at the size the model sees, so no evidence is resized away);
* warm-up, cosine decay, gradient clipping.

The head is discarded; the tower's weights go back into the model folder.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

from qassess.errors import UserError
from qassess.synth.dataset import DISTORTION_NAMES

TYPES = ("none", *DISTORTION_NAMES)


@dataclass
class VisionConfig:
    steps: int = 600
    batch: int = 32
    crop: int = 168  # px, a multiple of 28: 6x6 merged tokens
    lr: float = 3e-4
    head_lr: float = 3e-3  # the throw-away heads learn faster than the tower
    warmup: int = 25
    weight_decay: float = 0.01
    type_weight: float = 0.5
    cue_weight: float = 1.0  # per-token no-reference cues (token_cues); 0 turns the dense targets off
    seed: int = 0
    log_every: int = 25
    eval_every: int = 0  # also evaluate on the held-out rows every N steps (the per-type curves); 0: at the end
    val: str = ""  # a folder of real photos with labels.csv (image, mos): validation SRCC at every evaluation
    # "val": keep the tower of the evaluation with the best validation SRCC (v2's peaked halfway, then fell
    # while the synthetic SRCC still rose: MODEL.md); "last": the final step's tower.
    select: str = "last"
    flip: bool = True  # mirror half the crops: content seen both ways, the distortions are unchanged


def _primary_type(distortions: str) -> int:
    first = distortions.split("+")[0].split(":")[0]
    return TYPES.index(first) if first in TYPES else 0


def load_rows(synth_dir: Path, split: str) -> list[dict]:
    rows = json.loads((synth_dir / f"{split}.json").read_text(encoding="utf-8"))
    for r in rows:
        r["path"] = str(synth_dir / "images" / r["image"])
        r["type"] = 0 if r["distortions"] == "none" else _primary_type(r["distortions"])
    return rows


def whitening_init(model, processor, images, max_patches: int = 40000, eps: float = 1e-3, seed: int = 0) -> None:
    """Set the patch embedding to PCA whitening of the processor's patches (one temporal copy)."""
    import torch

    embed = model.model.visual.patch_embed.proj.weight  # (hidden, 3, T, p, p)
    hidden, ch, t, p, _ = embed.shape
    out = processor(images=images, return_tensors="pt")["pixel_values"].float()
    x = out.view(-1, ch, t, p, p)[:, :, 0].reshape(-1, ch * p * p)
    g = torch.Generator().manual_seed(seed)
    if x.shape[0] > max_patches:
        x = x[torch.randperm(x.shape[0], generator=g)[:max_patches]]
    x = x - x.mean(0, keepdim=True)
    cov = x.T @ x / x.shape[0]
    vals, vecs = torch.linalg.eigh(cov.double())
    order = torch.argsort(vals, descending=True)[:hidden]
    vals, vecs = vals[order].float(), vecs[:, order].float()
    w = (vecs / torch.sqrt(vals + eps * vals.max())).T  # (hidden, ch*p*p)
    with torch.no_grad():
        embed.copy_((w.reshape(hidden, ch, 1, p, p) / t).expand(-1, -1, t, -1, -1))


CUES = ("mean", "std", "grad1", "grad2", "grad4", "sharpness", "flat", "block_x", "block_y", "chroma",
        "clip_high", "clip_low", "red_green", "blue_yellow")


def token_cues(image) -> "torch.Tensor":
    """(H/28, W/28, len(CUES)) no-reference statistics of each 28x28 block (one merged vision token).

    Computed on the whole image so JPEG's 8x8 grid keeps its true phase, then cropped with the image:
    brightness and contrast, gradient energy at three scales and their ratio (blur, noise,
    pixelation), flat neighbours (pixelation, clipping), 8x8 block-edge excess (JPEG), chroma and the
    opponent colour means (saturation, colour cast), clipped highlights and shadows (exposure)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    r, g, b = x[0], x[1], x[2]
    y = 0.299 * r + 0.587 * g + 0.114 * b

    def grad(a):
        dx = F.pad((a[:, 1:] - a[:, :-1]).abs(), (0, 1))
        dy = F.pad((a[1:, :] - a[:-1, :]).abs(), (0, 0, 0, 1))
        return dx, dy

    def pool(a, k=28):
        return F.avg_pool2d(a[None, None], k)[0, 0]

    dx, dy = grad(y)
    g1 = pool(dx + dy)
    y2 = F.avg_pool2d(y[None, None], 2)[0, 0]
    g2 = pool(sum(grad(y2)), 14)
    y4 = F.avg_pool2d(y[None, None], 4)[0, 0]
    g4 = pool(sum(grad(y4)), 7)
    h, w = y.shape
    col = (torch.arange(w) % 8 == 7).float()[None, :].expand(h, w)
    row = (torch.arange(h) % 8 == 7).float()[:, None].expand(h, w)

    def excess(d, mask):
        on = pool(d * mask) / pool(mask).clamp_min(1e-6)
        off = pool(d * (1 - mask)) / pool(1 - mask).clamp_min(1e-6)
        return torch.log((on + 1e-3) / (off + 1e-3))

    mean = pool(y)
    std = (pool(y * y) - mean * mean).clamp_min(0).sqrt()
    eps = 1e-3
    cues = [mean, std, torch.log(g1 + eps), torch.log(g2 + eps), torch.log(g4 + eps),
            torch.log((g1 + eps) / (g2 + eps)), pool(((dx + dy) < 1.5 / 255).float()), excess(dx, col),
            excess(dy, row), pool(x.max(0).values - x.min(0).values), pool((y > 0.97).float()),
            pool((y < 0.03).float()), pool(r - g), pool(0.5 * (r + g) - b)]
    return torch.stack(cues, dim=-1)


class Head:
    def __init__(self, dim: int):
        import torch

        # The tower's outputs are small (std ~0.15 at init): normalise before the heads, or a linear
        # readout needs hundreds of steps just to grow its weights (measured: MODEL.md).
        self.norm = torch.nn.LayerNorm(dim, elementwise_affine=False)
        self.net = torch.nn.Sequential(torch.nn.Linear(2 * dim, 256), torch.nn.GELU(), torch.nn.Linear(256, 1 + len(TYPES)))
        self.dense_linear = torch.nn.Linear(dim, len(CUES))

    def dense(self, tokens):
        return self.dense_linear(self.norm(tokens))

    def parameters(self):
        return list(self.net.parameters()) + list(self.dense_linear.parameters())

    def __call__(self, tokens, counts):
        import torch

        feats = []
        for chunk in torch.split(self.norm(tokens), counts):
            feats.append(torch.cat([chunk.mean(0), chunk.std(0)]))
        return self.net(torch.stack(feats))


def _visual_tokens(model, processor, images):
    batch = processor(images=images, return_tensors="pt")
    pixel, grid = batch["pixel_values"], batch["image_grid_thw"]
    out = model.model.visual(pixel, grid_thw=grid)
    tokens = getattr(out, "pooler_output", None)
    if tokens is None:
        tokens = out[0] if isinstance(out, (tuple, list)) else out
    counts = [int(t * h * w) // 4 for t, h, w in grid.tolist()]
    return tokens, counts


def _crop_box(im, size: int, rng: random.Random) -> tuple[int, int, int, int]:
    """A random crop of at most size x size on the 28-px token grid (whole image when smaller)."""
    w, h = im.size
    cw, ch = min(size, w), min(size, h)
    x = rng.randrange(0, w - cw + 1, 28) if w > cw else 0
    y = rng.randrange(0, h - ch + 1, 28) if h > ch else 0
    return x, y, x + cw, y + ch


def evaluate(model, processor, head, rows: list[dict], batch: int = 32) -> dict:
    """Per-type mean within-series SRCC (label order within each source photo) and overall SRCC."""
    import numpy as np
    import torch
    from PIL import Image
    from scipy.stats import spearmanr

    preds = []
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            ims = [Image.open(r["path"]).convert("RGB") for r in rows[i:i + batch]]
            tokens, counts = _visual_tokens(model, processor, ims)
            preds += head(tokens, counts)[:, 0].tolist()
    labels = np.array([r["normalized_score"] for r in rows])
    preds = np.array(preds)
    per_type = {}
    for t in TYPES[1:]:
        vals = []
        for src in sorted({r["source"] for r in rows}):
            idx = [k for k, r in enumerate(rows) if r["source"] == src and
                   (r["distortions"] == "none" or (r["distortions"].startswith(t + ":") and "+" not in r["distortions"]))]
            if len(idx) > 2 and np.std(labels[idx]) > 0 and np.std(preds[idx]) > 0:
                vals.append(spearmanr(labels[idx], preds[idx])[0])
        per_type[t] = round(float(np.mean(vals)), 3) if vals else None
    return {"srcc": round(float(spearmanr(labels, preds)[0]), 4), "per_type": per_type}


def load_validation(folder: str | Path) -> list[dict]:
    """Real photos with human scores (labels.csv: image, mos, higher is better), for validation only."""
    import csv

    folder = Path(folder)
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:  # names relative to the folder (images/x.jpg) or to its images/ subfolder (x.jpg)
        path = next((p for p in (folder / r["image"], folder / "images" / r["image"]) if p.is_file()), None)
        if path is None:
            raise UserError(f"{folder / 'labels.csv'}: {r['image']} is not in {folder} or {folder / 'images'}")
        out.append({"path": str(path), "mos": float(r["mos"])})
    return out


def validate(model, processor, head, rows: list[dict], batch: int = 16) -> float:
    """SRCC of the head's rating against human scores of real photos (the whole photo, as scoring sees it)."""
    import torch
    from scipy.stats import spearmanr

    from qassess.io.images import PixelBudget, load_image

    size = processor.size
    budget = PixelBudget(min_pixels=size["shortest_edge"], max_pixels=size["longest_edge"])
    preds = []
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            ims = [load_image(r["path"], budget) for r in rows[i:i + batch]]
            tokens, counts = _visual_tokens(model, processor, ims)
            preds += head(tokens, counts)[:, 0].tolist()
    return round(float(spearmanr([r["mos"] for r in rows], preds)[0]), 4)


def pretrain_vision(model, processor, train_rows: list[dict], test_rows: list[dict] | None, cfg: VisionConfig,
                    log=print) -> dict:
    """Train model.model.visual in place; return the log (per-step losses, evaluations)."""
    import torch
    from PIL import Image

    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    visual = model.model.visual
    visual.train()
    head = Head(visual.merger.mlp[-1].out_features)
    opt = torch.optim.AdamW([{"params": list(visual.parameters()), "lr": cfg.lr},
                             {"params": head.parameters(), "lr": cfg.head_lr}], weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 *
                                              (1 + math.cos(math.pi * min(1.0, s / cfg.steps))))
    cache: dict[str, tuple] = {}
    val_rows = load_validation(cfg.val) if cfg.val else []
    if cfg.select not in ("last", "val"):
        raise UserError(f"vision: select must be 'last' or 'val', not {cfg.select!r}")
    if cfg.select == "val" and not val_rows:
        raise UserError("vision: select 'val' needs a validation folder (--val)")
    best: tuple[float, int, dict] | None = None  # (validation SRCC, step, the tower's weights)
    cue_stats = None  # per-cue mean and std from the first batch: the dense targets are standardised
    history = {"steps": [], "evals": []}
    start = time.time()
    for step in range(cfg.steps):
        batch = rng.sample(train_rows, cfg.batch)
        ims, cues = [], []
        for r in batch:
            if r["path"] not in cache:
                im = Image.open(r["path"]).convert("RGB")
                cache[r["path"]] = (im, token_cues(im))
            im, cue = cache[r["path"]]
            x0, y0, x1, y1 = _crop_box(im, cfg.crop, rng)
            crop, grid = im.crop((x0, y0, x1, y1)), cue[y0 // 28:y1 // 28, x0 // 28:x1 // 28]
            if cfg.flip and rng.random() < 0.5:
                crop, grid = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grid.flip(1)
            ims.append(crop)
            cues.append(grid.reshape(-1, len(CUES)))
        if cue_stats is None:
            every = torch.cat(cues)
            cue_stats = (every.mean(0), every.std(0).clamp_min(1e-3))
        tokens, counts = _visual_tokens(model, processor, ims)
        out = head(tokens, counts)
        target = torch.tensor([r["normalized_score"] for r in batch])
        types = torch.tensor([r["type"] for r in batch])
        mse = torch.nn.functional.mse_loss(out[:, 0], target)
        ce = torch.nn.functional.cross_entropy(out[:, 1:], types)
        goal = ((torch.cat(cues) - cue_stats[0]) / cue_stats[1]).clamp(-5, 5)
        dense = torch.nn.functional.mse_loss(head.dense(tokens), goal)
        loss = mse + cfg.type_weight * ce + cfg.cue_weight * dense
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(visual.parameters()), 1.0)  # the tower only
        opt.step()
        sched.step()
        history["steps"].append({"step": step + 1, "mse": round(mse.item(), 4), "ce": round(ce.item(), 4),
                                 "cues": round(dense.item(), 4)})
        if test_rows and cfg.eval_every and (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:
            visual.eval()
            result = {"step": step + 1, **evaluate(model, processor, head, test_rows),
                      "seconds": round(time.time() - start, 1)}
            if val_rows:
                result["val_srcc"] = validate(model, processor, head, val_rows)
                best = _keep_best(best, result["val_srcc"], step + 1, visual)
            history["evals"].append(result)
            log(f"vision held-out at step {step + 1}: {result}")
            visual.train()
        if (step + 1) % cfg.log_every == 0:
            log(f"vision step {step + 1}/{cfg.steps}: mse {mse.item():.3f} ce {ce.item():.3f} cues {dense.item():.3f} "
                f"({time.time() - start:.0f} s)")
    visual.eval()
    if test_rows:
        result = {"step": cfg.steps, **evaluate(model, processor, head, test_rows),
                  "seconds": round(time.time() - start, 1)}
        if val_rows:
            result["val_srcc"] = validate(model, processor, head, val_rows)
            best = _keep_best(best, result["val_srcc"], cfg.steps, visual)
        history["evals"].append(result)
        log(f"vision held-out: {result}")
    history["selected_step"] = cfg.steps
    if cfg.select == "val" and best is not None:
        visual.load_state_dict(best[2])
        history["selected_step"] = best[1]
        log(f"vision: kept the tower of step {best[1]} (validation SRCC {best[0]})")
    return history


def _keep_best(best, srcc: float, step: int, visual):
    if best is None or srcc > best[0]:
        return srcc, step, {k: v.detach().clone() for k, v in visual.state_dict().items()}
    return best
