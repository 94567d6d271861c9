"""Paraphrase above contradiction on quality notes from a source the attribute analysis was not written for.

Why a second script: scripts/attribute_evidence.py builds its sets from the Q-Reasoning notes, the
notes the lexicon and rules were tuned on (dev split). This one takes human comments on photos from
another project and another community, and paraphrases and contradicts them by rules fixed here
before the measure was ever run on them (git history: this file is committed before its first run).

Source: DPC-Captions (github.com/BestiVictory/DPC-Captions, impression_and_subject.json at commit
c94cb959765b11a72ed1f1dbba0173ea95a6c51d): DPChallenge.com reviewers' comments on AVA photos, the
"general impression" and "subject" critiques. The repository states no licence, so nothing of it is
copied here; --data names the folder that holds the file (docs/attributes.md says how to get it).

Selection (none of it consults the analysis): every comment of 30-400 characters that contains a
word of FLIPS naming an attribute state (not GENERIC praise, not a DEGREE word); ordered by
sha256("image#index"); the first --n taken. Split: sha256(image) starting 0-7 is dev, else held
(nothing was tuned on either when this was first measured; the split is for later passes).

Each case: the human reference is the comment (no good/bad split: only explicit polarities count);

  paraphrase     CONTRACTIONS expanded, PARAPHRASE synonyms substituted, sentences in reverse order;
  contradiction  the comment with FLIPS (antonyms; degree words to the other end of the scale):
                 `all` every FLIPS word, `one` only the first non-generic, non-degree one;
                 `negation` (own variant) the first negator before a FLIPS word within three words
                 removed ("isn't sharp" -> "is sharp", "not in focus" -> "in focus").

Reported: the share of cases whose attribute score ranks the paraphrase strictly above the
contradiction (ties, reversals and comments with no readable verdict count against), for the analysis
at a0c6e44 (before the lexicon work), at 5391290 (the second pass), at 8b62b54 (the third) and as it is now.

    .venv/bin/python scripts/attribute_independent.py --data DIR [--n 300] [--split dev] [--json out.json]
        [--show-cases 5: generated cases, no scores] [--show-failures 50: dev failures only, with what was read]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from attribute_evidence import _pattern, substitute  # noqa: E402  (the same word substitution)

FILE = "impression_and_subject.json"
BASELINES = ("a0c6e44", "5391290", "8b62b54")  # before the lexicon work; second pass; third pass
MODULES = ("attributes", "attribute_agreement", "attribute_lexicon", "wordnet_cues")

CONTRACTIONS = {"don't": "do not", "doesn't": "does not", "didn't": "did not", "isn't": "is not",
                "aren't": "are not", "wasn't": "was not", "weren't": "were not", "can't": "cannot",
                "couldn't": "could not", "wouldn't": "would not", "it's": "it is", "that's": "that is"}
# Polarity-keeping substitutions for the paraphrase (written for this set, not the swap set's table).
PARAPHRASE = {
    "sharp": "crisp", "crisp": "sharp", "sharpness": "crispness", "soft": "unsharp", "blurry": "blurred",
    "blurred": "blurry", "out of focus": "not in focus", "in focus": "sharply focused", "underexposed": "too dark",
    "overexposed": "too bright", "blown out": "overexposed", "noisy": "grainy", "grainy": "noisy", "noise": "grain",
    "grain": "noise", "colors": "hues", "colours": "hues", "vivid": "vibrant", "vibrant": "vivid",
    "oversaturated": "too saturated", "muted": "subdued", "washed out": "faded",
    "dull": "lifeless", "flat": "lacking contrast", "lighting": "illumination", "composition": "framing",
    "centered": "in the middle", "tilted": "slanted", "crooked": "tilted", "cluttered": "busy", "busy": "cluttered",
    "interesting": "intriguing", "boring": "uninteresting", "beautiful": "gorgeous", "lovely": "beautiful",
    "great": "excellent", "nice": "good", "good": "fine", "excellent": "superb", "poor": "weak", "bad": "poor",
    "well": "nicely", "nicely": "well", "slightly": "a little", "a little": "slightly", "a bit": "somewhat",
    "really": "truly", "photo": "picture", "picture": "image",
    "image": "photo", "shot": "photo",
}
# Antonyms, and degree words to the other end of the scale, for the contradiction.
FLIPS = {
    "sharp": "blurry", "sharper": "blurrier", "sharpness": "blurriness", "crisp": "fuzzy", "soft": "sharp",
    "blurry": "sharp", "blurred": "sharp", "out of focus": "in focus", "in focus": "out of focus",
    "well focused": "badly focused", "dark": "bright", "darker": "brighter", "bright": "dark", "brighter": "darker",
    "underexposed": "overexposed", "overexposed": "underexposed", "blown out": "well exposed",
    "well exposed": "badly exposed", "well lit": "poorly lit", "poorly lit": "well lit", "noisy": "clean",
    "grainy": "smooth", "vivid": "dull", "vibrant": "drab", "saturated": "desaturated",
    "oversaturated": "undersaturated", "muted": "vivid", "washed out": "vivid", "dull": "vivid",
    "colorful": "colorless", "colourful": "colourless", "harsh": "gentle", "flat": "punchy",
    "well composed": "poorly composed", "balanced": "unbalanced", "unbalanced": "balanced", "centered": "off center",
    "off center": "centered", "tilted": "level", "crooked": "straight", "cluttered": "uncluttered", "busy": "simple",
    "distracting": "unobtrusive", "interesting": "boring", "boring": "interesting", "beautiful": "ugly",
    "ugly": "beautiful", "lovely": "unattractive", "appealing": "unappealing", "striking": "unremarkable",
    "great": "terrible", "nice": "bad", "good": "bad", "excellent": "awful", "bad": "good", "poor": "good",
    "weak": "strong", "strong": "weak", "well": "badly", "nicely": "badly", "slightly": "heavily",
    "slight": "heavy", "a little": "very", "a bit": "far", "very": "slightly",
}
GENERIC = {"great", "nice", "good", "excellent", "bad", "poor", "weak", "strong", "well", "nicely", "beautiful",
           "ugly", "lovely", "appealing", "interesting", "boring", "striking"}
DEGREE = {"slightly", "slight", "a little", "a bit", "very"}
STATE = set(FLIPS) - GENERIC - DEGREE
NEGATION = re.compile(r"\b(?:(not|no|never)\s+|(is|are|was|were|does|do|did|can|could)n't\s+)"
                      r"((?:\w+\s+){0,2}?)(?=(" + "|".join(re.escape(w) for w in sorted(FLIPS, key=len, reverse=True))
                      + r")\b)", re.I)


def _hash(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def paraphrase(text: str) -> str:
    """Contractions expanded, PARAPHRASE words swapped, sentences in reverse order."""
    text = substitute(text, CONTRACTIONS)[0]
    text = substitute(text, PARAPHRASE)[0]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    return " ".join(reversed(sentences))


def contradict(text: str, variant: str) -> tuple[str, int]:
    """The comment with its flips (see the docstring), and how many were made."""
    if variant == "negation":
        m = NEGATION.search(text)
        if not m:
            return text, 0
        keep = m.group(2) or ""  # "isn't" -> "is"
        return text[:m.start()] + (keep + " " if keep else "") + m.group(3) + text[m.end():], 1
    return substitute(text, FLIPS, STATE if variant == "one" else None, [1] if variant == "one" else None)


def select(comments: dict[str, list[str]], n: int) -> list[dict]:
    """The first n qualifying comments in hash order (see the docstring)."""
    state = _pattern(STATE)
    pool = []
    for image, texts in comments.items():
        for k, raw in enumerate(texts):
            text = " ".join(str(raw).split())
            if 30 <= len(text) <= 400 and state.search(text):
                pool.append((_hash(f"{image}#{k}"), image, text))
    pool.sort()
    return [{"image": image, "split": "dev" if _hash(image)[0] in "01234567" else "held", "human": text}
            for _, image, text in pool[:n]]


def build(cases: list[dict]) -> dict[str, list[dict]]:
    sets: dict[str, list[dict]] = {}
    for c in cases:
        para = paraphrase(c["human"])
        for variant in ("all", "one", "negation"):
            contra, made = contradict(c["human"], variant)
            if made:
                sets.setdefault(f"dpc/{variant}", []).append({**c, "paraphrase": para, "contradiction": contra})
    return sets


def attributes_at(commit: str):
    """qassess.evaluate.attributes (and the modules it imports) as they were at `commit`, read from git."""
    package = f"attrs_{commit}"
    folder = Path(tempfile.mkdtemp()) / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in MODULES:
        got = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:qassess/evaluate/{name}.py"],
                             capture_output=True, text=True)
        if got.returncode == 0:
            source = got.stdout
            for other in MODULES:
                source = source.replace(f"qassess.evaluate.{other}", f"{package}.{other}")
            (folder / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module(f"{package}.attributes")


def outcome(module, c: dict) -> str:
    """paraphrase_higher | tie | contradiction_higher | no_human_verdict for one case."""
    p = module.compare_texts(c["paraphrase"], c["human"]).score
    q = module.compare_texts(c["contradiction"], c["human"]).score
    return ("no_human_verdict" if p is None or q is None else "paraphrase_higher" if p > q + 1e-9
            else "tie" if abs(p - q) <= 1e-9 else "contradiction_higher")


def failures(sets: dict[str, list[dict]], module, n: int) -> list[str]:
    """Readable lines for up to n failures per set, dev cases only (held cases are for the measure and
    are never printed): the texts, the outcome, and what the analysis read in each."""
    lines = []
    for name, cases in sets.items():
        bad = [(c, o) for c in cases if c["split"] == "dev" for o in [outcome(module, c)] if o != "paraphrase_higher"]
        lines.append(f"{name} [dev]: {len(bad)} failures")
        for c, o in bad[:n]:
            lines.append(f"  [{o}] human: {c['human']}")
            for key in ("paraphrase", "contradiction"):
                a = module.compare_texts(c[key], c["human"])
                lines.append(f"    {key}: {c[key]}\n      score {a.score} {a.detail()}")
            lines.append("    human read: " + "; ".join(f"{m.attribute}={m.polarity}<{m.phrase}>"
                                                       for m in module.mentions(c["human"]) if m.polarity))
    return lines


def evaluate(sets: dict[str, list[dict]], measures: dict, splits: tuple[str, ...] = ("dev", "held", "all")) -> dict:
    out = {}
    for name, cases in sets.items():
        for split in splits:
            chosen = [c for c in cases if split == "all" or c["split"] == split]
            row = {"n": len(chosen)}
            for label, module in measures.items():
                tally = {"paraphrase_higher": 0, "tie": 0, "contradiction_higher": 0, "no_human_verdict": 0}
                for c in chosen:
                    tally[outcome(module, c)] += 1
                row[label] = {k: v / max(1, len(chosen)) for k, v in tally.items()}
            out[f"{name} [{split}]"] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help=f"folder with DPC-Captions' {FILE}")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--show-cases", type=int, default=0, help="print this many generated cases and stop "
                                                                  "(no scores: to read the generator)")
    parser.add_argument("--split", choices=("dev", "every"), default="every",
                        help="dev: the dev split only (for tuning); every: dev, held and all")
    parser.add_argument("--show-failures", type=int, default=0,
                        help="print this many dev failures per set (current analysis; held cases never) and stop")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / FILE).is_file():
        raise SystemExit(f"--data {args.data}: no {FILE}")
    sets = build(select(json.loads((args.data / FILE).read_text()), args.n))
    if args.show_cases:
        for name, cases in sets.items():
            print(name, len(cases))
            for c in cases[:args.show_cases]:
                print("   ", json.dumps({k: c[k] for k in ("human", "paraphrase", "contradiction")}, ensure_ascii=False))
        return 0
    from qassess.evaluate import attributes

    if args.show_failures:
        print("\n".join(failures(sets, attributes, args.show_failures)))
        return 0
    splits = ("dev",) if args.split == "dev" else ("dev", "held", "all")
    out = evaluate(sets, {**{c: attributes_at(c) for c in BASELINES}, "new": attributes}, splits)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    for name, row in out.items():
        cells = "   ".join(f"{label} {v['paraphrase_higher']:6.1%} (tie {v['tie']:5.1%}, rev "
                           f"{v['contradiction_higher']:5.1%}, none {v['no_human_verdict']:5.1%})"
                           for label, v in row.items() if label != "n")
        print(f"{name:22s} n={row['n']:3d}  {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
