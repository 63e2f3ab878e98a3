"""The ledger export: CSV, XLSX and JSON, held and spam included, date filters on local days,
XLSX summary figures checked against values computed by hand for a small data set."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.staff.models import User
from tests.conftest import form_post

# Times in UTC; the ledger counts Asia/Shanghai (UTC+8) calendar days.
#   code  finding  received (local)   answered (local)     -> days
#   A     1        03-01 10:00        03-05 10:00          -> 4
#   B     1        03-02 10:00        03-12 10:00          -> 10
#   C     1        03-03 10:00        -  (open, overdue)
#   D     2        03-04 01:00        03-05 23:30          -> 1 (UTC dates differ by 2)
#   E     2        03-04 12:00 held   -  (open, overdue)
#   F     1        03-10 12:00 spam   -  (not counted)
#   G     -        04-10 10:00        04-12 10:00 letter   -> 2
EXPECTED_SUMMARY = {
    # number: (received, replied, overdue, median days)
    1: (3, 2, 1, 7.0),
    2: (2, 1, 1, 1.0),
    None: (1, 1, 0, 2.0),
}


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Dataset:
    codes: dict[str, str]
    slug: str


def ledger_dataset(app: Flask, slug: str, staff: User) -> Dataset:
    """Seven submissions with replies at known times (see the table above)."""
    from portal.intake.service import Contact, Incoming, record_submission
    from portal.notices.models import Notice
    from portal.triage.models import Reply
    from portal.triage.replies import send_reply

    plan = [
        ("A", [1], utc(3, 1, 2), "received", utc(3, 5, 2)),
        ("B", [1], utc(3, 2, 2), "received", utc(3, 12, 2)),
        ("C", [1], utc(3, 3, 2), "received", None),
        ("D", [2], utc(3, 3, 17), "received", utc(3, 5, 15, 30)),
        ("E", [2], utc(3, 4, 4), "held", None),
        ("F", [1], utc(3, 10, 4), "spam", None),
        ("G", [], utc(4, 10, 2), "received", utc(4, 12, 2)),
    ]
    codes = {}
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
        user = db.session.get(User, staff.id)
        for name, findings, received, status, answered in plan:
            extra: dict[str, Any] = {}
            if name == "G":
                extra = {"channel": "letter", "contact": Contact(address="东莞市某路1号")}
            receipt = record_submission(
                Incoming(
                    channel=extra.pop("channel", "web"),
                    body=f"意见{name}：单位食堂浪费严重，请整改。",
                    notice=notice,
                    findings=findings,
                    received_at=received,
                    status=status,
                    consent=True,
                    **extra,
                )
            )
            codes[name] = receipt.code
            if answered is not None:
                submission = db.session.get(Submission, receipt.submission_id)
                reply = send_reply(submission, body=f"答复{name}", actor_user=user)
                db.session.flush()
                reply.created_at = answered
                db.session.commit()
                assert db.session.get(Reply, reply.id).submission_id == submission.id
    return Dataset(codes, slug)


@pytest.fixture
def dataset(app: Flask, published_notice: str, make_user: Any) -> Dataset:
    return ledger_dataset(app, published_notice, make_user("triager"))


def _export(runner: Any, *args: str) -> Any:
    result = runner.invoke(args=["submissions", "export", *args])
    assert result.exit_code == 0, result.output
    return result


def test_json_objects_are_exactly_what_show_prints(dataset: Dataset, runner: Any) -> None:
    rows = json.loads(_export(runner, "--format", "json").output)
    assert [r["code"] for r in rows] == list(dataset.codes.values())
    assert {r["status"] for r in rows} >= {"held", "spam", "replied"}
    for row in rows:
        shown = runner.invoke(args=["submissions", "show", row["code"], "--json"])
        assert json.loads(shown.output) == row


def test_csv_has_one_row_per_submission_held_and_spam_included(
    dataset: Dataset, runner: Any
) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(runner, "--format", "csv").output)))
    assert [r["code"] for r in rows] == list(dataset.codes.values())
    by_code = {r["code"]: r for r in rows}
    assert by_code[dataset.codes["E"]]["status"] == "held"
    assert by_code[dataset.codes["F"]]["status"] == "spam"
    assert by_code[dataset.codes["A"]]["findings"] == "1"
    assert by_code[dataset.codes["A"]]["body"] == "意见A：单位食堂浪费严重，请整改。"


def test_date_filters_use_local_days(dataset: Dataset, runner: Any) -> None:
    rows = json.loads(_export(runner, "--from", "2024-03-02", "--to", "2024-03-03").output)
    assert [r["code"] for r in rows] == [dataset.codes["B"], dataset.codes["C"]]
    # D arrived on 3 March UTC but 4 March in Dongguan.
    rows = json.loads(_export(runner, "--from", "2024-03-04", "--to", "2024-03-04").output)
    assert [r["code"] for r in rows] == [dataset.codes["D"], dataset.codes["E"]]
    rows = json.loads(_export(runner, "--format", "json", "--from", "2024-04-01").output)
    assert [r["code"] for r in rows] == [dataset.codes["G"]]


def _summary(book: Any) -> dict[int | None, tuple[Any, ...]]:
    sheet = book["按问题汇总"]
    out = {}
    for row in sheet.iter_rows(min_row=2, values_only=True):
        number, _title, received, replied, overdue, median = row[:6]
        if received:
            out[number] = (received, replied, overdue, median)
    return out


def test_xlsx_summary_matches_hand_computed_figures(
    dataset: Dataset, runner: Any, tmp_path: Any
) -> None:
    target = tmp_path / "ledger.xlsx"
    _export(runner, "--format", "xlsx", "--output", str(target))
    book = openpyxl.load_workbook(target, read_only=True)
    assert book.sheetnames == ["台账", "按问题汇总", "按渠道汇总"]
    assert _summary(book) == EXPECTED_SUMMARY

    rows = list(book["台账"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert [r[1] for r in body] == list(dataset.codes.values())
    col = {name: header.index(name) for name in ("状态", "收到时间", "答复用时（天）", "状态记录")}
    by_code = {r[1]: r for r in body}
    d_row = by_code[dataset.codes["D"]]
    assert d_row[col["答复用时（天）"]] == 1
    assert d_row[col["收到时间"]] == datetime(2024, 3, 4, 1, 0)  # local time
    assert "已接收→已答复" in d_row[col["状态记录"]]
    assert by_code[dataset.codes["F"]][col["状态"]] == "垃圾信息"


def test_xlsx_to_stdout_and_filtered_summary(dataset: Dataset, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export", "--format", "xlsx", "--to", "2024-03-02"])
    assert result.exit_code == 0
    book = openpyxl.load_workbook(io.BytesIO(result.stdout_bytes), read_only=True)
    assert _summary(book) == {1: (2, 2, 0, 7.0)}


def test_unknown_notice_fails(dataset: Dataset, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export", "--notice", "nope"])
    assert result.exit_code == 1


def ledger_post(client: Any, query: str = "") -> Any:
    """The dashboard's download button: a POST with the page's CSRF token (issue #19 item 17)."""
    return form_post(client, f"/staff/ledger.xlsx{query}", {}, form_url="/staff/dashboard")


def test_staff_ledger_download_is_audited(app: Flask, dataset: Dataset, staff_login: Any) -> None:
    anonymous = app.test_client().post("/staff/ledger.xlsx")
    assert anonymous.status_code in (302, 400)  # 400: no CSRF token
    client = staff_login("viewer")
    response = ledger_post(client, f"?notice={dataset.slug}&from=2024-03-01&to=2024-03-31")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert len(list(book["台账"].iter_rows(min_row=2))) == 6  # A-F, not G (April)
    with app.app_context():
        event = db.session.scalar(select(audit.Event).where(audit.Event.action == "ledger.export"))
        assert event is not None
        assert event.details["rows"] == 6 and event.details["from"] == "2024-03-01"
        assert audit.verify().ok
    assert ledger_post(client, "?from=yesterday").status_code == 400


# --- offices -------------------------------------------------------------------------------------


@pytest.fixture
def two_offices(app: Flask, seed_text: str, make_user: Any) -> Any:
    from tests.test_oversight import build_offices

    return build_offices(app, seed_text, make_user("admin"))


def test_export_of_one_office_with_its_name_in_every_row(two_offices: Any, runner: Any) -> None:
    codes = two_offices.codes
    rows = json.loads(_export(runner, "--format", "json", "--office", "b").output)
    assert [r["code"] for r in rows] == [codes["b1"], codes["b2"]]
    assert "office" not in rows[0]  # the JSON contract is `show --json`'s, unchanged
    everything = list(csv.DictReader(io.StringIO(_export(runner, "--format", "csv").output)))
    offices = {r["code"]: r["office"] for r in everything}
    assert offices[codes["a1"]] == "甲单位" and offices[codes["b1"]] == "乙单位"
    assert offices[codes["u1"]] == ""  # unrouted: no office answers it yet
    main = list(
        csv.DictReader(io.StringIO(_export(runner, "--format", "csv", "--office", "main").output))
    )
    assert {r["office"] for r in main} == {"甲单位"}
    assert len(main) == 6  # a1..a6, spam included as ever


def test_xlsx_has_an_office_column_and_the_summary_of_that_office(
    two_offices: Any, runner: Any
) -> None:
    from tests.test_oversight import B_FINDING

    result = runner.invoke(args=["submissions", "export", "--format", "xlsx", "--office", "b"])
    assert result.exit_code == 0
    book = openpyxl.load_workbook(io.BytesIO(result.stdout_bytes), read_only=True)
    rows = list(book["台账"].iter_rows(values_only=True))
    office = rows[0].index("单位")
    assert [(r[1], r[office]) for r in rows[1:]] == [
        (two_offices.codes["b1"], "乙单位"),
        (two_offices.codes["b2"], "乙单位"),
    ]
    titles = [r[1] for r in book["按问题汇总"].iter_rows(min_row=2, values_only=True)]
    assert B_FINDING in titles
    assert "执行议事规则不严格" not in titles  # A's finding 3: not B's summary


def test_unknown_office_fails_in_chinese(two_offices: Any, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export", "--office", "nope"])
    assert result.exit_code == 1
    assert "没有网址名为 nope 的单位" in result.output


def test_ledger_download_holds_the_readers_offices_only(
    app: Flask, two_offices: Any, staff_login: Any, make_user: Any
) -> None:
    codes = two_offices.codes

    def ledger_codes(client: Any, query: str = "") -> set[str]:
        response = ledger_post(client, query)
        assert response.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
        return {r[1] for r in book["台账"].iter_rows(min_row=2, values_only=True)}

    a_codes = {codes[n] for n in ("a1", "a2", "a3", "a4", "a5", "a6")}
    b_codes = {codes["b1"], codes["b2"]}
    triager = staff_login("triager")
    assert ledger_codes(triager) == a_codes
    assert ledger_post(triager, f"?office={two_offices.b}").status_code == 404
    both = staff_login("viewer", user=make_user("viewer", offices=["main", "b"]))
    assert ledger_codes(both) == a_codes | b_codes  # not the unrouted one
    assert ledger_codes(both, f"?office={two_offices.b}") == b_codes
    supervisor = staff_login("supervisor")
    assert ledger_codes(supervisor) == a_codes | b_codes | {codes["u1"]}


# --- formula injection and the CLI export's audit event (issue #19, items 13 and 16) -----------

FORMULAS = [
    '=HYPERLINK("http://evil.example","点我")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("lead", FORMULAS)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    app: Flask, published_notice: str, runner: Any, lead: str
) -> None:
    from portal.intake.service import Incoming, record_submission
    from portal.notices.models import Notice

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        record_submission(
            Incoming(
                channel="web",
                body=lead + "，单位食堂浪费严重，请整改。",
                subject=lead,
                notice=notice,
            )
        )
        db.session.commit()
    stored = json.loads(_export(runner, "--format", "json").output)[0]
    rows = list(csv.DictReader(io.StringIO(_export(runner, "--format", "csv").output)))
    assert len(rows) == 1
    neutralised = 0
    for field in ("body", "subject"):
        cell, typed = rows[0][field], stored[field]
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (field, cell)
        if typed.startswith(("=", "+", "-", "@", "\t", "\r")):
            assert cell == "'" + typed  # shown as typed, one apostrophe ahead
            neutralised += 1
        else:
            assert cell == typed
    assert neutralised >= 1  # the citizen's formula reached the export and was disarmed


def test_formula_safe_keeps_ordinary_text_and_marks_only_the_dangerous_lead() -> None:
    from portal.ledger.export import formula_safe

    assert formula_safe("意见A：单位食堂浪费严重") == "意见A：单位食堂浪费严重"
    assert formula_safe("") == ""
    assert formula_safe("a=b") == "a=b"
    assert formula_safe("=1") == "'=1"
    assert formula_safe("'=1") == "'=1"  # already text for a spreadsheet


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_every_cli_export_writes_an_audit_event(
    app: Flask, dataset: Dataset, runner: Any, fmt: str, tmp_path: Any
) -> None:
    out = tmp_path / f"ledger.{fmt}"
    _export(runner, "--format", fmt, "--notice", dataset.slug, "--output", str(out))
    with app.app_context():
        events = list(
            db.session.scalars(select(audit.Event).where(audit.Event.action == "ledger.export"))
        )
        assert len(events) == 1
        event = events[0]
        assert event.actor == "cli"
        assert event.details["format"] == fmt
        assert event.details["notice"] == dataset.slug
        assert event.details["rows"] == 7
        assert event.details["channel"] == "cli"
        assert audit.verify().ok


def test_a_failed_cli_export_writes_no_event(app: Flask, dataset: Dataset, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export", "--notice", "no-such-notice"])
    assert result.exit_code == 1
    with app.app_context():
        found = db.session.scalar(select(audit.Event).where(audit.Event.action == "ledger.export"))
        assert found is None
