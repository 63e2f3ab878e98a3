"""Printable A4 documents as PDF (reply letters, posters) with WeasyPrint.

Rendering fetches nothing from the network or the file system: stylesheets are passed in by
path and the only URLs allowed are data: URIs (the poster's QR code), which rules out SSRF and
local-file reads through a crafted URL in the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


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


# --- links printed or mailed to citizens -------------------------------------------------------

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 - a name


def is_loopback_url(url: str) -> bool:
    """True when the URL points at this machine (127.0.0.0/8, localhost, ::1): a citizen who
    scans or clicks it reaches nothing. Used to refuse posters and mail with such links."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return False
    if host in _LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return False


def loopback_links_refused(config: Mapping[str, Any]) -> bool:
    """Whether printing or mailing a loopback link is refused. REFUSE_LOOPBACK_LINKS None (the
    default) means yes except in development and tests, where 127.0.0.1 is the real address."""
    setting = config.get("REFUSE_LOOPBACK_LINKS")
    if setting is None:
        return not (config.get("TESTING") or config.get("DEBUG"))
    return bool(setting)


def public_url(config: Mapping[str, Any], path: str) -> str:
    """An absolute link for citizens from PUBLIC_BASE_URL (never from the request's Host)."""
    return str(config.get("PUBLIC_BASE_URL") or "").rstrip("/") + path


def qr_data_uri(target: str) -> str:
    """A QR code to ``target`` as an SVG data: URI: an <img> the CSP allows (img-src data:),
    no inline script or style, and WeasyPrint may read it (data: is its one allowed scheme)."""
    import segno

    code = segno.make(target, error="q")
    return str(code.svg_data_uri(scale=6, border=2, dark="#000", light="#fff"))
