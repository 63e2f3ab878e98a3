"""Bulk files: CSV/XLSX of a day's letters, calls, visits and box items read and checked (pure)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from portal.intake import bulk, offline
from portal.intake.bulk_rows import COLUMNS, parse_date
from tests.fixtures.intake import gen_csv, gen_sheet

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2024, 3, 20)


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH).astimezone(UTC)


# --- bulk files ----------------------------------------------------------------------------------

HEADER = [
    "渠道",
    "收到日期",
    "邮戳日期",
    "姓名",
    "电话",
    "地址",
    "同意使用联系方式",
    "内容",
    "涉及问题",
]
GOOD_ROWS = [
    ["信件", "2024-03-05", "2024-03-01", "张三", "13800138000", "东莞市东城区某路1号", "是",
     "路灯坏了", "3、5"],
    ["电话", "2024/3/6", "", "", "", "", "", "来电反映采购问题", "13"],
    ["意见箱", "2024年3月7日", "", "", "", "", "", "建议公开整改台账", ""],
]  # fmt: skip


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_good_csv_in_every_encoding_excel_writes(encoding: str) -> None:
    preview = bulk.parse_bulk(gen_csv([HEADER, *GOOD_ROWS], encoding), "day.csv", today=TODAY)
    assert preview.errors == []
    assert [r.channel for r in preview.rows] == ["letter", "phone", "box"]
    first = preview.rows[0]
    assert (first.name, first.received_on, first.postmarked_on) == (
        "张三", date(2024, 3, 5), date(2024, 3, 1),
    )  # fmt: skip
    assert first.findings == (3, 5)
    assert [r.received_on for r in preview.rows[1:]] == [date(2024, 3, 6), date(2024, 3, 7)]


def test_xlsx_with_real_date_cells_and_numbers() -> None:
    rows = [HEADER, ["信件", datetime(2024, 3, 5), date(2024, 3, 1), "李四", 13800138000,
                     "东莞市南城区", "是", "信件内容", 7]]  # fmt: skip
    preview = bulk.parse_bulk(gen_sheet(rows), "day.xlsx", today=TODAY)
    assert preview.errors == []
    row = preview.rows[0]
    assert (row.received_on, row.postmarked_on, row.phone, row.findings) == (
        date(2024, 3, 5), date(2024, 3, 1), "13800138000", (7,),
    )  # fmt: skip


def test_each_error_names_its_row_and_column() -> None:
    bad = [
        HEADER,
        GOOD_ROWS[0],
        ["信件", "2024-03-05", "2024-03-09", "", "", "", "", "邮戳晚于收到", ""],
        ["传真", "2024-13-01", "", "", "", "", "", "", ""],
    ]
    preview = bulk.parse_bulk(gen_csv(bad), "day.csv", today=TODAY)
    where = {(e.row, e.column) for e in preview.errors}
    assert where == {(3, "邮戳日期"), (4, "渠道"), (4, "收到日期"), (4, "内容")}
    assert all(e.text.startswith(f"第{e.row}行“{e.column}”") for e in preview.errors)
    assert not preview.ok


def test_contact_without_consent_and_anonymous_with_contact_are_refused() -> None:
    header = ["渠道", "收到日期", "姓名", "匿名", "同意使用联系方式", "内容"]
    rows = [header, ["来访", "2024-03-05", "王五", "", "", "来访内容"],
            ["来访", "2024-03-05", "赵六", "是", "是", "来访内容"]]  # fmt: skip
    preview = bulk.parse_bulk(gen_csv(rows), "day.csv", today=TODAY)
    assert {(e.row, e.column) for e in preview.errors} == {(2, "同意使用联系方式"), (3, "匿名")}


def test_phone_details_belong_to_phone_rows_only() -> None:
    header = ["渠道", "收到日期", "内容", "来电时间", "通话时长（分钟）", "接待人"]
    rows = [header, ["电话", "2024-03-05", "来电", "2024-03-05 10:30", "8", ""],
            ["信件", "2024-03-05", "来信", "2024-03-05 10:30", "", ""],
            ["电话", "2024-03-05", "来电", "2024-03-04 10:30", "x", "李四"]]  # fmt: skip
    preview = bulk.parse_bulk(gen_csv(rows), "day.csv", today=TODAY)
    assert {(e.row, e.column) for e in preview.errors} == {
        (3, "来电时间"), (4, "来电时间"), (4, "通话时长（分钟）"), (4, "接待人"),
    }  # fmt: skip
    call = preview.rows[0]
    assert call.called_at == local(2024, 3, 5, 10, 30)
    assert call.channel_details()["duration_min"] == 8


def test_unknown_and_missing_columns_are_file_errors_on_the_header_row() -> None:
    preview = bulk.parse_bulk(gen_csv([["渠道", "备注"], ["信件", "x"]]), "day.csv", today=TODAY)
    assert {(e.row, e.column) for e in preview.errors} == {
        (1, "备注"),
        (1, "收到日期"),
        (1, "内容"),
    }
    assert preview.rows == []


def test_received_in_the_future_is_refused() -> None:
    rows = [HEADER, ["信件", "2024-03-21", "", "", "", "", "", "内容", ""]]
    preview = bulk.parse_bulk(gen_csv(rows), "day.csv", today=TODAY)
    assert [(e.row, e.column) for e in preview.errors] == [(2, "收到日期")]


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"", "x.csv"), (b"MZ\x90\x00", "x.exe"), (b"\xd0\xcf\x11\xe0" + b"\0" * 60, "x.xls"),
     (b"PK\x03\x04not really", "x.xlsx")],
)  # fmt: skip
def test_unreadable_files_get_one_file_level_error(data: bytes, name: str) -> None:
    preview = bulk.parse_bulk(data, name, today=TODAY)
    assert len(preview.errors) == 1 and preview.errors[0].row == 0
    assert preview.rows == []


def test_unknown_findings_are_named_against_the_notice() -> None:
    preview = bulk.parse_bulk(gen_csv([HEADER, *GOOD_ROWS]), "day.csv", today=TODAY)
    bulk.check_findings(preview, known=range(1, 6))
    assert [(e.row, e.column) for e in preview.errors] == [(3, "涉及问题")]
    assert "13" in preview.errors[0].message


def test_templates_parse_back_to_their_own_columns() -> None:
    header = next(csv.reader(io.StringIO(bulk.template_csv().decode("utf-8-sig"))))
    assert header == [c.header for c in COLUMNS]
    sheet = load_workbook(io.BytesIO(bulk.template_xlsx()), read_only=True).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == header
    # An untouched template is "header only", never a crash or a phantom row.
    for data, name in ((bulk.template_csv(), "t.csv"), (bulk.template_xlsx(), "t.xlsx")):
        preview = bulk.parse_bulk(data, name, today=TODAY)
        assert preview.rows == [] and len(preview.errors) == 1


cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(cell_text, min_size=len(HEADER), max_size=len(HEADER)), max_size=6))
def test_any_cells_give_rows_or_named_errors_never_a_crash(rows: list[list[str]]) -> None:
    preview = bulk.parse_bulk(gen_csv([HEADER, *rows]), "fuzz.csv", today=TODAY)
    headers = {c.header for c in COLUMNS} | {""}
    for error in preview.errors:
        assert error.column in headers and error.message
        assert 0 <= error.row <= len(rows) + 1
    good = {r.row for r in preview.rows}
    assert not good & {e.row for e in preview.errors}, "a row is either accepted or refused"
    for row in preview.rows:
        assert row.channel in offline.STAFF_CHANNELS and row.body.strip()
        assert row.received_on <= TODAY


@settings(max_examples=100, deadline=None)
@given(day=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
       style=st.sampled_from(["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日",
                              "{y}{m:02d}{d:02d}", "{y}.{m}.{d}"]))  # fmt: skip
def test_every_date_style_staff_type_reads_back(day: date, style: str) -> None:
    assert parse_date(style.format(y=day.year, m=day.month, d=day.day)) == day
