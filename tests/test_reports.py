"""The office report and the round report (.docx): opened with python-docx and read as a person
would: office names, counts, overdue codes; nothing of office B in office A's report, and no
personal data or opinion text in either."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from flask import Flask
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from tests.test_oversight import B_FINDING, Offices, offices  # noqa: F401  (fixture)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class Read:
    """A .docx as text: its paragraphs, and each table as rows of cell texts."""

    def __init__(self, data: bytes) -> None:
        document = Document(io.BytesIO(data))
        self.paragraphs = [p.text for p in document.paragraphs]
        self.tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
        self.text = "\n".join(self.paragraphs + [c for t in self.tables for r in t for c in r])

    def table_after(self, heading: str, start: int = 0) -> list[list[str]]:
        """The rows of the first table whose header row starts with ``heading``."""
        return next(t for t in self.tables[start:] if t[0][0] == heading)


def _download(client: Any, url: str) -> Read:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == DOCX
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    return Read(response.data)


def test_office_report_of_a_triager_holds_its_office_only(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    report = _download(staff_login("triager"), "/staff/report.docx")
    assert report.paragraphs[0] == "甲单位群众意见办理情况报告"
    assert "单位：甲单位" in report.paragraphs
    assert any(p.startswith("统计期间：2024年2月20日至") for p in report.paragraphs)
    # a1..a6 less the spam: 5 received, 2 replied (1 in time), 3 open, all 3 now overdue.
    assert any(
        p.startswith("收到意见5件（不含垃圾信息），已答复2件，其中按期答复1件（50%）；尚在办理3件")
        for p in report.paragraphs
    )
    findings = report.table_after("问题")
    rows = {r[0]: r[1:] for r in findings[1:]}
    assert rows[f"1. {offices.finding_titles[1]}"] == ["3", "2", "1"]
    assert rows[f"2. {offices.finding_titles[2]}"] == ["1", "0", "1"]
    assert report.table_after("渠道")[1:] == [["网上", "4"], ["信件", "1"]]
    overdue = report.table_after("回执编号")
    assert [r[0] for r in overdue[1:]] == [offices.codes[n] for n in ("a6", "a4", "a3")]
    assert overdue[1][1:] == ["2024年2月20日", "2024年3月1日"]
    assert "甲单位（盖章）" in report.paragraphs
    # Nothing of B, no opinion text, no reply text.
    assert "乙单位" not in report.text and B_FINDING not in report.text
    for name in ("b1", "b2", "u1"):
        assert offices.codes[name] not in report.text
    assert "意见a" not in report.text and "答复a" not in report.text


def test_office_report_is_scoped_and_audited(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
    make_user: Any,
) -> None:
    triager = staff_login("triager")
    assert triager.get(f"/staff/report.docx?office={offices.b}").status_code == 404
    assert triager.get("/staff/report.docx?notice=b-notice").status_code == 404
    supervisor = staff_login("supervisor")
    assert supervisor.get("/staff/report.docx").status_code == 400  # which office?
    report = _download(supervisor, f"/staff/report.docx?office={offices.b}")
    assert report.paragraphs[0] == "乙单位群众意见办理情况报告"
    assert "甲单位" not in report.text
    assert [r[0] for r in report.table_after("回执编号")[1:]] == [offices.codes["b1"]]
    both = staff_login("viewer", user=make_user("viewer", offices=["main", "b"]))
    assert both.get(f"/staff/report.docx?office={offices.b}").status_code == 200
    with app.app_context():
        events = db.session.scalars(
            select(audit.Event).where(audit.Event.action == "report.download")
        ).all()
        assert [(e.object_type, e.details["office"]) for e in events] == [
            ("office", "b"),
            ("office", "b"),
        ]
        assert audit.verify().ok


def test_round_report_summary_first_then_one_section_per_office(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    url = f"/staff/oversight/rounds/{offices.round_slug}/report.docx"
    report = _download(staff_login("supervisor"), url)
    assert report.paragraphs[0] == "第一轮巡察整改意见办理情况汇总报告"
    summary = report.tables[0]
    assert summary[0] == ["单位", "收到意见", "已答复", "按期答复率", "尚在办理", "逾期未答复"]
    # a6 has no notice, so it is in no round. Offices by name (collation decides the order).
    assert sorted(summary[1:]) == [
        ["乙单位", "2", "1", "100%", "1", "1"],
        ["甲单位", "4", "2", "50%", "2", "2"],
    ]
    sections = [p for p in report.paragraphs if p in ("甲单位", "乙单位")]
    assert sections == [row[0] for row in summary[1:]]
    # The same layout as the office report in every section.
    for heading in ("一、总体情况", "二、各问题收到意见情况", "三、各渠道收到意见情况"):
        assert report.paragraphs.count(heading) == 2, heading
    overdue_codes = {r[0] for t in report.tables if t[0][0] == "回执编号" for r in t[1:]}
    assert overdue_codes == {offices.codes[n] for n in ("a3", "a4", "b1")}
    assert "市委第一巡察组（盖章）" in report.paragraphs
    assert "意见a" not in report.text and "意见b" not in report.text
    with app.app_context():
        event = db.session.scalar(
            select(audit.Event).where(audit.Event.action == "report.download")
        )
        assert event is not None
        assert (event.object_type, event.details["round"]) == ("round", "r1")


def test_round_report_is_for_the_inspection_office_only(
    app: Flask,
    offices: Offices,  # noqa: F811
    staff_login: Any,
) -> None:
    url = f"/staff/oversight/rounds/{offices.round_slug}/report.docx"
    for role in ("triager", "viewer", "editor"):
        assert staff_login(role).get(url).status_code == 403, role
    assert staff_login("admin").get(url).status_code == 200
    assert (
        staff_login("supervisor").get("/staff/oversight/rounds/nope/report.docx").status_code == 404
    )
