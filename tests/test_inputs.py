"""Image discovery (qassess.io.sources), the image loader (qassess.io.images: one case per image kind), prefetch, caption inputs (qassess.io.captions)."""
from __future__ import annotations

import io
import json
import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from qassess.errors import UserError
from qassess.io.captions import CaptionItem, read_captions, scan_captions
from qassess.io.images import ImageLoadError, PixelBudget, load_image, prefetch_images, target_size
from qassess.io.sources import IMAGE_EXTENSIONS, discover_images

BUDGET = PixelBudget(min_pixels=28 * 28, max_pixels=64 * 28 * 28)


def px(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return im.convert("RGB").getpixel(xy)


def close(a, b, tol=6) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


def gradient(w: int = 96, h: int = 64) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - x], -1).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# target_size: parity with transformers' own smart_resize
# --------------------------------------------------------------------------------------------

def test_target_size_matches_transformers_smart_resize():
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    rng = np.random.default_rng(0)
    sizes = [(1, 1), (13, 13), (14, 14), (27, 29), (28, 28), (42, 42), (70, 14), (56, 5000), (4000, 3000),
             (3000, 4000), (1920, 1080), (6000, 4000), (8192, 41), (200, 1), (1, 200), (512, 512)]
    sizes += [tuple(int(v) for v in rng.integers(1, 5000, 2)) for _ in range(400)]
    budgets = [PixelBudget(3136, 12845056), PixelBudget(3136, 1003520), PixelBudget(4 * 784, 64 * 784),
               PixelBudget(256 * 784, 256 * 784), PixelBudget(1, 784), PixelBudget(100, 5000, factor=14)]
    checked = 0
    for budget in budgets:
        for w, h in sizes:
            if max(w, h) / min(w, h) > 200:
                continue
            eh, ew = smart_resize(h, w, factor=budget.factor, min_pixels=budget.min_pixels,
                                  max_pixels=budget.max_pixels)
            assert target_size(w, h, budget) == (ew, eh), (w, h, budget)
            checked += 1
    assert checked > 2000


def test_target_size_refuses_extreme_aspect_like_qwen():
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    with pytest.raises(ValueError):
        smart_resize(10, 2010)
    with pytest.raises(ImageLoadError, match="aspect ratio"):
        target_size(2010, 10, BUDGET)
    assert target_size(2000, 10, BUDGET)  # exactly 200:1 is still accepted, as in Qwen


def test_pixel_budget_validates():
    with pytest.raises(UserError, match="larger than"):
        PixelBudget(min_pixels=10_000, max_pixels=1_000)
    with pytest.raises(UserError, match="positive"):
        PixelBudget(min_pixels=0, max_pixels=1_000)
    with pytest.raises(UserError, match="positive"):
        PixelBudget(3136, 1_000_000, max_decode_pixels=-1)


# --------------------------------------------------------------------------------------------
# load_image: one case per image kind
# --------------------------------------------------------------------------------------------

def test_rgb_jpeg_resized_to_target_with_draft_same_picture(tmp_path):
    p = tmp_path / "big.jpg"
    rng = np.random.default_rng(1)
    a = (gradient(1600, 1200).astype(float) * 0.8 + rng.normal(0, 8, (1200, 1600, 3))).clip(0, 255)
    Image.fromarray(a.astype(np.uint8)).save(p, quality=92)
    budget = PixelBudget(3136, 200 * 784)
    im = load_image(p, budget)
    assert im.mode == "RGB" and im.size == target_size(1600, 1200, budget)
    full = Image.open(p).convert("RGB").resize(im.size, Image.Resampling.LANCZOS)
    mse = ((np.asarray(im, float) - np.asarray(full, float)) ** 2).mean()
    assert 10 * np.log10(255 ** 2 / mse) > 38  # same picture as the full decode


def test_budget_none_keeps_full_size(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(gradient(101, 37)).save(p)
    im = load_image(p, None)
    assert im.size == (101, 37) and im.mode == "RGB"
    assert np.array_equal(np.asarray(im), gradient(101, 37))


def test_rgba_composited_on_white(tmp_path):
    a = np.zeros((40, 60, 4), np.uint8)
    a[..., 0] = 200  # red everywhere, but only the left half opaque
    a[:, :30, 3] = 255
    a[:, 30:45, 3] = 128
    p = tmp_path / "alpha.png"
    Image.fromarray(a, "RGBA").save(p)
    im = load_image(p, None)
    assert px(im, (5, 5)) == (200, 0, 0)
    assert px(im, (55, 5)) == (255, 255, 255)  # transparent -> white, not black
    assert close(px(im, (35, 5)), (228, 127, 127), tol=2)  # half alpha -> blend


def test_la_composited_on_white(tmp_path):
    a = np.zeros((20, 20, 2), np.uint8)
    a[..., 0] = 50
    a[:10, :, 1] = 255
    p = tmp_path / "la.png"
    Image.fromarray(a, "LA").save(p)
    assert Image.open(p).mode == "LA"
    im = load_image(p, None)
    assert px(im, (3, 3)) == (50, 50, 50) and px(im, (3, 15)) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (20, 20), 0)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.paste(1, (0, 0, 10, 20))
    p = tmp_path / "p.png"
    im.save(p, transparency=0)
    out = load_image(p, None)
    assert px(out, (2, 2)) == (10, 200, 30)
    assert px(out, (15, 2)) == (255, 255, 255)  # index 0 is transparent: white, not palette black


@pytest.mark.parametrize("mode", ["PA", "La", "RGBa"])
def test_in_memory_alpha_modes_composited(mode):
    """Modes no file format writes, but plugins can produce: the flattening still puts alpha on white."""
    from qassess.io.images import _flatten

    if mode == "PA":
        im = Image.new("PA", (10, 10))
        im.putpalette([0, 0, 255] * 256)
    else:
        im = Image.new("RGBA" if mode == "RGBa" else "LA", (10, 10), (0, 0, 255, 255) if mode == "RGBa" else (40, 255))
        im = im.convert(mode)
    alpha = Image.new("L", (10, 10), 255)
    alpha.paste(0, (5, 0, 10, 10))
    im.putalpha(alpha)
    out = _flatten(im).convert("RGB")
    assert px(out, (8, 5)) == (255, 255, 255)  # transparent right half -> white
    opaque = px(out, (1, 5))
    assert close(opaque, (0, 0, 255) if mode != "La" else (40, 40, 40), tol=3), opaque


def cmyk_jpeg_bytes(cmyk: tuple[int, int, int, int], adobe: bool) -> bytes:
    """A CMYK JPEG holding `cmyk`, with or without the Adobe APP14 marker (Pillow always writes it)."""
    if adobe:
        img = Image.new("CMYK", (32, 32), cmyk)
    else:  # Pillow stores 255 - v; pre-invert so the file holds v, then drop APP14: a plain CMYK JPEG
        img = Image.new("CMYK", (32, 32), tuple(255 - v for v in cmyk))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=100)
    data = buf.getvalue()
    if not adobe:
        i = data.index(b"\xff\xee")
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        data = data[:i] + data[i + 2 + length:]
    return data


@pytest.mark.parametrize("adobe", [True, False])
def test_cmyk_jpeg_colours(tmp_path, adobe):
    p = tmp_path / "cmyk.jpg"
    p.write_bytes(cmyk_jpeg_bytes((0, 255, 255, 0), adobe))  # pure red ink-wise
    src = Image.open(p)
    assert src.mode == "CMYK" and (("adobe" in src.info) == adobe)
    out = load_image(p, None)
    assert close(px(out, (16, 16)), (255, 0, 0), tol=8), px(out, (16, 16))


def test_cmyk_plain_and_adobe_agree_on_a_dark_colour(tmp_path):
    ink = (40, 100, 180, 60)
    results = []
    for adobe in (True, False):
        p = tmp_path / f"c{adobe}.jpg"
        p.write_bytes(cmyk_jpeg_bytes(ink, adobe))
        results.append(px(load_image(p, None), (16, 16)))
    expected = tuple(round((255 - c) * (255 - ink[3]) / 255) for c in ink[:3])
    assert close(results[0], expected, tol=8) and close(results[1], expected, tol=8), (results, expected)


def test_16bit_png_scaled_not_clipped(tmp_path):
    a = np.linspace(0, 65535, 256).round().astype(np.uint16)[None, :].repeat(8, 0)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I")
    out = np.asarray(load_image(p, None))[..., 0]
    expected = np.rint(a / 257.0).astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert out[0, 128] in (127, 128)  # mid grey, where clipping would give 255


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_16bit_tiff_scaled(tmp_path, byteorder):
    a = np.linspace(0, 65535, 64 * 16).round().astype(np.uint16).reshape(16, 64)
    mode = "I;16" if byteorder == "<" else "I;16B"
    img = Image.frombytes(mode, (64, 16), a.astype(byteorder + "u2").tobytes())
    p = tmp_path / "g16.tif"
    img.save(p)
    assert Image.open(p).mode == mode
    out = np.asarray(load_image(p, None))[..., 1]
    assert np.abs(out.astype(int) - np.rint(a / 257.0)).max() <= 1


def test_mode_i_and_f(tmp_path):
    i32 = Image.fromarray((np.arange(64, dtype=np.int32).reshape(8, 8) * 1000))  # 0..63000: 16-bit data
    p = tmp_path / "i.tif"
    i32.save(p)
    assert Image.open(p).mode == "I"
    out = np.asarray(load_image(p, None))[..., 0]
    assert out[7, 7] == round(63000 / 257) and out[0, 0] == 0
    f = Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    q = tmp_path / "f.tif"
    f.save(q)
    assert Image.open(q).mode == "F"
    out = np.asarray(load_image(q, None))[..., 2]
    assert out[0, 0] == 0 and out[7, 7] == 255 and 120 <= out[4, 0] <= 135


def test_exif_orientation_6_rotates(tmp_path):
    a = np.zeros((40, 60, 3), np.uint8)  # stored landscape 60x40, red marker at stored top-left
    a[:10, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rot.jpg"
    Image.fromarray(a).save(p, exif=exif.tobytes(), quality=95)
    out = load_image(p, None)
    assert out.size == (40, 60)  # displayed portrait
    assert close(px(out, (35, 3)), (255, 0, 0), tol=30) and close(px(out, (3, 3)), (0, 0, 0), tol=30)
    ref = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
    assert np.array_equal(np.asarray(out), np.asarray(ref))
    budget = PixelBudget(784, 6 * 784)
    small = load_image(p, budget)
    assert small.size == target_size(40, 60, budget)  # target follows the upright picture
    assert small.height > small.width


def test_gif_first_frame(tmp_path):
    frames = [Image.new("P", (16, 16), i) for i in range(3)]
    palette = [200, 10, 10, 10, 200, 10, 10, 10, 200] + [0] * 759
    for f in frames:
        f.putpalette(palette)
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(p).n_frames == 3
    assert close(px(load_image(p, None), (8, 8)), (200, 10, 10), tol=2)


def test_animated_webp_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in [(250, 0, 0), (0, 250, 0)]]
    p = tmp_path / "anim.webp"
    frames[0].save(p, save_all=True, append_images=frames[1:], lossless=True)
    assert getattr(Image.open(p), "n_frames", 1) == 2
    assert close(px(load_image(p, None), (8, 8)), (250, 0, 0), tol=2)


def test_mpo_phone_jpeg_first_picture_drafted(tmp_path):
    p = tmp_path / "phone.jpg"  # MPO: a JPEG with a second picture appended, as many phones write
    first, second = Image.new("RGB", (1600, 1200), (200, 30, 30)), Image.new("RGB", (1600, 1200), (0, 0, 200))
    first.save(p, format="MPO", save_all=True, append_images=[second])
    assert Image.open(p).format == "MPO"
    budget = PixelBudget(3136, 200 * 784)
    out = load_image(p, budget)
    assert out.size == target_size(1600, 1200, budget) and close(px(out, (5, 5)), (200, 30, 30))


def test_truncated_jpeg_raises(tmp_path):
    p = tmp_path / "t.jpg"
    Image.fromarray(gradient(300, 200)).save(p, quality=90)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    for budget in (None, BUDGET):  # the draft path must detect it too
        with pytest.raises(ImageLoadError, match="truncated"):
            load_image(p, budget)


def test_truncated_png_raises(tmp_path):
    p = tmp_path / "t.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (100, 100, 3), dtype=np.uint8)).save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError):
        load_image(p, None)


@pytest.mark.parametrize("content, match", [(b"hello, this is text\n", "not a supported image"),
                                            (b"", "empty file")])
def test_not_an_image(tmp_path, content, match):
    p = tmp_path / "fake.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=match):
        load_image(p, BUDGET)


def test_eps_is_refused_not_rendered(tmp_path):
    """Pillow would hand an EPS (even one named .jpg) to Ghostscript; the loader must not open it."""
    p = tmp_path / "looks_like.jpg"
    p.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert Image.open(p).format == "EPS"
    with pytest.raises(ImageLoadError, match="not a supported image"):
        load_image(p, None)


def png16_rgb(pixels: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), filter 0 on every row."""
    h, w, _ = pixels.shape
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_rgb_png_scaled(tmp_path):
    a = np.zeros((4, 3, 3), np.uint16)
    a[..., 0] = 0x8000
    a[..., 1] = 0xFFFF
    a[..., 2] = 0x0400
    p = tmp_path / "rgb16.png"
    p.write_bytes(png16_rgb(a))
    assert px(load_image(p, None), (1, 1)) == (128, 255, 4)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.png", None)
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path, None)


def test_error_messages_are_one_line(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ImageLoadError) as info:
        load_image(p, None)
    assert "\n" not in str(info.value) and str(info.value)


def test_pixel_guard_fires_before_decode(tmp_path, monkeypatch):
    p = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1000), (1, 2, 3)).save(p)
    calls = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: calls.append(1) or real_load(self))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(p, PixelBudget(784, 64 * 784, max_decode_pixels=1_000_000))
    assert calls == []
    assert load_image(p, PixelBudget(784, 64 * 784, max_decode_pixels=2_000_000)).size
    assert calls  # the same file loads (and decodes) once the limit allows it


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds (almost) no pixel data: any decode would fail as truncated."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10))


@pytest.mark.parametrize("w, h", [(11000, 11000), (30000, 30000)])  # above the default guard (100 MP); below and above Pillow's own error (179 MP)
def test_pixel_guard_message_is_ours(tmp_path, w, h):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(w, h))
    with pytest.raises(ImageLoadError, match="too large to decode.*max_decode_pixels"):
        load_image(p, BUDGET)


def test_raised_limit_beyond_pillow_is_honoured(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(16000, 16000))  # 256 MP: over Pillow's 2 x 89 MP error threshold
    with pytest.raises(ImageLoadError) as info:
        load_image(p, PixelBudget(784, 64 * 784, max_decode_pixels=300_000_000))
    assert "too large" not in str(info.value)  # the guard let it through; the missing data fails


# --------------------------------------------------------------------------------------------
# prefetch_images
# --------------------------------------------------------------------------------------------

def test_prefetch_in_order_with_errors(tmp_path):
    paths = []
    for i in range(9):
        p = tmp_path / f"{i}.png"
        if i == 4:
            p.write_bytes(b"junk")
        else:
            Image.new("RGB", (30 + i, 30), (i * 20, 0, 0)).save(p)
        paths.append(p)
    out = list(prefetch_images(paths, None, workers=3, ahead=2))
    assert [o[0] for o in out] == paths
    assert out[4][1] is None and "not a supported" in out[4][2]
    assert all(o[1].size == (30 + i, 30) and o[2] is None for i, o in enumerate(out) if i != 4)


def test_prefetch_close_stops_workers(tmp_path, monkeypatch):
    import qassess.io.images as images

    loaded = []
    monkeypatch.setattr(images, "load_image", lambda p, b: loaded.append(p) or Image.new("RGB", (2, 2)))
    paths = [tmp_path / f"{i}.png" for i in range(200)]
    gen = prefetch_images(paths, None, workers=2, ahead=4)
    first = [next(gen) for _ in range(3)]
    gen.close()
    assert [f[0] for f in first] == paths[:3]
    assert len(loaded) <= 3 + 4  # consumed + at most `ahead` in flight; not the 200 given


def test_prefetch_rejects_bad_settings():
    with pytest.raises(UserError):
        list(prefetch_images([Path("a.jpg")], None, workers=0))


# --------------------------------------------------------------------------------------------
# discover_images
# --------------------------------------------------------------------------------------------

def touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_discovery_order_hidden_extensions(tmp_path):
    root = tmp_path / "photos"
    for name in ["b.JPG", "a.png", "sub/c.webp", "sub/z.TIFF", "a2.jpeg", ".hidden.jpg", ".cache/x.jpg",
                 "notes.txt", "sub/deeper/d.bmp", "e.gif", "f.tif"]:
        touch(root / name)
    found = discover_images([root])
    rel = [str(p.relative_to(root)) for p in found]
    assert rel == ["a.png", "a2.jpeg", "b.JPG", "e.gif", "f.tif", "sub/c.webp", "sub/deeper/d.bmp", "sub/z.TIFF"]
    assert found == discover_images([root])
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def test_discovery_inputs_in_order_deduplicated(tmp_path):
    a = touch(tmp_path / "x" / "a.jpg")
    b = touch(tmp_path / "y" / "b.jpg")
    odd = touch(tmp_path / "named.dat")
    found = discover_images([tmp_path / "y", odd, tmp_path / "x", a, tmp_path / "y" / "b.jpg"])
    assert found == [b, odd, a]  # explicit unknown extension kept; repeats dropped


def test_discovery_symlink_loop_terminates(tmp_path, monkeypatch):
    root = tmp_path / "r"
    touch(root / "a.jpg")
    touch(root / "sub" / "b.jpg")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "sub", root / "sub" / "self")
    os.symlink(root / "a.jpg", root / "alias.jpg")
    os.symlink(tmp_path / "gone.jpg", root / "dangling.jpg")
    entered = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda d: entered.append(os.path.realpath(d)) or real_scandir(d))
    found = discover_images([root, root / "sub"])
    names = [str(p.relative_to(root)) for p in found]
    assert sorted(entered) == sorted({str(root.resolve()), str((root / "sub").resolve())})  # each once
    assert names == ["a.jpg", "dangling.jpg", "sub/b.jpg"]  # alias == a.jpg; dangling left to the loader
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(root / "dangling.jpg", None)


def test_discovery_follows_symlinked_folder(tmp_path):
    real = tmp_path / "real"
    touch(real / "p.png")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(real, root / "link")
    assert discover_images([root]) == [root / "link" / "p.png"]


def test_discovery_errors(tmp_path):
    with pytest.raises(UserError, match="no such file or folder: .*missing"):
        discover_images([tmp_path / "missing"])
    empty = tmp_path / "empty"
    touch(empty / "readme.txt")
    touch(empty / ".x.jpg")
    with pytest.raises(UserError) as info:
        discover_images([empty])
    assert str(empty) in str(info.value) and ".jpg" in str(info.value) and ".webp" in str(info.value)


# --------------------------------------------------------------------------------------------
# captions
# --------------------------------------------------------------------------------------------

def test_caption_folder_of_txt(tmp_path):
    root = tmp_path / "caps"
    (root / "sub").mkdir(parents=True)
    (root / "b.txt").write_bytes("\ufeff  A blurry dog.\n".encode("utf-8"))
    (root / "sub" / "a.txt").write_text("Sharp sunset.", encoding="utf-8")
    (root / "c.txt").write_text("   \n", encoding="utf-8")
    (root / ".d.txt").write_text("hidden", encoding="utf-8")
    (root / "e.TXT").write_bytes("Wide shot.".encode("utf-16"))
    (root / "img.jpg").write_bytes(b"x")
    scan = scan_captions([root])
    assert [(i.id, i.caption) for i in scan.items] == [("b", "A blurry dog."), ("e", "Wide shot."),
                                                       ("a", "Sharp sunset.")]
    assert scan.items[0].source == str(root / "b.txt")
    assert scan.skipped == [(str(root / "c.txt"), "empty caption")]


def test_caption_csv_detection_and_skips(tmp_path, caplog):
    p = tmp_path / "c.csv"
    p.write_bytes("\ufeffImage_Name;Description;score\n"
                  'x.jpg;"Soft, noisy; dark\nsecond line";3\n'
                  "y.jpg;;2\n"
                  "\n"
                  "z.jpg;Crisp.;4\n".encode("utf-8"))
    with caplog.at_level(logging.WARNING, logger="qassess.io.captions"):
        items = read_captions([p])
    assert items == [CaptionItem("x.jpg", "Soft, noisy; dark\nsecond line", f"{p}:2"),
                     CaptionItem("z.jpg", "Crisp.", f"{p}:6")]
    assert "skipped 1 caption row(s): 1 empty caption" in caplog.text
    assert scan_captions([p]).skipped == [(f"{p}:4", "empty caption")]


def test_caption_previous_qassess_output(tmp_path):
    p = tmp_path / "out.csv"
    p.write_text("id,path,status,rating,caption,error\n"
                 "a,/x/a.jpg,ok,3.5,\"A cat, sharp.\",\n"
                 "b,/x/b.jpg,load_error,,,truncated image\n", encoding="utf-8")
    scan = scan_captions([p])
    assert [(i.id, i.caption) for i in scan.items] == [("a", "A cat, sharp.")]
    assert len(scan.skipped) == 1


def test_caption_explicit_columns_and_missing_column(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("name\tmy text\tother\nq\thello\t1\n", encoding="utf-8")
    with pytest.raises(UserError) as info:
        read_captions([p])
    msg = str(info.value)
    assert "no id column" in msg and "'name'" in msg and "'my text'" in msg and "'other'" in msg
    items = read_captions([p], id_col="NAME", caption_col="my text")
    assert items == [CaptionItem("q", "hello", f"{p}:2")]
    with pytest.raises(UserError, match="no caption column.*'nope'"):
        read_captions([p], id_col="name", caption_col="nope")


def test_caption_csv_unquoted_delimiter_is_an_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("id,caption\na,dark, noisy\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.csv:2: 3 fields"):
        read_captions([p])


def test_caption_jsonl_partial_last_line(tmp_path):
    p = tmp_path / "run.jsonl"
    p.write_text(json.dumps({"id": "a", "caption": "Sharp."}) + "\n"
                 + json.dumps({"id": "b", "caption": None}) + "\n"
                 + json.dumps({"id": 7, "caption": "Numeric id."}) + "\n"
                 + '{"id": "c", "capt', encoding="utf-8")
    scan = scan_captions([p])
    assert [(i.id, i.caption, i.source) for i in scan.items] == [("a", "Sharp.", f"{p}:1"),
                                                                 ("7", "Numeric id.", f"{p}:3")]
    assert scan.skipped == [(f"{p}:2", "empty caption"), (f"{p}:4", "incomplete last line")]


def test_caption_jsonl_bad_middle_line_is_an_error(tmp_path):
    p = tmp_path / "run.jsonl"
    p.write_text('{"id": "a", "caption": "x"}\nnot json\n{"id": "b", "caption": "y"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"run.jsonl: line 2 is not valid JSON"):
        read_captions([p])


def test_caption_json_list_qreasoning_layout(tmp_path):
    p = tmp_path / "human.json"
    p.write_text(json.dumps([{"image": "1.jpg", "description": {"answer": "A parking lot."}, "quality": 2},
                             {"image": "2.jpg", "description": {"answer": " "}}]), encoding="utf-8")
    scan = scan_captions([p])
    assert scan.items == [CaptionItem("1.jpg", "A parking lot.", f"{p}[0]")]
    assert scan.skipped == [(f"{p}[1]", "empty caption")]


def test_caption_duplicate_ids_and_bad_sources(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("one", encoding="utf-8")
    (tmp_path / "b" / "x.txt").write_text("two", encoding="utf-8")
    with pytest.raises(UserError, match="duplicate caption id 'x'"):
        read_captions([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(UserError, match="no such file or folder"):
        read_captions([tmp_path / "none.csv"])
    (tmp_path / "img.png").write_bytes(b"x")
    with pytest.raises(UserError, match="not a caption source"):
        read_captions([tmp_path / "img.png"])
    latin = tmp_path / "l.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        read_captions([latin])
    empty = tmp_path / "e"
    empty.mkdir()
    with pytest.raises(UserError, match="no captions found"):
        read_captions([empty])


# --------------------------------------------------------------------------------------------
# samples/
# --------------------------------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_samples_load_and_labels_match():
    import csv

    from qassess.io.sources import IMAGE_EXTENSIONS

    # the top level only (samples/real/ is the default model's, see test_default_model)
    found = discover_images(sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS))
    ok, broken = {}, []
    for path, image, error in prefetch_images(found, PixelBudget(3136, 256 * 784)):
        if image is None:
            broken.append((path.name, error))
        else:
            ok[path.name] = image
    assert broken == [("broken_truncated.jpg", broken[0][1])] and "truncated" in broken[0][1]
    with open(SAMPLES / "mos.csv", newline="", encoding="utf-8") as f:
        mos = {r["image_name"]: float(r["MOS"]) for r in csv.DictReader(f)}
    assert set(mos) == set(ok) and len(ok) >= 10
    assert all(0 <= v <= 100 for v in mos.values())
    assert mos["sunset_clean.jpg"] > 70 > 30 > mos["sunset_blur.jpg"] and mos["city_jpeg.jpg"] < 25
    reasoning = json.loads((SAMPLES / "reasoning.json").read_text(encoding="utf-8"))
    assert {r["image"] for r in reasoning} == set(ok)
    for r in reasoning:
        assert all(r[k]["answer"].strip() for k in ("description", "good_aspect", "bad_aspect"))
        assert abs(r["quality"] - mos[r["image"]] / 25) < 0.01
    # the kinds behave: portrait after EXIF rotation, CMYK has the colours of its RGB twin
    assert ok["meadow_rotated_exif.jpg"].height > ok["meadow_rotated_exif.jpg"].width
    assert ok["meadow_rotated_exif.jpg"].size == ok["meadow_clean.webp"].size
    diff = np.abs(np.asarray(ok["city_cmyk.jpg"], float) - np.asarray(ok["city_clean.jpg"], float)).mean()
    assert diff < 4
    assert Image.open(SAMPLES / "still_life_16bit.png").mode.startswith("I")
    assert Image.open(SAMPLES / "still_life_alpha.png").mode == "RGBA"
    assert Image.open(SAMPLES / "city_cmyk.jpg").mode == "CMYK"


def test_make_samples_reproduces_the_committed_pixels(tmp_path):
    import runpy

    script = SAMPLES.parent / "scripts" / "make_samples.py"
    runpy.run_path(str(script), run_name="make_samples")["main"]([str(tmp_path)])
    for name in sorted(p.name for p in SAMPLES.iterdir() if p.is_file() and p.suffix != ".md"):
        if name.endswith((".csv", ".json")):
            assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
            continue
        if name == "broken_truncated.jpg":
            with pytest.raises(ImageLoadError, match="truncated"):
                load_image(tmp_path / name, None)
            continue
        a = np.asarray(load_image(SAMPLES / name, None), float)
        b = np.asarray(load_image(tmp_path / name, None), float)
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0, name  # encoders may differ by a level


def test_load_image_from_bytes_equals_from_path():
    """Image shards (Parquet cells, tar members, object-store reads) go through the same decoder."""
    from qassess.io.images import ImageLoadError, PixelBudget, load_image

    budget = PixelBudget(min_pixels=4 * 28 * 28, max_pixels=64 * 28 * 28, factor=28)
    for path in sorted(Path(__file__).parent.parent.joinpath("samples").glob("city_*.jpg"))[:3]:
        a, b = load_image(path, budget), load_image(path.read_bytes(), budget)
        assert a.size == b.size and a.tobytes() == b.tobytes()
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(b"", budget)
    with pytest.raises(ImageLoadError, match="not a supported image"):
        load_image(b"not an image at all", budget)
