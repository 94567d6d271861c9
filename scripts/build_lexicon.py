"""Writes qassess/evaluate/wordnet_cues.py: quality cue words taken from WordNet 3.0.

Why a generated file: qassess reads no lexical database at run time (nothing to install, the same words
on every machine, each word reviewable in the diff). This script is the only reader of WordNet; rerun
it after changing SEEDS (Debian: `apt-get install wordnet-base`, database in /usr/share/wordnet):

    .venv/bin/python scripts/build_lexicon.py [--wordnet /usr/share/wordnet]

For each seed sense (a synset chosen by hand by its offset, because "sharp" has twelve senses and
only one is about images) the cue words are its lemmas, the lemmas of its similar-to satellites (one
hop), and with the opposite polarity its antonyms and their similar-to satellites. EXCLUDE drops words
whose other senses would fire on ordinary text ("keen", "light"); the hand-made list in
qassess/evaluate/attributes.py still wins where both name a word.
"""
from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "qassess" / "evaluate" / "wordnet_cues.py"

# (attribute or "evaluative", polarity of the sense, part of speech, synset offset, gloss for the reader)
SEEDS = (
    ("sharpness", "good", "adj", "00780352", "crisp, sharp: (of something seen) clearly defined"),
    ("sharpness", "good", "adj", "00779374", "distinct: easy to perceive, clearly outlined"),
    ("sharpness", "bad", "adj", "00781644", "blurred, blurry, fuzzy: indistinct in outline"),
    ("sharpness", "good", "adj", "00310433", "detailed, elaborate: executed in minute detail"),
    ("color", "good", "adj", "00402855", "bright, brilliant, vivid: having striking color"),
    ("color", "good", "adj", "00393683", "intense, vivid: (of color) highest saturation"),
    ("color", "good", "adj", "00393508", "saturated, pure: (of color) chromatically pure"),
    ("color", "good", "adj", "00403385", "deep, rich: (of color) strong, intense"),
    ("color", "bad", "adj", "00393992", "dull: (of color) very low in saturation"),
    ("color", "bad", "adj", "00404961", "bleached, faded, washed-out: lost brilliance of color"),
    ("exposure", "good", "adj", "00271022", "bright: having lots of light"),
    ("exposure", "bad", "adj", "00273082", "dark: deficient in light or brightness"),
    ("appeal", "good", "adj", "00217728", "beautiful: delighting the senses or exciting intellectual pleasure"),
    ("appeal", "good", "adj", "01343918", "interesting: arousing or holding the attention"),
    ("evaluative", "good", "adj", "01807220", "pleasing: giving pleasure and satisfaction"),
    ("evaluative", "good", "adj", "01800350", "pleasant: in harmony with your taste"),
    ("evaluative", "good", "adj", "00166146", "attractive: pleasing to the eye"),
    ("evaluative", "good", "adj", "01123148", "good: having desirable or positive qualities"),
    ("evaluative", "bad", "adj", "01125429", "bad: having undesirable or negative qualities"),
    ("evaluative", "bad", "adj", "01801601", "unpleasant: disagreeable to the senses"),
)
EXCLUDE = frozenset(
    "acute keen piercing penetrating penetrative incisive knifelike discriminating well full light clean fair "
    "hot cool bang up bully corking cracking dandy groovy neat nifty peachy slap up swell smashing not bad "
    "big spoiled spoilt sorry tough regretful intense deep pure graphic lifelike pictorial brilliant "
    "sunny sunshiny shining glaring glary lit lighted lucent luminous ablaze dim shadowy "
    "dark colored dark coloured tenebrous tenebrific inky atramentous aphotic black darkened sooty "
    "fine goodish hot so so high quality respectable honorable estimable arch stern severe grave "
    "unfit unsound uncool unsatisfactory naughty mediocre sharp pretty plain hard rough sad rubber negative ill "
    "unskilled incompetent hopeless sore careful careless casual cursory haphazard heedless incautious offhand "
    "offhanded passing perfunctory reckless slapdash slipshod elaborate elaborated white livid lurid shot "
    "shrill changeable chatoyant psychedelic prismatic iridescent sober subdued sulky inflamed reddened candent "
    "candescent bioluminescent autofluorescent phosphorescent luminescent fluorescent glossy showy taking winning "
    "grateful ungrateful redeeming cunning dinky sweet faint clear cloudy crystalline wispy twilight twilit "
    "lighting up easy acid bitter tart caustic corked corky sulfurous sulphurous subfusc dour grim "
    "slow dry pedestrian absorbing narcotic deadening earthbound amusive prosy pretty pretty".split())


def read_synsets(folder: Path, pos: str) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """offset -> (lemmas, [(pointer symbol, target offset)]) from WordNet's data.<pos> file."""
    out = {}
    for line in (folder / f"data.{pos}").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # licence header
        fields = line.split("|")[0].split()
        count = int(fields[3], 16)
        lemmas = [fields[4 + 2 * k].split("(")[0].replace("_", " ").replace("-", " ").lower() for k in range(count)]
        at = 4 + 2 * count
        pointers = [(fields[at + 1 + 4 * k], fields[at + 2 + 4 * k]) for k in range(int(fields[at]))]
        out[fields[0]] = (lemmas, pointers)
    return out


def expand(synsets, offset: str) -> tuple[set[str], set[str]]:
    """Words of the sense and its similar-to satellites; words of its antonyms and theirs."""
    def with_similar(off: str) -> set[str]:
        lemmas, pointers = synsets[off]
        words = set(lemmas)
        for symbol, target in pointers:
            if symbol == "&":
                words |= set(synsets[target][0])
        return words

    same = with_similar(offset)
    opposite: set[str] = set()
    for symbol, target in synsets[offset][1]:
        if symbol == "!":
            opposite |= with_similar(target)
        elif symbol == "&":  # a satellite's antonym is its head's
            for s2, t2 in synsets[target][1]:
                if s2 == "!":
                    opposite |= with_similar(t2)
    return same, opposite


def build(folder: Path) -> dict[str, dict[str, set[str]]]:
    synsets = {"adj": read_synsets(folder, "adj")}
    cues: dict[str, dict[str, set[str]]] = {}
    for attribute, polarity, pos, offset, _ in SEEDS:
        same, opposite = expand(synsets[pos], offset)
        other = "bad" if polarity == "good" else "good"
        slot = cues.setdefault(attribute, {"good": set(), "bad": set()})
        slot[polarity] |= same - EXCLUDE
        slot[other] |= opposite - EXCLUDE
    for slot in cues.values():  # a word on both sides of one attribute says nothing
        both = slot["good"] & slot["bad"]
        slot["good"] -= both
        slot["bad"] -= both
    return cues


def render(cues: dict[str, dict[str, set[str]]]) -> str:
    lines = ['"""Quality cue words from WordNet 3.0, written by scripts/build_lexicon.py (do not edit by hand:',
             'change its SEEDS or EXCLUDE and rerun it). Seed senses: ' + ", ".join(
                 f"{s[3]} ({s[4].split(':')[0]})" for s in SEEDS) + ".",
             "",
             "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE AND",
             'DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES,',
             "EXPRESS OR IMPLIED (WordNet 3.0 licence; the word lists below are derived from the database).",
             '"""', "", "CUES: dict[str, dict[str, tuple[str, ...]]] = {"]
    for attribute in sorted(cues):
        lines.append(f"    {attribute!r}: {{")
        for polarity in ("good", "bad"):
            words = sorted(cues[attribute][polarity])
            lines.append(f"        {polarity!r}: (")
            row = "           "
            for w in words:
                item = f" {w!r},"
                if len(row) + len(item) > 110:
                    lines.append(row)
                    row = "           "
                row += item
            lines.append(row)
            lines.append("        ),")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    args = parser.parse_args()
    if not (args.wordnet / "data.adj").is_file():
        raise SystemExit(f"{args.wordnet}: no WordNet database (data.adj); apt-get install wordnet-base")
    OUT.write_text(render(build(args.wordnet)))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
