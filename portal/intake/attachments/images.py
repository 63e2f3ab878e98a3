"""Pictures re-encoded without their metadata (pure: Pillow only).

A phone photo carries GPS coordinates, the camera's serial number, sometimes the owner's name;
none of it is needed to read the picture, so the pixels are re-encoded and everything else is
left behind. Orientation is applied to the pixels first, so the picture still stands upright.

Decoding costs memory and CPU in proportion to the pixels, not the file size: a 190 KB PNG can
claim 59 megapixels. The size is read from the header (Pillow opens lazily) and checked against
the cap before a single pixel is decoded; an animation counts every frame.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# 24 MP: a 6000 x 4000 phone photo still passes; about 100 MB of RGBA at most while re-encoding.
MAX_IMAGE_PIXELS = 24_000_000
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


class ImageProblem(ValueError):
    """``too_large`` (more pixels than the cap, all frames counted) or ``broken``."""

    def __init__(self, reason: str, pixels: int = 0) -> None:
        super().__init__(reason)
        self.pixels = pixels


def strip_image_metadata(data: bytes, kind: str, max_pixels: int = MAX_IMAGE_PIXELS) -> bytes:
    """Re-encode without EXIF/GPS/XMP/comments/text chunks; orientation applied first.

    Raises ImageProblem("too_large") from the header alone when the picture (all its frames)
    has more than ``max_pixels`` pixels."""
    # Pillow's own bomb check warns past MAX_IMAGE_PIXELS: an error here, never a log line.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _reencode(data, kind, max_pixels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem("too_large") from exc
        except ImageProblem:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageProblem("broken") from exc


def _frames(image: Image.Image) -> int:
    """Frame count from the headers (GIF/APNG/WebP count without decoding pixels)."""
    return int(getattr(image, "n_frames", 1) or 1)


def _reencode(data: bytes, kind: str, max_pixels: int) -> bytes:
    fmt = _PIL_FORMAT[kind]
    with Image.open(io.BytesIO(data)) as original:
        if original.format != fmt:
            raise ValueError(f"Pillow sees {original.format}, not {fmt}")
        width, height = original.size
        if width * height > max_pixels:  # before any decoding: the header is all we read
            raise ImageProblem("too_large", width * height)
        frames = _frames(original)
        if width * height * frames > max_pixels:
            raise ImageProblem("too_large", width * height * frames)
        original.seek(0)
        if frames > 1:
            return _reencode_animation(original, fmt)
        return _reencode_still(original, kind, fmt)


def _reencode_animation(original: Image.Image, fmt: str) -> bytes:
    """Every frame kept (a screen recording can be the evidence); metadata left behind."""
    icc = original.info.get("icc_profile")
    out = io.BytesIO()
    options: dict[str, Any] = {"save_all": True}
    if fmt == "GIF":
        # The writer copies the first frame's info (its comment too) unless told otherwise;
        # frame timings come from each frame. XMP and other application blocks are not written.
        options["comment"] = b""
    else:
        options.update(icc_profile=icc, exif=b"")
    original.save(out, format=fmt, **options)
    return out.getvalue()


def _reencode_still(original: Image.Image, kind: str, fmt: str) -> bytes:
    icc = original.info.get("icc_profile")
    transparency = original.info.get("transparency") if kind == "gif" else None
    lossless = bool(original.info.get("lossless", False))
    out = io.BytesIO()
    image = ImageOps.exif_transpose(original) or original
    image.load()
    # Pillow re-writes some info entries (JPEG/GIF comments) on save: start from nothing.
    image.info = {}
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if kind == "jpeg":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        options.update(quality=92, optimize=True)
    elif kind == "webp":
        options.update(lossless=lossless, quality=90)
    elif kind == "gif":
        options = {"transparency": transparency} if transparency is not None else {}
    else:
        options.update(optimize=False)
    image.save(out, format=fmt, **options)
    return out.getvalue()
