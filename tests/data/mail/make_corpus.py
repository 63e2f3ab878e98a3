# ruff: noqa: E501  (generated messages read best one per call)
"""Regenerate the raw mail corpus: `.venv/bin/python tests/data/mail/make_corpus.py`.

Each message is written byte by byte the way a real client sends it (labels, transfer
encodings and mistakes included); expected.json holds, per file, what a reader of that
mail sees: sender, subject, words of the body, attachment names, whether it is machine
mail, whether it must be quarantined, and which of our messages a bounce reports.
"""

from __future__ import annotations

import base64
import json
import quopri
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CORPUS: list[tuple[str, bytes, dict[str, Any]]] = []
DATE = "Mon, 05 Feb 2024 09:30:00 +0800"
PORTAL = "yijian@portal.example"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # tiny JPEG-shaped bytes
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def b64(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def qp(data: bytes) -> bytes:
    return quopri.encodestring(data).replace(b"\n", b"\r\n")


def ew(text: str, charset: str = "utf-8", kind: str = "B") -> str:
    """One RFC 2047 encoded word."""
    raw = text.encode("gb18030" if charset.lower() in ("gb2312", "gbk") else charset)
    if kind == "B":
        return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="
    body = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"={b:02X}" for b in raw)
    return f"=?{charset}?Q?{body}?="


def head(**fields: str | bytes) -> bytes:
    """Header block; keyword names use '_' for '-', values may be raw bytes (8-bit)."""
    lines = []
    for name, value in fields.items():
        key = name.replace("_", "-")
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(key.encode() + b": " + raw)
    return b"\r\n".join(lines) + b"\r\n"


def std(subject: str | bytes, sender: str, msgid: str | None, **more: str | bytes) -> bytes:
    fields: dict[str, str | bytes] = {"From": sender, "To": PORTAL, "Subject": subject}
    fields["Date"] = more.pop("Date", DATE)
    if msgid:
        fields["Message_ID"] = f"<{msgid}>"
    fields["MIME_Version"] = "1.0"
    fields.update(more)
    return head(**fields)


def part(ctype: str, body: bytes, cte: str | None = None, **more: str) -> bytes:
    fields: dict[str, str | bytes] = {"Content_Type": ctype}
    if cte:
        fields["Content_Transfer_Encoding"] = cte
    fields.update(more)
    return head(**fields) + b"\r\n" + body + b"\r\n"


def multipart(boundary: str, *parts: bytes) -> bytes:
    b = boundary.encode()
    out = b"This is a multi-part message in MIME format.\r\n\r\n"
    for p in parts:
        out += b"--" + b + b"\r\n" + p
    return out + b"--" + b + b"--\r\n"


def add(name: str, raw: bytes, **expect: Any) -> None:
    entry: dict[str, Any] = {
        "sender": None,
        "sender_name": None,
        "subject": "",
        "text_contains": [],
        "attachments": [],
        "auto_reason": None,
        "quarantine": False,
        "bounced_ids": [],
    }
    entry.update(expect)
    CORPUS.append((name, raw, entry))


def person_mails() -> None:
    # 1 QQ Mail: GBK, HTML only, base64, 镕 (outside GB2312).
    html = "<div>领导您好：</div><div>关于朱镕基路段<b>违规停车</b>的问题，整改没有落实。</div>"
    add(
        "qq_gbk_html_only",
        std(ew("关于违规停车问题的意见", "gbk"), f'"{ew("王小明", "gbk")}" <10001@qq.com>',
            "tencent_1A2B3C@qq.com", X_Mailer="QQMail 2.x")
        + part('text/html; charset="gbk"', b64(html.encode("gbk")), "base64"),
        sender="10001@qq.com", sender_name="王小明", subject="关于违规停车问题的意见",
        text_contains=["朱镕基路段违规停车的问题", "领导您好"], html_contains=["<b>违规停车</b>"],
        message_id="tencent_1A2B3C@qq.com",
    )  # fmt: skip
    # 2 Foxmail: labelled gb2312 but uses 䶮 (GB18030 only) and 镕.
    plain = "我叫刘䶮，住在镕城小区，反映第3项整改情况。"
    add(
        "foxmail_gb2312_gb18030_char",
        std(ew("反映整改情况", "gb2312"), f"{ew('刘䶮', 'gb2312')} <liuyan@foxmail.com>",
            "202402050930001234@foxmail.com", X_Mailer="Foxmail 7.2.25.228[cn]",
            Content_Type='multipart/alternative; boundary="----=_001_NextPart_fox"')
        + b"\r\n"
        + multipart("----=_001_NextPart_fox",
                    part('text/plain; charset="gb2312"', b64(plain.encode("gb18030")), "base64"),
                    part('text/html; charset="gb2312"',
                         b64(f"<html><body><p>{plain}</p></body></html>".encode("gb18030")),
                         "base64")),
        sender="liuyan@foxmail.com", sender_name="刘䶮", subject="反映整改情况",
        text_contains=["我叫刘䶮，住在镕城小区"], html_contains=["刘䶮"],
    )  # fmt: skip
    # 3 Big5 from Taiwan, quoted-printable.
    add(
        "big5_taiwan",
        std(ew("對整改的意見", "big5"), "=?big5?Q?=B3=AF=A4j=A4=E5?= <chen@hinet.net>",
            "tw-0001@hinet.net", Content_Type="text/plain; charset=big5",
            Content_Transfer_Encoding="quoted-printable")
        + b"\r\n" + qp("臺灣同胞對第二項整改措施提出意見：請公開進度。".encode("big5")),
        sender="chen@hinet.net", sender_name="陳大文", subject="對整改的意見",
        text_contains=["臺灣同胞對第二項整改措施提出意見"],
    )  # fmt: skip
    # 4 Big5-HKSCS from Hong Kong (㗎 exists only in HKSCS).
    add(
        "big5_hkscs_hongkong",
        std(ew("香港市民意見", "big5hkscs").replace("big5hkscs", "big5-hkscs"),
            "hk.resident@netvigator.com", "hk-77@netvigator.com",
            Content_Type="text/plain; charset=BIG5-HKSCS", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "呢個整改做得唔錯㗎，多謝。\r\n".encode("big5hkscs"),
        sender="hk.resident@netvigator.com", subject="香港市民意見",
        text_contains=["呢個整改做得唔錯㗎"],
    )  # fmt: skip
    # 5-7 misspelled UTF-8 labels.
    for name, label in (
        ("utf8_label", "utf8"),
        ("unicode_1_1_utf8_label", "unicode-1-1-utf-8"),
        ("utf_8_quoted_spaces_label", '" UTF_8 "'),
    ):
        add(
            name,
            std(ew("标签写错的邮件"), "zhang@163.com", f"{name}@163.com",
                Content_Type=f"text/plain; charset={label}", Content_Transfer_Encoding="base64")
            + b"\r\n" + b64("标签拼写不规范，但正文是UTF-8：整改请公开。".encode()),
            sender="zhang@163.com", subject="标签写错的邮件",
            text_contains=["正文是UTF-8：整改请公开"],
        )  # fmt: skip
    # 8 no charset at all, 8-bit GBK body.
    add(
        "no_charset_gbk_bytes",
        std("No charset", "li@126.com", "nocharset@126.com", Content_Type="text/plain",
            Content_Transfer_Encoding="8bit")
        + b"\r\n" + "没有声明字符集的国标码正文，镕字也在。\r\n".encode("gbk"),
        sender="li@126.com", subject="No charset",
        text_contains=["没有声明字符集的国标码正文，镕字也在"],
    )  # fmt: skip
    # 9 no Content-Type header at all, raw UTF-8.
    add(
        "no_content_type_utf8",
        head(From="wang@sina.com", To=PORTAL, Subject="plain", Date=DATE,
             Message_ID="<noct@sina.com>")
        + b"\r\n" + "没有Content-Type头的邮件。\r\n".encode(),
        sender="wang@sina.com", subject="plain", text_contains=["没有Content-Type头的邮件"],
    )  # fmt: skip
    # 10 unknown charset label over UTF-8 bytes.
    add(
        "unknown_charset_label",
        std("Unknown charset", "zhao@sohu.com", "unk@sohu.com",
            Content_Type="text/plain; charset=x-chinese-foo", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "未知标签，内容其实是UTF-8。\r\n".encode(),
        sender="zhao@sohu.com", subject="Unknown charset",
        text_contains=["未知标签，内容其实是UTF-8"], has_problems=True,
    )  # fmt: skip
    # 11 RFC 2047 B words split in the middle of a UTF-8 character.
    raw = "关于第五项整改的建议".encode()
    split = 7  # inside the third character
    subject = (f"=?UTF-8?B?{base64.b64encode(raw[:split]).decode()}?=\r\n"
               f" =?UTF-8?B?{base64.b64encode(raw[split:]).decode()}?=")  # fmt: skip
    add(
        "rfc2047_b_split_word",
        std(subject, f"{ew('周')}{ew('先生')} <zhou@outlook.com>", "split-b@outlook.com",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "正文。建议增加公示期限。\r\n".encode(),
        sender="zhou@outlook.com", sender_name="周先生", subject="关于第五项整改的建议",
        text_contains=["建议增加公示期限"],
    )  # fmt: skip
    # 12 RFC 2047 Q words (gb2312) split mid character.
    raw = "投诉举报材料".encode("gb2312")
    q1 = "".join(f"={b:02X}" for b in raw[:5])
    q2 = "".join(f"={b:02X}" for b in raw[5:])
    add(
        "rfc2047_q_split_word",
        std(f"=?gb2312?Q?{q1}?= =?gb2312?Q?{q2}?=", "sun@yeah.net", "split-q@yeah.net",
            Content_Type="text/plain; charset=gb2312", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "附件为投诉材料的文字版。\r\n".encode("gb2312"),
        sender="sun@yeah.net", subject="投诉举报材料", text_contains=["投诉材料的文字版"],
    )  # fmt: skip
    # 13 raw 8-bit UTF-8 Subject and From display name.
    add(
        "raw_8bit_utf8_subject",
        std("关于食堂浪费问题".encode(), "吴女士 <wu@qq.com>".encode(), "raw8@qq.com",
            Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "食堂浪费严重，请整改。\r\n".encode(),
        sender="wu@qq.com", sender_name="吴女士", subject="关于食堂浪费问题",
        text_contains=["食堂浪费严重"],
    )  # fmt: skip
    # 14 raw 8-bit GBK Subject.
    add(
        "raw_8bit_gbk_subject",
        std("国标码主题：公车私用".encode("gbk"), "zheng@139.com", "rawgbk@139.com",
            Content_Type="text/plain; charset=gbk", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "公车私用的问题仍然存在。\r\n".encode("gbk"),
        sender="zheng@139.com", subject="国标码主题：公车私用", text_contains=["公车私用的问题"],
    )  # fmt: skip
    # 15 broken base64: garbage characters and a missing padding.
    good = b64("第一段能解出来：整改不到位。".encode())
    add(
        "broken_base64",
        std("Broken base64", "feng@263.net", "b64bad@263.net",
            Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="base64")
        + b"\r\n" + good[:12] + b"!!**" + good[12:].rstrip(b"=") + b"\r\n",
        sender="feng@263.net", subject="Broken base64", text_contains=["整改不到位"],
        has_problems=True,
    )  # fmt: skip
    # 16 broken quoted-printable: invalid escapes stay literal.
    add(
        "broken_quoted_printable",
        std("Broken QP", "chu@21cn.com", "qpbad@21cn.com",
            Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="quoted-printable")
        + b"\r\n" + qp("整改率100%".encode()) + b" =ZZ =4 end\r\n",
        sender="chu@21cn.com", subject="Broken QP", text_contains=["整改率100%"],
        has_problems=True,
    )  # fmt: skip
    # 17 forwarded message/rfc822 with its own attachment.
    inner = (
        std(ew("原始举报"), f"{ew('举报人甲')} <jia@qq.com>", "inner-1@qq.com",
            Content_Type='multipart/mixed; boundary="inner"')
        + b"\r\n"
        + multipart("inner",
                    part("text/plain; charset=utf-8", "原件：某单位违规发放补贴。".encode(),
                         "8bit"),
                    part("application/pdf", b64(PDF), "base64",
                         Content_Disposition='attachment; filename="evidence.pdf"'))
    )  # fmt: skip
    add(
        "forwarded_rfc822",
        std(ew("转发：原始举报"), "forwarder@163.com", "fwd-1@163.com",
            Content_Type='multipart/mixed; boundary="outer"')
        + b"\r\n"
        + multipart("outer",
                    part("text/plain; charset=utf-8", "请看下面转发的举报。".encode(), "8bit"),
                    part("message/rfc822", inner, None,
                         Content_Disposition='attachment; filename="fwd.eml"')),
        sender="forwarder@163.com", subject="转发：原始举报",
        text_contains=["请看下面转发的举报", "---- 转发的邮件 ----", "举报人甲",
                       "原始举报", "某单位违规发放补贴"],
        attachments=["evidence.pdf"],
    )  # fmt: skip
    # message/rfc822 sent base64-encoded (not allowed by RFC 2046, but some clients do it).
    inner64 = (
        std("Original", "origin@126.com", "inner-64@126.com",
            Content_Type="text/plain; charset=gbk", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "被转发的国标码原文。".encode("gbk")
    )  # fmt: skip
    add(
        "forwarded_rfc822_base64",
        std("FW: Original", "fw64@outlook.com", "fw-64@outlook.com",
            Content_Type='multipart/mixed; boundary="o64"')
        + b"\r\n"
        + multipart("o64",
                    part("text/plain; charset=utf-8", "转发一下。".encode(), "8bit"),
                    part("message/rfc822", b64(inner64), "base64")),
        sender="fw64@outlook.com", subject="FW: Original",
        text_contains=["转发一下", "---- 转发的邮件 ----\n发件人: origin@126.com\n主题: Original",
                       "被转发的国标码原文"],
    )  # fmt: skip
    # 18 iPhone: alternative(plain, related(html, inline jpeg)).
    related = (
        head(Content_Type='multipart/related; type="text/html"; boundary="Apple-rel"')
        + b"\r\n"
        + multipart("Apple-rel",
                    part("text/html; charset=utf-8",
                         qp('<html><body><div>现场照片如下</div><img src="cid:IMG_0001@local">'
                            "</body></html>".encode()), "quoted-printable"),
                    part('image/jpeg; name="IMG_0001.jpeg"', b64(JPEG), "base64",
                         Content_Id="<IMG_0001@local>",
                         Content_Disposition='inline; filename="IMG_0001.jpeg"'))
    )  # fmt: skip
    add(
        "iphone_related_inline_jpeg",
        std(ew("现场照片"), "iphone.user@icloud.com", "A1B2-C3D4@icloud.com",
            X_Mailer="iPhone Mail (21D61)",
            Content_Type='multipart/alternative; boundary="Apple-alt"')
        + b"\r\n"
        + multipart("Apple-alt",
                    part("text/plain; charset=utf-8", "现场照片如下\r\n".encode(), "8bit"),
                    related),
        sender="iphone.user@icloud.com", subject="现场照片", text_contains=["现场照片如下"],
        attachments=["IMG_0001.jpeg"], inline=["IMG_0001.jpeg"],
        html_contains=["现场照片如下"], html_absent=["<img"],
    )  # fmt: skip
    # 19 Outlook with winmail.dat (TNEF) left as an attachment.
    add(
        "outlook_winmail_dat",
        std("Outlook TNEF", "Staff <staff@company.com.cn>", "outlook-tnef@company.com.cn",
            X_Mailer="Microsoft Outlook 16.0",
            Content_Type='multipart/mixed; boundary="_tnef_"')
        + b"\r\n"
        + multipart("_tnef_",
                    part("text/plain; charset=us-ascii", b"See the attached winmail.dat.", "7bit"),
                    part('application/ms-tnef; name="winmail.dat"', b64(b"\x78\x9f\x3e\x22" * 8),
                         "base64", Content_Disposition='attachment; filename="winmail.dat"')),
        sender="staff@company.com.cn", sender_name="Staff", subject="Outlook TNEF",
        text_contains=["See the attached winmail.dat."], attachments=["winmail.dat"],
    )  # fmt: skip
    # 28 reply carrying the receipt code.
    add(
        "reply_with_receipt_code",
        std(ew("Re: [#ABCDE-FGHJK] 您的意见已收到"), "citizen@qq.com", "reply-1@qq.com",
            In_Reply_To="<ack-ABCDEFGHJK@portal.example>",
            References="<sub-1@qq.com>\r\n <ack-ABCDEFGHJK@portal.example>",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "补充材料：整改期限已过。\r\n\r\n> 您的意见已收到\r\n".encode(),
        sender="citizen@qq.com", subject="Re: [#ABCDE-FGHJK] 您的意见已收到",
        text_contains=["补充材料"], receipt_code="ABCDEFGHJK",
        in_reply_to="ack-ABCDEFGHJK@portal.example",
        references=["sub-1@qq.com", "ack-ABCDEFGHJK@portal.example"],
    )  # fmt: skip
    add(
        "reply_fullwidth_receipt_code",
        std(ew("回复：［＃abcde－fghjk］您的意见已收到"), "citizen2@163.com", "reply-2@163.com",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "全角括号的回复。\r\n".encode(),
        sender="citizen2@163.com", subject="回复：［＃abcde－fghjk］您的意见已收到",
        text_contains=["全角括号的回复"], receipt_code="ABCDEFGHJK",
    )  # fmt: skip
    # 30 no Message-ID at all.
    add(
        "no_message_id",
        std("No Message-ID", "old.client@tom.com", None, Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "这封信没有Message-ID。\r\n".encode(),
        sender="old.client@tom.com", subject="No Message-ID",
        text_contains=["这封信没有Message-ID"], message_id=None,
    )  # fmt: skip
    # 31 XSS attempt in an HTML-only mail.
    xss = (
        '<p>正常段落</p><script>alert("x")</script><img src=x onerror=alert(1)>'
        '<a href="javascript:alert(2)">点我</a><a href="https://gov.example/a">链接</a>'
        '<div onclick="evil()">div文字</div><iframe src="https://evil.example"></iframe>'
    )
    add(
        "xss_html",
        std("XSS", "attacker@evil.example", "xss@evil.example",
            Content_Type="text/html; charset=utf-8")
        + b"\r\n" + xss.encode(),
        sender="attacker@evil.example", subject="XSS", text_contains=["正常段落", "div文字"],
        text_absent=["alert"],
        html_contains=["正常段落", 'href="https://gov.example/a"'],
        html_absent=["<script", "onerror", "javascript:", "onclick", "<iframe", "<img"],
    )  # fmt: skip
    # 32 only an attachment, no text.
    add(
        "attachment_only",
        std("", "scanner@qq.com", "attonly@qq.com", Content_Type='multipart/mixed; boundary="a"')
        + b"\r\n"
        + multipart("a", part('application/pdf; name="举报信.pdf"', b64(PDF), "base64",
                              Content_Disposition=f'attachment; filename="{ew("举报信.pdf")}"')),
        sender="scanner@qq.com", subject="", attachments=["举报信.pdf"],
    )  # fmt: skip
    # 35 RFC 2231 gb2312 file name; 36 RFC 2047 name= only; 37 no name at all.
    name_2231 = "".join(f"%{b:02X}" for b in "整改意见书.docx".encode("gb18030"))
    add(
        "filenames_encoded_and_missing",
        std("Files", "files@sina.cn", "files@sina.cn",
            Content_Type='multipart/mixed; boundary="f"')
        + b"\r\n"
        + multipart("f",
                    part("text/plain; charset=utf-8", "三个附件。".encode(), "8bit"),
                    part("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                         b64(b"PK\x03\x04docx"), "base64",
                         Content_Disposition=f"attachment; filename*=gb2312''{name_2231}"),
                    part(f'application/pdf; name="{ew("现场记录.pdf", "gbk")}"', b64(PDF),
                         "base64", Content_Disposition="attachment"),
                    part("image/png", b64(b"\x89PNG\r\n\x1a\n"), "base64",
                         Content_Disposition="attachment")),
        sender="files@sina.cn", subject="Files", text_contains=["三个附件"],
        attachments=["整改意见书.docx", "现场记录.pdf", "attachment-3.png"],
    )  # fmt: skip
    # 38 old Outlook Express, gb2312, QP, RFC 2231 continuation file name.
    add(
        "outlook_express_gb2312",
        std(ew("意见和建议", "gb2312"), f'"{ew("老张", "gb2312")}" <laozhang@public.dg.gd.cn>',
            "000801c0a1b2$3c4d5e60$0100a8c0@pc",
            X_Mailer="Microsoft Outlook Express 6.00.2900.5512",
            X_MimeOLE="Produced By Microsoft MimeOLE V6.00.2900.5512",
            Date="5 Feb 2024 09:30:00 +0800",
            Content_Type='text/plain;\r\n\tcharset="gb2312"',
            Content_Transfer_Encoding="quoted-printable")
        + b"\r\n" + qp("东莞市民老张的意见：希望整改公示更详细。".encode("gb2312")),
        sender="laozhang@public.dg.gd.cn", sender_name="老张", subject="意见和建议",
        text_contains=["东莞市民老张的意见"],
    )  # fmt: skip
    # 39 UTF-8 BOM at the start of the body.
    add(
        "utf8_bom_body",
        std("BOM", "bom@outlook.com", "bom@outlook.com", Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "\ufeff带BOM的正文。\r\n".encode(),
        sender="bom@outlook.com", subject="BOM", text_contains=["带BOM的正文"],
        text_absent=["\ufeff"],
    )  # fmt: skip
    # 40 HTML part whose only charset is a <meta> tag.
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head>'
    add(
        "html_meta_charset_gbk",
        std("Meta charset", "meta@qq.com", "meta@qq.com", Content_Type="text/html",
            Content_Transfer_Encoding="8bit")
        + b"\r\n" + (page + "<body><p>只在meta里声明GBK。</p></body></html>").encode("gbk"),
        sender="meta@qq.com", subject="Meta charset", text_contains=["只在meta里声明GBK"],
    )  # fmt: skip
    # 41 alternative: text/plain is preferred for text, HTML kept.
    add(
        "alternative_prefers_plain",
        std("Alt", "alt@163.com", "alt@163.com", Content_Type='multipart/alternative; boundary="b"')
        + b"\r\n"
        + multipart("b",
                    part("text/plain; charset=utf-8", "纯文本版本。".encode(), "8bit"),
                    part("text/html; charset=utf-8", "<p>HTML版本<b>加粗</b></p>".encode(),
                         "8bit")),
        sender="alt@163.com", subject="Alt", text_contains=["纯文本版本"],
        text_absent=["HTML版本"], html_contains=["<b>加粗</b>"],
    )  # fmt: skip
    # 42 latin-1 label over UTF-8 bytes; 43 gb2312 label over UTF-8 bytes.
    add(
        "latin1_label_utf8_bytes",
        std("Latin1", "lat@gmail.com", "lat@gmail.com",
            Content_Type="text/plain; charset=iso-8859-1", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "标签是latin-1，字节是UTF-8。\r\n".encode(),
        sender="lat@gmail.com", subject="Latin1", text_contains=["标签是latin-1，字节是UTF-8"],
    )  # fmt: skip
    add(
        "gb2312_label_utf8_bytes",
        std("Mislabel", "mis@qq.com", "mis@qq.com",
            Content_Type="text/plain; charset=gb2312", Content_Transfer_Encoding="8bit")
        + b"\r\n" + "标签说国标，其实是UTF-8编码。\r\n".encode(),
        sender="mis@qq.com", subject="Mislabel", text_contains=["其实是UTF-8编码"],
    )  # fmt: skip
    # 44 163 mail: alternative with base64 GBK parts and a Sender header.
    add(
        "netease_163_alternative",
        std(ew("网易邮箱来信", "GBK"), f'"{ew("钱某", "GBK")}" <qian@163.com>',
            "6b8a1f.2a3b.18d7@163.com", Sender="qian@163.com",
            X_Mailer="Coremail Webmail Server Version XT5.0.13",
            Content_Type='multipart/alternative; boundary="----=_Part_1_163"')
        + b"\r\n"
        + multipart("----=_Part_1_163",
                    part("text/plain; charset=GBK", b64("网易正文：镕字测试。".encode("gbk")),
                         "base64"),
                    part("text/html; charset=GBK",
                         b64("<div>网易正文：镕字测试。</div>".encode("gbk")), "base64")),
        sender="qian@163.com", sender_name="钱某", subject="网易邮箱来信",
        text_contains=["网易正文：镕字测试"],
    )  # fmt: skip
    # 45 Auto-Submitted: no is a person.
    add(
        "auto_submitted_no",
        std("Person", "person@qq.com", "asno@qq.com", Auto_Submitted="no",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "我是真人。\r\n".encode(),
        sender="person@qq.com", subject="Person", text_contains=["我是真人"],
    )  # fmt: skip
    # 49 path traversal in a file name; 50 unreadable Date.
    add(
        "filename_path_traversal",
        std("Traversal", "trav@qq.com", "trav@qq.com", Date="not a date",
            Content_Type='multipart/mixed; boundary="t"')
        + b"\r\n"
        + multipart("t", part("text/plain; charset=utf-8", b"see file", "7bit"),
                    part("application/octet-stream", b64(b"x"), "base64",
                         Content_Disposition='attachment; filename="../../etc/passwd"')),
        sender="trav@qq.com", subject="Traversal", text_contains=["see file"],
        attachments=["passwd"], date=None,
    )  # fmt: skip
    # Two text parts around an attachment (Apple Mail style), joined in order.
    add(
        "two_text_parts_mixed",
        std("Two parts", "mac@me.com", "two@me.com", Content_Type='multipart/mixed; boundary="m"')
        + b"\r\n"
        + multipart("m", part("text/plain; charset=utf-8", "上半段。".encode(), "8bit"),
                    part("image/jpeg", b64(JPEG), "base64",
                         Content_Disposition='inline; filename="photo.jpg"'),
                    part("text/plain; charset=utf-8", "下半段。".encode(), "8bit")),
        sender="mac@me.com", subject="Two parts", text_contains=["上半段", "下半段"],
        attachments=["photo.jpg"], inline=["photo.jpg"],
    )  # fmt: skip


def machine_mails() -> None:
    add(
        "auto_replied",
        std("自动回复: 您的意见已收到".encode(), "boss@company.cn", "ar@company.cn",
            Auto_Submitted="auto-replied")
        + part("text/plain; charset=utf-8", "我正在休假。".encode(), "8bit"),
        sender="boss@company.cn", subject="自动回复: 您的意见已收到",
        text_contains=["我正在休假"], auto_reason="auto-submitted",
    )  # fmt: skip
    add(
        "out_of_office_x_autoreply",
        std("Out of Office", "ooo@qq.com", "ooo@qq.com", X_Autoreply="yes",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "本人外出，邮件稍后处理。\r\n".encode(),
        sender="ooo@qq.com", subject="Out of Office", text_contains=["本人外出"],
        auto_reason="x-autoreply",
    )  # fmt: skip
    add(
        "x_autorespond",
        std("Autorespond", "ar2@sina.com", "ar2@sina.com", X_Autorespond="1",
            Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + b"auto\r\n",
        sender="ar2@sina.com", subject="Autorespond", text_contains=["auto"],
        auto_reason="x-autorespond",
    )  # fmt: skip
    add(
        "precedence_bulk_newsletter",
        std("Weekly newsletter", "news@media.example", "news-1@media.example",
            Precedence="bulk", Content_Type="text/html; charset=utf-8")
        + b"\r\n" + "<h1>本周新闻</h1><p>订阅内容</p>".encode(),
        sender="news@media.example", subject="Weekly newsletter", text_contains=["本周新闻"],
        auto_reason="precedence",
    )  # fmt: skip
    add(
        "list_id_mail",
        std("[discuss] topic", "member@lists.example", "list-1@lists.example",
            List_Id="<discuss.lists.example>", Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + b"list traffic\r\n",
        sender="member@lists.example", subject="[discuss] topic", text_contains=["list traffic"],
        auto_reason="list-id",
    )  # fmt: skip
    add(
        "empty_return_path",
        head(Return_Path="<>") + std("Notice", "robot@service.example", "erp@service.example",
                                     Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + b"machine\r\n",
        sender="robot@service.example", subject="Notice", text_contains=["machine"],
        auto_reason="empty return-path",
    )  # fmt: skip
    # DSN bounce reporting our acknowledgement.
    original = (
        head(From="Portal <noreply@portal.example>", To="nobody@qq.com",
             Subject="=?utf-8?B?" + base64.b64encode("您的意见已收到".encode()).decode() + "?=",
             Message_ID="<ack-ABCDEFGHJK@portal.example>", Auto_Submitted="auto-generated",
             Content_Type="text/plain; charset=utf-8")
        + b"\r\n" + "您的意见已收到，回执码 ABCDE-FGHJK。\r\n".encode()
    )  # fmt: skip
    status = (
        b"Reporting-MTA: dns; mx.qq.com\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@qq.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    )
    add(
        "dsn_bounce_multipart_report",
        std("Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.qq.com (Mail Delivery System)",
            "dsn-1@mx.qq.com", Auto_Submitted="auto-replied",
            Content_Type='multipart/report; report-type=delivery-status; boundary="dsn"')
        + b"\r\n"
        + multipart("dsn",
                    part("text/plain; charset=us-ascii", b"Your message could not be delivered.",
                         "7bit"),
                    part("message/delivery-status", status, "7bit"),
                    part("message/rfc822", original, "7bit")),
        sender="mailer-daemon@mx.qq.com", subject="Undelivered Mail Returned to Sender",
        text_contains=["could not be delivered"], auto_reason="bounce",
        bounced_ids=["ack-ABCDEFGHJK@portal.example"],
    )  # fmt: skip
    add(
        "dsn_headers_only",
        std("Delivery Status Notification (Failure)", "postmaster@outlook.com", "dsn-2@outlook.com",
            Content_Type='multipart/report; report-type=delivery-status; boundary="d2"')
        + b"\r\n"
        + multipart("d2",
                    part("text/plain; charset=us-ascii", b"Delivery has failed.", "7bit"),
                    part("message/delivery-status", status, "7bit"),
                    part("text/rfc822-headers",
                         b"From: noreply@portal.example\r\n"
                         b"Message-ID: <ack-KMNPQ-RSTVW@portal.example>\r\nSubject: ack\r\n",
                         "7bit")),
        sender="postmaster@outlook.com", subject="Delivery Status Notification (Failure)",
        text_contains=["Delivery has failed"], auto_reason="bounce",
        bounced_ids=["ack-KMNPQ-RSTVW@portal.example"],
    )  # fmt: skip
    add(
        "postmaster_plain_bounce",
        std("failure notice", "postmaster@163.com", "pm-1@163.com",
            Content_Type="text/plain; charset=us-ascii")
        + b"\r\n" + b"Hi. This is the qmail-send program.\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\n"
        b"Message-ID: <ack-0123456789@portal.example>\r\nSubject: ack\r\n",
        sender="postmaster@163.com", subject="failure notice", text_contains=["qmail-send"],
        auto_reason="postmaster", bounced_ids=["ack-0123456789@portal.example"],
    )  # fmt: skip
    add(
        "mailer_daemon_plain",
        std("Returned mail", "MAILER-DAEMON@mail.example.cn", "md-1@mail.example.cn",
            Content_Type="text/plain; charset=us-ascii")
        + b"\r\n" + b"User unknown.\r\n",
        sender="mailer-daemon@mail.example.cn", subject="Returned mail",
        text_contains=["User unknown"], auto_reason="mailer-daemon",
    )  # fmt: skip
    add(
        "x_original_message_id_bounce",
        std("Undeliverable: ack", "postmaster@corp.example", "xo-1@corp.example",
            X_Original_Message_ID="<ack-XYZ@portal.example>",
            Content_Type="text/plain; charset=us-ascii")
        + b"\r\n" + b"Delivery failed.\r\n",
        sender="postmaster@corp.example", subject="Undeliverable: ack",
        text_contains=["Delivery failed"], auto_reason="postmaster",
        bounced_ids=["ack-XYZ@portal.example"],
    )  # fmt: skip


def broken_mails() -> None:
    add(
        "undecodable_body",
        std("Garbage", "garbage@qq.com", "garbage@qq.com",
            Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="base64")
        + b"\r\n" + b"!!!!@@@@####$$$$%%%%^^^^&&&&****\r\n",
        sender="garbage@qq.com", subject="Garbage", quarantine=True, has_problems=True,
        quarantine_reason="undecodable body",
    )  # fmt: skip
    add(
        "binary_junk_as_text",
        std("Junk", "junk@qq.com", "junk@qq.com",
            Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="8bit")
        + b"\r\n" + bytes([0xFF, 0xFE, 0x80, 0x80, 0xFF, 0x80]) * 20 + b"\r\n",
        sender="junk@qq.com", subject="Junk", quarantine=True, has_problems=True,
        quarantine_reason="undecodable body",
    )  # fmt: skip
    add(
        "empty_body",
        std("Empty", "empty@qq.com", "empty@qq.com", Content_Type="text/plain; charset=utf-8")
        + b"\r\n\r\n",
        sender="empty@qq.com", subject="Empty", quarantine=True, quarantine_reason="empty body",
    )  # fmt: skip
    many = [part("text/plain; charset=utf-8", b"many", "7bit")] + [
        part("application/octet-stream", b64(b"x"), "base64",
             Content_Disposition=f'attachment; filename="f{i}.bin"')
        for i in range(70)
    ]  # fmt: skip
    add(
        "seventy_attachments",
        std("Many", "many@qq.com", "many@qq.com", Content_Type='multipart/mixed; boundary="z"')
        + b"\r\n" + multipart("z", *many),
        sender="many@qq.com", subject="Many", quarantine=True, quarantine_reason="too many parts",
    )  # fmt: skip


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
PGP_SIG = b"-----BEGIN PGP SIGNATURE-----\r\n\r\niQEzBAEBCAAdFiEEabc=\r\n=abcd\r\n-----END PGP SIGNATURE-----\r\n"
P7S = bytes.fromhex("3082010606092a864886f70d010702a081f83081f5020101310f300d")


def mixed(boundary: str, *parts: bytes, ctype: str = "multipart/mixed") -> tuple[str, bytes]:
    return f'{ctype}; boundary="{boundary}"', b"\r\n" + multipart(boundary, *parts)


def class_mails() -> None:
    """Issue #16's classes of real mailbox mail, generated here (never copied from real mail).
    "heldout-" messages were written after the fixes and never tuned on."""
    text = part("text/plain; charset=utf-8", "路灯坏了三个月，整改报告说已修好。".encode(), "8bit")
    ctype, body = mixed(
        "g1",
        text,
        part(
            "image/gif",
            b64(GIF),
            "base64",
            Content_Disposition='inline; filename="smile.gif"',
            Content_ID="<g@x>",
        ),
    )
    add("c1_inline_gif", std("路灯", "gif@qq.com", "c1-gif@qq.com", Content_Type=ctype) + body,
        sender="gif@qq.com", subject="路灯", text_contains=["路灯坏了三个月"],
        attachments=["smile.gif"], mail_class=1)  # fmt: skip
    ctype, body = mixed("s1", text, part("application/pgp-signature", PGP_SIG, "7bit",
                        Content_Disposition='attachment; filename="signature.asc"'),
                        ctype='multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"')  # fmt: skip
    add("c1_pgp_signed", std("签名邮件", "pgp@163.com", "c1-pgp@163.com", Content_Type=ctype)
        + body, sender="pgp@163.com", subject="签名邮件", text_contains=["路灯坏了三个月"],
        signed="PGP", mail_class=1)  # fmt: skip
    ctype, body = mixed("s2", text, part('application/pkcs7-signature; name="smime.p7s"',
                        b64(P7S), "base64", Content_Disposition='attachment; filename="smime.p7s"'),
                        ctype='multipart/signed; protocol="application/pkcs7-signature"')  # fmt: skip
    add("c1_smime_signed", std("S/MIME", "smime@outlook.com", "c1-smime@outlook.com",
        Content_Type=ctype) + body, sender="smime@outlook.com", subject="S/MIME",
        text_contains=["路灯坏了三个月"], signed="S/MIME", mail_class=1)  # fmt: skip
    ctype, body = mixed("u1", text, part("image/jpg", b64(JPEG), "base64",
                        Content_Disposition="inline"),
                        part("application/octet-stream", b64(PDF), "base64"))  # fmt: skip
    add("c1_unnamed_parts", std("无名附件", "phone@139.com", "c1-unnamed@139.com",
        Content_Type=ctype) + body, sender="phone@139.com", subject="无名附件",
        text_contains=["路灯坏了三个月"], attachments=["attachment-1.jpg", "attachment-2.pdf"],
        mail_class=1)  # fmt: skip
    ctype, body = mixed("h1", text, part("application/x-pkcs7-signature", b64(P7S), "base64",
                        Content_Disposition='attachment; filename="smime.p7s"'),
                        part("application/octet-stream", b64(PDF), "base64",
                             Content_Disposition="inline"))  # fmt: skip
    add("heldout-c1_x_pkcs7_and_unnamed_pdf", std("旧客户端签名", "old@sohu.com", "h1@sohu.com",
        Content_Type=ctype) + body, sender="old@sohu.com", subject="旧客户端签名",
        text_contains=["路灯坏了三个月"], attachments=["attachment-1.pdf"], signed="S/MIME",
        mail_class=1)  # fmt: skip

    gbk_name = "整改证据.pdf".encode("gbk")
    ctype, body = mixed("n1", part("text/plain; charset=gbk", "证据见附件。".encode("gbk"), "8bit"),
                        part(b'application/pdf; name="' + gbk_name + b'"', b64(PDF), "base64",  # type: ignore[arg-type]
                             Content_Disposition=b'attachment; filename="' + gbk_name + b'"'))  # type: ignore[arg-type]  # fmt: skip
    add("c2_raw_gbk_filename", std("证据", "gbk@qq.com", "c2-gbk@qq.com", Content_Type=ctype)
        + body, sender="gbk@qq.com", subject="证据", text_contains=["证据见附件"],
        attachments=["整改证据.pdf"], mail_class=2)  # fmt: skip
    latin_name = "résumé.pdf".encode("latin-1")
    ctype, body = mixed("n2", part("text/plain; charset=iso-8859-1", b"See attached.", "7bit"),
                        part("application/pdf", b64(PDF), "base64",
                             Content_Disposition=b'attachment; filename="' + latin_name + b'"'))  # type: ignore[arg-type]  # fmt: skip
    add("c2_raw_latin1_filename", std("CV", "fr@orange.fr", "c2-latin@orange.fr",
        Content_Type=ctype) + body, sender="fr@orange.fr", subject="CV",
        text_contains=["See attached"], attachments=["résumé.pdf"], mail_class=2)  # fmt: skip
    big5_name = "現場照片.pdf".encode("big5")
    ctype, body = mixed("n3", part("text/plain; charset=big5", "請查收附件。".encode("big5"), "8bit"),
                        part(b'application/pdf; name="' + big5_name + b'"', b64(PDF), "base64"))  # type: ignore[arg-type]  # fmt: skip
    add("heldout-c2_raw_big5_name", std("照片", "tw@hinet.net", "h2@hinet.net",
        Content_Type=ctype) + body, sender="tw@hinet.net", subject="照片",
        text_contains=["請查收附件"], attachments=["現場照片.pdf"], mail_class=2)  # fmt: skip

    plain = (
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + "小区门口的垃圾站还没有搬走。".encode()
        + b"\r\n"
    )
    add("c3_two_from_first_junk", head(From="unknown") + head(
        From="=?utf-8?B?5p2O5Zub?= <lisi@163.com>", To=PORTAL, Subject="垃圾站", Date=DATE,
        Message_ID="<c3-junk@163.com>", MIME_Version="1.0") + plain,
        sender="lisi@163.com", sender_name="李四", subject="垃圾站",
        text_contains=["垃圾站还没有搬走"], mail_class=3)  # fmt: skip
    add("c3_encoded_name_with_comma", head(
        From="=?utf-8?Q?Wang,_Xiaoming_=E7=8E=8B?= <wxm@126.com>", To=PORTAL, Subject="垃圾站",
        Date=DATE, Message_ID="<c3-comma@126.com>", MIME_Version="1.0") + plain,
        sender="wxm@126.com", sender_name="Wang, Xiaoming 王", subject="垃圾站",
        text_contains=["垃圾站还没有搬走"], mail_class=3)  # fmt: skip
    add("heldout-c3_raw_name_with_comma", head(
        From="张三, 东城居民 <zs@sina.com>".encode(), To=PORTAL, Subject="垃圾站", Date=DATE,
        Message_ID="<h3@sina.com>", MIME_Version="1.0") + plain,
        sender="zs@sina.com", sender_name="张三, 东城居民", subject="垃圾站",
        text_contains=["垃圾站还没有搬走"], mail_class=3)  # fmt: skip

    add("c4_raw_shift_jis_subject", std("お問い合わせの件について".encode("shift_jis"),
        "jp@docomo.ne.jp", "c4-sjis@docomo.ne.jp", Content_Type="text/plain")
        + b"\r\nPlease see the subject.\r\n", sender="jp@docomo.ne.jp",
        subject="お問い合わせの件について", text_contains=["Please see"], mail_class=4)  # fmt: skip
    jis = b"\x1b$B" + "整改".encode("iso2022_jp")[3:-3] + b"\x2d\x21\x1b(B"  # 整改① (NEC row 13)
    add("c4_iso2022jp_nec_circled_digit", std("=?iso-2022-jp?B?" + base64.b64encode(jis).decode()
        + "?=", "jp@nifty.com", "c4-jis@nifty.com", Content_Type="text/plain; charset=iso-2022-jp")
        + b"\r\n" + jis + b"\r\n", sender="jp@nifty.com", subject="整改①",
        text_contains=["整改①"], mail_class=4)  # fmt: skip
    mixed_bytes = "Café Zhōngguó: 关于整改的意见".encode().replace("é".encode(), b"\xe9")
    add("c4_utf8_latin1_mixed_unknown_label", std("Mixed", "mix@gmx.de", "c4-mix@gmx.de",
        Content_Type="text/plain; charset=x-unknown") + b"\r\n" + mixed_bytes + b"\r\n",
        sender="mix@gmx.de", subject="Mixed", text_contains=["Café Zhōngguó: 关于整改的意见"],
        mail_class=4)  # fmt: skip
    add("heldout-c4_sjis_subject_with_hint", std("整改についてのご意見".encode("shift_jis"),
        "jp2@au.com", "h4@au.com", Content_Type="text/plain; charset=shift_jis")
        + b"\r\n" + "よろしくお願いします。".encode("shift_jis") + b"\r\n",
        sender="jp2@au.com", subject="整改についてのご意见".replace("见", "見"),
        text_contains=["よろしくお願いします"], mail_class=4)  # fmt: skip

    add("c5_unindented_continuation", b"From: fold@yeah.net\r\nTo: " + PORTAL.encode()
        + b"\r\nSubject: " + ew("关于道路").encode() + b"\r\n" + ew("整改的意见").encode()
        + b"\r\nDate: " + DATE.encode() + b"\r\nMessage-ID: <c5-fold@yeah.net>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "道路还是坑坑洼洼。".encode() + b"\r\n",
        sender="fold@yeah.net", subject="关于道路整改的意见", text_contains=["道路还是坑坑洼洼"],
        text_absent=["Message-ID", "Content-Type"], mail_class=5)  # fmt: skip
    add("c5_junk_line_before_headers", b"X-Relay-Garbage\r\n" + std("河道", "river@21cn.com",
        "c5-junk@21cn.com", Content_Type="text/plain; charset=utf-8") + b"\r\n"
        + "河道清理不彻底。".encode() + b"\r\n", sender="river@21cn.com", subject="河道",
        text_contains=["河道清理不彻底"], text_absent=["Subject", "X-Relay"], mail_class=5)  # fmt: skip
    add("heldout-c5_no_blank_line_and_fold", b"From: nb@tom.com\r\nSubject: " + ew("噪音").encode()
        + b"\r\nTo: " + PORTAL.encode() + b"\r\n" + b"  yijian2@portal.example\r\nDate: "
        + DATE.encode() + b"\r\nMessage-ID: <h5@tom.com>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "工地夜间施工噪音扰民。".encode() + b"\r\n", sender="nb@tom.com", subject="噪音",
        text_contains=["工地夜间施工噪音扰民"], text_absent=["Content-Type"], mail_class=5)  # fmt: skip

    ctype, body = mixed("m1", part("text/plain; charset=utf-8", "第一段：公交站台。".encode(), "8bit"),
                        part("text/html; charset=utf-8", "<p>第二段：<b>路灯</b>。</p>".encode(), "8bit"),
                        part("text/plain; charset=utf-8", "第三段：垃圾桶。".encode(), "8bit"))  # fmt: skip
    add("c6_mixed_text_and_html", std("三段", "parts@icloud.com", "c6@icloud.com",
        Content_Type=ctype) + body, sender="parts@icloud.com", subject="三段",
        text_contains=["第一段：公交站台", "第二段：路灯", "第三段：垃圾桶"],
        html_contains=["第一段：公交站台", "<b>路灯</b>", "第三段：垃圾桶"], mail_class=6)  # fmt: skip
    ctype, body = mixed("m2", part("text/html; charset=utf-8", "<div>上：绿化</div>".encode(), "8bit"),
                        part("text/plain; charset=utf-8", "下：停车".encode(), "8bit"))  # fmt: skip
    add("heldout-c6_html_then_text", std("两段", "two@foxmail.com", "h6@foxmail.com",
        Content_Type=ctype) + body, sender="two@foxmail.com", subject="两段",
        text_contains=["上：绿化", "下：停车"], html_contains=["上：绿化", "下：停车"],
        mail_class=6)  # fmt: skip


def main() -> None:
    person_mails()
    machine_mails()
    broken_mails()
    class_mails()
    for old in HERE.glob("*.eml"):
        old.unlink()
    expected = {}
    number = 0
    for name, raw, entry in CORPUS:
        if name.startswith("heldout-"):
            filename = f"{name}.eml"
        else:
            number += 1
            filename = f"{number:02d}_{name}.eml"
        (HERE / filename).write_bytes(raw)
        expected[filename] = entry
    text = json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True)
    (HERE / "expected.json").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(CORPUS)} messages to {HERE}")


if __name__ == "__main__":
    main()
