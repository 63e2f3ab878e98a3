"""Which office staff record a letter, call, visit or box item for (one item or a bulk file).

Logged by a unit's staff, the item goes to that unit: a triager of exactly one office records
for it and is shown no choice; a triager of several offices chooses among them. The supervisor
and the admin (the inspection office, which takes calls too) choose any active office or 待分派
(unrouted: the routing desk assigns it later). A deployment with one office shows no choice.
A notice chosen for the item must be one of the chosen office's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from portal.extensions import db
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.offices.service import all_offices, default_office
from portal.staff.models import User
from portal.staff.scope import visible_office_ids

UNROUTED = "unrouted"  # the office select's value for 待分派


@dataclass(frozen=True)
class OfficeChoice:
    """What was chosen: an office, or unrouted (office None)."""

    office: Office | None
    unrouted: bool = False

    @property
    def office_id(self) -> int | None:
        return self.office.id if self.office is not None else None

    @property
    def label(self) -> str:
        return self.office.name if self.office is not None else _("待分派")


@dataclass(frozen=True)
class IntakeOffices:
    """The offices one staff member may record items for."""

    offices: tuple[Office, ...]
    may_leave_unrouted: bool = False

    @property
    def fixed(self) -> Office | None:
        """The one office when there is nothing to choose."""
        if len(self.offices) == 1 and not self.may_leave_unrouted:
            return self.offices[0]
        return None

    @property
    def shows_choice(self) -> bool:
        return self.fixed is None

    def choices(self) -> list[tuple[str, str]]:
        """The office select's options; the first, empty one makes the choice required."""
        options = [("", _("请选择单位"))] + [(str(o.id), o.name) for o in self.offices]
        if self.may_leave_unrouted:
            options.append((UNROUTED, _("待分派（由巡察办确定承办单位）")))
        return options

    def choose(self, value: str | None) -> OfficeChoice | None:
        """The choice a form value names; None when it names nothing this user may choose."""
        if self.fixed is not None:
            return OfficeChoice(self.fixed)
        if value == UNROUTED and self.may_leave_unrouted:
            return OfficeChoice(None, unrouted=True)
        for office in self.offices:
            if value == str(office.id):
                return OfficeChoice(office)
        return None

    def value_of(self, choice: OfficeChoice | None) -> str:
        if choice is None:
            return ""
        return UNROUTED if choice.unrouted else str(choice.office_id)


def intake_offices(user: User) -> IntakeOffices:
    """Every active office for the inspection office (with 待分派 once there are several);
    the offices where the user is a triager otherwise."""
    offices = tuple(all_offices(active_only=True)) or (default_office(),)
    if user.role in ("admin", "supervisor"):
        return IntakeOffices(offices, may_leave_unrouted=len(offices) > 1)
    ids = visible_office_ids(user, "triager") or frozenset()
    return IntakeOffices(tuple(o for o in offices if o.id in ids))


def published_notices(offices: Iterable[Office]) -> list[Notice]:
    """These offices' published notices, the one published last first: what staff mostly
    answer to."""
    ids = sorted({o.id for o in offices})
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.state == "published", Notice.office_id.in_(ids))
            .order_by(Notice.published_at.desc(), Notice.id.desc())
        )
    )


def notices_by_office(
    notices: Iterable[Notice], offices: Iterable[Office]
) -> list[tuple[Office, list[Notice]]]:
    """Notices under their offices (offices without a published notice left out)."""
    notices = list(notices)
    groups = [(o, [n for n in notices if n.office_id == o.id]) for o in offices]
    return [(office, found) for office, found in groups if found]


def mismatch(notice: Notice | None, choice: OfficeChoice) -> str | None:
    """Why this notice cannot go with this office choice (Chinese), or None."""
    if notice is None:
        return None
    if choice.unrouted:
        return _(
            "待分派的意见不针对具体公示：请选择承办单位，或把“针对的公示”切换为“不针对具体公示”。"
        )
    if choice.office is not None and notice.office_id != choice.office.id:
        return _(
            "所选公示属于%(owner)s，不是%(office)s的公示：请改选单位，或在上方切换公示。",
            owner=notice.office.name,
            office=choice.office.name,
        )
    return None


# --- what a staff intake page works with -------------------------------------------------------


@dataclass(frozen=True)
class IntakeContext:
    """A staff intake page's office choice, its notice and the notices it may offer."""

    intake: IntakeOffices
    choice: OfficeChoice | None  # None: not chosen yet
    notice: Notice | None
    notices: tuple[Notice, ...]  # every published notice of the user's offices
    problem: str | None = None  # why the posted office and notice do not go together

    @property
    def office_value(self) -> str:
        return self.intake.value_of(self.choice)

    @property
    def notice_value(self) -> str:
        return self.notice.slug if self.notice is not None else "none"

    def notice_options(self) -> list[tuple[Office, list[Notice]]]:
        """The chosen office's notices; all the user's offices' notices, grouped by office,
        while no office is chosen (or 待分派 is)."""
        office = self.choice.office if self.choice is not None else None
        if office is not None:
            return [(office, [n for n in self.notices if n.office_id == office.id])]
        return notices_by_office(self.notices, self.intake.offices)

    def office_problem(self) -> str | None:
        """The error to show beside the office select, if any."""
        if self.choice is None:
            return _("请选择登记到哪个单位。")
        return self.problem


class UnknownNotice(LookupError):
    """A notice slug that is not a published notice of the user's offices."""


def _newest_of(office: Office | None, notices: Iterable[Notice]) -> Notice | None:
    if office is None:
        return None
    return next((n for n in notices if n.office_id == office.id), None)


def intake_context(
    user: User, office_value: str | None, notice_slug: str | None, *, posted: bool
) -> IntakeContext:
    """The page's office and notice from what was asked (query string or posted form).

    ``notice_slug`` "none" means no notice; empty means the chosen office's newest. Asked for
    by navigation (GET), the notice decides the office when none is chosen, and a notice of
    another office gives way to the chosen office's newest; posted, a mismatch is a problem
    shown to the user, who keeps what they typed. Raises UnknownNotice."""
    intake = intake_offices(user)
    notices = tuple(published_notices(intake.offices))
    choice = intake.choose(office_value)
    notice: Notice | None
    if notice_slug == "none":
        notice = None
    elif notice_slug:
        notice = next((n for n in notices if n.slug == notice_slug), None)
        if notice is None:
            raise UnknownNotice(notice_slug)
    else:
        notice = _newest_of(choice.office if choice else None, notices)
    problem = mismatch(notice, choice) if choice is not None else None
    if not posted and notice is not None:
        if choice is None:
            choice = intake.choose(str(notice.office_id))
        elif problem:
            notice, problem = _newest_of(choice.office, notices), None
    return IntakeContext(intake, choice, notice, notices, problem)
