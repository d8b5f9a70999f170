"""Live ``work_order`` events (published after commit, filtered per caller) and the
escalation of critical alarms left unacknowledged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from live.alarms import Alarm
from live.events import validate_event
from services.alarm_escalation import due_for_escalation, escalate_alarms, escalated_before
from services.auth import SYSTEM, Actor, create_user
from services.models import Notification
from services.policy import DeviceAccess
from services.workorders.service import Location, create_work_order, transition_work_order
from tests.viewer.common import small_community



def test_created_moved_and_assigned_orders_are_published_once_committed(db):
    c = small_community()
    with db.transaction() as s:
        wo = create_work_order(s, c, SYSTEM, description="楼道灯不亮", category="保洁",
                               location=Location(space_id="B1-F01-ST"))
        assert db.heard == []  # not before the commit
    [created] = db.heard
    assert created["type"] == "work_order" and created["change"] == "created"
    assert created["work_order_id"] == wo.id and created["status"] == "reported"
    assert created["building"] == "B1" and created["location"] == {"space_id": "B1-F01-ST"}
    assert "reporter" not in created and "contact_phone" not in created  # no personal data
    validate_event(created)
    with db.transaction() as s:
        transition_work_order(s, c, SYSTEM, wo.id, "assigned", assignee="W-PLUMB-1")
    with db.transaction() as s:
        transition_work_order(s, c, SYSTEM, wo.id, "in_progress")
    assigned, moving = db.heard[1:]
    assert (assigned["change"], assigned["status"], assigned["assignee"], assigned["from_status"]) == \
        ("assigned", "assigned", "W-PLUMB-1", "reported")
    assert (moving["change"], moving["status"], moving["from_status"]) == ("transition", "in_progress", "assigned")
    for ev in db.heard:
        validate_event(ev)


def test_a_rolled_back_change_is_never_published(db):
    c = small_community()
    with pytest.raises(RuntimeError):
        with db.transaction() as s:
            create_work_order(s, c, SYSTEM, description="漏水", category="水电", location=Location(unit_id="U-B1-201"))
            raise RuntimeError("the request failed after the insert")
    with db.transaction() as s:  # the next commit must not carry the rolled-back event
        create_work_order(s, c, SYSTEM, description="门坏了", category="门窗", location=Location(space_id="B2-F01-ST"))
    assert [ev["location"] for ev in db.heard] == [{"space_id": "B2-F01-ST"}]


@pytest.mark.parametrize(("actor", "event", "sees"), [
    (Actor("op", "operator"), {"unit_id": "U-B1-201", "public": False}, True),
    (Actor("pl", "planner"), {"unit_id": "U-B1-201", "public": False}, True),
    (Actor("o1", "owner", frozenset({"U-B1-201"})), {"unit_id": "U-B1-201", "public": False}, True),
    (Actor("o2", "owner", frozenset({"U-B2-101"})), {"unit_id": "U-B1-201", "public": False}, False),
    (Actor("o2", "owner", frozenset({"U-B2-101"})), {"unit_id": None, "public": True}, True),
    (Actor("s1", "staff", staff_id="W-PLUMB-1"), {"assignee": "W-PLUMB-1", "public": True}, True),
    (Actor("s2", "staff", staff_id="W-ELEC-1"), {"assignee": "W-PLUMB-1", "public": True}, False),
    (Actor("s3", "staff"), {"assignee": None, "public": True}, False),
])
def test_work_order_events_follow_the_work_order_visibility_rule(actor, event, sees):
    access = DeviceAccess(small_community())
    assert access.sees_event(actor, {"type": "work_order", **event}) is sees


def _alarm(aid, severity, raised_at, state="raised"):
    return Alarm(id=aid, rule_id="r", key=aid, severity=severity, message=f"{aid} msg", raised_at=raised_at,
                 last_at=raised_at, device_id="B1-F01-SD1", building="B1", state=state)


def test_only_critical_raised_alarms_past_the_delay_are_due():
    now = 10_000.0
    alarms = [_alarm("old-crit", "critical", now - 601), _alarm("edge", "critical", now - 600),
              _alarm("young", "critical", now - 599), _alarm("acked", "critical", now - 5000, "acknowledged"),
              _alarm("major", "major", now - 5000), _alarm("done", "critical", now - 5000)]
    due = due_for_escalation(alarms, now=now, after_s=600, escalated={"done"})
    assert [a.id for a in due] == ["old-crit", "edge"]
    with pytest.raises(ValueError, match="after_s=0"):
        due_for_escalation(alarms, now=now, after_s=0, escalated=set())


def test_escalation_messages_every_admin_once_and_publishes_the_event(db):
    with db.transaction() as s:
        for name, role in (("boss", "admin"), ("root", "admin"), ("op", "operator")):
            create_user(s, username=name, password="pw-123456789", role=role)
    now = 1_800_000_000.0
    book = SimpleNamespace(list=lambda state: [_alarm("a1", "critical", now - 700), _alarm("a2", "critical", now - 60)])
    published = []
    comp = SimpleNamespace(book=book, escalated={}, publish_escalated=lambda a, at: published.append((a.id, at)))
    assert escalate_alarms(comp, db, now=now, after_s=600) == ["a1"]
    assert escalate_alarms(comp, db, now=now + 30, after_s=600) == []  # once
    assert published == [("a1", now)]
    with db.transaction(write=False) as s:
        rows = s.execute(select(Notification.recipient, Notification.ref, Notification.channel)
                         .where(Notification.kind == "alarm_escalation")).all()
    assert sorted(rows) == [("boss", "a1", "in_app"), ("root", "a1", "in_app")]
    # after a restart the outbox remembers: a1 is not escalated again
    comp2 = SimpleNamespace(book=book, escalated=escalated_before(db), publish_escalated=lambda a, at: published.append(a.id))
    assert set(comp2.escalated) == {"a1"} and escalate_alarms(comp2, db, now=now + 60, after_s=600) == []


def test_the_escalated_event_matches_the_schema():
    from live.events import escalated_event

    ev = escalated_event(_alarm("a1", "critical", 1_800_000_000.0), kind="smoke_detector", escalated_at=1_800_000_700.0)
    validate_event(ev)
    assert ev["transition"] == "escalated" and ev["escalated_at"] == "2027-01-15T08:11:40.000Z"
