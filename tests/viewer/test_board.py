"""The control room's work-order board and alarm order in headless Chromium, under the CSP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pwdlib import PasswordHash

from services.db import utcnow
from services.models import User
from services.workorders.models import WorkOrder
from tests.viewer.browser import browser_page, screenshot
from tests.viewer.test_owner_page import PASSWORD, ops_world  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


def _script_errors(page):
    """Script errors of the page (answers 404/422/503 the page handles are logged too)."""
    return [e for e in page.errors if not e.startswith("Failed to load resource")]


def _login(page, url, user):
    page.goto(url + "/")
    page.evaluate("window.twinViewer.ready")
    assert page.is_hidden("#board-toggle")  # nobody logged in: no board
    page.fill("#login-form input[name=u]", user)
    page.fill("#login-form input[name=p]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#logout", timeout=10_000)


def test_operator_filters_and_assigns_on_the_board(ops_world):
    w = ops_world
    with w.app.state.db.transaction() as s:
        s.add(User(username="operator", password_hash=PasswordHash.recommended().hash(PASSWORD), role="operator"))
    # 保洁 has no skilled staff in the small community: these stay `reported`, unassigned
    made = [w.client.post("/api/work-orders", json={"description": f"楼道垃圾 {k}", "category": "保洁",
                                                    "location": {"space_id": "B1-F01-ST"}}).json() for k in range(3)]
    assert [o["status"] for o in made] == ["reported"] * 3
    late, target, other = (o["id"] for o in made)
    with w.app.state.db.transaction() as s:  # the first is 2 h past its response deadline
        wo = s.get(WorkOrder, late)
        wo.respond_by = utcnow() - timedelta(hours=2)
    # and one that moved on: completed, so a status filter must leave it out
    done = w.client.post("/api/work-orders", json={"description": "灯坏了", "category": "保洁",
                                                   "location": {"space_id": "B1-F02-ST"}}).json()["id"]
    for to, extra in (("assigned", {"assignee": "W-PLUMB-1"}), ("in_progress", {}), ("completed", {})):
        assert w.client.post(f"/api/work-orders/{done}/transitions", json={"to": to, **extra}).status_code == 200

    with browser_page(1600, 900, bypass_csp=False) as page:
        _login(page, w.url, "operator")
        assert page.is_visible("#board-toggle")
        # the breach count shows on the toggle before the board is opened
        page.wait_for_selector("#board-toggle[data-breached='1']", timeout=10_000)
        page.click("#board-toggle")
        page.wait_for_selector(f"#board-list [data-wo='{done}']", timeout=10_000)
        assert page.get_attribute("#board-toggle", "aria-pressed") == "true"
        # SLA: the one late order is highlighted and counted (here and on the toggle)
        assert page.get_attribute(f"[data-wo='{late}']", "data-sla") == "breached"
        assert "sla-breached" in page.get_attribute(f"[data-wo='{late}']", "class")
        assert page.inner_text("[data-count='breached']").strip().endswith("1")
        assert page.get_attribute("#board-toggle", "data-breached") == "1"

        page.select_option("#board-filters select[name=status]", "reported")
        page.wait_for_selector(f"#board-list [data-wo='{done}']", state="detached", timeout=10_000)
        shown = {int(x) for x in page.eval_on_selector_all("#board-list .wo-row", "els => els.map(e => e.dataset.wo)")}
        assert shown == {late, target, other}
        assert page.inner_text("#board-page").strip() == "1–3 / 3"

        row = f"#board-list [data-wo='{target}']"
        page.select_option(f"{row} select[name=to]", "assigned")
        page.fill(f"{row} input[name=assignee]", "W-PLUMB-1")
        page.fill(f"{row} input[name=note]", "请今天处理 today please")
        page.click(f"{row} form.act button")
        # it leaves the `reported` list ...
        page.wait_for_selector(row, state="detached", timeout=10_000)
        page.select_option("#board-filters select[name=status]", "assigned")
        # ... and shows as assigned to that member of staff
        page.wait_for_selector(f"{row} .assignee:has-text('W-PLUMB-1')", timeout=10_000)
        assert page.inner_text(f"{row} .status") == "assigned"
        assert page.inner_text("[data-count='breached']").strip().endswith("1")  # counted over all orders
        screenshot(page, "board")
        # an unknown member of staff: the server's reason shows on the row, nothing changes
        page.fill(f"{row} input[name=assignee]", "W-NOBODY")
        page.click(f"{row} form.act button")
        page.wait_for_selector(f"{row} .msg.error:has-text('W-NOBODY')", timeout=10_000)
        assert not _script_errors(page)

    order = w.client.get(f"/api/work-orders/{target}").json()
    assert order["status"] == "assigned" and order["assignee"] == "W-PLUMB-1"
    assert order["history"][-1]["note"] == "请今天处理 today please"
    assert w.client.get(f"/api/work-orders/{late}").json()["status"] == "reported"


def test_alarms_are_listed_by_severity_then_newest_first(ops_world):
    # raised_at: the warning is the newest, the critical one the oldest
    alarms = [("a-warn", "warning", 1_800_000_300), ("a-crit", "critical", 1_800_000_000),
              ("a-major-old", "major", 1_800_000_100), ("a-major-new", "major", 1_800_000_200),
              ("a-info", "info", 1_800_000_400)]
    with browser_page(1600, 900, bypass_csp=False) as page:
        page.goto(ops_world.url + "/")
        page.evaluate("window.twinViewer.ready")
        for aid, sev, at in alarms:
            page.evaluate("(a) => window.twinViewer.applyEvent({type: 'alarm', transition: 'raised', alarm: a})",
                          {"id": aid, "severity": sev, "raised_at": at, "message": f"{sev} alarm",
                           "device_id": "B1-F01-SD1", "state": "raised"})
        assert page.evaluate("window.twinViewer.alarmOrder()") == [
            "a-crit", "a-major-new", "a-major-old", "a-warn", "a-info"]
        assert page.inner_text("#alarm-count") == "5"
        screenshot(page, "alarms-by-severity")
        assert not _script_errors(page)


def test_board_is_not_offered_to_owners(ops_world):
    with browser_page(1280, 800, bypass_csp=False) as page:
        _login(page, ops_world.url, "owner201")
        page.wait_for_timeout(300)
        assert page.is_hidden("#board-toggle")
