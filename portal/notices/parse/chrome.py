"""Website text pasted along with a notice: headers, metadata blocks, breadcrumbs, bylines,
share and print widgets, footers. None of it is ever published.

Two strengths: `is_website_text` is sure wherever the line stands (nothing in a notice reads
"浏览次数：" or "当前位置：首页 >"); `is_footer` also takes lines that would be ordinary after a
signature (the website owner's address, a list of links) and is only asked about the lines
after the notice's date.
"""

from __future__ import annotations

import re

from portal.notices.parse.patterns import (
    SIGNATURE_TAIL_RE,
    WHITESPACE,
    Line,
    is_structural,
    is_title,
    looks_like_signature,
)

FOOTER_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"版权所有|copyright|©",
        r"ICP\s*[备证]",
        r"网站地图",
        r"主办(?:单位)?\s*[:：]|主办单位",
        r"承办(?:单位)?\s*[:：]|承办单位",
        r"技术支持",
        r"联系地址",
        r"邮政编码",
        r"纪委|监委|纪律检查委员会|监察委员会|纪检监察",
        r"网站标识码",
        r"公网安备|公安备案",
        r"联系我们|关于我们|网站声明|隐私政策|返回顶部|打印本页|关闭窗口|分享到|浏览次数|访问量",
    )
)

_BULLETS = "•·●◆■▪▫○◇-"
_METADATA_LABELS = (
    "信息索引号|索引号|内容分类|信息分类|主题分类|体裁分类|组配分类|服务对象|发布机构|发文机关|"
    "发文单位|成文日期|发文日期|发布日期|生成日期|公开日期|印发日期|公开方式|公开范围|公开时限|"
    "公开类别|公开形式|文件名称|文件编号|名\\s*称|标\\s*题|文\\s*号|发文字号|关键词|主题词|有效性|"
    "时效性|信息来源|所属机构|责任部门|分\\s*类|来\\s*源"
)
_METADATA_RE = re.compile(rf"^[{_BULLETS}]?\s*(?:{_METADATA_LABELS})\s*[:：]")
_METADATA_EMPTY_RE = re.compile(rf"^[{_BULLETS}]?\s*(?:{_METADATA_LABELS})\s*[:：]\s*$")
_BREADCRUMB_RE = re.compile(
    r"^(?:当前位置|您的位置|你的位置|您现在的位置|您当前的位置|当前的位置|所在位置|位置)\s*[:：]"
    r"|首页\s*[>＞»›/]"
)
_BYLINE_LABELS = re.compile(
    r"(日期|来源|发布时间|发布日期|更新时间|浏览量|浏览次数|阅读量|阅读次数|访问量|点击数|点击量|"
    r"作者|责任编辑|编辑|字号|字体|分享|打印|关闭|收藏|朗读)\s*[:：]?"
)
_BYLINE_START_RE = re.compile(
    r"^(?:日期|来源|信息来源|发布时间|发布日期|更新时间|作者|责任编辑|编辑|浏览次数|浏览量|"
    r"阅读次数|点击数)\s*[:：]"
)
_SURE_RE = re.compile(
    r"扫一扫|在手机打开|手机扫码|用手机扫|^上一篇|^下一篇|^相关链接|^相关文章|^相关阅读|^相关附件链接|"
    r"网站地图|网站声明|网站标识码|版权所有|[Cc]opyright|©|ICP\s*[备证]|公网安备|公安备案|"
    r"技术支持\s*[:：]|^(?:主办|承办|协办)(?:单位)?\s*[:：]|政府网站找错|无障碍浏览|"
    r"浏览次数|浏览量\s*[:：]|阅读次数|访问量\s*[:：]|点击量\s*[:：]|分享到|[【\[]\s*(?:字体|字号)|"
    r"字号\s*[:：]?\s*[【\[]?\s*大\s*中\s*小"
)
# Registration numbers no sentence of a notice holds (a line with "。" is dropped only for these).
_SITE_IDS_RE = re.compile(r"ICP\s*[备证]\s*\d|公网安备\s*\d|网站标识码\s*[:：]?\s*\d")
_WIDGETS_RE = re.compile(
    r"打印本页|打印此页|打印文章|打印|关闭窗口|关闭本页|关闭|返回顶部|返回列表|返回|加入收藏|收藏本页|"
    r"收藏|分享到|分享|字体|字号|默认|朗读|微信|微博|QQ空间|[大中小]"
)
_SITE_NAME_RE = re.compile(r"^[^\s，,。：:；;]{2,30}(?:门户网站|门户网|政府网|官方网站|官网|网站)$")
_TAIL_LABEL_RE = re.compile(
    r"^(?:地址|网站地址|单位地址|办公地址|通讯地址|电话|联系电话|传真|邮编|邮政编码|电子邮箱|邮箱|"
    r"[Ee]-?mail)\s*[:：]"
)
_ISO_DATE_RE = re.compile(
    r"^\d{4}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_SENTENCE_MARKS = re.compile(r"[。；;，,]")


_ANY_FOOTER = re.compile("|".join(f"(?:{p.pattern})" for p in FOOTER_PATTERNS), re.IGNORECASE)


def is_footer(text: str) -> bool:
    """Any of FOOTER_PATTERNS (one search over their union)."""
    return bool(_ANY_FOOTER.search(text))


def _is_nav(text: str) -> bool:
    """ "首页 | 政务公开 | 政务服务" or "首页　机构概况　信息公开　互动交流": a menu."""
    if len(text) > 100 or _SENTENCE_MARKS.search(text):
        return False
    tokens = [token for token in re.split(r"[|｜\s\u3000]+", text) if token]
    if len(tokens) < 3 or any(len(token) > 10 for token in tokens):
        return False
    return "首页" in tokens or text.count("|") + text.count("｜") >= 2


def _is_widgets(text: str) -> bool:
    """ "【打印本页】【关闭窗口】", "字号：大 中 小", "分享到：": nothing but page controls."""
    if len(text) > 60:
        return False
    rest = _WIDGETS_RE.sub("", text)
    return not re.sub(r"[【】\[\]|｜:：/\s\u3000·•]", "", rest)


def _is_byline(text: str) -> bool:
    if len(text) > 200 or "。" in text:
        return False
    if _BYLINE_START_RE.match(text):
        return True
    return len({match.group(1) for match in _BYLINE_LABELS.finditer(text)}) >= 2


def is_website_text(text: str) -> bool:
    """Text no notice contains, wherever it stands: metadata, breadcrumbs, bylines, widgets."""
    if len(text) > 160 or is_structural(text):
        return False
    if "。" in text:  # a sentence: only a site's registration numbers can tell
        return bool(_SITE_IDS_RE.search(text))
    return bool(
        _METADATA_RE.match(text)
        or _BREADCRUMB_RE.search(text)
        or _SURE_RE.search(text)
        or _is_byline(text)
        or _is_widgets(text)
        or _is_nav(text)
        or (len(text) <= 36 and _SITE_NAME_RE.match(text))
    )


def is_tail_text(text: str) -> bool:
    """After the signature date: a footer, website text, the site owner's contacts, links."""
    if is_footer(text) or is_website_text(text) or _TAIL_LABEL_RE.match(text):
        return True
    if len(text) > 80 or _SENTENCE_MARKS.search(text):
        return False
    tokens = [token for token in re.split(r"[|｜\s\u3000]+", text) if token]
    return len(tokens) >= 3 and all(2 <= len(token) <= 15 for token in tokens)


def website_lines(lines: list[Line]) -> set[int]:
    """Indexes of lines that are website text, with the values of empty metadata labels
    ("• 成文日期:" then "2024-01-22" alone on the next line)."""
    found: set[int] = set()
    index = 0
    while index < len(lines):
        text = lines[index].text
        if is_website_text(text):
            found.add(index)
            nxt = index + 1
            if (
                _METADATA_EMPTY_RE.match(text)
                and nxt < len(lines)
                and not _METADATA_RE.match(lines[nxt].text)
                and _is_metadata_value(lines[nxt].text)
            ):
                found.add(nxt)
                index = nxt
        index += 1
    return found


def _is_metadata_value(text: str) -> bool:
    return len(text) <= 100 and "。" not in text and not is_structural(text)


def _chromeish(text: str) -> bool:
    """What may stand above a notice's title on a web page: short, no sentence, no numbering."""
    return len(text) <= 100 and "。" not in text and not is_structural(text)


def head_chrome(lines: list[Line]) -> tuple[int, set[int]]:
    """Where the notice starts, and the lines above it or repeating its title to drop.

    The title is the last title-like line before the first sentence (the metadata block may
    repeat it as "文件名称："); everything above it that could be page furniture is dropped,
    and so is a bare ISO date or a repeat of the title between it and the text.
    """
    limit = min(len(lines), 40)
    candidates = []
    for index in range(limit):
        text = lines[index].text
        if not _chromeish(text):
            break
        if is_title(text) and not is_website_text(text):
            candidates.append(index)
    if not candidates:
        return 0, set()
    start = candidates[-1]
    title_text = lines[start].text
    following = start + 1
    if start > 0 and title_text.startswith("关于"):
        issuer = lines[start - 1].text
        if looks_like_signature(issuer) and SIGNATURE_TAIL_RE.search(issuer):
            start -= 1  # "中共某局党组" above "关于…的通报": a title on two lines
    dropped = set(range(start))
    while following < len(lines):
        text = lines[following].text
        if text == title_text or _ISO_DATE_RE.match(text.strip(WHITESPACE)):
            dropped.add(following)
            following += 1
            continue
        break
    return start, dropped
