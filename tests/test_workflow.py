"""Workflow rules: allowed transitions, reasons, and change_status against the database."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.triage.models import StatusChange
from portal.triage.workflow import (
    ALLOWED,
    REASON_REQUIRED,
    STATUSES,
    TransitionError,
    allowed_targets,
    can_transition,
    change_status,
    check_transition,
)


def test_every_status_has_its_transitions() -> None:
    # DESIGN.md's statuses, spelled out here so a change to the list is a visible decision.
    assert set(STATUSES) == {"received", "triaged", "in_progress", "replied", "closed",
                             "duplicate", "referred", "spam", "held",
                             "waiting", "follow_up", "reopened"}  # fmt: skip
    assert set(ALLOWED) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in ALLOWED.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("received", "triaged"),
        ("received", "spam"),
        ("received", "duplicate"),
        ("received", "referred"),
        ("held", "received"),
        ("held", "spam"),
        ("triaged", "in_progress"),
        ("triaged", "replied"),
        ("triaged", "closed"),
        ("in_progress", "replied"),
        ("replied", "closed"),
        ("replied", "in_progress"),
        ("closed", "in_progress"),
        ("duplicate", "received"),
        ("referred", "received"),
        ("spam", "received"),
    ],
)
def test_the_contract_transitions_are_allowed(old: str, new: str) -> None:
    assert can_transition(old, new)
    assert new in allowed_targets(old)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("received", "closed"),  # nothing is closed without being looked at
        ("held", "replied"),
        ("spam", "closed"),
        ("closed", "received"),
        ("duplicate", "triaged"),
        ("replied", "received"),
    ],
)
def test_other_transitions_are_refused(old: str, new: str) -> None:
    assert not can_transition(old, new)
    with pytest.raises(TransitionError, match="不能从"):
        check_transition(old, new, "理由")


@pytest.mark.parametrize("new", sorted(REASON_REQUIRED))
def test_a_reason_is_required_for_spam_referred_closed_duplicate(new: str) -> None:
    old = next(s for s in STATUSES if can_transition(s, new))
    for blank in (None, "", "   "):
        with pytest.raises(TransitionError, match="须填写理由"):
            check_transition(old, new, blank)
    assert check_transition(old, new, "  不属于本次整改范围 ") == "不属于本次整改范围"


def test_unknown_status_is_refused() -> None:
    with pytest.raises(TransitionError, match="未知的状态"):
        check_transition("received", "archived", "x")


attempts = st.lists(
    st.tuples(st.sampled_from([*STATUSES, "bogus"]), st.one_of(st.none(), st.text(max_size=5))),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(attempts)
def test_random_sequences_never_leave_the_allowed_graph(steps: list[tuple[str, Any]]) -> None:
    state = "received"
    for new, reason in steps:
        try:
            cleaned = check_transition(state, new, reason)
        except TransitionError:
            continue
        assert new in ALLOWED[state]
        if new in REASON_REQUIRED:
            assert cleaned and cleaned.strip()
        state = new
        assert state in STATUSES


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(STATUSES))
def test_every_state_can_move_somewhere(state: str) -> None:
    # No dead end: even closed, spam and duplicate can be reopened or undone.
    assert allowed_targets(state)


def _submission(app: Flask) -> int:
    from portal.intake.service import Incoming, record_submission

    receipt = record_submission(
        Incoming(channel="phone", body="电话反映：食堂浪费严重。", notice=None)
    )
    return receipt.submission_id


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=attempts)
def test_change_status_writes_history_only_for_allowed_steps(
    app: Flask, steps: list[tuple[str, Any]]
) -> None:
    with app.app_context():
        submission = db.session.get(Submission, _submission(app))
        accepted = []
        for new, reason in steps[:12]:
            before = submission.status
            try:
                change_status(submission, new, actor="test", reason=reason)
            except TransitionError:
                assert submission.status == before
                continue
            accepted.append((before, new))
        db.session.commit()
        rows = db.session.scalars(
            select(StatusChange)
            .where(StatusChange.submission_id == submission.id)
            .order_by(StatusChange.id)
        ).all()
        assert [(r.old, r.new) for r in rows] == accepted
        events = db.session.scalars(
            select(audit.Event).where(
                audit.Event.action == "submission.status",
                audit.Event.object_id == str(submission.id),
            )
        ).all()
        assert len(events) == len(accepted)


def test_change_status_to_the_same_status_is_refused(app: Flask) -> None:
    with app.app_context():
        submission = db.session.get(Submission, _submission(app))
        with pytest.raises(TransitionError, match="已经是"):
            change_status(submission, "received", actor="test")


def test_the_case_loop_states_are_open_and_reached_only_after_the_right_step() -> None:
    """#17: a follow-up or 不满意 raises only an answered case; waiting pauses a case in work."""
    from portal.triage.workflow import OPEN_STATUSES, RAISED_STATUSES, can_transition

    assert {"waiting", "follow_up", "reopened"} <= OPEN_STATUSES
    assert {"follow_up", "reopened"} == RAISED_STATUSES
    for raised in ("follow_up", "reopened"):
        assert can_transition("replied", raised) and can_transition("closed", raised)
        assert not can_transition("received", raised) and not can_transition("spam", raised)
        assert can_transition(raised, "replied")
    assert can_transition("in_progress", "waiting") and can_transition("waiting", "in_progress")
    assert not can_transition("replied", "waiting") and not can_transition("waiting", "spam")
    assert not can_transition("duplicate", "follow_up")
