"""Does the attribute agreement tell a paraphrase from a contradiction on text it was not tuned on?

The procedure is fixed here before any tuning of the lexicon (docs/attributes.md has the numbers).

Source: the Q-Reasoning annotation files (a folder given with --data; nothing is copied into the
repository: their licence is "research use"). One *note* = description, good aspect, bad aspect.

Split. An image is `dev` when the first hex digit of sha256(image name) is 0-7, else `held`. The
lexicon and rules may be tuned on dev notes only; held notes are read by this script and nowhere else.

Sets (each case: a human reference with its good/bad split, a paraphrase and a contradiction):

  rule        the existing rule-made set (scripts/semantic_evidence.py's PARAPHRASE / FLIP tables,
              the parts in reverse order), kept for continuity with the earlier numbers
  swap        a second word-rule set written for this check: SYNONYMS for the paraphrase (order kept),
              FLIPS (antonyms, and degree words to the other end of the scale) for the contradiction
  natural     paraphrases nobody here wrote: the same annotation rendered twice by the dataset's own
              pipeline (human_test.json vs cot_reasoning_test.json, two English translations of one
              Japanese note; filted_data_human_eng.json, the raw English annotation, vs human_test.json,
              its summary), joined on the image; the contradiction is the paraphrase with the FLIPS

Each set in two variants: every flip in the good and bad aspects (`all`) or only the first flip of a word
that names an attribute's state (`one`: generic praise such as "good" and negators are not flipped).
`degree` (swap and natural): only degree words flipped ("slight blur" -> "heavy blur"): the polarity of
the attribute stays, its degree changes. Cases where no word could be flipped are skipped.

Reported per set, variant and split, for the old measure (attributes.py at OLD_COMMIT, via git) and the
current one: the share of cases whose attribute score ranks the paraphrase strictly above the
contradiction (ties and reversals apart).

    .venv/bin/python scripts/attribute_evidence.py --data DIR [--split held|dev|all] [--json out.json]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

OLD_COMMIT = "a0c6e44"  # attributes.py before the lexicon work
RULE_FILES = ("human_test.json", "koniq_cot_constrain.json", "filted_data_human_eng.json")
NATURAL_PAIRS = (("human_test.json", "cot_reasoning_test.json"), ("filted_data_human_eng.json", "human_test.json"))

# Polarity-keeping synonyms (the `swap` paraphrase).
SYNONYMS = {
    "sharp": "crisp", "crisp": "sharp", "sharply": "crisply", "sharpness": "definition", "blurry": "fuzzy",
    "blurred": "fuzzy", "blur": "fuzziness", "out of focus": "defocused", "in focus": "well focused",
    "clear": "distinct", "clearly": "distinctly", "unclear": "indistinct", "detailed": "rich in detail",
    "details": "fine structure", "detail": "fine structure", "vivid": "vibrant", "vibrant": "vivid",
    "colorful": "rich in color", "colourful": "rich in colour", "bright": "luminous", "dark": "dim",
    "dim": "murky", "noise": "grain", "noisy": "grainy", "grainy": "speckled", "good": "fine", "nice": "pleasant",
    "beautiful": "lovely", "beautifully": "handsomely", "poor": "weak", "bad": "poor", "slight": "mild",
    "slightly": "mildly", "heavy": "considerable", "severe": "serious", "significant": "considerable",
    "minimal": "negligible", "tilted": "askew", "unbalanced": "lopsided", "balanced": "harmonious",
    "composition": "framing", "pleasing": "agreeable", "pleasant": "pleasing", "overexposed": "blown out",
    "underexposed": "too dark", "washed out": "faded", "dull": "flat", "easy": "simple", "difficult": "hard",
    "hard": "difficult", "image": "picture", "photo": "shot", "quality": "fidelity", "strong": "powerful",
    "weak": "feeble", "excellent": "superb", "interesting": "engaging", "distorted": "warped",
    "beauty": "loveliness", "lighting": "illumination", "colors": "hues", "colours": "hues",
}
# Antonyms (polarity flips) and degree flips (the contradiction of `swap` and `natural`).
FLIPS = {
    "sharp": "blurry", "sharper": "blurrier", "sharply": "fuzzily", "crisp": "smeared", "crisply": "fuzzily",
    "blurry": "sharp", "blurred": "crisp", "blurriness": "sharpness", "fuzzy": "sharp", "in focus": "out of focus",
    "out of focus": "in focus", "focused": "unfocused", "unfocused": "focused", "clear": "murky",
    "clearly": "murkily", "unclear": "clear", "distinct": "indistinct", "detailed": "smeared", "vivid": "dull",
    "vividly": "dully", "vibrant": "drab", "rich": "washed-out", "colorful": "colorless", "colourful": "colourless",
    "natural": "unnatural", "unnatural": "natural", "bright": "dark", "brighter": "darker", "dark": "bright",
    "darker": "brighter", "dim": "bright", "dimly": "brightly", "overexposed": "well exposed",
    "underexposed": "well exposed", "noisy": "clean", "grainy": "smooth", "clean": "noisy",
    "balanced": "unbalanced", "well balanced": "poorly balanced", "unbalanced": "balanced", "tilted": "level",
    "stable": "shaky", "pleasing": "unpleasant", "pleasant": "unpleasant", "beautiful": "ugly",
    "beautifully": "poorly", "good": "poor", "poor": "good", "great": "terrible", "nice": "bad", "bad": "good",
    "excellent": "awful", "easy": "difficult", "difficult": "easy", "hard": "easy", "strong": "weak",
    "weak": "strong", "appealing": "unappealing", "attractive": "unattractive", "visible": "hidden",
    "well": "badly", "properly": "improperly", "interesting": "boring", "striking": "unremarkable",
    "slight": "heavy", "slightly": "heavily", "minimal": "severe", "minor": "major", "mild": "extreme",
    "little": "considerable", "heavy": "slight", "heavily": "slightly", "severe": "minimal", "major": "minor",
    "significant": "negligible", "considerable": "slight", "strongly": "faintly", "no": "obvious", "not": "",
    "without": "with",
}
GENERIC = {"good", "poor", "great", "nice", "bad", "excellent", "beautiful", "beautifully", "well", "properly",
           "interesting", "striking", "appealing", "attractive", "pleasant", "pleasing", "no", "not", "without"}
DEGREE = {"slight", "slightly", "minimal", "minor", "mild", "little", "heavy", "heavily", "severe", "major",
          "significant", "considerable", "strongly"}


def _pattern(words) -> re.Pattern:
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b", re.I)


def _case(src: str, new: str) -> str:
    return new[:1].upper() + new[1:] if src[:1].isupper() and new else new


def substitute(text: str, table: dict[str, str], only: set[str] | None = None, budget: list[int] | None = None
               ) -> tuple[str, int]:
    """Replace table words left to right (only those in `only`, while budget[0] != 0); text, count."""
    made = 0

    def sub(m: re.Match) -> str:
        nonlocal made
        if budget is not None and budget[0] == 0:
            return m.group(0)
        if budget is not None:
            budget[0] -= 1
        made += 1
        return _case(m.group(0), table[m.group(0).lower()])

    out = _pattern(only if only is not None else table).sub(sub, text)
    return re.sub(r"\s{2,}", " ", out).strip(), made


def split_of(image: str) -> str:
    return "dev" if hashlib.sha256(image.encode()).hexdigest()[0] in "01234567" else "held"


def read_notes(folder: Path, name: str) -> dict[str, dict[str, str]]:
    from qassess.evaluate.compare.references import english_text

    rows = json.loads((folder / name).read_text())
    out = {}
    for r in rows:
        if "image" not in r:  # filted_data_human_eng: {image: {...}}
            (image, r), = r.items()
            r = {**r, "image": image}
        note = {f: english_text(r.get(f)) for f in ("description", "good_aspect", "bad_aspect")}
        if note["good_aspect"] or note["bad_aspect"]:
            out.setdefault(str(r["image"]), note)
    return out


def join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def flip_note(note: dict[str, str], variant: str) -> tuple[str, int]:
    """The note with FLIPS in its good and bad aspects (description kept), and the flips made."""
    only = {"all": None, "one": set(FLIPS) - GENERIC, "degree": DEGREE}[variant]
    budget = [1] if variant == "one" else None
    good, a = substitute(note["good_aspect"], FLIPS, only, budget)
    bad, b = substitute(note["bad_aspect"], FLIPS, only, budget)
    return join(note["description"], good, bad), a + b


def build(folder: Path) -> dict[str, list[dict]]:
    """Every case of every set and variant, with its image's split."""
    import semantic_evidence as rule

    sets: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    notes = []
    for name in RULE_FILES:
        for image, n in read_notes(folder, name).items():
            if (n["good_aspect"], n["bad_aspect"]) not in seen:
                seen.add((n["good_aspect"], n["bad_aspect"]))
                notes.append((image, n))
    for image, n in notes:
        for variant in ("all", "one"):
            budget = [1 if variant == "one" else -1]
            good, a = rule.contradict(n["good_aspect"], budget)
            bad, b = rule.contradict(n["bad_aspect"], budget)
            if a + b:
                sets.setdefault(f"rule/{variant}", []).append({
                    "image": image, "split": split_of(image), "human": n,
                    "paraphrase": join(rule.paraphrase(n["bad_aspect"]), rule.paraphrase(n["good_aspect"]),
                                       rule.paraphrase(n["description"])),
                    "contradiction": join(n["description"], good, bad)})
        para = join(*(substitute(n[f], SYNONYMS)[0] for f in ("description", "good_aspect", "bad_aspect")))
        for variant in ("all", "one", "degree"):
            contra, made = flip_note(n, variant)
            if made:
                sets.setdefault(f"swap/{variant}", []).append({"image": image, "split": split_of(image), "human": n,
                                                               "paraphrase": para, "contradiction": contra})
    for ref_file, para_file in NATURAL_PAIRS:
        refs, paras = read_notes(folder, ref_file), read_notes(folder, para_file)
        for image in sorted(set(refs) & set(paras)):
            p = paras[image]
            for variant in ("all", "one", "degree"):
                contra, made = flip_note(p, variant)
                if made:
                    sets.setdefault(f"natural/{variant}", []).append({
                        "image": image, "split": split_of(image), "human": refs[image], "pair": f"{ref_file}~{para_file}",
                        "paraphrase": join(p["description"], p["good_aspect"], p["bad_aspect"]), "contradiction": contra})
    return sets


def old_attributes():
    """attributes.py as it was at OLD_COMMIT (read from git), for the before/after columns."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:qassess/evaluate/attributes.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "attributes_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("attributes_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["attributes_old"] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def score(module, text: str, human: dict[str, str]) -> float:
    s = module.compare_texts(text, good=human["good_aspect"], bad=human["bad_aspect"]).score
    return float("nan") if s is None else s


def evaluate(sets: dict[str, list[dict]], splits: tuple[str, ...], show: int = 0) -> dict:
    from qassess.evaluate import attributes as new

    old = old_attributes()
    out = {}
    for name, cases in sets.items():
        for split in splits:
            chosen = [c for c in cases if split == "all" or c["split"] == split]
            row = {"n": len(chosen)}
            for label, module in (("old", old), ("new", new)):
                wins = ties = losses = undefined = 0
                failures = []
                for c in chosen:
                    p, q = score(module, c["paraphrase"], c["human"]), score(module, c["contradiction"], c["human"])
                    if p != p or q != q:  # the human states no verdict this measure can read
                        undefined += 1
                        failures.append(c)
                    elif p > q + 1e-9:
                        wins += 1
                    elif abs(p - q) <= 1e-9:
                        ties += 1
                        failures.append(c)
                    else:
                        losses += 1
                        failures.append(c)
                n = max(1, len(chosen))
                row[label] = {"paraphrase_higher": wins / n, "tie": ties / n, "contradiction_higher": losses / n,
                              "no_human_verdict": undefined / n}
                if show and label == "new":
                    row["failures"] = [{k: c[k] for k in ("image", "paraphrase", "contradiction")}
                                       | {"human": join(c["human"]["good_aspect"], "|", c["human"]["bad_aspect"])}
                                       for c in failures[:show]]
            out[f"{name} [{split}]"] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the Q-Reasoning json files")
    parser.add_argument("--split", choices=("held", "dev", "all", "both"), default="both")
    parser.add_argument("--show-failures", type=int, default=0, help="list this many failures per set (new measure)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"--data {args.data}: not a folder")
    splits = ("dev", "held") if args.split == "both" else (args.split,)
    out = evaluate(build(args.data), splits, args.show_failures)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    for name, row in out.items():
        o, n = row["old"], row["new"]
        print(f"{name:28s} n={row['n']:3d}  old {o['paraphrase_higher']:6.1%} (tie {o['tie']:5.1%})   "
              f"new {n['paraphrase_higher']:6.1%} (tie {n['tie']:5.1%}, reversed {n['contradiction_higher']:5.1%}, "
              f"no verdict {n['no_human_verdict']:5.1%})")
        for f in row.get("failures", []):
            print("   ", json.dumps(f, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
