"""HTML sanitiser: an XSS corpus (OWASP filter-evasion cheat sheet) and text helpers."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.intake.sanitize import clean_html, html_to_text, normalise_text

# What a browser may see in cleaned output: formatting only, links with safe schemes.
SAFE_TAGS = {
    "p", "br", "div", "span", "b", "strong", "i", "em", "u", "a", "ul", "ol", "li",
    "blockquote", "pre", "code", "table", "thead", "tbody", "tr", "td", "th",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
SAFE_ATTRS = {"a": {"href", "title", "rel"}}
SAFE_SCHEMES = {"http", "https", "mailto"}

XSS_VECTORS = [
    "<SCRIPT SRC=https://xss.rocks/xss.js></SCRIPT>",
    "<script>alert('XSS')</script>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114'
    "&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116"
    '&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65">x</a>',
    '<a href="jav\tascript:alert(1);">tab</a>',
    '<a href="jav&#x09;ascript:alert(1);">encoded tab</a>',
    '<a href="jav&#x0A;ascript:alert(1);">encoded newline</a>',
    '<a href="jav&#x0D;ascript:alert(1);">encoded CR</a>',
    '<a href=" &#14;  javascript:alert(1);">leading junk</a>',
    '<a href="java\x00script:alert(1)">null byte</a>',
    '<a href="javascript&colon;alert(1)">colon entity</a>',
    '<a href="vbscript:msgbox(1)">vbscript</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">DATA upper</a>',
    '<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
    "<IMG SRC=\"`<javascript:alert>`('XSS')\"",
    "<iframe src=http://xss.rocks/scriptlet.html <",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<svg/onload=alert('XSS')>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph>",
    '<math><a xlink:href="javascript:alert(1)">click</a></math>',
    "<BODY ONLOAD=alert('XSS')>",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD4=">',
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    '<TABLE BACKGROUND="javascript:alert(\'XSS\')"><TD BACKGROUND="javascript:alert(1)">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH" AllowScriptAccess=always>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    '<XSS STYLE="behavior: url(xss.htc);">',
    "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->",
    '<a href="https://ok.example" onclick="alert(1)" style="x">ok</a>',
    "<p/onmouseover=alert(1)>para</p>",
    "<div><p>unclosed <b>nested <i>tags <script>alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<a href="javascript:alert(1)"<b>broken</a>',
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    '<a href="\x01javascript:alert(1)">ctrl</a>',
]


SOUP_TOKENS = [
    "<", ">", "a", "script", "img", "svg", " ", "on", "error", "=", '"', "'",
    "javascript:", "&#x09;", "href", "/", "alert(1)", "<a ", "<p>", "</",
]  # fmt: skip


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _scheme(url: str) -> str | None:
    # What a browser does: drop control/space characters, then read the scheme.
    compact = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(url))
    found = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", compact)
    return found.group(1).lower() if found else None


def assert_inert(output: str) -> None:
    collector = _Collector()
    collector.feed(output)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag in SAFE_TAGS, f"tag {tag!r} survived in {output!r}"
        for name, value in attrs:
            assert name in SAFE_ATTRS.get(tag, set()), f"attribute {name!r} on {tag!r}"
            if name == "href" and value is not None:
                scheme = _scheme(value)
                assert scheme is None or scheme in SAFE_SCHEMES, f"href {value!r}"
    lowered = output.lower()
    for marker in ("<script", "javascript:", "vbscript:", "onerror", "onload", "expression("):
        # Text content is escaped, so these may only appear inside &lt;…&gt; text.
        for found in re.finditer(re.escape(marker), lowered):
            before = lowered[: found.start()]
            assert before.rfind("<") <= before.rfind(">"), f"{marker!r} inside a tag: {output!r}"


def test_corpus_has_at_least_forty_vectors() -> None:
    assert len(XSS_VECTORS) >= 40


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_is_inert(vector: str) -> None:
    assert_inert(clean_html(vector))


@pytest.mark.parametrize("vector", XSS_VECTORS[:10])
def test_checker_rejects_raw_vectors(vector: str) -> None:
    """The inertness check itself must catch the raw attack, or it proves nothing."""
    with pytest.raises(AssertionError):
        assert_inert(vector)


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_inert_inside_ordinary_mail(vector: str) -> None:
    out = clean_html(f"<div><p>意见正文</p>{vector}<p>结尾</p></div>")
    assert_inert(out)
    assert "意见正文" in out


def test_script_and_style_content_is_removed_not_shown() -> None:
    out = clean_html("<p>a</p><script>var secret = 1;</script><style>p{color:red}</style><p>b</p>")
    assert "secret" not in out and "color" not in out
    assert html_to_text(out) == "a\n\nb"


@pytest.mark.parametrize("tag", ["iframe", "object", "form", "textarea"])
def test_dangerous_containers_drop_their_content(tag: str) -> None:
    out = clean_html(f"<p>keep</p><{tag}>hidden payload</{tag}>")
    assert "keep" in out and "hidden payload" not in out


def test_ordinary_formatting_survives() -> None:
    source = (
        "<h2>标题</h2><p>第一段<b>加粗</b><strong>强调</strong><i>斜</i><em>em</em><u>下划</u></p>"
        "<ul><li>一</li><li>二</li></ul><ol><li>三</li></ol><blockquote>引用</blockquote>"
        "<pre><code>x = 1</code></pre><table><thead><tr><th>头</th></tr></thead>"
        "<tbody><tr><td>格</td></tr></tbody></table><span>s</span><br>"
    )
    out = clean_html(source)
    for fragment in (
        "<h2>标题</h2>", "<b>加粗</b>", "<strong>强调</strong>", "<i>斜</i>", "<em>em</em>",
        "<u>下划</u>", "<li>一</li>", "<blockquote>引用</blockquote>", "<code>x = 1</code>",
        "<th>头</th>", "<td>格</td>", "<br>",
    ):  # fmt: skip
        assert fragment in out


@pytest.mark.parametrize(
    "href", ["https://www.gov.cn/a?b=1&c=2", "http://example.com/", "mailto:jubao@example.cn"]
)
def test_safe_links_survive_with_rel(href: str) -> None:
    out = clean_html(f'<a href="{html.escape(href)}" title="说明">链接</a>')
    collector = _Collector()
    collector.feed(out)
    ((tag, attrs),) = collector.tags
    found = dict(attrs)
    assert tag == "a" and found["href"] == href and found["title"] == "说明"
    assert set((found["rel"] or "").split()) == {"noopener", "noreferrer", "nofollow"}


def test_images_are_removed() -> None:
    assert "<img" not in clean_html('<p>x<img src="https://example.com/a.png"></p>')


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_comes_out_inert(text: str) -> None:
    assert_inert(clean_html(text))


@given(st.lists(st.sampled_from(SOUP_TOKENS), max_size=40))
@settings(max_examples=300, deadline=None)
def test_token_soup_comes_out_inert(tokens: list[str]) -> None:
    assert_inert(clean_html("".join(tokens)))


# --- html_to_text --------------------------------------------------------------------


def test_html_to_text_blocks_breaks_and_entities() -> None:
    text = html_to_text(
        "<html><head><title>t</title><style>p{}</style></head><body>"
        "<p>第一段&nbsp;内容 &amp; 更多</p><div>行一<br>行二</div>"
        "<ul><li>甲</li><li>乙</li></ul><p>a &lt; b</p></body></html>"
    )
    assert text == "第一段 内容 & 更多\n\n行一\n行二\n\n- 甲\n- 乙\n\na < b"


def test_html_to_text_collapses_source_whitespace() -> None:
    assert html_to_text("<p>  many\n\n   spaces\there  </p>") == "many spaces here"


def test_html_to_text_skips_script_content() -> None:
    assert html_to_text("<p>ok</p><script>alert(1)</script>") == "ok"


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_html_to_text_never_leaves_tags(text: str) -> None:
    out = html_to_text(text)
    collector = _Collector()
    collector.feed(html.escape(out, quote=False))  # escaped text must round-trip as data
    assert not collector.tags
    assert "\r" not in out


# --- normalise_text ------------------------------------------------------------------


def test_normalise_text() -> None:
    assert normalise_text("\ufeff第一行\r\n第二行\r第三行") == "第一行\n第二行\n第三行"
    assert normalise_text("a\x00b\x07c\td\ne\x1b") == "abc\td\ne"
    assert normalise_text("e\u0301") == "\u00e9"  # NFC
    assert normalise_text("bad\udcff surrogate") == "bad surrogate"


@given(st.text())
@settings(max_examples=200, deadline=None)
def test_normalise_text_is_idempotent_and_encodable(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
    once.encode("utf-8")
    assert "\r" not in once


@pytest.mark.parametrize(
    "hostile",
    [
        "<div>深" * 50_000,  # unclosed nesting: html5ever is quadratic in depth
        "<a " * 50_000,  # html.parser is quadratic on unterminated tags
        "<!--" * 50_000,
        "<p>段" * 50_000,
        "<b><i>x" * 30_000,
    ],
)
def test_hostile_markup_comes_out_inert(hostile: str) -> None:
    # How long it takes is measured by bench/parsers.py, not asserted here.
    out, text = clean_html(hostile), html_to_text(hostile)
    assert_inert(out)
    assert "<" not in text


def test_deep_but_legitimate_nesting_keeps_formatting() -> None:
    source = "<div>" * 40 + "<p>深层<b>加粗</b></p>" + "</div>" * 40
    assert "<b>加粗</b>" in clean_html(source)
    assert html_to_text(source) == "深层加粗"
