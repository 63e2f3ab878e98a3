"""`flask notices import`: the slug on the last line, revisions, errors naming the line."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from portal.notices.models import Finding, Measure, Notice
from tests.conftest import SEED_NOTICE

DATA = Path(__file__).parent / "data" / "notices"


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_prints_the_slug_last_and_publishes(runner, db):
    result = runner.invoke(args=["notices", "import", str(SEED_NOTICE), "--publish"])
    assert result.exit_code == 0, result.output
    slug = result.stdout.strip().splitlines()[-1]
    assert slug == "dongguan-procuratorate-2024-02-02"
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    assert notice.state == "published"
    assert len(notice.categories) == 5
    assert len(notice.findings) == 19
    assert count(db, Measure) == sum(len(f.measures) for f in notice.findings) >= 19 + 20


def test_import_with_explicit_slug_and_reimport_makes_a_revision(runner, db, tmp_path):
    first = runner.invoke(args=["notices", "import", str(SEED_NOTICE), "--slug", "dg"])
    assert first.stdout.strip().splitlines()[-1] == "dg"
    edited = tmp_path / "dg.txt"
    seed = SEED_NOTICE.read_text(encoding="utf-8")
    edited.write_text(seed.replace("执行议事规则不严格", "执行议事规则仍不严格"), encoding="utf-8")
    second = runner.invoke(args=["notices", "import", str(edited), "--slug", "dg"])
    assert second.exit_code == 0, second.output
    assert count(db, Notice) == 1
    assert count(db, Finding) == 19
    notice = db.session.scalar(select(Notice))
    assert [r.number for r in notice.revisions] == [1, 2]
    titles = {f.number: f.title for f in notice.findings}
    assert titles[3] == "执行议事规则仍不严格"


def test_if_empty_does_nothing_when_a_notice_exists(runner, db):
    runner.invoke(args=["notices", "import", str(SEED_NOTICE), "--slug", "a", "--publish"])
    again = runner.invoke(args=["notices", "import", str(SEED_NOTICE), "--if-empty", "--publish"])
    assert again.exit_code == 0
    assert count(db, Notice) == 1


def test_unplaceable_line_fails_naming_it_and_imports_nothing(runner, db, tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text("1.针对“某某问题”问题。一是加强学习。\n", encoding="utf-8")
    result = runner.invoke(args=["notices", "import", str(broken)])
    assert result.exit_code != 0
    assert "第1行" in result.output
    assert count(db, Notice) == 0
    assert count(db, Finding) == 0


def test_warnings_import_as_draft_and_are_printed(runner, db, tmp_path):
    text = SEED_NOTICE.read_text(encoding="utf-8")
    start = text.index("4.针对")
    end = text.index("5.针对")
    skipped = tmp_path / "skipped.txt"
    skipped.write_text(text[:start] + text[end:], encoding="utf-8")
    result = runner.invoke(args=["notices", "import", str(skipped), "--publish"])
    assert result.exit_code == 0, result.output
    assert "警告" in result.output
    notice = db.session.scalar(select(Notice))
    assert notice.state == "draft"
    assert len(notice.findings) == 18


def test_other_offices_notices_import(runner, db):
    files = sorted(DATA.glob("*.txt"))
    assert files, "fixture notices of other offices are missing"
    for path in files:
        result = runner.invoke(args=["notices", "import", str(path), "--publish"])
        assert result.exit_code == 0, (path.name, result.output)
        slug = result.stdout.strip().splitlines()[-1]
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
        assert notice.findings, path.name
        assert all(f.measures for f in notice.findings), path.name
