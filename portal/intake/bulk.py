"""A bulk file of a day's letters, calls, visits and box items: read, checked, previewed (pure).

``parse_bulk`` reads CSV (UTF-8, UTF-16 or GB18030 as Chinese Excel saves it) or XLSX and
checks every row; nothing is stored here. The templates staff fill in are written here too,
from the same columns, so the two cannot drift apart. Recording the rows is bulk_service's job.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from portal.intake.attachments.sniff import detect
from portal.intake.bulk_rows import (
    COLUMN_BY_KEY,
    COLUMNS,
    BulkRow,
    RowError,
    cell_text,
    read_row,
)
from portal.textfiles import decode_text_file
from portal.workdays import local_today

MAX_BULK_BYTES = 5 * 1024 * 1024
MAX_BULK_ROWS = 500
_TOO_MANY_ROWS = f"一个文件最多导入{MAX_BULK_ROWS}行，请分成几个文件。"


@dataclass
class BulkPreview:
    rows: list[BulkRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def errors_for(self, row: int) -> list[RowError]:
        return [e for e in self.errors if e.row == row]


class _TooManyRows(Exception):
    pass


# --- the file --------------------------------------------------------------------------------


def _csv_cells(data: bytes) -> Iterator[list[Any]]:
    text = decode_text_file(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_cells(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


def _file_problem(data: bytes, filename: str) -> str | None:
    """Why this upload cannot be read as a bulk file at all, or None."""
    if not data:
        return "文件是空的。"
    if len(data) > MAX_BULK_BYTES:
        return f"文件超过{MAX_BULK_BYTES // 1024 // 1024} MB，请分成几个文件导入。"
    name = filename.lower()
    if name.endswith(".xlsx"):
        detection = detect(data)  # refuses zip bombs, macros and files that only claim XLSX
        if detection.kind != "xlsx" or detection.problem:
            return "文件不是有效的Excel（XLSX）表格。"
        return None
    if name.endswith((".csv", ".txt")):
        if data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
            return "文件内容是Excel表格，请以 .xlsx 扩展名上传，或另存为CSV。"
        return None
    if name.endswith(".xls"):
        return "不支持旧版Excel（.xls）文件，请另存为 .xlsx 或 CSV（逗号分隔）后上传。"
    return "只能导入CSV或XLSX文件，请使用下载的模板。"


def parse_bulk(file_bytes: bytes, filename: str, *, today: date | None = None) -> BulkPreview:
    """Read a day's letters from CSV or XLSX and check every row; nothing is stored here."""
    preview = BulkPreview()
    problem = _file_problem(file_bytes, filename)
    if problem:
        preview.errors.append(RowError(0, "", problem))
        return preview
    reader = _xlsx_cells if filename.lower().endswith(".xlsx") else _csv_cells
    try:
        table = list(_bounded(reader(file_bytes)))
    except _TooManyRows:
        preview.errors.append(RowError(0, "", _TOO_MANY_ROWS))
        return preview
    except Exception:  # openpyxl and csv raise many types on damaged files
        preview.errors.append(RowError(0, "", "文件已损坏或格式不对，无法读取。"))
        return preview
    _read_table(table, preview, today or local_today())
    return preview


def _bounded(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    # Stops reading a huge sheet early; a few trailing blank rows are common and harmless.
    for index, row in enumerate(rows):
        if index > MAX_BULK_ROWS + 50 and any(cell_text(v) for v in row):
            raise _TooManyRows
        yield row


def _read_table(table: list[list[Any]], preview: BulkPreview, today: date) -> None:
    header_index = next((i for i, row in enumerate(table) if any(cell_text(v) for v in row)), None)
    if header_index is None:
        preview.errors.append(RowError(0, "", "文件中没有表头和数据。"))
        return
    keys = _read_header(table[header_index], header_index + 1, preview)
    if preview.errors:
        return
    for offset, values in enumerate(table[header_index + 1 :], start=header_index + 2):
        cells = {key: cell_text(v) for key, v in zip(keys, values, strict=False) if key}
        raw = {key: v for key, v in zip(keys, values, strict=False) if key}
        if not any(cells.values()):
            continue  # blank lines between days are common
        row = read_row(offset, cells, raw, preview.errors, today)
        if row is not None:
            preview.rows.append(row)
    if len(preview.rows) > MAX_BULK_ROWS:
        preview.errors.append(RowError(0, "", _TOO_MANY_ROWS))
    if not preview.rows and not preview.errors:
        preview.errors.append(RowError(0, "", "文件中只有表头，没有要导入的行。"))


def _header_key(text: str) -> str:
    """A header cell reduced to what identifies it: no spaces, stars or (必填)/(可空) notes."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"[\s*＊]", "", text)
    return re.sub(r"\((必填|可空|选填)\)$", "", text)


_HEADER_LOOKUP = {
    _header_key(name): column.key
    for column in COLUMNS
    for name in (column.header, column.key, *column.aliases)
}


def _read_header(values: Sequence[Any], row: int, preview: BulkPreview) -> list[str | None]:
    keys: list[str | None] = []
    for value in values:
        text = cell_text(value)
        if not text:
            keys.append(None)
            continue
        key = _HEADER_LOOKUP.get(_header_key(text))
        if key is None:
            preview.errors.append(RowError(row, text, "无法识别的列名，请使用模板中的列名。"))
        elif key in keys:
            preview.errors.append(RowError(row, text, "列名重复。"))
        keys.append(key)
    for column in COLUMNS:
        if column.required and column.key not in keys:
            preview.errors.append(RowError(row, column.header, "缺少必填的列。"))
    return keys


def check_findings(preview: BulkPreview, known: Iterable[int]) -> None:
    """Add an error for each row naming a finding number the chosen notice does not have."""
    allowed = set(known)
    check_row_findings(preview, lambda _row: allowed)


def check_row_findings(preview: BulkPreview, known_for: Callable[[BulkRow], set[int]]) -> None:
    """The same, each row against its own notice's finding numbers (``known_for(row)``)."""
    header = COLUMN_BY_KEY["findings"].header
    for row in preview.rows:
        allowed = known_for(row)
        unknown = [n for n in row.findings if n not in allowed]
        if unknown:
            preview.errors.append(
                RowError(row.row, header, f"公示中没有编号为{'、'.join(map(str, unknown))}的问题。")
            )


# --- templates ---------------------------------------------------------------------------------


def template_csv() -> bytes:
    """The header row, UTF-8 with BOM so that Excel opens the Chinese headers correctly."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([c.header for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """Sheet 1 to fill in (header row only), sheet 2 the column notes with an example."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "意见登记"
    sheet.append([c.header for c in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = 40 if column.key == "body" else 14
        # Text format keeps 0769-… phone numbers and leading zeros of postcodes intact.
        for row in range(2, MAX_BULK_ROWS + 2):
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "填写说明", "示例"])
    for column in COLUMNS:
        notes.append(
            [column.header, "必填" if column.required else "可空", column.doc, column.example]
        )
    notes.append([])
    notes.append(["第一张表从第2行起每行一件；整个文件全部无误才会导入，任何一行有误都不会导入。"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
