"""Configuration defaults.

Order of precedence (later wins): these defaults, ``instance/config.py``, then environment
variables prefixed ``PORTAL_`` (``PORTAL_SQLALCHEMY_DATABASE_URI=...``; values are parsed as
JSON when they can be, so ``PORTAL_RATELIMIT_ENABLED=false`` is a boolean).
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar


class Defaults:
    # Generated into the instance folder on first start when absent (see portal.create_app).
    SECRET_KEY: str | None = None
    # None means SQLite in the instance folder: instance/portal.db.
    SQLALCHEMY_DATABASE_URI: str | None = None
    # hide_parameters: no SQL parameter (a citizen's text) in any logged database error.
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {
        "pool_pre_ping": True,
        "hide_parameters": True,
    }

    # i18n: Chinese first, English available.
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")
    TIMEZONE = "Asia/Shanghai"

    # Uploads: 5 files x 10 MB, 25 MB in all; the request cap leaves room for the form fields.
    MAX_CONTENT_LENGTH = 26 * 1024 * 1024
    UPLOAD_MAX_FILES = 5
    UPLOAD_MAX_FILE_BYTES = 10 * 1024 * 1024
    UPLOAD_MAX_TOTAL_BYTES = 25 * 1024 * 1024
    # A feedback form POST over MAX_CONTENT_LENGTH but under this is still read (its files
    # thrown away unread) so the form comes back with the citizen's text; above it: a bare 413.
    FEEDBACK_OVERSIZE_READ_BYTES = 64 * 1024 * 1024
    # Pixels of one picture (all frames of an animation), read from its header before decoding.
    UPLOAD_MAX_IMAGE_PIXELS = 24_000_000
    # Where attachments live; None means instance/uploads. Several hosts: one shared directory.
    UPLOADS_PATH: str | None = None

    # Sessions: staff idle timeout and cookie hardening.
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # switched on when PREFERRED_URL_SCHEME is https
    PREFERRED_URL_SCHEME = "http"
    WTF_CSRF_TIME_LIMIT = 4 * 3600  # citizens may take a long time to write

    # Rate limits: memory for one process, Redis ("redis://127.0.0.1:6379/0") for several.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_SUBMIT = "5/minute;30/day"
    RATELIMIT_TRACK = "10/minute;100/day"
    # "Mail me a new password" on the receipt page, per client address.
    RATELIMIT_SECRET_MAIL = "3/hour;10/day"  # noqa: S105 - a rate, not a secret
    RATELIMIT_LOGIN = "10/minute;100/hour"

    # Outbound mail, always through the outbox.
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "巡察整改办 <noreply@portal.invalid>"
    MAIL_MESSAGE_ID_DOMAIN = "portal.invalid"
    MAIL_TIMEOUT = 10

    # Inbound mail (IMAP).
    MAIL_IMAP_HOST: str | None = None
    MAIL_IMAP_PORT = 993
    MAIL_IMAP_USER: str | None = None
    MAIL_IMAP_PASSWORD: str | None = None
    MAIL_IMAP_FOLDER = "INBOX"
    MAIL_IMAP_SSL = True
    MAIL_IMAP_STARTTLS = False
    MAIL_IMAP_CA_FILE: str | None = None  # extra CA (PEM) to trust, e.g. an internal CA
    MAIL_IMAP_MOVE_TO: str | None = None
    MAIL_IMAP_MARK_SEEN = False  # True flags handled mail \Seen (after its record is committed)
    MAIL_IMAP_TIMEOUT = 60
    MAIL_MAX_BYTES = 30 * 1024 * 1024
    # Which notice mailed opinions belong to: the newest published one unless set.
    MAIL_NOTICE_SLUG: str | None = None
    # Follow-ups by mail from one sender per hour before they are quarantined (loop guard).
    MAIL_REOPENS_PER_HOUR = 10

    # Captcha: unset keys switch it off (a warning is logged at start).
    HCAPTCHA_SITEKEY: str | None = None
    HCAPTCHA_SECRET: str | None = None
    HCAPTCHA_VERIFY_URL = "https://api.hcaptcha.com/siteverify"
    HCAPTCHA_TIMEOUT = 5.0

    # The default office (the first one; every row of a one-office deployment belongs to it).
    # Each office keeps its own identity, letterhead, mailbox and deadlines in the database:
    # these values only seed the default office when it is created.
    OFFICE_SLUG = "main"
    OFFICE_SHORT_NAME = ""
    OFFICE_NAME = "巡察整改办公室"
    OFFICE_ADDRESS = ""
    OFFICE_POSTCODE = ""
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    # Posters and mail with a link to PUBLIC_BASE_URL are refused while it is a loopback
    # address (127.0.0.1, localhost). None: refused except in development and tests.
    REFUSE_LOOPBACK_LINKS: bool | None = None

    # Deadlines in Chinese working days.
    ACK_WITHIN_WORKDAYS = 3
    REPLY_WITHIN_WORKDAYS = 15
    # Case loop (#17): remind the assignee this many working days before the reply deadline;
    # an unsatisfied rating gives the supervisor this many working days; a signed rating or
    # "not me" link in a mail stays valid this many days.
    REMINDER_WORKDAYS = 2
    ESCALATION_WORKDAYS = 5
    CASE_LINK_DAYS = 90
    # The State Council's schedule for a year chinese-calendar does not know yet (ISO dates).
    EXTRA_HOLIDAYS: tuple[str, ...] = ()
    EXTRA_WORKDAYS: tuple[str, ...] = ()

    # Audit chain (portal/audit): the HMAC key, kept outside the database. None: the key file
    # AUDIT_KEY_FILE (default instance/audit.key), created on first use. Every host the same.
    AUDIT_KEY: str | None = None
    AUDIT_KEY_FILE: str | None = None
    # `flask audit anchor` also mails the head hash here (through the outbox) when set.
    AUDIT_ANCHOR_EMAIL: str | None = None
    # Security events copied to syslog/journald when /dev/log exists.
    AUDIT_SYSLOG = True
    # Refused requests (403, CSRF, 429) recorded per minute and process; the rest are counted.
    AUDIT_DENIED_PER_MINUTE = 30

    # Personal data retention (days after closing) for `flask submissions purge`.
    RETENTION_DAYS = 365 * 3

    # Staff second factor (TOTP or WebAuthn): every role, since each can see personal data.
    TOTP_REQUIRED_ROLES = ("admin", "supervisor", "editor", "triager", "viewer")
    # A staff session ends this long after login however active it is (idle: above).
    STAFF_SESSION_MAX_AGE = timedelta(hours=12)
    # Sudo mode: sensitive actions need password + second factor within these minutes.
    STAFF_REAUTH_MINUTES = 10
    # One-time links that let an account bind its second factor expire after these hours.
    ENROLMENT_LINK_HOURS = 72
    # Login throttling per account and network (IPv4 /24, IPv6 /64): free failures, then a
    # delay doubling from BASE up to MAX; ALERT failures from one network, or ACCOUNT failures
    # from all networks, are a lockout (admins mailed); the latter closes the account to
    # networks it never logged in from for ACCOUNT_LOCK seconds. Counts fade after WINDOW.
    LOGIN_FREE_FAILURES = 3
    LOGIN_BASE_DELAY_SECONDS = 5
    LOGIN_MAX_DELAY_SECONDS = 900
    LOGIN_FAILURE_WINDOW_SECONDS = 3600
    LOGIN_ALERT_FAILURES = 10
    LOGIN_ACCOUNT_FAILURES = 30
    LOGIN_ACCOUNT_LOCK_SECONDS = 900
    # Password changes per account (wrong current passwords also count as login failures).
    RATELIMIT_PASSWORD_CHANGE = "5/hour"  # noqa: S105 - a rate, not a password
    # WebAuthn relying party: the site's host name (None: the host of the request).
    WEBAUTHN_RP_ID: str | None = None
    WEBAUTHN_RP_NAME = "巡察整改意见反馈"

    # Public notice pages are rendered once per version and kept in process memory;
    # the version is re-read from the database at most this often (seconds).
    NOTICE_CACHE_TTL = 1.0
    # …and rendered anew at least this often, so its public statistics stay current (seconds).
    NOTICE_PAGE_MAX_AGE = 60.0
    # The queue's counts per status are recomputed at most this often per filter (seconds).
    QUEUE_COUNTS_TTL = 10.0
    # The supervisor's oversight figures are recomputed when older than this (seconds), in the
    # background; `flask oversight refresh` from cron keeps them fresh on a large deployment.
    OVERSIGHT_MAX_AGE = 300.0
