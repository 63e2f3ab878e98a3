"""The summary report of one notice for the inspection office (issue #18): opened with
python-docx and checked against GB/T 9704's conventions (fonts, margins, page numbers on the
outside edge) and for its structure (title, parts in order, what was done)."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from flask import Flask

from tests.test_oversight import Offices, offices  # noqa: F401  (fixture)


def _east_asian(style: Any) -> str:
    return style.element.rPr.rFonts.get(qn("w:eastAsia"))


def _report(client: Any, query: str) -> Any:
    response = client.get(f"/staff/report.docx{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return Document(io.BytesIO(response.data))


def test_notice_report_has_the_official_layout(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    doc = _report(staff_login("triager"), "?notice=a-notice")
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert tuple(round(m.mm) for m in margins) == (37, 35, 28, 26)
    assert _east_asian(doc.styles["Title"]) == "方正小标宋简体"
    assert doc.styles["Title"].font.size == Pt(22)
    assert _east_asian(doc.styles["Normal"]) == "仿宋_GB2312"
    assert doc.styles["Normal"].font.size == Pt(16)
    assert _east_asian(doc.styles["Heading 1"]) == "黑体"
    assert _east_asian(doc.styles["Heading 2"]) == "楷体_GB2312"
    assert doc.styles["Heading 1"].font.bold is False  # black, plain: not Word's blue bold


def test_page_numbers_are_a_field_between_dashes_on_the_outside_edge(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    doc = _report(staff_login("triager"), "?notice=a-notice")
    assert doc.settings.odd_and_even_pages_header_footer
    section = doc.sections[0]
    for footer, side in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        (paragraph,) = footer.paragraphs
        assert paragraph.alignment == side
        assert paragraph.text == "— 1 —"  # the field's cached value between the dashes
        xml = paragraph._p.xml
        assert "PAGE" in "".join(t.text for t in paragraph._p.iter(qn("w:instrText")))
        assert xml.count("w:fldCharType=") == 3  # begin, separate, end: Word updates it


def test_notice_report_structure_and_what_was_done(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    doc = _report(staff_login("triager"), "?notice=a-notice")
    paragraphs = doc.paragraphs
    assert paragraphs[0].style.name == "Title"
    assert paragraphs[0].text == f"甲单位关于“{offices.a_notice_title}”群众意见办理情况的报告"
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert headings == [
        "一、总体情况",
        "二、各问题收到意见情况",
        "三、各渠道收到意见情况",
        "四、办理情况",
        "五、群众满意度",
        "六、逾期未答复意见",
    ]
    # On A's notice: a1-a4 (a5 is spam, a6 on no notice); a1 a2 answered, a3 a4 not, both
    # past their due dates now (a4's first), a6 not listed: it is on no notice.
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    done = next(t for t in tables if t[0][0] == "办理状态")
    assert done[1:] == [["已接收", "2"], ["已答复", "2"]]
    open_items = next(t for t in tables if t[0][0] == "回执编号")
    assert [r[0] for r in open_items[1:]] == [offices.codes["a4"], offices.codes["a3"]]
    assert offices.codes["a6"] not in "".join(p.text for p in paragraphs)


def test_round_report_uses_kaiti_for_each_offices_parts(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    url = f"/staff/oversight/rounds/{offices.round_slug}/report.docx"
    response = staff_login("supervisor").get(url)
    assert response.status_code == 200
    doc = Document(io.BytesIO(response.data))
    level2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert level2[:6] == [
        "一、总体情况",
        "二、各问题收到意见情况",
        "三、各渠道收到意见情况",
        "四、办理情况",
        "五、群众满意度",
        "六、逾期未答复意见",
    ]


def test_the_report_says_how_citizens_rated_the_answers(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.triage.case_models import Rating

    client = staff_login("triager")
    before = _report(client, "?notice=a-notice")
    assert "尚无群众对答复作出评价。" in [p.text for p in before.paragraphs]
    with app.app_context():
        for key, rating in (("a1", "satisfied"), ("a2", "unsatisfied")):
            code = offices.codes[key]
            sub = db.session.scalars(select(Submission).where(Submission.code == code)).one()
            db.session.add(Rating(submission_id=sub.id, rating=rating, source="staff", actor="cli"))
        db.session.commit()
    doc = _report(client, "?notice=a-notice")
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    rated = next(t for t in tables if t[0][0] == "评价")
    assert sorted(rated[1:]) == [["不满意", "1"], ["满意", "1"]]
    assert any("共2件评价，满意和基本满意占50%" in p.text for p in doc.paragraphs)
