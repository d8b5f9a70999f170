"""Staff hear the ``work_order`` events of the orders they reported, as the work-order API
lets them read those orders (services.workorders.service.may_see), and the reporter never
leaves the server: the event holds an opaque ``_reporter`` key that the WebSocket hub strips.

Two staff users: 李工 (``li``, W-ELEC-1) reports a leak that is assigned to 王工 (``wang``,
W-PLUMB-1); a third, 赵工 (``zhao``, no order of his), hears nothing.
"""

from __future__ import annotations

import json

import pytest

from live.events import public_event, validate_event
from services.auth import SYSTEM, Actor
from services.live_component import EventHub, Subscriber
from services.policy import DeviceAccess
from services.workorders.service import Location, create_work_order, may_see, transition_work_order
from tests.viewer.common import small_community

LI = Actor("li", "staff", staff_id="W-ELEC-1")
WANG = Actor("wang", "staff", staff_id="W-PLUMB-1")
ZHAO = Actor("zhao", "staff", staff_id="W-CLEAN-9")
OWNER = Actor("o2", "owner", frozenset({"U-B2-101"}))



def test_a_staff_reporter_hears_the_order_assigned_to_someone_else(db):
    c = small_community()
    with db.transaction() as s:
        wo = create_work_order(s, c, LI, description="二楼水管漏水", category="水电",
                               location=Location(unit_id="U-B1-201"))
        wo_id, auto = wo.id, wo.assignee
    if auto != "W-PLUMB-1":  # not auto-assigned to 王工: the office hands it to him
        with db.transaction() as s:
            transition_work_order(s, c, SYSTEM, wo_id, "assigned", assignee="W-PLUMB-1")
    with db.transaction(write=False) as s:
        row = s.get(type(wo), wo_id)
        api = {a.username: may_see(a, row) for a in (LI, WANG, ZHAO, OWNER)}
    # the API's rule, by hand: the reporter and the assignee; not another staff nor another unit's owner
    assert api == {"li": True, "wang": True, "zhao": False, "o2": False}
    last = db.heard[-1]
    assert last["assignee"] == "W-PLUMB-1"

    access = DeviceAccess(c)
    for ev in db.heard:
        validate_event(ev)
        assert {a.username: access.sees_event(a, ev) for a in (LI, WANG, ZHAO, OWNER)} == api

    # through the hub, as the WebSocket sends them: li and wang get every event, zhao none,
    # and no text carries the reporter (neither the username nor the opaque key)
    hub = EventHub(loop=None)
    subs = {a.username: Subscriber(visible=lambda ev, a=a: access.sees_event(a, ev)) for a in (LI, WANG, ZHAO)}
    hub.subscribers.update(subs.values())
    for ev in db.heard:
        hub._pending.append(ev)
    hub._drain()
    got = {}
    for name, sub in subs.items():
        texts = []
        while not sub.queue.empty():
            texts.append(sub.queue.get_nowait())
        got[name] = texts
    assert len(got["li"]) == len(got["wang"]) == len(db.heard) and got["zhao"] == []
    for text in got["li"]:
        sent = json.loads(text)
        assert not any(k.startswith("_") for k in sent)
        assert "li" not in sent.values() and db.heard[0]["_reporter"] not in text
        validate_event(sent)


def test_public_event_strips_only_server_keys():
    ev = {"type": "work_order", "status": "reported", "_reporter": "k"}
    assert public_event(ev) == {"type": "work_order", "status": "reported"}
    plain = {"type": "status"}
    assert public_event(plain) is plain


@pytest.mark.parametrize(("actor", "event", "sees"), [
    (LI, {"assignee": "W-PLUMB-1", "public": False}, False),                 # no reporter key
    (LI, {"assignee": "W-PLUMB-1", "public": False, "_reporter": "forged"}, False),
])
def test_a_reporter_key_must_be_the_callers(actor, event, sees):
    assert DeviceAccess(small_community()).sees_event(actor, {"type": "work_order", **event}) is sees
