"""The IMAP mailboxes a deployment reads: the shared one (the MAIL_IMAP_* settings, whose mail is
routed to offices) and every active office's own (office.has_mailbox; its mail is that office's).

Each mailbox has its own lease (FetcherLock name) and its own mark (MailboxState, keyed by host,
user and folder), so one slow or broken mailbox never holds up another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.offices.models import Office
from portal.offices.service import OfficeError, all_offices, office_or_error

LOCK_NAME_MAX = 100  # FetcherLock.name


@dataclass(frozen=True)
class Mailbox:
    label: str  # in reports: the folder for the shared mailbox, "<office slug>/<folder>" else
    host: str
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    port: int | None = None  # None: 993 with TLS, 143 without
    ssl: bool = True
    starttls: bool = False
    move_to: str | None = None
    mark_seen: bool = False
    timeout: float = 60.0
    office_id: int | None = None  # None: the shared mailbox
    # Extra CA certificates (PEM) to trust besides the system's: an internal mail server's CA.
    ca_file: str | None = None

    @property
    def lock_name(self) -> str:
        """One lease per mailbox: two fetchers never read the same folder at once."""
        name = f"imap:{self.host}:{self.user}:{self.folder}"
        if len(name) <= LOCK_NAME_MAX:
            return name
        return "imap:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.host.lower(), self.user.lower(), self.folder)

    @classmethod
    def shared(cls, config: Mapping[str, Any]) -> Mailbox | None:
        """The deployment's mailbox from MAIL_IMAP_*; None when it is not configured."""
        host, user = config.get("MAIL_IMAP_HOST"), config.get("MAIL_IMAP_USER")
        if not host or not user:
            return None
        folder = str(config.get("MAIL_IMAP_FOLDER") or "INBOX")
        return cls(
            label=folder,
            host=str(host),
            user=str(user),
            password=str(config.get("MAIL_IMAP_PASSWORD") or ""),
            folder=folder,
            port=int(config["MAIL_IMAP_PORT"]) if config.get("MAIL_IMAP_PORT") else None,
            ssl=bool(config.get("MAIL_IMAP_SSL")),
            starttls=bool(config.get("MAIL_IMAP_STARTTLS")),
            move_to=config.get("MAIL_IMAP_MOVE_TO") or None,
            mark_seen=bool(config.get("MAIL_IMAP_MARK_SEEN")),
            timeout=float(config.get("MAIL_IMAP_TIMEOUT") or 60),
            ca_file=config.get("MAIL_IMAP_CA_FILE") or None,
        )

    @classmethod
    def of_office(cls, office: Office, config: Mapping[str, Any]) -> Mailbox:
        """An office's own mailbox (office.has_mailbox); marking and timeouts as configured."""
        folder = office.imap_folder or "INBOX"
        return cls(
            label=f"{office.slug}/{folder}",
            host=str(office.imap_host),
            user=str(office.imap_user),
            password=office.imap_password or "",
            folder=folder,
            port=office.imap_port,
            ssl=bool(office.imap_ssl),
            starttls=bool(office.imap_starttls),
            move_to=office.imap_move_to or None,
            mark_seen=bool(config.get("MAIL_IMAP_MARK_SEEN")),
            timeout=float(config.get("MAIL_IMAP_TIMEOUT") or 60),
            office_id=office.id,
            ca_file=config.get("MAIL_IMAP_CA_FILE") or None,
        )


def configured_mailboxes(
    config: Mapping[str, Any], office_slug: str | None = None
) -> list[Mailbox]:
    """The shared mailbox (when configured) and every active office's own, in that order.

    ``office_slug`` keeps that office's mailbox only (OfficeError when the office is unknown,
    inactive or has none). A folder configured twice is read once, as the office's: its mail
    is then known to be that office's."""
    if office_slug is not None:
        office = office_or_error(office_slug)
        if not office.active:
            raise OfficeError(f"单位 {office.slug!r} 已停用。")
        if not office.has_mailbox:
            raise OfficeError(f"单位 {office.slug!r} 没有设置自己的收信邮箱（IMAP）。")
        return [Mailbox.of_office(office, config)]
    own = [Mailbox.of_office(o, config) for o in all_offices(active_only=True) if o.has_mailbox]
    shared = Mailbox.shared(config)
    if shared is not None and shared.key not in {m.key for m in own}:
        own.insert(0, shared)
    unique: dict[tuple[str, str, str], Mailbox] = {}
    for mailbox in own:
        unique.setdefault(mailbox.key, mailbox)
    return list(unique.values())
