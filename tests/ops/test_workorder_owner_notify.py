"""A repair's state changes notify its owner in-app, once per transition.

Canonical community (tests/ops/common.py): owner101 owns A101; two plumbers (水电 /
plumbing) are on shift 00:00-23:59, so a 水电 order reported at noon is auto-assigned at once. Expected
messages by hand: the auto-assignment (reported → assigned, by the system), then each
change the office makes, then the revisit an operator records by phone; none for the
owner's own change, none to another owner, and calling the notifier again for the same
transition adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from services.auth import Actor
from services.models import Notification
from services.workorders.service import (Location, create_work_order, notify_owners, rate_work_order,
                                         transition_work_order)

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

NOON = datetime(2026, 6, 1, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai
OWNER = Actor("owner101", "owner", frozenset({"A101", "P001"}))
OPERATOR = Actor("operator", "operator")


def _messages(db, who: str) -> list[tuple[str, str]]:
    with db.transaction(write=False) as s:
        rows = s.execute(select(Notification.ref, Notification.subject)
                         .where(Notification.recipient == who, Notification.kind == "work_order")
                         .order_by(Notification.id)).all()
    return [tuple(r) for r in rows]


def test_each_state_change_messages_the_reporting_owner_once(ops):
    db, c = ops.db, ops.community
    with db.transaction() as s:
        wo = create_work_order(s, c, OWNER, description="卫生间水管漏水", category="水电",
                               location=Location(unit_id="A101"), now=NOON)
        wo_id = wo.id
        assert wo.status == "assigned" and wo.assignee in ("W-PLUMB-1", "W-PLUMB-2")
    ref = str(wo_id)
    assert _messages(db, "owner101") == [(ref, f"报修 #{wo_id}: 已派单 assigned")]
    for k, to in enumerate(("in_progress", "completed")):
        with db.transaction() as s:
            transition_work_order(s, c, OPERATOR, wo_id, to, now=NOON.replace(minute=10 + k))
    with db.transaction() as s:
        rate_work_order(s, OPERATOR, wo_id, 5, "电话回访 满意")
    assert _messages(db, "owner101") == [(ref, f"报修 #{wo_id}: 已派单 assigned"),
                                         (ref, f"报修 #{wo_id}: 处理中 in progress"),
                                         (ref, f"报修 #{wo_id}: 已完成 completed"),
                                         (ref, f"报修 #{wo_id}: 已回访 rated")]
    # the same transition again (a retried delivery): no second message
    with db.transaction() as s:
        row = s.get(type(wo), wo_id)
        assert notify_owners(s, row, OPERATOR, "in_progress", "completed", now=NOON.replace(minute=11)) == []
    assert len(_messages(db, "owner101")) == 4
    assert _messages(db, "owner201") == [] and _messages(db, "operator") == []


def test_the_owners_own_change_and_another_owner_get_nothing(ops):
    db, c = ops.db, ops.community
    with db.transaction() as s:
        wo = create_work_order(s, c, OWNER, description="门铃坏了", category="门窗",
                               location=Location(unit_id="A101"), now=NOON)
        wo_id, status = wo.id, wo.status
    before = _messages(db, "owner101")
    assert status == "reported"                       # nobody with the skill 门窗: not assigned, no message
    assert before == []
    with db.transaction() as s:
        transition_work_order(s, c, OWNER, wo_id, "cancelled", now=NOON.replace(minute=5))
    assert _messages(db, "owner101") == [] and _messages(db, "owner201") == []
