"""HTML cleaning and text normalisation for every intake channel (no Flask import).

clean_html keeps a small formatting allow-list (nh3/ammonia does the parsing, so the
browser's idea of the markup is what gets filtered); html_to_text turns mail HTML into
readable plain text; normalise_text is applied to every submission's text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "div", "span", "b", "strong", "i", "em", "u", "a", "ul", "ol", "li",
        "blockquote", "pre", "code", "table", "thead", "tbody", "tr", "td", "th",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
# Removed together with everything inside them (not merely unwrapped).
DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "textarea", "select", "button", "noscript", "noembed", "noframes",
        "template", "title", "xmp", "plaintext", "math", "svg",
    }
)  # fmt: skip
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

# Schemes that can run code; checked again after ammonia on the de-obfuscated value.
_DANGEROUS_URL = re.compile(r"^(?:javascript|vbscript|data|livescript|mocha):", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]+")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Second line of defence: drop any href whose scheme, once de-obfuscated, runs code."""
    if attr == "href" and _DANGEROUS_URL.match(_URL_NOISE.sub("", html.unescape(value))):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={"a": {"href", "title"}},
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    strip_comments=True,
    attribute_filter=_attribute_filter,
)


# html5ever is quadratic in nesting depth (30 000 unclosed <div>s: 7 s), so hostile markup
# deeper than this is flattened to text with a linear scan instead of being parsed.
MAX_NESTING = 256
# Beyond this size (mostly data: images pasted into webmail) parsing costs seconds per MB.
MAX_PARSED_CHARS = 4_000_000
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
_VOID_OR_OPTIONAL_END = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "param", "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option",
        "optgroup", "thead", "tbody", "tfoot", "colgroup", "rb", "rt", "rp", "rtc",
    }
)  # fmt: skip


def _needs_flattening(html_text: str) -> bool:
    """Too big to parse, or (linear estimate) nested deeper than MAX_NESTING."""
    if len(html_text) > MAX_PARSED_CHARS:
        return True
    depth = 0
    for match in _TAG.finditer(html_text):
        closing, name, self_closing = match.groups()
        if name.lower() in _VOID_OR_OPTIONAL_END or self_closing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        if depth > MAX_NESTING:
            return True
    return False


def _flat_text(html_text: str) -> str:
    """Tags replaced by spaces, entities decoded: linear, for markup too deep to parse."""
    text = re.sub(r"<[^<>]*>", " ", html_text)
    return normalise_text(re.sub(r"[ \t]+", " ", html.unescape(text))).strip()


def clean_html(html_text: str) -> str:
    """Return html_text reduced to the formatting allow-list, with no way to run script."""
    if not html_text:
        return ""
    if _needs_flattening(html_text):
        return "<p>" + html.escape(_flat_text(html_text)).replace("\n", "<br>") + "</p>"
    return _CLEANER.clean(normalise_text(html_text))


_BLOCK_TAGS = frozenset(
    {
        "p", "div", "ul", "ol", "blockquote", "pre", "table", "thead", "tbody",
        "tfoot", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article",
        "header", "footer", "address", "center", "dl", "dt", "dd", "fieldset", "figure",
        "caption", "body", "html", "main", "nav", "aside",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg"}
)
_CELL_TAGS = frozenset({"td", "th"})


# Keeps only the tags that shape text layout; drops invisible content entirely.
_TEXT_SHAPER = nh3.Cleaner(
    tags=set(_BLOCK_TAGS | _CELL_TAGS | {"br", "li", "tr", "span", "a", "b", "i"}),
    clean_content_tags=set(_SKIPPED_TAGS | {"math", "textarea", "select"}),
    attributes={},
    link_rel=None,
    strip_comments=True,
)


class _TextExtractor(HTMLParser):
    """Collects text with explicit break markers; whitespace is collapsed afterwards."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth += 1
        elif tag == "br":
            self.chunks.append("\x00BR\x00")
        elif tag == "li":
            self.chunks.append("\x00LINE\x00- ")
        elif tag in _CELL_TAGS:
            self.chunks.append(" ")
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\x00BLOCK\x00")
        if tag == "pre":
            self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.chunks.append("\x00BR\x00")
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\x00BLOCK\x00")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\x00BLOCK\x00")
        elif tag in ("li", "tr"):
            self.chunks.append("\x00LINE\x00")
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            # Keep line structure of preformatted text as explicit breaks.
            data = data.replace("\r\n", "\n").replace("\n", "\x00BR\x00")
            self.chunks.append(data.replace(" ", "\x00SP\x00"))
        else:
            self.chunks.append(data)


_MARKER_RUN = re.compile(r"(?: ?\x00(?:BR|LINE|BLOCK)\x00 ?)+")


def _breaks_for_run(match: re.Match[str]) -> str:
    """<br>s add up; block and list boundaries give one blank line / one line break at most."""
    run = match.group(0)
    count = run.count("\x00BR\x00")
    if "\x00BLOCK\x00" in run:
        count = max(count, 2)
    elif "\x00LINE\x00" in run:
        count = max(count, 1)
    return "\n" * count


def html_to_text(html_text: str) -> str:
    """Readable plain text from HTML: blocks and <br> become newlines, no tags remain."""
    if not html_text:
        return ""
    if _needs_flattening(html_text):
        return _flat_text(html_text)
    parser = _TextExtractor()
    try:
        # html5ever (via nh3) first: linear on hostile markup, where html.parser goes
        # quadratic (60 KB of "<a " took 27 s); what remains is well-formed.
        parser.feed(_TEXT_SHAPER.clean(html_text))
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - html.parser is lenient
        pass
    raw = "".join(parser.chunks).replace("\xa0", " ")
    raw = re.sub(r"[ \t\r\n\f\v]+", " ", raw)  # HTML whitespace collapsing
    raw = raw.replace("\x00SP\x00", "\x00S\x00")
    raw = _MARKER_RUN.sub(_breaks_for_run, raw).replace("\x00S\x00", " ")
    lines = [line.strip() for line in raw.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    # Any '<' left is literal text (e.g. "a < b"), not a tag.
    return normalise_text(text)


# Cc (controls) except \t and \n, lone surrogates (undecodable bytes), and BOM/ZWNBSP.
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")


def normalise_text(s: str) -> str:
    """NFC, CRLF/CR -> LF, BOM stripped, control characters except \\n and \\t removed."""
    if not s:
        return ""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _UNWANTED.sub("", s)
    return unicodedata.normalize("NFC", s)
