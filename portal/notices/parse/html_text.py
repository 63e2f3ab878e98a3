"""The published web page of a notice as plain text: its main text found, the site's chrome
(navigation, header, sidebar, footer, share and print widgets) left out.

The main text is the element whose own paragraphs hold the most text, links discounted (what
readability tools do); the page's title heading is put back above it when the site keeps it
outside that element. Whatever website text is left inside (a metadata table, a byline) is
the text parser's to drop, as for a pasted page.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html

from portal.notices.parse.patterns import is_title

_SKIP = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head",
     "select", "option", "button", "input", "textarea", "canvas", "video", "audio", "map"}
)  # fmt: skip
_BLOCKS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "tr",
     "td", "th", "table", "tbody", "thead", "tfoot", "section", "article", "main", "header",
     "footer", "nav", "aside", "blockquote", "pre", "center", "form", "address", "figure",
     "figcaption", "hr", "body", "html", "caption", "fieldset", "legend"}
)  # fmt: skip
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote"})
_CONTAINERS = ("div", "article", "section", "main", "td", "body", "font", "span", "center")
_CHROME_NAME = re.compile(
    r"nav|menu|breadcrumb|crumb|footer|foot|header|share|sidebar|side|toolbar|print|related|"
    r"copyright|banner|search|login|position|location|bread|links|friend",
    re.IGNORECASE,
)
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v]+")
_WIDE_GAP = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


def decode_html(data: bytes, content_type: str | None) -> str:
    """Charset from the HTTP header, a BOM or <meta>; GB2312/GBK labels read as GB18030."""
    label = None
    if content_type and (found := re.search(r"charset=([\w\-]+)", content_type, re.I)):
        label = found.group(1)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if label is None and (meta := _CHARSET_RE.search(data[:8192])):
        label = meta.group(1).decode("ascii")
    label = (label or "").lower()
    if label in ("gb2312", "gbk", "gb18030", "x-gbk", "cp936", "gb_2312-80", "euc-cn"):
        return data.decode("gb18030", errors="replace")
    if label and label not in ("utf-8", "utf8"):
        try:
            return data.decode(label, errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _is_hidden(element: Any) -> bool:
    return bool(_HIDDEN.search(element.get("style") or "")) or element.get("hidden") is not None


def _chrome_named(element: Any) -> bool:
    name = f"{element.get('class') or ''} {element.get('id') or ''}"
    return bool(name.strip()) and bool(_CHROME_NAME.search(name))


def _text_of(element: Any) -> str:
    return _SPACE_RUN.sub(" ", element.text_content() or "").strip()


def _lines(element: Any) -> list[str]:
    """Block elements and <br> end lines; inline text runs together."""
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = _WIDE_GAP.sub("", _SPACE_RUN.sub(" ", "".join(current))).strip()
        if text:
            out.append(text)
        current.clear()

    def walk(node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _SKIP or (tag and _is_hidden(node)):
            return
        block = tag in _BLOCKS
        if block:
            flush()
        if tag == "br":
            flush()
        elif node.text and tag:
            current.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                current.append(child.tail)
        if block:
            flush()

    walk(element)
    flush()
    return out


def _score(element: Any) -> float:
    """Text in the element's own paragraphs (and loose text), links counted at a tenth."""
    own = 0.0
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _PARAGRAPHS or (tag in ("div", "span", "font") and len(child) <= 3):
            text = _text_of(child)
            links = sum(len(_text_of(a)) for a in child.iter("a"))
            own += max(len(text) - 0.9 * links, 0)
        if child.tail:
            own += len(child.tail.strip())
    if element.text:
        own += len(element.text.strip())
    return own


def _main(root: Any) -> Any:
    best, best_score = root, 0.0
    for element in root.iter(*_CONTAINERS):
        if _is_hidden(element) or any(
            _chrome_named(a) for a in [element, *element.iterancestors()]
        ):
            continue
        score = _score(element)
        if score > best_score:
            best, best_score = element, score
    return best


def _outside_title(root: Any, main: Any) -> str | None:
    """The page's own title heading when the site renders it outside the main text."""
    for element in root.iter("h1", "h2", "h3", "div", "p", "td", "span"):
        tag = element.tag
        name = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
        if tag not in ("h1", "h2", "h3") and "title" not in name and "bt" not in name.split():
            continue
        if main in element.iterancestors() or element is main:
            continue
        text = _text_of(element)
        if is_title(text) and len(text) >= 8:
            return text
    return None


def html_text(data: bytes, content_type: str | None = None) -> str:
    text = _XML_DECLARATION.sub("", decode_html(data, content_type))
    if not text.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):  # nothing but comments, or no markup at all
        return ""
    main = _main(root)
    try:
        lines = _lines(main)
    except RecursionError:  # nesting deeper than the parser's own limit: keep the bare text
        lines = [line for line in _text_of(main).splitlines() if line.strip()]
    title = _outside_title(root, main)
    if title and title not in lines[:8]:
        lines.insert(0, title)
    return "\n".join(lines)
