"""Generate samples/: small synthetic photos (our own drawings, CC0), their quality labels and
human-style reasoning, plus one deliberately truncated JPEG.

Deterministic (numpy + Pillow only; fixed seeds): `python scripts/make_samples.py [out_dir]`.
Four drawn scenes, each saved clean and with one degradation (blur, noise, heavy JPEG, dark,
overexposed, palette banding), and in the file kinds a user meets (RGBA PNG, 16-bit PNG, palette GIF,
EXIF-rotated JPEG, CMYK JPEG, WebP). Labels: `mos.csv` in KonIQ-10k layout (MOS 0-100) and
`reasoning.json` in the Q-Reasoning `human_test.json` layout (quality on its 0-4 scale).
"""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


# --------------------------------------------------------------------------------------------
# Drawing helpers: float RGB arrays in [0, 255], shape (h, w, 3)
# --------------------------------------------------------------------------------------------

def vertical(h: int, w: int, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """A vertical colour gradient through (position 0-1, colour) stops."""
    y = np.linspace(0.0, 1.0, h)
    pos = [s[0] for s in stops]
    channels = [np.interp(y, pos, [s[1][c] for s in stops]) for c in range(3)]
    return np.repeat(np.stack(channels, -1)[:, None, :], w, axis=1)


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:h, 0:w].astype(np.float64)


def paint(img: np.ndarray, mask: np.ndarray, colour) -> None:
    """Blend `colour` (a colour or an (h, w, 3) array) into img with a 0-1 mask."""
    m = np.clip(mask, 0.0, 1.0)[..., None]
    img[:] = img * (1 - m) + np.asarray(colour, dtype=np.float64) * m


def disc(yy, xx, cy, cx, r, soft=1.0) -> np.ndarray:
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    return np.clip((r - d) / soft + 0.5, 0.0, 1.0)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: random values on a coarse grid, bicubically enlarged."""
    small = rng.random((max(2, h // cell), max(2, w // cell)))
    im = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float64) / 255.0


def shaded_sphere(img, yy, xx, cy, cx, r, colour) -> None:
    d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / r ** 2
    inside = d2 < 1.0
    z = np.sqrt(np.clip(1.0 - d2, 0.0, 1.0))
    nx, ny = (xx - cx) / r, (yy - cy) / r
    light = np.array([-0.45, -0.55, 0.70])
    lambert = np.clip(nx * light[0] + ny * light[1] + z * light[2], 0.0, 1.0)
    spec = np.clip(lambert, 0, 1) ** 40
    shade = np.asarray(colour, float) * (0.25 + 0.75 * lambert)[..., None] + 255 * 0.6 * spec[..., None]
    paint(img, inside.astype(float) * disc(yy, xx, cy, cx, r), np.clip(shade, 0, 255))


# --------------------------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------------------------

def sunset(w: int = 480, h: int = 320) -> np.ndarray:
    rng = np.random.default_rng(11)
    yy, xx = grid(h, w)
    img = vertical(h, w, [(0.0, (45, 25, 95)), (0.35, (170, 70, 110)), (0.62, (255, 160, 70)), (1.0, (255, 190, 110))])
    sun_y, sun_x = 0.50 * h, 0.64 * w
    glow = np.exp(-((yy - sun_y) ** 2 + (xx - sun_x) ** 2) / (2 * 55.0 ** 2))
    paint(img, glow * 0.55, (255, 225, 160))
    paint(img, disc(yy, xx, sun_y, sun_x, 24), (255, 240, 200))
    ridge = 0.60 * h + 16 * np.sin(xx / 53.0) + 9 * np.sin(xx / 19.0 + 1.3)
    hills = np.clip(yy - ridge + 0.5, 0, 1) * (yy < 0.74 * h)
    texture = smooth_noise(rng, h, w, 6)[..., None] * 25
    paint(img, hills, np.array([55, 30, 60]) + texture)
    shore = 0.74 * h
    water = (yy >= shore).astype(float)
    mirrored = img[np.clip((2 * shore - yy).astype(int), 0, h - 1), xx.astype(int)]  # reflected about the shore
    ripples = 0.75 + 0.12 * np.sin(yy * 1.7 + 2.0 * np.sin(xx / 30.0))
    paint(img, water, mirrored * ripples[..., None] * 0.85)
    return np.clip(img, 0, 255)


def still_life(w: int = 480, h: int = 320, with_background: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The scene and its object mask (1 where an object is, for the transparent variant)."""
    rng = np.random.default_rng(22)
    yy, xx = grid(h, w)
    img = vertical(h, w, [(0.0, (200, 190, 170)), (0.66, (150, 140, 125)), (1.0, (150, 140, 125))])
    table = (yy >= 0.66 * h).astype(float)
    grain = 18 * np.sin(xx / 6.0 + 4 * smooth_noise(rng, h, w, 40) * 6) + 10 * smooth_noise(rng, h, w, 3)
    paint(img, table, np.stack([125 + grain, 80 + grain * 0.7, 45 + grain * 0.4], -1))
    scene = img.copy() if with_background else np.full_like(img, 255.0)
    mask = np.zeros((h, w))
    for (cy, cx, ry, rx) in [(0.86 * h, 0.32 * w, 10, 62), (0.88 * h, 0.68 * w, 8, 44)]:  # shadows
        shadow = np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2))
        paint(scene, shadow * 0.45 * with_background, (40, 30, 20))
    # a blue box: front face and a lighter top face
    x0, x1, y0, y1 = 0.52 * w, 0.80 * w, 0.50 * h, 0.87 * h
    front = ((xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)).astype(float)
    top = ((yy >= y0 - 22) & (yy < y0) & (xx >= x0 + (y0 - yy)) & (xx < x1 + (y0 - yy))).astype(float)
    paint(scene, front, (40, 70, 170))
    paint(scene, top, (90, 120, 215))
    mask = np.maximum(mask, np.maximum(front, top))
    # a red ball and a small green one
    before = scene.copy()
    shaded_sphere(scene, yy, xx, 0.64 * h, 0.30 * w, 62, (210, 35, 30))
    shaded_sphere(scene, yy, xx, 0.80 * h, 0.46 * w, 22, (60, 170, 60))
    mask = np.maximum(mask, (np.abs(scene - before).sum(-1) > 0).astype(float))
    return np.clip(scene, 0, 255), mask


def city(w: int = 480, h: int = 320) -> np.ndarray:
    rng = np.random.default_rng(33)
    yy, xx = grid(h, w)
    img = vertical(h, w, [(0.0, (80, 140, 215)), (0.7, (195, 220, 245)), (1.0, (195, 220, 245))])
    street_y = int(0.84 * h)
    x = -10
    while x < w:
        bw, bh = int(rng.integers(34, 76)), int(rng.integers(70, 230))
        tone = rng.integers(85, 170)
        colour = np.array([tone, tone - rng.integers(0, 20), tone + rng.integers(-10, 20)], float)
        top = street_y - bh
        img[top:street_y, max(x, 0):x + bw] = colour
        img[top:street_y, max(x, 0):max(x, 0) + 2] *= 0.7  # a shaded edge
        for wy in range(top + 8, street_y - 12, 14):
            for wx in range(x + 6, x + bw - 8, 11):
                if 0 <= wx < w - 6:
                    lit = rng.random() < 0.35
                    img[wy:wy + 8, wx:wx + 6] = (250, 215, 120) if lit else (55, 65, 85)
        x += bw + int(rng.integers(0, 6))
    img[street_y:] = (60, 60, 66)
    for dx in range(0, w, 40):  # lane markings
        img[int(0.92 * h):int(0.92 * h) + 3, dx:dx + 20] = (230, 230, 220)
    return np.clip(img, 0, 255)


def meadow(w: int = 320, h: int = 448) -> np.ndarray:
    """Portrait: sky with soft clouds over grass with flowers."""
    rng = np.random.default_rng(44)
    yy, xx = grid(h, w)
    img = vertical(h, w, [(0.0, (70, 130, 210)), (0.45, (165, 200, 235)), (1.0, (165, 200, 235))])
    clouds = np.clip((smooth_noise(rng, h, w, 40) - 0.55) * 3.0, 0, 1) * (yy < 0.45 * h)
    paint(img, clouds, (250, 250, 252))
    ground = np.clip(yy - (0.48 * h + 8 * np.sin(xx / 40.0)) + 0.5, 0, 1)
    streaks = np.asarray(Image.fromarray((rng.random((h // 10, w)) * 255).astype(np.uint8))
                         .resize((w, h), Image.Resampling.BILINEAR), float) / 255.0
    depth = np.clip((yy - 0.48 * h) / (0.52 * h), 0, 1)
    grass = np.stack([50 + 40 * streaks, 110 + 70 * streaks + 30 * depth, 35 + 20 * streaks], -1)
    paint(img, ground, grass)
    for _ in range(140):
        cy = rng.uniform(0.52 * h, h)
        cx, r = rng.uniform(0, w), 1.5 + 3.0 * (cy - 0.5 * h) / (0.5 * h)
        colour = [(245, 245, 240), (240, 210, 50), (200, 60, 150), (250, 120, 40)][int(rng.integers(0, 4))]
        paint(img, disc(yy, xx, cy, cx, r), colour)
    return np.clip(img, 0, 255)


# --------------------------------------------------------------------------------------------
# Degradations and writers
# --------------------------------------------------------------------------------------------

def to_image(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(np.clip(a, 0, 255)).astype(np.uint8), "RGB")


def blur(a: np.ndarray, radius: float = 4.0) -> np.ndarray:
    return np.asarray(to_image(a).filter(ImageFilter.GaussianBlur(radius)), float)


def noise(a: np.ndarray, sigma: float = 28.0, seed: int = 5) -> np.ndarray:
    return a + np.random.default_rng(seed).normal(0.0, sigma, a.shape)


def dark(a: np.ndarray) -> np.ndarray:
    return 255.0 * (a / 255.0) ** 1.8 * 0.28


def overexposed(a: np.ndarray) -> np.ndarray:
    return a * 1.9 + 45.0


def jpeg_bytes(im: Image.Image, quality: int, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


@dataclass(frozen=True)
class Sample:
    name: str
    mos: float  # KonIQ scale 0-100
    description: str
    good: str
    bad: str


SAMPLES = [
    Sample("sunset_clean.jpg", 81.6,
           "A computer-drawn sunset: a purple-to-orange sky, a bright sun with a soft glow, dark purple rolling "
           "hills and a strip of water reflecting the light.",
           "Smooth colour gradients, crisp hill outlines and clean rendering without noise or compression "
           "artifacts.",
           "The scene is simple and synthetic; the hills are flat silhouettes with little detail."),
    Sample("sunset_blur.jpg", 22.4,
           "The same drawn sunset over hills and water, strongly out of focus.",
           "The warm colours of the sky are still pleasant.",
           "Heavy blur everywhere: the sun, the hill line and the water ripples have no sharp edges, so "
           "nothing in the picture is in focus."),
    Sample("sunset_overexposed.jpg", 30.8,
           "The drawn sunset, far too bright: the sky and the sun are washed out.",
           "The hill shapes and the water line can still be made out.",
           "Strong overexposure: the sky around the sun is clipped to white, the colours are faded to pastel "
           "and the sun cannot be told apart from the sky."),
    Sample("sunset_palette.gif", 51.2,
           "The drawn sunset stored as a GIF with a small colour palette.",
           "The composition and the sharp outlines are intact.",
           "Visible colour banding: the smooth sky gradient breaks into flat steps with hard edges because of "
           "the reduced palette."),
    Sample("still_life_clean.jpg", 79.8,
           "A computer-drawn still life: a shiny red ball, a small green ball and a blue box on a brown table "
           "with a swirling wood-like grain, in front of a beige wall.",
           "Sharp edges, clear shading and highlights on the balls, a detailed table texture and clean colours.",
           "A plain, staged arrangement with a dull background."),
    Sample("still_life_noise.jpg", 33.5,
           "The drawn still life with a red ball, a green ball and a blue box on a table, covered in strong "
           "noise.",
           "The objects and their colours are still recognisable.",
           "Heavy grainy noise over the whole picture hides the table texture and makes the smooth surfaces look "
           "rough and speckled."),
    Sample("still_life_alpha.png", 67.9,
           "The drawn red ball, green ball and blue box on an empty white background (a cut-out with "
           "transparency).",
           "The objects are sharp and clean, with clear shading.",
           "No table or setting: the objects float on flat white, so the picture lacks context and depth."),
    Sample("still_life_16bit.png", 61.7,
           "The drawn still life of two balls and a box on a wooden table, in black and white.",
           "Sharp, clean and noise-free with smooth tonal shading.",
           "No colour, and the grey tones of the box and the table are close, so the picture looks flat."),
    Sample("city_clean.jpg", 78.3,
           "A computer-drawn city street: rows of grey buildings with lit and dark windows under a blue sky, "
           "and a road with lane markings.",
           "Crisp building edges and window grids, clean sky gradient, good exposure.",
           "A schematic, repetitive scene with no people or depth."),
    Sample("city_jpeg.jpg", 17.1,
           "The drawn city street with buildings and windows, saved with very strong JPEG compression.",
           "The overall layout of buildings, sky and road is still readable.",
           "Severe compression artifacts: blocky 8x8 squares in the sky, smeared windows and colour bleeding "
           "around the building edges."),
    Sample("city_dark.jpg", 26.9,
           "The drawn city street, badly underexposed.",
           "The lit windows still stand out.",
           "Far too dark: the buildings, the road and the sky sink into near black and the details are lost."),
    Sample("city_cmyk.jpg", 76.5,
           "The drawn city street with buildings, windows, blue sky and road, stored as a CMYK JPEG.",
           "Crisp edges and clean colours, good exposure.",
           "A schematic, repetitive scene with no people or depth."),
    Sample("meadow_clean.webp", 78.8,
           "A computer-drawn meadow in portrait format: a blue sky with soft white clouds above green grass "
           "dotted with white, yellow, pink and orange flowers.",
           "Bright pleasant colours, clear flowers and a textured grass field.",
           "The grass texture is a little artificial and the composition has no main subject."),
    Sample("meadow_rotated_exif.jpg", 78.6,
           "The drawn meadow with clouds, grass and flowers, in portrait format (the file is stored sideways "
           "with an EXIF rotation).",
           "Bright pleasant colours, clear flowers and a textured grass field.",
           "The grass texture is a little artificial and the composition has no main subject."),
]
BROKEN = "broken_truncated.jpg"


def write_images(out: Path) -> None:
    sun = sunset()
    life, life_mask = still_life()
    cut_out, _ = still_life(with_background=False)
    town, field = city(), meadow()
    files: dict[str, bytes] = {
        "sunset_clean.jpg": jpeg_bytes(to_image(sun), 92),
        "sunset_blur.jpg": jpeg_bytes(to_image(blur(sun, 5.0)), 92),
        "sunset_overexposed.jpg": jpeg_bytes(to_image(overexposed(sun)), 92),
        "still_life_clean.jpg": jpeg_bytes(to_image(life), 92),
        "still_life_noise.jpg": jpeg_bytes(to_image(noise(life)), 92),
        "city_clean.jpg": jpeg_bytes(to_image(town), 92),
        "city_jpeg.jpg": jpeg_bytes(to_image(town), 4),
        "city_dark.jpg": jpeg_bytes(to_image(dark(town)), 92),
        # Pillow writes CMYK JPEGs Photoshop-style (Adobe marker, inverted values)
        "city_cmyk.jpg": jpeg_bytes(to_image(town).convert("CMYK"), 92),
        # stored sideways (rotated 90 degrees counter-clockwise); EXIF orientation 6 turns it back upright
        "meadow_rotated_exif.jpg": jpeg_bytes(to_image(field).transpose(Image.Transpose.ROTATE_90), 92,
                                              exif=_orientation_exif(6)),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    to_image(field).save(out / "meadow_clean.webp", quality=82, method=6)
    to_image(sun).quantize(colors=24, dither=Image.Dither.NONE).save(out / "sunset_palette.gif")
    rgba = np.dstack([cut_out, life_mask * 255.0])
    Image.fromarray(np.rint(rgba).astype(np.uint8), "RGBA").save(out / "still_life_alpha.png", optimize=True)
    small, _ = still_life(w=320, h=214)
    grey = small @ np.array([0.299, 0.587, 0.114])  # 16-bit precision grey, full 0-65535 range
    Image.fromarray(np.rint(grey / 255.0 * 65535.0).astype(np.uint16)).save(out / "still_life_16bit.png")
    whole = files["still_life_clean.jpg"]
    (out / BROKEN).write_bytes(whole[: int(len(whole) * 0.55)])


def _orientation_exif(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def write_labels(out: Path) -> None:
    with open(out / "mos.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image_name", "MOS"])
        for s in SAMPLES:
            w.writerow([s.name, f"{s.mos:.2f}"])
    rows = [{"image": s.name,
             "description": {"answer": s.description},
             "good_aspect": {"answer": s.good},
             "bad_aspect": {"answer": s.bad},
             "quality": round(s.mos / 25.0, 2)}  # Q-Reasoning's human quality is on 0-4
            for s in SAMPLES]
    (out / "reasoning.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "samples"
    out.mkdir(parents=True, exist_ok=True)
    write_images(out)
    write_labels(out)
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {len(SAMPLES)} images, {BROKEN}, mos.csv and reasoning.json to {out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
