"""Printable A4 documents as PDF (reply letters, posters) with WeasyPrint.

Rendering fetches nothing from the network or the file system: stylesheets are passed in by
path and the only URLs allowed are data: URIs (the poster's QR code), which rules out SSRF and
local-file reads through a crafted URL in the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # OSError: the Pango libraries are missing
        return False
    return True


def render_pdf(html: str, stylesheets: Iterable[Path]) -> bytes:
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    return document.write_pdf(
        stylesheets=[weasyprint.CSS(filename=str(path)) for path in stylesheets]
    )
