"""Anchoring: the chain's head hash handed to people outside the database.

`flask audit anchor` appends an ``audit.anchor`` event, records that event's sequence number and
hash as an anchor (keyed, so a forged anchor row is refused) and prints them; with
``AUDIT_ANCHOR_EMAIL`` set it also mails them through the outbox. The office keeps the printed
line (a register, a mail archive): `flask audit verify --anchor SEQ:HASH` then proves that
nothing up to that event was rewritten since, even by someone holding the database and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

from portal import outbox
from portal.audit.chain import AuditAnchor, anchor_mac, record, verify
from portal.extensions import db
from portal.site import datetime_text

ANCHOR_RE = re.compile(r"^\s*(\d+):([0-9a-f]{64})\s*$")


class ChainBroken(RuntimeError):
    """The chain does not verify: anchoring it would bless the damage."""


@dataclass(frozen=True)
class Anchored:
    seq: int
    hash: str
    line: str  # what the office keeps: "SEQ:HASH"
    mailed_to: str | None


def parse_anchor(text: str) -> tuple[int, str]:
    """'12:<64 hex>' -> (12, hash); ValueError (in Chinese) otherwise."""
    found = ANCHOR_RE.match(text.lower())
    if found is None:
        raise ValueError(f"锚点格式应为“序号:64位十六进制哈希”，收到：{text[:80]}")
    return int(found.group(1)), found.group(2)


def anchor() -> Anchored:
    """Append the anchor event, record it as an anchor and queue its mail (never commits)."""
    checked = verify()
    if not checked.ok:
        raise ChainBroken(f"event {checked.broken_seq}: {checked.reason}")
    to = current_app.config.get("AUDIT_ANCHOR_EMAIL") or None
    event = record("audit.anchor", details={"mailed": bool(to)})
    line = f"{event.seq}:{event.hash}"
    db.session.add(
        AuditAnchor(
            seq=event.seq,
            hash=event.hash,
            at=event.at,
            mailed_to=to,
            mac=anchor_mac(event.seq, event.hash, event.at),
        )
    )
    if to:
        outbox.enqueue(
            to=to,
            subject=f"审计日志锚点：第 {event.seq} 条",
            text=(
                f"审计日志截至 {datetime_text(event.at)} 的锚点：\n\n{line}\n\n"
                "请将此行保存在数据库之外（登记簿或邮件存档）。核验时运行：\n"
                f"flask audit verify --anchor {line}\n"
            ),
            kind="audit_anchor",
        )
    return Anchored(event.seq, event.hash, line, to)
