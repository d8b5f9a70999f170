"""The owners' page in headless Chromium against the real ops API and database."""

from __future__ import annotations

import io
import json
import secrets
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest

from services.app import create_app
from services.dbcomponent import DatabaseComponent
from services.models import User, UserUnit
from services.settings import Settings
from tests.viewer.browser import browser_page, chromium_path, screenshot
from tests.viewer.common import small_community
from tests.viewer.server import serve

pytestmark = pytest.mark.browser
PASSWORD = "owner-pass-42"


OWNERS = {"owner201": ["U-B1-201"], "owner101": ["U-B2-101"]}


@pytest.fixture
def ops_site(ops_world):
    """``(url, admin client)`` of :func:`ops_world`."""
    yield ops_world.url, ops_world.client


@pytest.fixture
def ops_world(db_url, tmp_path):
    """The app with the database component, an admin and two owners, two months of bills."""
    from pwdlib import PasswordHash

    chromium_path()
    settings = Settings(db_url=db_url, data_dir=tmp_path / "data", secret_key=secrets.token_hex(16),
                        site=tmp_path / "no-site")
    app = create_app(settings, community=small_community(), components=[DatabaseComponent(sla_interval_s=0)])
    with serve(app) as url:
        digest = PasswordHash.recommended().hash(PASSWORD)
        with app.state.db.transaction() as s:
            for name, role, units in [("admin", "admin", []), *((n, "owner", u) for n, u in OWNERS.items())]:
                user = User(username=name, password_hash=digest, role=role)
                s.add(user)
                s.flush()
                s.add_all(UserUnit(user_id=user.id, unit_id=u) for u in units)
        client = httpx.Client(base_url=url, timeout=30)
        token = client.post("/api/auth/token", data={"username": "admin", "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        for month in ("2026-09", "2026-10"):
            assert client.post("/api/billing/runs", json={"month": month}).status_code == 200
        yield SimpleNamespace(url=url, client=client, app=app, settings=settings)
        client.close()


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_owner_sees_only_own_bills_pays_files_and_rates_a_repair(ops_site):
    url, admin = ops_site
    all_bills = admin.get("/api/billing/bills").json()
    mine = [b for b in all_bills if b["unit_id"] == "U-B1-201"]
    assert len(all_bills) == 4 and len(mine) == 2  # 2 units × 2 months; the owner has one unit
    with browser_page(390, 844, mobile=True) as page:
        page.goto(url + "/owner")
        page.fill("input[name=username]", "owner201")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#bill-list .bill", timeout=10_000)
        rows = page.eval_on_selector_all("#bill-list .bill", "els => els.map(e => e.dataset.unit)")
        assert rows == ["U-B1-201", "U-B1-201"]
        text = page.inner_text("body")
        assert "U-B2-101" not in text and "测试乙" not in text and "138-0000-0002" not in text
        # outstanding = the two open bills of this unit, summed by hand here
        due = sum(float(b["total"]) for b in mine)
        page.wait_for_selector("[data-pay]", timeout=5000)
        assert f"¥{due:.2f}" in page.inner_text("#account")
        page.click("[data-pay]")
        page.wait_for_selector("#pay-result [data-intent]", timeout=5000)
        assert f"¥{due:.2f}" in page.inner_text("#pay-result")
        # a repair request with a photo
        page.fill("textarea[name=description]", "厨房水龙头漏水 the kitchen tap is leaking")
        page.set_input_files("input[name=photo]", files=[{"name": "tap.png", "mimeType": "image/png",
                                                          "buffer": _png()}])
        page.click("#repair-form button")
        page.wait_for_selector("#repair-result:has-text('photo attached')", timeout=10_000)
        orders = admin.get("/api/work-orders").json()
        assert len(orders) == 1 and orders[0]["location"]["unit_id"] == "U-B1-201"
        wo = orders[0]["id"]
        assert len(admin.get(f"/api/work-orders/{wo}").json()["attachments"]) == 1
        screenshot(page, "owner-page")
        # the work is done: the owner follows it and rates it 4 stars
        walk = ("assigned", "in_progress", "completed")
        now = admin.get(f"/api/work-orders/{wo}").json()["status"]  # auto-assigned when staff fit
        for status in walk[walk.index(now) + 1 if now in walk else 0:]:
            body = {"to": status, **({"assignee": "W-PLUMB-1"} if status == "assigned" else {})}
            r = admin.post(f"/api/work-orders/{wo}/transitions", json=body)
            assert r.status_code == 200, r.text
        page.reload()
        page.wait_for_selector(f"[data-wo='{wo}'] [data-rate='4']", timeout=10_000)
        assert "已完成 completed" in page.inner_text(f"[data-wo='{wo}']")
        page.click(f"[data-wo='{wo}'] [data-rate='4']")
        page.wait_for_function(f"document.querySelector(\"[data-wo='{wo}']\").innerText.includes('★★★★')",
                               timeout=5000)
        assert admin.get(f"/api/work-orders/{wo}").json()["rating"] == 4


def test_other_owner_sees_none_of_the_first_owners_data(ops_site):
    url, _ = ops_site
    with browser_page(390, 844, mobile=True) as page:
        page.goto(url + "/owner")
        page.fill("input[name=username]", "owner101")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#bill-list .bill", timeout=10_000)
        rows = page.eval_on_selector_all("#bill-list .bill", "els => els.map(e => e.dataset.unit)")
        assert rows == ["U-B2-101", "U-B2-101"]
        assert "U-B1-201" not in page.inner_text("body")


def test_bad_login_is_a_clear_message(ops_site):
    url, _ = ops_site
    with browser_page(390, 844, mobile=True) as page:
        page.goto(url + "/owner")
        page.fill("input[name=username]", "owner201")
        page.fill("input[name=password]", "wrong-password")
        page.click("#login-form button")
        page.wait_for_selector("#login-error:has-text('登录失败')", timeout=10_000)
        assert page.is_hidden("#content")


def test_control_room_panel_shows_work_orders_and_billing_for_an_operator(ops_site):
    url, admin = ops_site
    r = admin.post("/api/work-orders", json={"description": "卫生间漏水 bathroom leak",
                                             "location": {"unit_id": "U-B1-201"}})
    assert r.status_code == 201, r.text
    wo = r.json()["id"]
    due = sum(float(b["outstanding"]) for b in admin.get("/api/billing/bills?unit_id=U-B1-201").json())
    with browser_page() as page:
        page.goto(url + "/")
        page.evaluate("window.twinViewer.ready")
        page.fill("#login-form input[name=u]", "admin")
        page.fill("#login-form input[name=p]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#logout", timeout=10_000)
        page.evaluate("window.twinViewer.select('space', 'B1-F02-01', {fly: true})")
        page.wait_for_selector(f"#panel .workorders .wo:has-text('#{wo}')", timeout=10_000)
        page.wait_for_selector("#panel .billing :has-text('U-B1-201')", timeout=10_000)
        assert f"¥{due:.2f}" in page.inner_text("#panel .billing")
        # the other apartment's room: no work order of this one
        page.evaluate("window.twinViewer.select('space', 'B2-F01-01', {fly: true})")
        page.wait_for_selector("#panel .workorders :has-text('no open work orders')", timeout=10_000)
        screenshot(page, "viewer-panel-operator")


@pytest.mark.parametrize("page_path, ready, fields, user, shown", [
    ("/", "window.twinViewer.ready", ("#login-form input[name=u]", "#login-form input[name=p]"), "admin", "#logout"),
    ("/owner", None, ("input[name=username]", "input[name=password]"), "owner201", "#bill-list .bill")])
def test_pages_run_under_the_content_security_policy(ops_site, page_path, ready, fields, user, shown):
    """With the CSP enforced (not bypassed as the other browser tests do), the pages load,
    log in and show data without one CSP violation."""
    url, admin = ops_site
    with browser_page(bypass_csp=False) as page:
        violations = []
        page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
        page.goto(url + page_path)
        if ready:
            page.evaluate(ready)
        page.fill(fields[0], user)
        page.fill(fields[1], PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector(shown, timeout=10_000)
        page.wait_for_load_state("networkidle")
        assert not violations, violations
        assert not [e for e in page.errors if "Content Security Policy" in e]


def _login_owner(page, url, name):
    page.goto(url + "/owner")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#bill-list .bill", timeout=10_000)


def _ids(page, selector):
    return sorted(int(x) for x in page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.wo)"))


def test_owner_sees_own_repairs_building_and_shared_public_repairs_and_notices(ops_world):
    """owner201 lives in B1: "my repairs" = only their own order; "public repairs" = the
    public orders of B1 and of the grounds (not B2's); a notice to B1 reaches exactly the
    owners of B1's units in the register, and is shown to owner201, not to owner101."""
    url, admin = ops_world.url, ops_world.client

    def report(location, description):
        r = admin.post("/api/work-orders", json={"description": description, "location": location})
        assert r.status_code == 201, r.text
        return r.json()

    pub_b1 = report({"space_id": "B1-F01-ST"}, "楼梯灯不亮 stair light out")
    pub_b2 = report({"space_id": "B2-F01-ST"}, "楼梯扶手松动 loose handrail")
    pub_gate = report({"space_id": "gate-1"}, "南门道闸故障 gate barrier broken")
    other_flat = report({"unit_id": "U-B2-101"}, "卫生间漏水 bathroom leak")
    assert pub_b1["public"] and pub_b2["public"] and pub_gate["public"] and not other_flat["public"]
    assert (pub_b1["building_id"], pub_b2["building_id"], pub_gate["building_id"]) == ("B1", "B2", None)
    units_b1 = {u.id for u in small_community().billing_units if u.building_id == "B1"}
    expected = {name for name, units in OWNERS.items() if set(units) & units_b1}
    notice = admin.post("/api/notices", json={"title": "1号楼停水", "body": "明日9点停水", "title_en": "Water cut",
                                              "body_en": "9:00 tomorrow", "target": {"building": "B1"}}).json()
    assert notice["recipients"] == len(expected) == 1
    with browser_page(390, 844, mobile=True) as page:
        _login_owner(page, url, "owner201")
        page.fill("textarea[name=description]", "厨房水龙头漏水 the kitchen tap is leaking")
        page.click("#repair-form button")
        page.wait_for_selector("#repair-result:has-text('已提交')", timeout=10_000)
        mine = [w["id"] for w in admin.get("/api/work-orders").json() if w["reporter"] == "owner201"]
        page.wait_for_function(f"document.querySelectorAll('#repair-list .wo').length === {len(mine)}", timeout=10_000)
        assert _ids(page, "#repair-list .wo") == mine
        page.wait_for_selector("#public-orders .pub", timeout=10_000)
        assert _ids(page, "#public-orders .pub") == sorted([pub_b1["id"], pub_gate["id"]])
        assert "公共区域 shared areas" in page.inner_text(f"#public-orders [data-wo='{pub_gate['id']}']")
        page.wait_for_selector(f"#notices [data-notice='{notice['id']}'].unread", timeout=10_000)
        assert "1号楼停水" in page.inner_text("#notices") and "Water cut" in page.inner_text("#notices")
        page.click(f"#notices [data-notice='{notice['id']}'] summary")
        page.wait_for_selector(f"#notices [data-notice='{notice['id']}']:not(.unread)", timeout=5000)
        counts = {n["id"]: n for n in admin.get("/api/notices").json()}
        assert counts[notice["id"]]["read_count"] == 1
        # the repair moves on in the office: the page shows it without a reload (polling)
        r = admin.post(f"/api/work-orders/{mine[0]}/transitions", json={"to": "in_progress"}) \
            if admin.get(f"/api/work-orders/{mine[0]}").json()["status"] == "assigned" else \
            admin.post(f"/api/work-orders/{mine[0]}/transitions", json={"to": "assigned", "assignee": "W-PLUMB-1"})
        assert r.status_code == 200, r.text
        status = r.json()["status"]
        label = {"in_progress": "处理中", "assigned": "已派单"}[status]
        page.wait_for_function(f"document.querySelector(\"#repair-list [data-wo='{mine[0]}']\").innerText.includes('{label}')",
                               timeout=25_000)
        page.wait_for_selector(f"#messages .msg[data-ref='{mine[0]}']", timeout=5000)
        screenshot(page, "owner-page-notices")
    with browser_page(390, 844, mobile=True) as page:
        _login_owner(page, url, "owner101")
        page.wait_for_selector("#public-orders .pub", timeout=10_000)
        assert _ids(page, "#public-orders .pub") == sorted([pub_b2["id"], pub_gate["id"]])
        assert _ids(page, "#repair-list .wo") == [other_flat["id"]]
        assert "1号楼停水" not in page.inner_text("#notices")


def test_bill_breakdown_payment_history_and_update_after_paying(ops_world):
    """Each bill shows its lines (summing to its total, by Decimal here); paying through an
    intent and the gateway's signed callback updates account, bills and history in place."""
    from services.auth import payment_callback_key
    from services.billing.payments import sign

    url, admin = ops_world.url, ops_world.client
    bills = admin.get("/api/billing/bills?unit_id=U-B1-201").json()
    due = sum(Decimal(b["outstanding"]) for b in bills)
    assert due > 0
    with browser_page(390, 844, mobile=True) as page:
        _login_owner(page, url, "owner201")
        page.wait_for_selector("#bill-list details.lines", timeout=10_000)
        for b in bills:
            lines = page.eval_on_selector_all(
                f"#bill-list [data-lines='{b['id']}'] .line span:last-child", "els => els.map(e => e.textContent)")
            assert lines and sum(Decimal(x.lstrip("¥")) for x in lines) == Decimal(b["total"]), (b, lines)
        assert "暂无缴费 no payments" in page.inner_text("#payments")
        page.click("[data-pay]")
        page.wait_for_selector("#pay-result [data-intent]", timeout=5000)
        intent = page.get_attribute("#pay-result [data-intent]", "data-intent")
        body = json.dumps({"intent_id": intent, "status": "succeeded", "amount": f"{due:.2f}",
                           "gateway_ref": "GW-TEST-1"}).encode()
        key = payment_callback_key(ops_world.settings)
        r = httpx.post(url + "/api/billing/payment-callback", content=body,
                       headers={"X-Twin-Signature": sign(key, body), "content-type": "application/json"})
        assert r.status_code == 200, r.text
        page.wait_for_selector(f"#pay-result [data-paid='{intent}']", timeout=15_000)
        assert f"¥{due:.2f}" in page.inner_text("#payments")
        assert page.eval_on_selector_all("#payments .payment", "els => els.length") == 1
        assert "已缴清 paid up" in page.inner_text("#account")
        statuses = page.eval_on_selector_all("#bill-list .bill > span:last-child small", "els => els.map(e => e.innerText)")
        assert statuses == ["已缴 paid"] * len(bills)
        screenshot(page, "owner-page-paid")


def test_owner_pays_end_to_end_with_the_demo_sandbox(ops_world):
    """With the demo's sandbox gateway installed (as ``twin demo`` does), clicking Pay
    completes: the sandbox posts the signed callback, the page shows the payment booked."""
    from services.billing.sandbox import install_sandbox

    host, port = ops_world.url.split("//")[1].split(":")
    install_sandbox(ops_world.app, ops_world.settings, host, int(port), delay_s=0.3)
    due = sum(Decimal(b["outstanding"]) for b in ops_world.client.get("/api/billing/bills?unit_id=U-B1-201").json())
    with browser_page(390, 844, mobile=True) as page:
        _login_owner(page, ops_world.url, "owner201")
        page.click("[data-pay]")
        page.wait_for_selector("#pay-result [data-intent]", timeout=5000)
        assert "sandbox" in page.inner_text("#pay-result")
        intent = page.get_attribute("#pay-result [data-intent]", "data-intent")
        page.wait_for_selector("#pay-result [data-paid]", timeout=15_000)
        assert f"¥{due:.2f}" in page.inner_text("#payments")
        assert "已缴清 paid up" in page.inner_text("#account")
    account = ops_world.client.get("/api/billing/units/U-B1-201/account").json()
    assert account["outstanding"] == "0.00"
    assert [(p["reference"], p["method"], p["amount"]) for p in account["payments"]] == \
        [(f"intent:{intent}", "gateway", f"{due:.2f}")]


def test_without_the_demo_no_payment_completes_by_itself(ops_world):
    """A plain app (``twin serve``) has no sandbox: an intent stays pending, nothing is booked."""
    import time

    admin = ops_world.client
    r = admin.post("/api/billing/payment-intents", json={"unit_id": "U-B1-201", "amount": "1.00"})
    assert r.status_code == 201 and "sandbox" not in r.json()
    time.sleep(2)
    assert admin.get("/api/billing/units/U-B1-201/account").json()["payments"] == []
