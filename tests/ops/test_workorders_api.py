"""Work orders through the real app: contract, lifecycle, permissions, masking, audit."""

from __future__ import annotations

from sqlalchemy import select

from services.models import AuditEntry
from services.workorders.models import WorkOrder, WorkOrderEvent

CONTRACT_KEYS = {"id", "category", "status", "assignee", "location"}


def test_contract_create_get_transition(ops):
    h = ops.headers("operator")
    r = ops.client.post("/api/work-orders", headers=h,
                        json={"description": "厨房水龙头一直漏水，关不紧", "location": {"unit_id": "A101"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert CONTRACT_KEYS <= set(body)
    assert body["category"] == "水电"
    assert body["location"]["unit_id"] == "A101"
    # plumbers W-PLUMB-1 (base R1) and W-PLUMB-2 (base R2 = the flat itself): the nearer one wins
    assert body["assignee"] == "W-PLUMB-2" and body["status"] == "assigned"
    wid = body["id"]
    got = ops.client.get(f"/api/work-orders/{wid}", headers=h).json()
    assert got["id"] == wid and got["status"] == "assigned"
    assert [e["to"] for e in got["history"]] == ["reported", "assigned"]
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=ops.headers("plumber"), json={"to": "in_progress"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"


def test_full_lifecycle_and_history(ops):
    h = ops.headers("operator")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "Toilet is blocked", "location": {"space_id": "R2"}}).json()["id"]
    for to in ("in_progress", "on_hold", "in_progress", "completed"):
        r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": to})
        assert r.status_code == 200, (to, r.text)
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "reopened"})
    assert r.json()["status"] == "reopened"
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "assigned", "assignee": "W-PLUMB-1"})
    assert r.json()["assignee"] == "W-PLUMB-1"
    for to in ("in_progress", "completed"):
        ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": to})
    r = ops.client.post(f"/api/work-orders/{wid}/rating", headers=ops.headers("owner101"),
                        json={"rating": 4, "comment": "fixed quickly"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revisited" and r.json()["rating"] == 4
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "closed"})
    assert r.json()["status"] == "closed"
    hist = ops.client.get(f"/api/work-orders/{wid}", headers=h).json()["history"]
    assert [e["to"] for e in hist] == ["reported", "assigned", "in_progress", "on_hold", "in_progress", "completed",
                                       "reopened", "assigned", "in_progress", "completed", "revisited", "closed"]
    assert all(e["actor"] and e["ts"] for e in hist)
    assert hist[-1]["actor"] == "operator" and hist[-2]["actor"] == "owner101"


def test_invalid_transitions_refused_and_nothing_changes(ops):
    h = ops.headers("operator")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "卧室窗户关不上", "location": {"space_id": "R2"}}).json()["id"]
    # no carpenter on the staff: the order stays reported, unassigned
    assert ops.client.get(f"/api/work-orders/{wid}", headers=h).json()["assignee"] is None
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "completed"})
    assert r.status_code == 409
    assert "'reported' to 'completed'" in r.json()["detail"]
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "flying"})
    assert r.status_code == 422 and "flying" in r.json()["detail"]
    ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "cancelled"})
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "in_progress"})
    assert r.status_code == 409 and "final" in r.json()["detail"]
    with ops.db.transaction() as s:
        assert s.get(WorkOrder, wid).status == "cancelled"
        n = len(list(s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wid))))
    assert n == 2  # reported, cancelled: refused moves leave no trace


def test_bad_input_is_4xx_never_500(ops):
    h = ops.headers("operator")
    cases = [
        {"description": "x"},
        {"description": "x", "location": {}},
        {"description": "x", "location": {"space_id": "R1", "unit_id": "A101"}},
        {"description": "", "location": {"space_id": "R1"}},
        {"description": "x", "location": {"space_id": "nowhere"}},
        {"description": "x", "location": {"device_id": "no-such-device"}},
        {"description": "x", "location": {"unit_id": "Z999"}},
        {"description": 5, "location": {"space_id": "R1"}},
        {"description": "x", "location": {"space_id": "R1"}, "extra": 1},
    ]
    for body in cases:
        r = ops.client.post("/api/work-orders", headers=h, json=body)
        assert r.status_code in (404, 422), (body, r.status_code, r.text)
    assert ops.client.post("/api/work-orders", headers=h, content=b"{not json",
                           ).status_code == 422
    assert ops.client.get("/api/work-orders/999999", headers=h).status_code == 404
    assert ops.client.get("/api/work-orders/abc", headers=h).status_code == 422
    assert ops.client.post("/api/work-orders", json={"description": "x", "location": {"space_id": "R1"}}).status_code == 401


def test_owner_sees_only_own_and_public(ops):
    h101, h201 = ops.headers("owner101"), ops.headers("owner201")
    own = ops.client.post("/api/work-orders", headers=h101,
                          json={"description": "马桶堵了", "location": {"unit_id": "A101"}})
    assert own.status_code == 201 and own.json()["source"] if "source" in own.json() else True
    public = ops.client.post("/api/work-orders", headers=h201,
                             json={"description": "楼道的灯不亮了", "location": {"space_id": "C"}})
    assert public.status_code == 201
    r = ops.client.post("/api/work-orders", headers=h201, json={"description": "漏水", "location": {"unit_id": "A101"}})
    assert r.status_code == 403
    ids_201 = {w["id"] for w in ops.client.get("/api/work-orders", headers=h201).json()}
    assert own.json()["id"] not in ids_201 and public.json()["id"] in ids_201
    assert ops.client.get(f"/api/work-orders/{own.json()['id']}", headers=h201).status_code == 404
    status = ops.client.get("/api/public-status", headers=h101).json()
    assert [w["id"] for w in status["open"]] == [public.json()["id"]]
    # an owner may not complete work
    r = ops.client.post(f"/api/work-orders/{own.json()['id']}/transitions", headers=h101, json={"to": "completed"})
    assert r.status_code == 403


def test_staff_only_on_their_orders_and_masking(ops):
    h = ops.headers("operator")
    wid = ops.client.post("/api/work-orders", headers=h, json={
        "description": "电梯困人", "location": {"space_id": "C"},
        "contact_name": "张三丰", "contact_phone": "13812345678"}).json()["id"]
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=ops.headers("plumber"), json={"to": "in_progress"})
    assert r.status_code == 404  # not assigned to this member of staff: hidden, as if absent
    full = ops.client.get(f"/api/work-orders/{wid}", headers=h).json()
    assert full["contact_phone"] == "13812345678" and full["priority"] == "特急"
    masked = ops.client.get(f"/api/work-orders/{wid}", headers=ops.headers("planner")).json()
    assert masked["contact_phone"] == "138****5678" and masked["contact_name"] == "张**"


def test_every_write_is_audited(ops):
    h = ops.headers("operator")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "Tap is leaking", "location": {"space_id": "R2"}}).json()["id"]
    ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "in_progress"})
    with ops.db.transaction() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "work_order",
                                                       AuditEntry.entity_id == str(wid)).order_by(AuditEntry.id)))
    assert [(a.actor, a.action) for a in rows] == [("operator", "work_order.create"),
                                                   ("operator", "work_order.transition")]
    assert rows[1].detail["to"] == "in_progress" and rows[0].ts is not None


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_photo_attachments_checked_by_content(ops):
    h = ops.headers("owner101")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "阳台门关不上", "location": {"unit_id": "A101"}}).json()["id"]
    ok = ops.client.post(f"/api/work-orders/{wid}/attachments", headers=h, files={"file": ("door.png", PNG, "image/png")})
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"] == "image/png"
    fake = ops.client.post(f"/api/work-orders/{wid}/attachments", headers=h,
                           files={"file": ("evil.jpg", b"MZ\x90\x00 not an image", "image/jpeg")})
    assert fake.status_code == 422 and "not a JPEG" in fake.json()["detail"]
    big = ops.client.post(f"/api/work-orders/{wid}/attachments", headers=h,
                          files={"file": ("big.jpg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 422 and "limit" in big.json()["detail"]
    got = ops.client.get(f"/api/work-orders/{wid}/attachments/{ok.json()['id']}", headers=h)
    assert got.content == PNG
    assert len(ops.client.get(f"/api/work-orders/{wid}", headers=h).json()["attachments"]) == 1


def test_sla_escalation_after_deadline(ops):
    from datetime import timedelta

    from services.db import utcnow
    from services.workorders.sla import escalate_overdue

    h = ops.headers("operator")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "电梯困人了，快来", "location": {"space_id": "C"}}).json()["id"]
    with ops.db.transaction() as s:
        wo = s.get(WorkOrder, wid)
        assert (wo.respond_by - wo.created_at) == timedelta(minutes=5)
        assert escalate_overdue(s, wo.created_at + timedelta(minutes=4)) == []
        assert escalate_overdue(s, wo.created_at + timedelta(minutes=6)) == [wid]
        assert escalate_overdue(s, wo.created_at + timedelta(minutes=7)) == []
    notes = ops.client.get("/api/notifications", headers=h).json()
    assert any(n["kind"] == "escalation" and n["ref"] == str(wid) for n in notes)
    assert ops.client.get(f"/api/work-orders/{wid}", headers=h).json()["escalation_level"] == 1


def test_alarm_sink_is_idempotent(ops):
    from services.workorders import AlarmWorkOrderSink
    from twin.model import Device

    ops.community.devices.append(Device("SMK-1", "smoke_detector", "smoke 1", "B1", "S1", "C"))
    sink = AlarmWorkOrderSink(ops.db, ops.community)
    a = sink(alarm_id="alarm-42", device_id="SMK-1", description="烟感报警 smoke detector alarm")
    b = sink(alarm_id="alarm-42", device_id="SMK-1", description="烟感报警 smoke detector alarm")
    assert a == b
    body = ops.client.get(f"/api/work-orders/{a}", headers=ops.headers("operator")).json()
    assert body["source"] == "alarm" and body["location"]["device_id"] == "SMK-1" and body["priority"] == "特急"


def test_alarm_sink_live_protocol(ops):
    """The live layer's WorkOrderSink protocol: open_work_order(WorkOrderRequest) -> id."""
    from dataclasses import dataclass

    from twin.model import Device

    @dataclass
    class WorkOrderRequest:  # the fields of live.alarms.WorkOrderRequest
        title: str
        category: str
        priority: str
        description: str
        device_id: str | None
        building: str | None
        storey: str | None
        space: str | None
        alarm_id: str

    ops.community.devices.append(Device("LEAK-1", "leak_sensor", "leak 1", "B1", "S1", "R1"))
    component = next(c for c in ops.app.state.components if c.name == "database")
    sink = component.work_order_sink(ops.community)  # as wired before the app starts
    req = WorkOrderRequest("pump room flooding", "给排水", "紧急", "alarm a1 (leak, critical)", "LEAK-1",
                           "B1", "S1", "R1", "a1")
    wid = sink.open_work_order(req)
    assert wid is not None and sink.open_work_order(req) == wid
    body = ops.client.get(f"/api/work-orders/{wid}", headers=ops.headers("operator")).json()
    assert (body["category"], body["priority"], body["source"]) == ("水电", "紧急", "alarm")
    assert body["location"]["device_id"] == "LEAK-1" and body["assignee"] == "W-PLUMB-1"  # based in R1 itself
    unknown = WorkOrderRequest("smoke", "消防", "urgent", "", "GHOST", "B1", "S1", "C", "a2")
    wid2 = sink.open_work_order(unknown)  # unknown device: falls back to the alarm's space
    body = ops.client.get(f"/api/work-orders/{wid2}", headers=ops.headers("operator")).json()
    assert (body["category"], body["priority"], body["location"]) == ("安防", "紧急", {"space_id": "C"})
    assert sink.open_work_order(WorkOrderRequest("x", "其他", "low", "", None, None, None, None, "a3")) is None


def test_mine_lists_only_the_callers_own_orders_and_public_status_of_their_buildings(ops):
    """``?mine=true`` on the list: the owner's own orders, not another person's public ones;
    on ``/api/public-status``: public orders of the caller's units' buildings (and grounds)."""
    c = ops.client
    own = c.post("/api/work-orders", headers=ops.headers("owner101"),
                 json={"description": "卫生间水管漏水", "location": {"unit_id": "A101"}}).json()
    corridor = c.post("/api/work-orders", headers=ops.headers("operator"),
                      json={"description": "走廊灯不亮", "location": {"space_id": "C"}}).json()
    assert corridor["public"] and corridor["building_id"] == "B1"
    ids = lambda who, q="": [w["id"] for w in c.get(f"/api/work-orders{q}", headers=ops.headers(who)).json()]  # noqa: E731
    assert ids("owner101") == [corridor["id"], own["id"]]
    assert ids("owner101", "?mine=true") == [own["id"]]
    assert ids("owner201", "?mine=true") == []
    assert ids("operator", "?mine=true") == [corridor["id"]]
    pub = c.get("/api/public-status?mine=true", headers=ops.headers("owner201")).json()
    assert pub["buildings"] == ["B1"] and [w["id"] for w in pub["open"]] == [corridor["id"]]
    pub = c.get("/api/public-status?mine=true", headers=ops.headers("planner")).json()
    assert pub["buildings"] == [] and pub["open"] == [] and pub["open_by_category"] == {}
    assert "buildings" not in c.get("/api/public-status", headers=ops.headers("planner")).json()
