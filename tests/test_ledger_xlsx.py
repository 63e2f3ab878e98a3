"""The 台账 as handed to the inspection team (issue #18): every column in order, rows oldest
first, a workbook set up for printing and the two summary sheets, checked with openpyxl against
values written down by hand for a small data set (tests/test_export.py's, plus a few events)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.intake.models import Submission
from tests.test_export import Dataset, ledger_dataset, utc

HEADER = [
    "序号",
    "回执编号",
    "收到时间",
    "渠道",
    "关联问题",
    "主题",
    "内容",
    "经办人",
    "状态",
    "答复内容/办理结果",
    "答复时间",
    "办结时间",
    "满意度",
    "合并至",
    "转办单位",
    "逾期未答复",
    "单位",
    "公示",
    "逾期收到",
    "附件数",
    "答复期限",
    "答复用时（天）",
    "状态记录",
]


@pytest.fixture
def ledger(app: Flask, published_notice: str, make_user: Any) -> Dataset:
    """test_export's seven submissions, and: A assigned to 王经办 and rated; B closed after its
    reply with a reason; C merged into A; D referred to 市场监管局; H a phone call logged late,
    received before all the others (so it is 序号 1 though its id is the highest)."""
    from portal.intake.service import Incoming, record_submission
    from portal.notices.models import Notice
    from portal.staff.models import User
    from portal.triage.case_models import Rating
    from portal.triage.models import DuplicateLink, Referral, StatusChange

    staff = make_user("triager")
    data = ledger_dataset(app, published_notice, staff)
    with app.app_context():
        db.session.get(User, staff.id).display_name = "王经办"
        notice = db.session.scalar(db.select(Notice).where(Notice.slug == published_notice))
        receipt = record_submission(
            Incoming(
                channel="phone",
                body="电话反映：食堂问题已好转。",
                notice=notice,
                findings=[2],
                received_at=utc(2, 20, 2),
                consent=True,
            )
        )
        data.codes["H"] = receipt.code
        by_name = {
            name: db.session.scalar(db.select(Submission).where(Submission.code == code))
            for name, code in data.codes.items()
        }
        by_name["A"].assignee_id = staff.id
        b = by_name["B"]
        db.session.add(
            StatusChange(
                submission_id=b.id,
                old="replied",
                new="closed",
                reason="已整改到位",
                actor="user:1",
                at=datetime(2024, 3, 13, 1, 0, tzinfo=UTC),
            )
        )
        b.status = "closed"
        db.session.add(
            DuplicateLink(submission_id=by_name["C"].id, original_id=by_name["A"].id, actor="x")
        )
        db.session.add(
            Referral(submission_id=by_name["D"].id, body_name="市场监管局", actor="user:1")
        )
        # A rated 不满意 first, then 基本满意 after a second look: the ledger shows the latest.
        for rating in ("unsatisfied", "basically_satisfied"):
            db.session.add(
                Rating(submission_id=by_name["A"].id, rating=rating, source="track", actor="x")
            )
        db.session.add(Rating(submission_id=b.id, rating="satisfied", source="staff", actor="x"))
        db.session.commit()
    return data


def _book(runner: Any, *args: str, read_only: bool = False) -> Any:
    result = runner.invoke(args=["submissions", "export", "--format", "xlsx", *args])
    assert result.exit_code == 0, result.output
    return openpyxl.load_workbook(io.BytesIO(result.stdout_bytes), read_only=read_only)


def _rows(book: Any) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    header, *body = list(book["台账"].iter_rows(values_only=True))
    return list(body), {r[1]: dict(zip(header, r, strict=True)) for r in body}


def test_every_column_in_order_with_the_values_of_each_row(ledger: Dataset, runner: Any) -> None:
    book = _book(runner)
    header = next(book["台账"].iter_rows(max_row=1, values_only=True))
    assert list(header) == HEADER
    _body, by_code = _rows(book)
    c = ledger.codes

    a = by_code[c["A"]]
    assert a["收到时间"] == datetime(2024, 3, 1, 10, 0)  # Asia/Shanghai, not 02:00 UTC
    assert a["渠道"] == "网上"
    assert a["关联问题"] == "1. 落实上级重大决策部署不到位"
    assert a["内容"] == "意见A：单位食堂浪费严重，请整改。"
    assert a["经办人"] == "王经办"
    assert a["状态"] == "已答复"
    assert a["答复内容/办理结果"] == "答复A"
    assert a["答复时间"] == datetime(2024, 3, 5, 10, 0)
    assert a["办结时间"] is None
    assert a["满意度"] == "基本满意"
    assert a["答复用时（天）"] == 4
    assert a["逾期未答复"] is None

    b = by_code[c["B"]]
    assert b["状态"] == "已办结"
    assert b["办结时间"] == datetime(2024, 3, 13, 9, 0)
    assert b["答复内容/办理结果"] == "答复B"  # the reply sent, not the closing note
    assert b["满意度"] == "满意"
    assert by_code[c["C"]]["满意度"] is None  # not rated

    assert by_code[c["C"]]["合并至"] == c["A"]
    assert by_code[c["C"]]["逾期未答复"] == "是"
    assert by_code[c["C"]]["答复时间"] is None
    assert by_code[c["D"]]["转办单位"] == "市场监管局"
    assert by_code[c["E"]]["状态"] == "待核查"
    assert by_code[c["F"]]["状态"] == "垃圾信息"
    assert by_code[c["G"]]["渠道"] == "信件"
    assert by_code[c["G"]]["关联问题"] is None
    h = by_code[c["H"]]
    assert h["渠道"] == "电话"
    assert h["关联问题"].startswith("2. ")


def test_rows_are_in_received_order_and_numbered(ledger: Dataset, runner: Any) -> None:
    body, _ = _rows(_book(runner))
    c = ledger.codes
    assert [r[1] for r in body] == [c[n] for n in "HABCDEFG"]
    assert [r[0] for r in body] == list(range(1, 9))
    received = [r[2] for r in body]
    assert received == sorted(received)


def test_workbook_is_ready_to_print_and_filter(ledger: Dataset, runner: Any) -> None:
    sheet = _book(runner)["台账"]
    assert sheet.freeze_panes == "C2"  # header row, 序号 and 回执编号 stay in view
    assert sheet.auto_filter.ref == "A1:W9"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == 9  # A4
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # One page wide (fitToWidth absent means 1 in OOXML), as many pages long as it takes.
    assert (sheet.page_setup.fitToWidth or 1) == 1 and sheet.page_setup.fitToHeight == 0
    assert "&P" in sheet.oddFooter.center.text and "&N" in sheet.oddFooter.center.text
    assert sheet.print_area == "'台账'!$A$1:$P$9"  # 序号 … 逾期未答复
    assert sheet.column_dimensions["G"].width > 30  # 内容
    assert sheet.column_dimensions["A"].width < 8
    assert sheet["G2"].alignment.wrap_text
    assert sheet["A1"].font.bold
    for column in "CKL":  # times: a date format, not a number of days
        cells = [sheet[f"{column}{row}"] for row in range(2, 10)]
        assert all(cell.number_format == "yyyy-mm-dd hh:mm" for cell in cells if cell.value)


def test_summary_per_finding_and_per_channel(ledger: Dataset, runner: Any) -> None:
    book = _book(runner)
    assert book.sheetnames == ["台账", "按问题汇总", "按渠道汇总"]
    findings = {
        r[0]: r[2:5] for r in book["按问题汇总"].iter_rows(min_row=2, values_only=True) if r[2]
    }
    # received, replied, overdue: test_export's figures plus H (finding 2, open, not due yet
    # or overdue depending on today: its due date is in 2024, so overdue).
    assert findings == {1: (3, 2, 1), 2: (3, 1, 2), None: (1, 1, 0)}
    channels = list(book["按渠道汇总"].iter_rows(values_only=True))
    assert channels[0] == ("渠道", "收到意见", "已答复", "逾期未答复")
    # web: A-E (F is spam, left out), letter: G, phone: H; replied A B D G.
    assert channels[1:] == [
        ("网上", 5, 3, 2),
        ("信件", 1, 1, 0),
        ("电话", 1, 0, 1),
        ("合计", 7, 4, 3),
    ]
    assert book["按渠道汇总"].print_title_rows == "$1:$1"


# --- streaming: the web download leaves as it is made ---------------------------------------


def test_the_workbook_leaves_in_chunks_before_the_last_row_is_read(
    app: Flask, ledger: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.ledger import export, stats
    from portal.progress import set_keepalive

    monkeypatch.setattr(export, "STREAM_CHUNK", 600)  # a few rows of this small data set
    beats: list[int] = []
    set_keepalive(lambda: beats.append(1))
    read: list[int] = []
    try:
        with app.app_context():
            count, chunks = export.xlsx_stream(stats.LedgerFilter(), tick=read.append)
            assert count == 8
            seen_at_first_chunk = None
            data = b""
            for chunk in chunks:
                if chunk and seen_at_first_chunk is None:
                    seen_at_first_chunk = len(read)
                data += chunk
    finally:
        set_keepalive(lambda: None)
    assert seen_at_first_chunk is not None and seen_at_first_chunk < count
    assert beats  # the worker told its server it is alive while streaming
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert len(list(book["台账"].iter_rows(min_row=2))) == 8


def test_web_download_streams_past_nginx_buffers(
    app: Flask, ledger: Dataset, staff_login: Any
) -> None:
    from tests.test_export import ledger_post

    response = ledger_post(staff_login("viewer"))
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert len(list(book["台账"].iter_rows(min_row=2))) == 8


def test_nginx_passes_the_ledger_download_on_unbuffered() -> None:
    from pathlib import Path

    conf = (Path(__file__).parent.parent / "deploy" / "nginx" / "portal.conf").read_text()
    block = conf[conf.index("location = /staff/ledger.xlsx") :]
    block = block[: block.index("}")]
    assert "proxy_buffering off;" in block and "proxy_pass http://portal_app;" in block


# Any text but NUL, which no stored submission can hold (PostgreSQL text refuses it).
TEXTS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00", max_codepoint=0x2FFFF
    ),
    max_size=80,
)


def as_excel_stores(text: str) -> str:
    """What a reader without Excel's unescaping sees: control characters and CR (which XML
    would turn into LF) as _xHHHH_, the form Excel itself writes and reads back as typed."""
    return "".join(
        f"_x{ord(c):04X}_" if (ord(c) < 0x20 and c not in "\t\n") or c in "\ufffe\uffff" else c
        for c in text
    )


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=TEXTS, subject=TEXTS)
def test_any_text_a_citizen_types_comes_back_as_typed_and_never_as_a_formula(
    app: Flask, ledger: Dataset, runner: Any, body: str, subject: str
) -> None:
    with app.app_context():
        row = db.session.scalar(db.select(Submission).where(Submission.code == ledger.codes["A"]))
        row.body, row.subject = "=" + body, subject
        db.session.commit()
    sheet = _book(runner)["台账"]
    header = [c.value for c in sheet[1]]
    cells = {c.row: c for c in sheet["B"]}
    a = next(r for r, c in cells.items() if c.value == ledger.codes["A"])
    body_cell = sheet.cell(a, header.index("内容") + 1)
    subject_cell = sheet.cell(a, header.index("主题") + 1)
    assert body_cell.data_type == "s" and body_cell.value == as_excel_stores("=" + body)
    assert (subject_cell.value or "") == as_excel_stores(subject)


def test_an_empty_ledger_is_a_valid_workbook_with_its_header(ledger: Dataset, runner: Any) -> None:
    book = _book(runner, "--from", "2030-01-01")
    rows = list(book["台账"].iter_rows(values_only=True))
    assert rows == [tuple(HEADER)]
    assert list(book["按渠道汇总"].iter_rows(min_row=2, values_only=True)) == [("合计", 0, 0, 0)]
