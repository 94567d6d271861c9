"""Compatibility names for code written before the split (branches in flight, user scripts):
the loader lives in `qassess.images`, discovery in `qassess.sources`, captions in `qassess.captions`."""
from qassess.captions import CaptionItem, CaptionScan, read_captions, read_text, scan_captions  # noqa: F401
from qassess.images import (  # noqa: F401
    DEFAULT_MAX_DECODE_PIXELS, ImageLoadError, PixelBudget, load_image, prefetch_images, target_size,
)
from qassess.sources import IMAGE_EXTENSIONS, collect_files, discover_images, walk_files  # noqa: F401
