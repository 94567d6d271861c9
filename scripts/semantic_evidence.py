"""Evidence for docs/evidence.md, "Meaning, not shared words": do the measures track meaning?

1. `contradictions`: a RULE-MADE test set from the Q-Reasoning reference texts (the data files
   published with the paper's training code, in a folder). For each human note (description,
   good aspect, bad aspect) two candidate "model texts" are written by deterministic word rules:
     paraphrase      synonym swaps that keep every polarity ("blurry" -> "out of focus", "image" ->
                     "picture", "vivid" -> "vibrant", ...) and the three parts in reverse order
     contradiction   antonym flips in the good and bad aspects ("sharp" -> "blurry", "dark" -> "bright",
                     "good" -> "poor", "not X" -> "X", "no X" -> "some X", ...), description and order kept;
                     `--one-flip` flips only the first word naming an attribute's state ("blurry",
                     "dark", "vivid", ...: one attribute polarity); references without one are skipped
   and each measure scores both against the human note. Reported: how often each ranks the paraphrase
   above the contradiction (ties apart). The contradiction keeps most words on purpose: that is the
   failure of ROUGE-1 that the semantic measures address. Caveat: the flip words and the attribute lexicon overlap, so
   the attribute measure is partly tested on its own vocabulary (the paraphrase's synonyms are partly
   outside it, which costs it).

2. `correlations PREDS GT REFS [PREDS GT REFS ...]`: every measure per row of real generated text
   (`qassess score` outputs) against the references, and their Spearman correlations with each other
   and with the rating error |rating - ground truth|.

    .venv/bin/python scripts/semantic_evidence.py contradictions [--data DIR] [--one-flip]
    .venv/bin/python scripts/semantic_evidence.py correlations out.csv samples/real/labels.csv samples/real/references.json
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT.parent.parent / "shared" / "data" / "q-reasoning-sample"
FILES = ("human_test.json", "koniq_cot_constrain.json", "filted_data_human_eng.json")

PARAPHRASE = {
    "image": "picture", "images": "pictures", "photo": "shot", "photograph": "shot", "picture": "image",
    "shows": "depicts", "show": "depict", "depicts": "shows", "depict": "show",
    "blurry": "out of focus", "blurred": "smudged", "out of focus": "unfocused", "sharp": "crisp", "crisp": "sharp",
    "sharply": "crisply", "vivid": "vibrant", "vibrant": "vivid", "colors": "hues", "colours": "hues",
    "color": "hue", "colour": "hue", "dark": "dim", "dim": "dark", "bright": "luminous", "clear": "distinct",
    "clearly": "distinctly", "unclear": "vague", "noise": "grain", "noisy": "grainy", "beautiful": "lovely",
    "beautifully": "nicely", "good": "fine", "nice": "pleasant", "poor": "weak", "bad": "poor",
    "tilted": "crooked", "composition": "framing", "background": "backdrop", "overall": "on the whole",
    "very": "really", "appears": "seems", "looks": "seems", "visible": "discernible", "dazzling": "glaring",
    "slightly": "a little", "heavily": "strongly", "hard": "difficult", "difficult": "hard", "easy": "simple",
    "interesting": "engaging", "person": "individual", "people": "individuals", "there is no": "there isn't any",
}

FLIP = {
    "blurry": "sharp", "blurred": "sharp", "blur": "sharpness", "sharp": "blurry", "sharper": "blurrier",
    "crisp": "blurry", "out of focus": "in focus", "in focus": "out of focus", "focused": "unfocused",
    "clear": "unclear", "clearly": "vaguely", "unclear": "clear", "visible": "invisible", "dark": "bright",
    "darker": "brighter", "bright": "dark", "dim": "bright", "dimly": "brightly", "overexposed": "well exposed",
    "underexposed": "well exposed", "vivid": "dull", "vividly": "dully", "vibrant": "dull", "colorful": "colorless",
    "colourful": "colourless", "pale": "vivid", "dull": "vivid", "beautiful": "ugly", "beautifully": "poorly",
    "good": "poor", "poor": "good", "nice": "bad", "nicely": "badly", "bad": "good", "well": "poorly",
    "strong": "weak", "weak": "strong", "tilted": "straight", "unbalanced": "balanced", "balanced": "unbalanced",
    "noisy": "clean", "grainy": "clean", "easy": "hard", "hard": "easy", "difficult": "easy",
    "interesting": "boring", "boring": "interesting", "striking": "dull", "distracting": "unobtrusive",
    "effective": "ineffective", "properly": "improperly", "correctly": "wrongly", "lacks": "has",
    "without": "with", "never": "always",
}
NEGATION = {"not": "", "no": "some"}  # the negated word after them is kept as it is
# --one-flip flips only the first of these: words that name a quality attribute's state (no generic
# praise like "good" / "beautiful", no negation), so exactly one attribute polarity changes.
ATTRIBUTE_WORDS = ("blurry", "blurred", "sharp", "sharper", "crisp", "out of focus", "in focus", "clear", "unclear",
                   "dark", "darker", "bright", "dim", "overexposed", "underexposed", "vivid", "vibrant", "colorful",
                   "colourful", "pale", "dull", "tilted", "unbalanced", "balanced", "noisy", "grainy")


def _keys(table: dict[str, str]) -> re.Pattern:
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.I)


def _case(src: str, new: str) -> str:
    return new[:1].upper() + new[1:] if src[:1].isupper() and new else new


def paraphrase(text: str) -> str:
    pattern = _keys(PARAPHRASE)
    return pattern.sub(lambda m: _case(m.group(0), PARAPHRASE[m.group(0).lower()]), text)


def contradict(text: str, budget: list[int]) -> tuple[str, int]:
    """Antonym flips left to right while `budget[0]` != 0 (-1: no limit, every FLIP word and negation;
    else only ATTRIBUTE_WORDS); returns the text and the flips made."""
    if budget[0] < 0:
        pattern = re.compile(r"\b(not|no)\s+(\w+)\b|" + _keys(FLIP).pattern, re.I)
    else:
        pattern = re.compile(r"(?!x)x(x)?(x)?|" + _keys({w: FLIP[w] for w in ATTRIBUTE_WORDS}).pattern, re.I)
    made = 0

    def sub(m: re.Match) -> str:
        nonlocal made
        if budget[0] == 0:
            return m.group(0)
        budget[0] -= 1
        made += 1
        if m.group(1):  # a negation: drop it (no -> some), keep the word it negated
            repl = NEGATION[m.group(1).lower()]
            return _case(m.group(1), f"{repl} {m.group(2)}".strip())
        word = m.group(3)
        return _case(word, FLIP[word.lower()])

    return pattern.sub(sub, text), made


def load_notes(folder: Path) -> list[dict[str, str]]:
    from qassess.evaluate.compare.references import english_text
    from qassess.evaluate.compare import read_table

    notes, seen = [], set()
    for name in FILES:
        frame = read_table(folder / name).frame
        for _, row in frame.iterrows():
            note = {f: english_text(row.get(f)) for f in ("description", "good_aspect", "bad_aspect")}
            key = (note["good_aspect"], note["bad_aspect"])
            if not (note["good_aspect"] or note["bad_aspect"]) or key in seen:
                continue
            seen.add(key)
            notes.append({**note, "file": name})
    return notes


def join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def contradictions(args) -> dict:
    from qassess.evaluate import attributes, metrics, semantic

    notes = load_notes(args.data)
    cases, skipped = [], 0
    for n in notes:
        budget = [1 if args.one_flip else -1]
        good, a = contradict(n["good_aspect"], budget)
        bad, b = contradict(n["bad_aspect"], budget)
        if a + b == 0:
            skipped += 1
            continue
        reference = join(n["description"], n["good_aspect"], n["bad_aspect"])
        para = join(paraphrase(n["bad_aspect"]), paraphrase(n["good_aspect"]), paraphrase(n["description"]))
        cases.append({**n, "reference": reference, "paraphrase": para,
                      "contradiction": join(n["description"], good, bad), "flips": a + b})
    refs = [c["reference"] for c in cases]
    embedder = semantic.load_embedder(args.model)
    scores: dict[str, dict[str, np.ndarray]] = {}
    for kind in ("paraphrase", "contradiction"):
        texts = [c[kind] for c in cases]
        rouge = metrics.rouge1(refs, texts)
        emb = semantic.measure(embedder, refs, texts, threshold=args.threshold)
        agree = [attributes.compare_texts(t, good=c["good_aspect"], bad=c["bad_aspect"]) for t, c in zip(texts, cases)]
        scores[kind] = {"ROUGE-1 precision": rouge[:, 0], "ROUGE-1 recall": rouge[:, 1], "ROUGE-1 F1": rouge[:, 2],
                        "embedding similarity": emb[:, 0], "sentence recall": emb[:, 1], "sentence soft recall": emb[:, 2],
                        "attribute agreement (score)": np.array([np.nan if a.score is None else a.score for a in agree]),
                        "attribute precision": np.array([np.nan if a.precision is None else a.precision for a in agree])}
    out = {"references": len(notes), "cases": len(cases), "skipped_no_flip": skipped,
           "one_flip": args.one_flip, "mean_flips": float(np.mean([c["flips"] for c in cases])),
           "threshold": args.threshold, "model": embedder.name, "measures": {}}
    for name in scores["paraphrase"]:
        p, c = scores["paraphrase"][name], scores["contradiction"][name]
        ok = np.isfinite(p) & np.isfinite(c)
        p, c = p[ok], c[ok]
        out["measures"][name] = {"n": int(ok.sum()), "paraphrase_wins": float(np.mean(p > c + 1e-9)),
                                 "ties": float(np.mean(np.abs(p - c) <= 1e-9)),
                                 "contradiction_wins": float(np.mean(c > p + 1e-9)),
                                 "mean_paraphrase": float(p.mean()), "mean_contradiction": float(c.mean())}
    if args.examples:
        out["examples"] = [{k: c[k] for k in ("reference", "paraphrase", "contradiction")} for c in cases[:args.examples]]
    return out


def correlations(args) -> dict:
    import pandas as pd
    from scipy.stats import spearmanr

    from qassess.evaluate.compare import compare

    if len(args.inputs) % 3:
        raise SystemExit("give PREDS GT REFS triples")
    frames = []
    for i in range(0, len(args.inputs), 3):
        preds, gt, refs = args.inputs[i:i + 3]
        report = compare(preds, gt, refs, semantic=True, semantic_model=args.model, semantic_threshold=args.threshold)
        rows = report.rows[report.rows["semantic_similarity"].notna()].copy()
        rows["abs_error"] = (rows["prediction"] - rows["gt"]).abs()
        rows["source"] = str(preds)
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    cols = ["rouge1_precision", "rouge1_recall", "rouge1_f1", "semantic_similarity", "semantic_sentence_recall",
            "semantic_sentence_soft", "attributes_score", "attributes_precision", "attributes_recall",
            "attributes_contradictions", "abs_error"]
    matrix = {}
    for a in cols:
        matrix[a] = {}
        for b in cols:
            ok = rows[a].notna() & rows[b].notna()
            rho = spearmanr(rows.loc[ok, a], rows.loc[ok, b])[0] if ok.sum() > 2 else float("nan")
            matrix[a][b] = None if not np.isfinite(rho) else float(rho)
    means = {c: float(rows[c].mean()) for c in cols}
    return {"rows": len(rows), "sources": [str(s) for s in rows["source"].unique()], "means": means,
            "spearman": matrix, "attribute_rows_defined": int(rows["attributes_score"].notna().sum())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("contradictions")
    c.add_argument("--data", type=Path, default=SAMPLES)
    c.add_argument("--one-flip", action="store_true")
    c.add_argument("--examples", type=int, default=0)
    r = sub.add_parser("correlations")
    r.add_argument("inputs", nargs="+")
    for p in (c, r):
        p.add_argument("--model", default=None, help="a local sentence-transformers folder (default: packaged MiniLM)")
        p.add_argument("--threshold", type=float, default=0.6)
        p.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = contradictions(args) if args.command == "contradictions" else correlations(args)
    text = json.dumps(out, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
