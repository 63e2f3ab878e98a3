"""`flask submissions show|export`: the JSON and CSV other tools read."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from portal.extensions import db
from portal.intake.service import Contact, Incoming, IncomingFile, record_submission
from tests.fixtures.intake import gen_image, gen_pdf

SHOW_KEYS = {
    "code",
    "channel",
    "status",
    "subject",
    "body",
    "sender_email",
    "received_at",
    "findings",
    "attachments",
    "satisfaction",  # #17: the submitter's latest rating, null until rated
}


def test_show_json_prints_the_contract_object(app: Flask, notice: Any, runner: Any) -> None:
    receipt = record_submission(
        Incoming(
            channel="email",
            body="来信反映第五项问题。",
            subject="关于第五项",
            notice=notice,
            findings=[5, 1],
            sender_email="reader@example.com",
            message_id="<x1@example.com>",
            received_at=datetime(2024, 2, 20, 1, 2, 3, tzinfo=UTC),
            attachments=[IncomingFile("材料.pdf", gen_pdf()), IncomingFile("图", gen_image("PNG"))],
        )
    )
    lower = receipt.code.lower().replace("-", "")
    result = runner.invoke(args=["submissions", "show", lower, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == SHOW_KEYS
    assert data["code"] == receipt.code
    assert (data["channel"], data["status"]) == ("email", "received")
    assert (data["subject"], data["body"]) == ("关于第五项", "来信反映第五项问题。")
    assert data["sender_email"] == "reader@example.com"
    assert datetime.fromisoformat(data["received_at"]) == datetime(2024, 2, 20, 1, 2, 3, tzinfo=UTC)
    assert data["received_at"].endswith("Z")
    assert data["findings"] == [1, 5]
    assert [(a["filename"], a["content_type"]) for a in data["attachments"]] == [
        ("材料.pdf", "application/pdf"),
        ("图.png", "image/png"),
    ]
    assert all(a["size"] > 0 for a in data["attachments"])
    assert data["satisfaction"] is None


def test_show_plain_and_unknown_code(app: Flask, notice: Any, runner: Any) -> None:
    receipt = record_submission(Incoming(channel="web", body="窗口排队时间太长了。", notice=notice))
    result = runner.invoke(args=["submissions", "show", receipt.code])
    assert result.exit_code == 0 and receipt.code in result.output
    assert "窗口排队时间太长了。" in result.output
    missing = runner.invoke(args=["submissions", "show", "00000-00000"])
    assert missing.exit_code == 1
    assert "未找到" in missing.output


def _three(notice: Any) -> list[str]:
    contact = Contact(name="张三", email="z@example.com")
    return [
        record_submission(Incoming(channel="web", body="正常提交的一条意见。", notice=notice)).code,
        record_submission(
            Incoming(channel="web", body="验证码服务不可用时的意见。", notice=notice, status="held")
        ).code,
        record_submission(
            Incoming(
                channel="web",
                body="机器人提交的垃圾内容。",
                notice=notice,
                status="spam",
                contact=contact,
                consent=True,
            )
        ).code,
    ]


def test_export_json_includes_held_and_spam(app: Flask, notice: Any, runner: Any) -> None:
    codes = _three(notice)
    result = runner.invoke(args=["submissions", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["code"] for r in rows] == codes
    assert [r["status"] for r in rows] == ["received", "held", "spam"]
    for row in rows:
        assert set(row) == SHOW_KEYS
        shown = json.loads(
            runner.invoke(args=["submissions", "show", row["code"], "--json"]).output
        )
        assert shown == row


def test_export_csv_and_notice_filter(app: Flask, notice: Any, runner: Any, seed_text: str) -> None:
    from portal.notices.service import import_notice

    codes = _three(notice)
    other = import_notice(seed_text, slug="other-notice", publish=True).notice
    db.session.commit()
    elsewhere = record_submission(
        Incoming(channel="letter", body="另一份公示的来信。", notice=other)
    ).code

    result = runner.invoke(args=["submissions", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["code"] for r in rows] == [*codes, elsewhere]
    assert rows[0]["body"] == "正常提交的一条意见。"

    filtered = runner.invoke(args=["submissions", "export", "--notice", "other-notice"])
    assert [r["code"] for r in json.loads(filtered.output)] == [elsewhere]
    unknown = runner.invoke(args=["submissions", "export", "--notice", "nope"])
    assert unknown.exit_code == 1


def test_export_of_an_empty_database_is_an_empty_array(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export"])
    assert json.loads(result.output) == []
