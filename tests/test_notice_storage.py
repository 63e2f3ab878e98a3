"""Issue #14's storage: what the importer reads now reaches the database and the CLI — labels
and descriptions of findings, each measure's own status, the editor's line roles kept with the
revision (so a later revision of the same text keeps the corrections), the change note — and
every upload format imports through `flask notices import`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from portal.notices.models import Finding, Notice
from portal.notices.parse import NoticeParseError
from portal.notices.service import effective_roles, import_notice
from tests.test_notice_formats import make_docx, make_page, make_pdf
from tests.test_notice_roles import MISREAD

DATA = Path(__file__).parent / "data" / "notices"
FIXES = {1: "dropped", 5: "category", 6: "finding", 7: "finding", 9: "category", 10: "finding"}


def _findings(notice: Notice) -> list[tuple[int, str, str, list[str]]]:
    return [
        (f.number, f.label, f.title, [m.text for m in f.measures])
        for f in sorted(notice.findings, key=lambda f: f.number)
        if f.active
    ]


def test_labels_descriptions_and_measure_statuses_are_stored(db) -> None:
    text = (DATA / "g-hospital-descriptions.txt").read_text(encoding="utf-8")
    notice = import_notice(text, slug="hospital").notice
    db.session.commit()
    findings = db.session.scalars(select(Finding).where(Finding.notice_id == notice.id)).all()
    assert any(f.description for f in findings), "no finding kept its problem description"
    subitems = (DATA / "e-county-subitems.txt").read_text(encoding="utf-8")
    county = import_notice(subitems, slug="county").notice
    db.session.commit()
    statuses = {m.status for f in county.findings for m in f.measures}
    assert {"已完成", "持续推进"} <= statuses, statuses
    assert all(f.label for f in county.findings), "the source's own numbering was not kept"


def test_a_misread_notice_is_stored_as_the_editor_fixed_it(db) -> None:
    with pytest.raises(NoticeParseError):
        import_notice(MISREAD, slug="fixed")
    result = import_notice(MISREAD, slug="fixed", roles=FIXES)
    db.session.commit()
    assert _findings(result.notice) == [
        (1, "1", "学习制度执行不严格", ["修订学习制度，每月集中学习一次。"]),
        (2, "2", "台账不全", ["补齐2023年以来的会议台账。"]),
        (3, "3", "审批时限过长", ["压缩审批时限至5个工作日。"]),
    ]
    assert "云川在线" not in result.notice.preamble
    assert result.revision.line_roles == {str(k): v for k, v in sorted(FIXES.items())}


def test_a_later_revision_keeps_the_editors_corrections(db) -> None:
    import_notice(MISREAD, slug="fixed", roles=FIXES)
    db.session.commit()
    revised = MISREAD.replace("压缩审批时限至5个工作日。", "压缩审批时限至3个工作日。")
    # No roles given: without the earlier corrections this text cannot be structured at all.
    result = import_notice(revised, slug="fixed", note="审批时限进一步压缩")
    db.session.commit()
    assert _findings(result.notice)[2] == (3, "3", "审批时限过长", ["压缩审批时限至3个工作日。"])
    assert result.revision.number == 2
    assert result.revision.note == "审批时限进一步压缩"
    assert effective_roles(result.notice, revised) == FIXES


def test_roles_given_again_replace_the_carried_ones(db) -> None:
    import_notice(MISREAD, slug="fixed", roles=FIXES)
    db.session.commit()
    fewer = {**FIXES, 7: "measure"}  # line 7 now read as a measure of finding 1
    result = import_notice(MISREAD, slug="fixed", roles=fewer)
    db.session.commit()
    assert [n for n, *_ in _findings(result.notice)] == [1, 3]
    assert result.revision.line_roles is not None and result.revision.line_roles["7"] == "measure"


@pytest.mark.parametrize(
    ("name", "make"),
    [("notice.docx", make_docx), ("notice.pdf", make_pdf), ("notice.html", make_page)],
)
def test_cli_imports_each_upload_format_like_the_text(runner, db, tmp_path, name, make) -> None:
    text = (DATA / "d-bureau-website-chrome.txt").read_text(encoding="utf-8")
    plain = runner.invoke(args=["notices", "import", str(DATA / "d-bureau-website-chrome.txt")])
    assert plain.exit_code == 0, plain.output
    upload = tmp_path / name
    upload.write_bytes(make(text))
    result = runner.invoke(args=["notices", "import", str(upload), "--slug", "uploaded"])
    assert result.exit_code == 0, result.output
    by_slug = {n.slug: n for n in db.session.scalars(select(Notice))}
    expected = by_slug[plain.stdout.strip().splitlines()[-1]]
    assert _findings(by_slug["uploaded"]) == _findings(expected)
    assert by_slug["uploaded"].title == expected.title


def test_cli_refuses_an_unreadable_file_saying_why(runner, db, tmp_path) -> None:
    picture = tmp_path / "scan.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    result = runner.invoke(args=["notices", "import", str(picture)])
    assert result.exit_code == 1
    assert "图片" in result.output
    assert db.session.scalar(select(Notice)) is None


def test_cli_prints_each_warnings_line_number_once(runner, db, tmp_path) -> None:
    seed = (Path(__file__).parent.parent.parent / "shared" / "notices").glob("*.txt")
    text = next(iter(sorted(seed))).read_text(encoding="utf-8")
    start, end = text.index("4.针对"), text.index("5.针对")
    skipped = tmp_path / "skipped.txt"
    skipped.write_text(text[:start] + text[end:], encoding="utf-8")
    result = runner.invoke(args=["notices", "import", str(skipped)])
    warnings = [line for line in result.output.splitlines() if line.startswith("警告")]
    assert warnings
    for line in warnings:
        assert line.count("第") == 1 or line.count("行：") == 1, line
        assert "行：第" not in line, line
