"""The work-order board's API: list filters, sort, SLA state and the summary counts.

Orders are written by hand with known deadlines relative to the real clock (hours apart,
so the seconds a test takes cannot move an order across a boundary); each expectation
below is worked out from the definition in docs/workorders.md, not from the code.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from services.workorders.models import WorkOrder
from services.workorders.sla import sla_state

H = timedelta(hours=1)
M = timedelta(minutes=1)

#: name → (status, priority, category, building, assignee, source, created, respond_by,
#: resolve_by, completed_at, expected SLA state); times relative to now.
ORDERS = {
    "late-response": ("reported", "特急", "水电", "B1", None, "owner", -3 * H, -2 * H, 5 * H, None, "breached"),
    "late-resolve": ("in_progress", "急修", "电梯", "B1", "W-PLUMB-1", "alarm", -30 * H, -29 * H, -1 * H, None, "breached"),
    "resp-due-10m": ("assigned", "紧急", "水电", "B2", "W-PLUMB-2", "front_desk", -5 * M, 10 * M, 2 * H, None, "due_soon"),
    "resolve-due-20m": ("on_hold", "小修", "门窗", "B2", "W-PLUMB-2", "owner", -20 * H, -19 * H, 20 * M, None, "due_soon"),
    "fine": ("assigned", "一般", "保洁", "B1", "W-PLUMB-1", "preventive", -1 * M, 59 * M, 24 * H, None, "ok"),
    "done-late": ("completed", "小修", "水电", "B2", "W-PLUMB-1", "owner", -50 * H, -49 * H, -26 * H, -25 * H, "breached"),
    "done-in-time": ("closed", "投诉", "其他", "B1", None, "front_desk", -60 * H, -36 * H, 100 * H, -40 * H, "ok"),
    # started in time, so only the resolution (still 3 h away) is pending
    "working": ("in_progress", "特急", "安防", "B2", "W-PLUMB-2", "alarm", -2 * H, -1 * H, 3 * H, None, "ok"),
    "cancelled": ("cancelled", "紧急", "水电", "B1", None, "owner", -10 * H, -9 * H, -8 * H, None, "ok"),
}


@pytest.fixture
def board(ops):
    """``ops`` with :data:`ORDERS` written; returns ``(ops, {name: id})``."""
    now = datetime.now(timezone.utc)
    ids = {}
    with ops.db.transaction() as s:
        for name, (status, prio, cat, bld, who, src, created, respond, resolve, done, _) in ORDERS.items():
            wo = WorkOrder(description=name, category=cat, priority=prio, status=status, source=src,
                           building_id=bld, public=True, reporter="operator", assignee=who,
                           escalation_level=0, created_at=now + created, updated_at=now + created,
                           respond_by=now + respond, resolve_by=now + resolve,
                           completed_at=None if done is None else now + done,
                           responded_at=None if status in ("reported", "assigned") else now + created + M)
            s.add(wo)
            s.flush()
            ids[name] = wo.id
    return ops, ids


def _names(ids, rows):
    back = {v: k for k, v in ids.items()}
    return [back[r["id"]] for r in rows]


def _get(ops, query, user="operator", path="/api/work-orders"):
    r = ops.client.get(path, params=query, headers=ops.headers(user))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("state", ["ok", "due_soon", "breached"])
def test_sla_filter_and_field(board, state):
    ops, ids = board
    rows = _get(ops, {"sla": state})
    assert sorted(_names(ids, rows)) == sorted(n for n, o in ORDERS.items() if o[-1] == state)
    assert {r["sla"] for r in rows} <= {state}


@pytest.mark.parametrize(("key", "index"), [("category", 2), ("building", 3), ("assignee", 4), ("source", 5),
                                            ("status", 0)])
def test_each_filter_matches_a_plain_scan(board, key, index):
    ops, ids = board
    for value in {o[index] for o in ORDERS.values() if o[index] is not None}:
        got = sorted(_names(ids, _get(ops, {key: value})))
        assert got == sorted(n for n, o in ORDERS.items() if o[index] == value), (key, value)


def test_filters_combine(board):
    ops, ids = board
    got = _names(ids, _get(ops, {"building": "B2", "sla": "due_soon", "assignee": "W-PLUMB-2"}))
    assert sorted(got) == ["resolve-due-20m", "resp-due-10m"]
    assert _get(ops, {"building": "B3"}) == []


def test_sorts(board):
    ops, ids = board
    by_created = sorted(ORDERS, key=lambda n: ORDERS[n][6])
    assert _names(ids, _get(ops, {"sort": "created"})) == by_created
    assert _names(ids, _get(ops, {"sort": "-created"})) == by_created[::-1]
    assert _names(ids, _get(ops, {})) == by_created[::-1]  # the default
    assert _names(ids, _get(ops, {"sort": "resolve_by"})) == sorted(ORDERS, key=lambda n: ORDERS[n][8])
    rank = ["特急", "紧急", "急修", "小修", "一般", "投诉"]  # the SLA table's order, most urgent first
    got = _names(ids, _get(ops, {"sort": "priority"}))
    assert [ORDERS[n][1] for n in got] == sorted((o[1] for o in ORDERS.values()), key=rank.index)
    # ties: newest (highest id) first
    assert got[:2] == ["working", "late-response"]


def test_paging_walks_every_order_once(board):
    ops, ids = board
    seen = []
    for offset in range(0, 12, 2):
        seen += _names(ids, _get(ops, {"sort": "created", "limit": 2, "offset": offset}))
    assert seen == sorted(ORDERS, key=lambda n: ORDERS[n][6])


@pytest.mark.parametrize("query", [{"sort": "newest"}, {"sort": ""}, {"sla": "late"}, {"source": "email"},
                                   {"category": "plumbing"}, {"status": "open"}, {"building": ""},
                                   {"assignee": "x" * 129}, {"sort": "-priority"}, {"sla": "ＯＫ"},
                                   {"building": "B1\x00"}, {"assignee": "\x00"}])
def test_bad_values_answer_422_naming_them(board, query):
    ops, _ = board
    for path in ("/api/work-orders", "/api/work-orders/summary"):
        if path.endswith("summary") and "sort" in query:
            continue
        r = ops.client.get(path, params=query, headers=ops.headers("operator"))
        assert r.status_code == 422, (path, query, r.text)
        assert next(iter(query)) in r.text


def test_summary_counts_by_hand(board):
    ops, _ = board
    body = _get(ops, {}, path="/api/work-orders/summary")
    assert body["total"] == 9
    assert body["by_sla"] == {"ok": 4, "due_soon": 2, "breached": 3}
    assert body["by_status"] == {"reported": 1, "assigned": 2, "in_progress": 2, "on_hold": 1, "completed": 1,
                                 "revisited": 0, "closed": 1, "cancelled": 1, "reopened": 0}
    b1 = _get(ops, {"building": "B1"}, path="/api/work-orders/summary")
    assert b1["total"] == 5 and b1["by_sla"] == {"ok": 3, "due_soon": 0, "breached": 2}


def test_summary_for_staff_counts_only_their_orders_and_owners_are_refused(board):
    ops, _ = board
    mine = _get(ops, {}, user="plumber", path="/api/work-orders/summary")  # staff id W-PLUMB-2
    assert mine["total"] == 3 and mine["by_sla"] == {"ok": 1, "due_soon": 2, "breached": 0}
    assert len(_get(ops, {}, user="plumber")) == 3
    r = ops.client.get("/api/work-orders/summary", headers=ops.headers("owner101"))
    assert r.status_code == 403
    assert ops.client.get("/api/work-orders/summary").status_code == 401


# -- the SLA rule at its boundaries, against a plain restatement of the documented rule ---

def _reference(status, respond_by, resolve_by, completed_at, now):
    waiting = status in ("reported", "assigned", "reopened")
    open_ = waiting or status in ("in_progress", "on_hold")
    pending = ([respond_by] if waiting else []) + ([resolve_by] if open_ else [])
    if any(d < now for d in pending) or (completed_at is not None and completed_at > resolve_by):
        return "breached"
    return "due_soon" if any(d - now <= timedelta(minutes=30) for d in pending) else "ok"


@settings(max_examples=200, deadline=None)
@given(status=st.sampled_from(["reported", "assigned", "in_progress", "on_hold", "completed", "revisited",
                               "closed", "cancelled", "reopened"]),
       respond=st.integers(-10**6, 10**6), resolve=st.integers(-10**6, 10**6),
       done=st.none() | st.integers(-10**6, 10**6))
def test_sla_state_matches_the_documented_rule(status, respond, resolve, done):
    now = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    s = timedelta(seconds=1)
    wo = WorkOrder(status=status, respond_by=now + respond * s, resolve_by=now + resolve * s,
                   completed_at=None if done is None else now + done * s)
    assert sla_state(wo, now) == _reference(status, now + respond * s, now + resolve * s,
                                            None if done is None else now + done * s, now)


@pytest.mark.parametrize(("offset", "state"), [(-1, "breached"), (0, "due_soon"), (1800, "due_soon"),
                                               (1801, "ok")])
def test_boundaries_of_the_states(offset, state):
    now = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    at = now + timedelta(seconds=offset)
    wo = WorkOrder(status="assigned", respond_by=at, resolve_by=now + 99 * H, completed_at=None)
    assert sla_state(wo, now) == state
