"""Remove personal data from a text before it is published: names, phones, emails, ID numbers.

Pure logic, no Flask. It errs on the side of removing too much: an editor reads and edits
the result before anything is published, and a lost word costs less than a leaked name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["NAME", "anonymise"]

NAME = "[姓名]"
PHONE = "[电话]"
EMAIL = "[邮箱]"
ID_NUMBER = "[证件号]"
NUMBER = "[号码]"

# Full-width digits and signs to ASCII, one character for one, so positions stay put.
_WIDTH = str.maketrans("０１２３４５６７８９＠．－＋（）", "0123456789@.-+()")

# Common single-character surnames. Left out on purpose: characters that mostly start
# ordinary words in front of a title (管理处处长, 党组书记, 分局长, 双方主任...).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金廖贾夏韦付邱侯邹熊孟秦白江阎薛尹段雷黎史龙"
    "陶贺顾毛郝龚邵万钱严覃武戴莫孔汤尤易葛欧温柳庞殷祝卜凌骆钮滕倪蒙甘聂晏颜鲁邝麦"
    "佘岑翟詹霍区植冼伍古"
)
_TITLES = (
    "先生|女士|小姐|同志|师傅|阿姨|大爷|大妈|老师|律师|医生|警官|检察官|法官|书记|"
    "主任|院长|局长|处长|科长|所长|队长|股长|站长|村长|镇长|区长|市长|部长|经理|总"
)
_TITLE = re.compile(f"(?:{_TITLES})")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# "我叫张三", "联系人：李四": the words after the label are a name.
_INTRO = re.compile(
    r"(我叫|我的名字是|本人叫|本人名叫|(?:姓名|联系人|举报人|反映人|署名|落款)\s*[:：])"
    r"\s*[\u4e00-\u9fff·]{2,4}"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[\s-]?\d{7,8}(?!\d)")
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[\s-]?\d){6,}(?!\d)")  # cards, QQ, licence plates...
_ACCOUNT = re.compile(
    r"((?:QQ|qq|微信|微信号|wechat|WeChat)(?:号)?\s*[:：]?\s*)[A-Za-z0-9_\-]{5,20}"
)
_HOUSE = re.compile(r"(?<=[路街巷道村弄里])\d+(?:[之\-]\d+)?号(?:\d+(?:栋|座|幢|楼|单元|室|房))*")


def _titled_names(text: str) -> str:
    """王科长 -> 某科长, 王小明主任 -> 某主任: a surname and up to two more characters
    right before a title; the closest surname wins so 向王局长 keeps its 向."""
    out = text
    for match in reversed(list(_TITLE.finditer(text))):
        end = match.start()
        for size in (1, 2, 3):
            start = end - size
            if start < 0 or not all(_HAN.match(c) for c in text[start:end]):
                break
            if text[start] in _SURNAMES:
                out = out[:start] + "某" + out[end:]
                break
    return out


def anonymise(text: str, names: Iterable[str | None] = ()) -> str:
    """``text`` with personal data replaced by placeholders such as [电话] and 某科长.

    ``names`` are names known to belong to people in this case (the submitter's contact
    name): every occurrence goes, whatever surrounds it.
    """
    out = text.translate(_WIDTH)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len)[::-1]:
        out = out.replace(name, NAME)
    out = _EMAIL.sub(EMAIL, out)
    out = _ACCOUNT.sub(lambda m: m.group(1) + NUMBER, out)
    out = _ID.sub(ID_NUMBER, out)
    out = _MOBILE.sub(PHONE, out)
    out = _LANDLINE.sub(PHONE, out)
    out = _LONG_NUMBER.sub(NUMBER, out)
    out = _HOUSE.sub("某号", out)
    out = _INTRO.sub(lambda m: m.group(1) + NAME, out)
    return _titled_names(out)
