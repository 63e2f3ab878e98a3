"""Pictures re-encoded without their metadata (pure: Pillow only).

A phone photo carries GPS coordinates, the camera's serial number, sometimes the owner's name;
none of it is needed to read the picture, so the pixels are re-encoded and everything else is
left behind. Orientation is applied to the pixels first, so the picture still stands upright.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse images whose pixel count could exhaust memory when decoded (a "decompression bomb").
MAX_IMAGE_PIXELS = 60_000_000
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


class ImageProblem(ValueError):
    """``too_large`` (more pixels than MAX_IMAGE_PIXELS) or ``broken``."""


def strip_image_metadata(data: bytes, kind: str) -> bytes:
    """Re-encode without EXIF/GPS/XMP/text chunks; orientation is applied to the pixels first."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        try:
            return _reencode(data, kind)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem("too_large") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageProblem("broken") from exc
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _reencode(data: bytes, kind: str) -> bytes:
    fmt = _PIL_FORMAT[kind]
    with Image.open(io.BytesIO(data)) as original:
        if original.format != fmt:
            raise ValueError(f"Pillow sees {original.format}, not {fmt}")
        icc = original.info.get("icc_profile")
        animated = getattr(original, "is_animated", False)
        out = io.BytesIO()
        if animated:
            # Frames are re-saved as they are; EXIF is simply not written.
            original.save(out, format=fmt, save_all=True, icc_profile=icc, exif=b"")
            return out.getvalue()
        image = ImageOps.exif_transpose(original) or original
        image.load()
        # Pillow re-writes some info entries (JPEG comments) on save: start from nothing.
        image.info = {}
        options: dict[str, Any] = {"icc_profile": icc} if icc else {}
        if kind == "jpeg":
            if image.mode not in ("RGB", "L", "CMYK"):
                image = image.convert("RGB")
            options.update(quality=92, optimize=True)
        elif kind == "webp":
            lossless = original.info.get("lossless", False)
            options.update(lossless=bool(lossless), quality=90)
        else:
            options.update(optimize=False)
        image.save(out, format=fmt, **options)
        return out.getvalue()
