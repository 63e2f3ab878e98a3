"""The office report and the round report as Word documents (python-docx).

Both share one layout: a title, the period, then per office the overall figures, a table per
finding (received, replied, open), a table per channel, the overdue opinions (receipt codes and
dates only) and a signature line. The round report puts a summary table of every office first
and then one such section per office.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from flask_babel import gettext as _

from portal.intake.models import CHANNEL_LABELS
from portal.ledger.report import OfficeSection, Report
from portal.site import date_text, datetime_text
from portal.triage import satisfaction, workflow

DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# GB/T 9704-2012 (党政机关公文格式): title 2号方正小标宋简体, body 3号仿宋_GB2312, level-1
# headings 黑体, level-2 楷体_GB2312; Word substitutes a font the reader's machine lacks.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
TITLE_SIZE = 22  # 2号
BODY_SIZE = 16  # 3号
TABLE_SIZE = 12  # 小4号: a table of many columns would not fit in 3号
PAGE_NUMBER_SIZE = 14  # 4号
LINE_PITCH = 28.95  # 22 lines of 28 characters on the page's text block
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
NUMERALS = "一二三四五六七八九十"
BLACK = RGBColor(0, 0, 0)


def _east_asian_font(style: object, name: str, size: float | None = None) -> None:
    font = style.font  # type: ignore[attr-defined]
    font.name = name
    if size is not None:
        font.size = Pt(size)
    # Word takes CJK text's font from w:eastAsia, which python-docx does not set by itself.
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()  # type: ignore[attr-defined]
    fonts.set(qn("w:eastAsia"), name)


def _heading_style(style: Any, name: str, size: float) -> None:
    """Headings of an official document are black and not bold (Word's are blue and bold)."""
    _east_asian_font(style, name, size)
    style.font.bold = False
    style.font.italic = False
    style.font.color.rgb = BLACK
    style.paragraph_format.space_before = Pt(0)
    style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.line_spacing = Pt(LINE_PITCH)


def _page_number_field(paragraph: Any) -> None:
    """ "— 1 —": the page number as a PAGE field between em dashes."""
    paragraph.add_run("— ")
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None)):
        if kind:
            _child(run._r, "w:fldChar").set(qn("w:fldCharType"), kind)
        else:
            instr = _child(run._r, "w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
    run = paragraph.add_run("1")
    _child(run._r, "w:fldChar").set(qn("w:fldCharType"), "end")
    paragraph.add_run(" —")
    for each in paragraph.runs:
        each.font.size = Pt(PAGE_NUMBER_SIZE)
        each.font.name = PAGE_NUMBER_FONT
        each._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), PAGE_NUMBER_FONT)


def _page_setup(doc: DocumentObject) -> None:
    """A4, the standard's margins, page numbers on the outside edge (odd pages right, even
    pages left: a bound report)."""
    doc.settings.odd_and_even_pages_header_footer = True
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin = Mm(MARGINS_MM["top"])
        section.bottom_margin = Mm(MARGINS_MM["bottom"])
        section.left_margin = Mm(MARGINS_MM["left"])
        section.right_margin = Mm(MARGINS_MM["right"])
        for footer, side in (
            (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
            (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
        ):
            paragraph = footer.paragraphs[0]
            paragraph.alignment = side
            _page_number_field(paragraph)


def _document() -> DocumentObject:
    doc = Document()
    normal = doc.styles["Normal"]
    _east_asian_font(normal, BODY_FONT, BODY_SIZE)
    normal.paragraph_format.line_spacing = Pt(LINE_PITCH)
    normal.paragraph_format.space_after = Pt(0)
    _heading_style(doc.styles["Title"], TITLE_FONT, TITLE_SIZE)
    _heading_style(doc.styles["Heading 1"], HEADING_FONT, BODY_SIZE)
    _heading_style(doc.styles["Heading 2"], SUBHEADING_FONT, BODY_SIZE)
    _east_asian_font(doc.styles["Table Grid"], BODY_FONT, TABLE_SIZE)
    # Word's Title style draws a rule under the title; an official title has none.
    borders = doc.styles["Title"].element.pPr.find(qn("w:pBdr"))
    if borders is not None:
        doc.styles["Title"].element.pPr.remove(borders)
    _page_setup(doc)
    return doc


def _period_text(start: date | None, end: date) -> str:
    if start is None:
        return _("统计期间：截至%(end)s（尚未收到意见）", end=date_text(end))
    return _("统计期间：%(start)s至%(end)s", start=date_text(start), end=date_text(end))


def _table(doc: DocumentObject, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A grid with a bold header row, its cells' runs written straight into the XML: python-
    docx's row.cells and cell.text cost ~0.4 ms a cell (a round report has tens of thousands of
    cells: the overdue lines of every office)."""
    table = doc.add_table(rows=len(rows) + 1, cols=len(headers))
    table.style = "Table Grid"
    lines = [list(headers), *([("" if v is None else str(v)) for v in r] for r in rows)]
    rows_xml = table._tbl.iterchildren(qn("w:tr"))
    for index, (tr, values) in enumerate(zip(rows_xml, lines, strict=True)):
        for tc, value in zip(tr.iterchildren(qn("w:tc")), values, strict=True):
            run = _child(tc.find(qn("w:p")), "w:r")
            if index == 0:
                _child(_child(run, "w:rPr"), "w:b")
            _child(run, "w:t").text = value


def _child(parent: Any, tag: str) -> Any:
    child = parent.makeelement(qn(tag), {})
    parent.append(child)
    return child


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def _heading_number(index: int) -> str:
    return NUMERALS[index] if index < len(NUMERALS) else str(index + 1)


def _section(doc: DocumentObject, section: OfficeSection, heading_level: int) -> None:
    """One office's part: the same in the office report and in each part of the round report."""
    t = section.totals
    parts = [
        (
            _("总体情况"),
            lambda: doc.add_paragraph(
                _(
                    "收到意见%(received)s件（不含垃圾信息），已答复%(replied)s件，其中按期答复"
                    "%(in_time)s件（%(share)s）；尚在办理%(open)s件，其中逾期未答复%(overdue)s件。",
                    received=t.received,
                    replied=t.replied,
                    in_time=t.replied_in_time,
                    share=_share(t.replied_in_time, t.replied),
                    open=t.open,
                    overdue=t.overdue,
                )
            ),
        ),
        (_("各问题收到意见情况"), lambda: _findings_table(doc, section)),
        (_("各渠道收到意见情况"), lambda: _channels_table(doc, section)),
        (_("办理情况"), lambda: _statuses_table(doc, section)),
        (_("群众满意度"), lambda: _ratings_table(doc, section)),
        (_("逾期未答复意见"), lambda: _overdue_table(doc, section)),
    ]
    for index, (title, write) in enumerate(parts):
        doc.add_heading(f"{_heading_number(index)}、{title}", level=heading_level)
        write()


def _findings_table(doc: DocumentObject, section: OfficeSection) -> None:
    if not section.findings:
        doc.add_paragraph(_("本单位尚无公示的问题。"))
        return
    rows = [
        (
            f"{f.number}. {f.title}" if f.number is not None else f.title,
            f.received,
            f.replied,
            f.open,
        )
        for f in section.findings
    ]
    _table(doc, (_("问题"), _("收到意见"), _("已答复"), _("尚在办理")), rows)
    doc.add_paragraph(_("一件意见可涉及多个问题；未关联问题的意见不在此表。"))


def _channels_table(doc: DocumentObject, section: OfficeSection) -> None:
    if not section.channels:
        doc.add_paragraph(_("无。"))
        return
    rows = [(str(CHANNEL_LABELS.get(code, code)), count) for code, count in section.channels]
    _table(doc, (_("渠道"), _("件数")), rows)


def _statuses_table(doc: DocumentObject, section: OfficeSection) -> None:
    """What was done: how many opinions stand in each state, in words."""
    if not section.statuses:
        doc.add_paragraph(_("无。"))
        return
    rows = [(workflow.label(code), count) for code, count in section.statuses]
    _table(doc, (_("办理状态"), _("件数")), rows)


def _ratings_table(doc: DocumentObject, section: OfficeSection) -> None:
    """How citizens rated the answers (好差评), and the share satisfied or fairly satisfied."""
    if not section.ratings:
        doc.add_paragraph(_("尚无群众对答复作出评价。"))
        return
    total = sum(count for _code, count in section.ratings)
    _table(
        doc,
        (_("评价"), _("件数")),
        [(satisfaction.label(code), count) for code, count in section.ratings],
    )
    pleased = sum(c for code, c in section.ratings if code in ("satisfied", "basically_satisfied"))
    doc.add_paragraph(
        _("共%(n)s件评价，满意和基本满意占%(share)s。", n=total, share=_share(pleased, total))
    )


def _overdue_table(doc: DocumentObject, section: OfficeSection) -> None:
    if not section.overdue:
        doc.add_paragraph(_("无。"))
        return
    rows = [(o.code, date_text(o.received_on), date_text(o.due_on)) for o in section.overdue]
    _table(doc, (_("回执编号"), _("收到日期"), _("答复期限")), rows)
    hidden = section.totals.overdue - len(section.overdue)
    if hidden > 0:
        doc.add_paragraph(_("另有%(n)s件逾期未答复，详见台账。", n=hidden))


def _signature(doc: DocumentObject, who: str) -> None:
    doc.add_paragraph()
    for line in (who, _("负责人（签字）："), _("日期：        年    月    日")):
        doc.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _header(doc: DocumentObject, report: Report, generated_at: datetime) -> None:
    doc.add_heading(report.title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(_period_text(report.period_from, report.period_to))
    doc.add_paragraph(_("生成时间：%(at)s（北京时间）", at=datetime_text(generated_at)))


def _bytes(doc: DocumentObject) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def office_report_docx(report: Report, generated_at: datetime) -> bytes:
    """The office report: exactly one section."""
    doc = _document()
    _header(doc, report, generated_at)
    (section,) = report.sections
    doc.add_paragraph(_("单位：%(name)s", name=section.office_name))
    _section(doc, section, heading_level=1)
    _signature(doc, _("%(name)s（盖章）", name=section.office_name))
    return _bytes(doc)


def round_report_docx(report: Report, generated_at: datetime, signed_by: str) -> bytes:
    """The round summary for the inspection office: a summary table of every office, then one
    section per office in the office report's layout."""
    doc = _document()
    _header(doc, report, generated_at)
    doc.add_heading(_("各单位汇总"), level=1)
    rows = [
        (
            s.office_name,
            s.totals.received,
            s.totals.replied,
            _share(s.totals.replied_in_time, s.totals.replied),
            s.totals.open,
            s.totals.overdue,
        )
        for s in report.sections
    ]
    headers = (
        _("单位"),
        _("收到意见"),
        _("已答复"),
        _("按期答复率"),
        _("尚在办理"),
        _("逾期未答复"),
    )
    _table(doc, headers, rows)
    for section in report.sections:
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading(section.office_name, level=1)
        _section(doc, section, heading_level=2)
    _signature(doc, _("%(name)s（盖章）", name=signed_by))
    return _bytes(doc)
