"""Reference texts for synthetic images, in the Q-Reasoning layout (description / good / bad aspects).

Built only from what a model can see in the picture, never from what the photo shows (a subject line
would teach a small model to name subjects of its training photos on any photo): strengths read off
the pristine photo (colourfulness, exposure, contrast, detail), which of them a distortion spoils,
and each distortion with its strength in plain words. Wording is drawn from small phrase banks with the
image's own seeded RNG, so the texts vary but a seed reproduces them. `target_text` turns a row into
the caption/think/answer completion the supervised warm start learns.
"""
from __future__ import annotations

import random
import re

STRENGTH = {1: ("slight", "faint", "mild"), 2: ("mild", "light", "some"), 3: ("noticeable", "moderate", "clear"),
            4: ("strong", "heavy", "marked"), 5: ("severe", "extreme", "very heavy")}

FLAW = {
    "gaussian_blur": ("blur that softens the fine detail", "blur, so edges look soft", "loss of sharpness from blur"),
    "motion_blur": ("motion blur that smears edges in one direction", "motion blur from camera shake",
                    "directional motion blur"),
    "gaussian_noise": ("noise across the whole frame", "grainy noise over every area", "random colour noise"),
    "shot_noise": ("noise that is worst in the bright areas", "grainy sensor noise", "speckled noise"),
    "jpeg": ("JPEG compression artifacts with visible blocks", "blocky compression artifacts",
             "compression blocking and ringing around edges"),
    "underexposure": ("underexposure that makes the picture too dark", "darkness that hides the shadows",
                      "underexposure, so details sink into shadow"),
    "overexposure": ("overexposure that washes out the highlights", "too much brightness, with blown highlights",
                     "overexposure that makes the scene look washed out"),
    "contrast_loss": ("loss of contrast that makes the image look flat and hazy", "loss of contrast, so it looks dull",
                      "contrast reduction that flattens the scene"),
    "desaturation": ("fading of the colours", "desaturation that washes the colours out",
                     "loss of saturation that drains colour towards grey"),
    "colour_cast": ("colour cast that looks unnatural", "colour shift that makes tones look wrong",
                    "hue shift that gives false colours"),
    "pixelation": ("pixelation from low resolution", "blocky pixels from heavy down-sampling",
                   "low resolution, so edges break into pixels"),
    "defocus": ("defocus blur, so nothing is in sharp focus", "out-of-focus softness over the whole frame",
                "missed focus that turns edges into soft halos"),
    "sensor_noise": ("sensor grain with coloured speckles", "noisy grain typical of a small camera sensor",
                     "colour noise and grain in the flat areas"),
    "double_jpeg": ("compression artifacts from repeated saving", "smudged detail and blocks from recompression",
                    "blocking and smearing from being compressed twice"),
    "low_light": ("low light, so the picture is dark and grainy", "dim lighting with noise in the shadows",
                  "dark, noisy shadows from shooting in low light"),
    "chromatic_aberration": ("colour fringes along the edges", "chromatic aberration that outlines edges in colour",
                             "red and blue fringing around contrasty edges"),
    "oversharpening": ("over-sharpening with bright halos along edges", "harsh, crunchy edges from over-sharpening",
                       "sharpening halos that make textures look brittle"),
    "upscaling": ("softness from enlarging a small image", "smeared, upscaled texture with little real detail",
                  "low resolution stretched to a larger size"),
}

# How a flaw makes the whole picture look, for the description's opening (one adjective per flaw).
LOOK = {
    "gaussian_blur": ("soft", "blurry"), "defocus": ("out-of-focus", "soft"), "motion_blur": ("smeared", "shaky"),
    "gaussian_noise": ("noisy", "grainy"), "shot_noise": ("grainy", "speckled"), "sensor_noise": ("grainy", "noisy"),
    "jpeg": ("blocky", "heavily compressed"), "double_jpeg": ("smudged", "recompressed"),
    "underexposure": ("dark", "underexposed"), "low_light": ("dim", "dark"), "overexposure": ("washed-out", "overexposed"),
    "contrast_loss": ("flat", "hazy"), "desaturation": ("faded", "colourless"), "colour_cast": ("off-colour", "tinted"),
    "chromatic_aberration": ("fringed", "colour-fringed"), "oversharpening": ("harsh", "over-processed"),
    "pixelation": ("pixelated", "blocky"), "upscaling": ("low-resolution", "mushy"),
}
CLEAN_LOOK = ("clean", "crisp", "clear", "sharp", "well-exposed", "detailed")
WHERE = ("across the whole frame", "in every part of the picture", "from the centre to the corners",
         "over the whole image")
# Flaw phrases that already say where they are: no WHERE after them ("noise across the whole frame").
PLACED = ("whole frame", "every area", "whole image", "every part")

# Which strength of the pristine photo a distortion family spoils.
SPOILS = {"sharpness": {"detail"}, "noise": {"detail", "clean"}, "compression": {"detail", "clean"},
          "resolution": {"detail"}, "lens": {"detail"}, "sharpening": {"detail", "clean"}, "exposure": {"exposure", "contrast"}, "contrast": {"contrast"},
          "colour": {"colour"}}

STRENGTHS = {
    "colour": ("the colours are vivid", "rich, natural colours", "pleasing colours"),
    "exposure": ("the exposure is well balanced", "good, even lighting", "well exposed"),
    "contrast": ("good contrast", "clear tonal contrast", "strong contrast between light and dark"),
    "detail": ("fine detail is sharp", "crisp textures and edges", "sharp and detailed"),
    "clean": ("clean, noise-free areas", "smooth, clean surfaces", "no visible noise"),
}

OPENERS = ("A {s} photo.", "The picture looks {s}.", "Overall the image is {s}.", "At first sight the photo is {s}.",
           "This is a {s} picture.")
# A pristine photo with little fine detail (`qassess.synth.content`): rated lower, so its text says why.
SOFT = ("fine detail is limited, so it looks a little soft", "there is little fine texture and the edges are soft",
        "the detail is modest rather than crisp")
NO_FLAW = ("No visible flaws: it is sharp, clean and well exposed.", "There are no obvious defects.",
           "Nothing spoils the picture; there is no blur, noise or compression.")


def photo_strengths(ref) -> list[str]:
    """Strength keys that hold for a pristine photo (H x W x 3 uint8), from simple image statistics."""
    import numpy as np

    a = ref.astype(np.float32)
    gray = a.mean(axis=2)
    rg, yb = a[..., 0] - a[..., 1], 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    colourful = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))  # Hasler-Suesstrunk
    mean, contrast = float(gray.mean()), float(gray.std())
    detail = float(np.abs(np.diff(gray, axis=1)).mean() + np.abs(np.diff(gray, axis=0)).mean())
    keys = []
    if colourful > 30:
        keys.append("colour")
    if 70 < mean < 180:
        keys.append("exposure")
    if contrast > 45:
        keys.append("contrast")
    if detail > 10:
        keys.append("detail")
    keys.append("clean")
    return keys


def describe(strengths: list[str], steps: list[tuple[str, str, int]], rng: random.Random,
             soft: bool = False) -> dict[str, str]:
    """{description, good_aspect, bad_aspect} for one image; strengths: `photo_strengths` of its pristine
    photo; steps: (type, family, level 1-5); soft: the pristine photo lacks fine detail (its labels are
    lower for it), so the text says so instead of praising detail."""
    if soft:
        strengths = [k for k in strengths if k != "detail"]
    if steps:
        looks = [rng.choice(LOOK[t]) for t, _, _ in steps]
        looks = list(dict.fromkeys(looks))  # two flaws may look alike: say it once
        strongest = max(lv for _, _, lv in steps)
        degree = {1: "slightly ", 2: "somewhat ", 3: "", 4: "very ", 5: "extremely "}[strongest]
        look = degree + (" and ".join(looks) if len(looks) < 3 else ", ".join(looks[:-1]) + " and " + looks[-1])
    elif soft:
        look = " and ".join(rng.sample([w for w in CLEAN_LOOK if w not in ("crisp", "sharp", "detailed")], 2))
    else:
        look = " and ".join(rng.sample(CLEAN_LOOK, 2))
    opener = rng.choice(OPENERS)
    description = _sentence(_article(opener.format(s=look)))
    spoiled = set().union(*(SPOILS.get(f, set()) for _, f, _ in steps)) if steps else set()
    kept = [k for k in strengths if k not in spoiled]
    if kept:
        # In the order of STRENGTHS: after one strength only a later one can follow, so a small
        # language model has no second copy of the clause it has just written to reach for.
        picks = set(rng.sample(kept, min(len(kept), 2)))
        good = _sentence(" and ".join(rng.choice(STRENGTHS[k]) for k in STRENGTHS if k in picks))
    else:
        good = rng.choice(("The main shapes can still be made out.", "The framing is reasonable.",
                           "Large shapes and outlines remain visible."))
    if steps:
        flaws = [f"{rng.choice(STRENGTH[lv])} {rng.choice(FLAW[t])}" for t, _, lv in steps]
        where = rng.random() < 0.5 and not any(w in f for f in flaws for w in PLACED)
        bad = _sentence(rng.choice(("There is ", "It suffers from ", "The main flaw is ")) + " and ".join(flaws)
                        + (" " + rng.choice(WHERE) if where else ""))
        if soft and "detail" not in spoiled:  # a blur already says the detail is gone
            bad = bad[:-1] + "; " + rng.choice(SOFT) + "."
    elif soft:
        bad = _sentence(rng.choice(SOFT))
    else:
        bad = rng.choice(NO_FLAW)
    return {"description": description, "good_aspect": good, "bad_aspect": bad}


def _article(text: str) -> str:
    """'A' before a vowel sound becomes 'An' (the looks are adjectives chosen at random)."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


VERDICT = ((1.8, "very poor"), (2.6, "poor"), (3.4, "fair"), (4.2, "good"), (5.01, "excellent"))


def verdict(score: float) -> str:
    return next(word for limit, word in VERDICT if score < limit)


def target_text(caption: str, score: float, rng: random.Random) -> str:
    """The completion the warm start learns: the reference as caption, a short reasoning, the rating."""
    word = verdict(score)
    if score >= 4.8:
        think = rng.choice(("Without visible distortions the quality is {w}.",
                            "Nothing lowers the quality, so it is {w}."))
    else:
        think = rng.choice(("The flaws lower the quality; overall it is {w}.",
                            "Weighing the strengths against the flaws, the quality is {w}.",
                            "The distortions dominate how it looks, so the quality is {w}."))
    think = think.format(w=word)
    return (f"<caption>\n{' '.join(caption.split())}\n</caption>\n<think>\n{think}\n</think>\n"
            f"<answer>\n{{\"rating\": {score:.2f}}}\n</answer>")
