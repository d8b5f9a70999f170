"""Login throttling, passwords, token revocation, secrets, body limits, headers (real app)."""

from __future__ import annotations

import asyncio

import pytest

from services.auth import check_password, payment_callback_key, secret_key
from services.errors import InvalidInput
from services.settings import Settings
from services.throttle import LoginThrottle, TooManyAttempts
from tests.ops.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


# -- throttling ---------------------------------------------------------------------------
def test_throttle_window_by_hand():
    """5 failures in 900 s lock the user; the lock ends when the oldest failure is 900 s old."""
    now = [1000.0]
    t = LoginThrottle(max_failures_user=5, max_failures_address=100, window_s=900, clock=lambda: now[0])
    for i in range(5):                       # failures at 1000, 1010, ..., 1040
        t.check("zhang", "10.0.0.1")
        t.failed("zhang", "10.0.0.1")
        now[0] += 10
    with pytest.raises(TooManyAttempts) as e:  # at 1050: the oldest (1000) leaves at 1900
        t.check("ZHANG", "10.0.0.2")           # usernames are case-insensitive, any address
    assert e.value.retry_after_s == 851        # int(1900 - 1050) + 1
    t.check("li", "10.0.0.1")                  # another user from the same address: fine
    now[0] = 1900.0
    t.check("zhang", None)                     # the first failure left the window
    t.failed("zhang", None)                    # 1010..1040 + 1900 = 5 again
    with pytest.raises(TooManyAttempts):
        t.check("zhang", None)
    t.succeeded("zhang")
    t.check("zhang", None)


def test_throttle_per_address():
    now = [0.0]
    t = LoginThrottle(max_failures_user=5, max_failures_address=20, window_s=900, clock=lambda: now[0])
    for i in range(20):
        t.failed(f"user{i}", "10.0.0.9")
    with pytest.raises(TooManyAttempts):
        t.check("someone-new", "10.0.0.9")
    t.check("someone-new", "10.0.0.10")


def test_thirty_wrong_passwords_then_the_right_one_is_refused(ops):
    for _ in range(30):
        r = ops.client.post("/api/auth/token", data={"username": "operator", "password": "wrong-password-1"})
        assert r.status_code in (401, 429)
    r = ops.client.post("/api/auth/token", data={"username": "operator", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "too many failed logins" in r.json()["detail"]
    # another user still logs in from another address... and this one is not blocked by the
    # username lock of someone else
    r = ops.client.post("/api/auth/token", data={"username": "planner", "password": PASSWORD})
    assert r.status_code in (200, 429)  # the test client's address also took 31 failures


# -- passwords ----------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["12345678", "1234567890123", "password", "Password1", "qwertyui",
                                      "aaaaaaaa", "abababab", "abcdefgh", "87654321", "short", "", "x" * 129,
                                      "woaini1314", "admin123"])
def test_guessable_passwords_are_refused(password):
    with pytest.raises(InvalidInput):
        check_password(password, "wang")


@pytest.mark.parametrize("password", ["correct horse battery", "林间小路-2026", "Tr0ub4dor&3", "twin-demo-2026"])
def test_good_passwords_pass(password):
    check_password(password, "wang")


def test_password_may_not_contain_the_username():
    with pytest.raises(InvalidInput):
        check_password("zhangwei-2026!", "ZhangWei")


def test_cli_refuses_a_common_admin_password(tmp_path):
    from tests.conftest import run_cli

    r = run_cli("users", "create", "--username", "boss", "--password", "12345678", "--role", "admin",
                env={"TWIN_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "only digits" in r.stderr


# -- tokens -------------------------------------------------------------------------------
def _login(ops, user: str, password: str = PASSWORD) -> dict:
    r = ops.client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_logout_revokes_that_token_only(ops):
    a, b = _login(ops, "operator"), _login(ops, "operator")
    assert ops.client.post("/api/auth/logout", headers=a).status_code == 204
    r = ops.client.get("/api/auth/me", headers=a)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert ops.client.get("/api/auth/me", headers=b).status_code == 200


def test_password_change_revokes_every_earlier_token(ops):
    old = _login(ops, "owner101")
    other = _login(ops, "owner101")
    r = ops.client.post("/api/auth/password", headers=old, json={"old_password": "nope-nope-1",
                                                                  "new_password": "a-new-secret-2026"})
    assert r.status_code == 403
    r = ops.client.post("/api/auth/password", headers=old, json={"old_password": PASSWORD,
                                                                  "new_password": "12345678"})
    assert r.status_code == 422
    r = ops.client.post("/api/auth/password", headers=old, json={"old_password": PASSWORD,
                                                                  "new_password": "a-new-secret-2026"})
    assert r.status_code == 204
    for h in (old, other):
        assert ops.client.get("/api/auth/me", headers=h).status_code == 401
    assert ops.client.post("/api/auth/token", data={"username": "owner101", "password": PASSWORD}).status_code == 401
    new = _login(ops, "owner101", "a-new-secret-2026")
    assert ops.client.get("/api/auth/me", headers=new).json()["username"] == "owner101"


def test_role_comes_from_the_database_not_the_token(ops):
    from services.models import User

    h = _login(ops, "operator")
    with ops.db.transaction() as s:
        s.query(User).filter_by(username="operator").update({"role": "owner"})
    assert ops.client.post("/api/work-orders/escalations", headers=h).status_code == 403


# -- secrets ------------------------------------------------------------------------------
def test_short_secrets_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        secret_key(Settings(data_dir=tmp_path, secret_key="x"))
    with pytest.raises(InvalidInput, match="TWIN_PAYMENT_SECRET"):
        payment_callback_key(Settings(data_dir=tmp_path, secret_key="k" * 40, payment_secret="p" * 31))


def test_payment_key_does_not_derive_from_the_token_key(tmp_path):
    a = Settings(data_dir=tmp_path / "a", secret_key="k" * 40, payment_secret="p" * 40)
    b = Settings(data_dir=tmp_path / "b", secret_key="K" * 40, payment_secret="p" * 40)
    assert payment_callback_key(a) == payment_callback_key(b) == b"p" * 40
    c = Settings(data_dir=tmp_path / "c", secret_key="k" * 40)  # generated, kept in data_dir
    assert payment_callback_key(c) not in (b"k" * 40,) and len(payment_callback_key(c)) == 64
    assert payment_callback_key(c) == payment_callback_key(c)


# -- bodies before login ------------------------------------------------------------------
def _asgi(app, method: str, path: str, headers: dict, chunks: list[bytes]):
    """Call the ASGI app directly; return (status, number of body chunks it pulled)."""
    pulled = [0]
    sent = []

    async def receive():
        if pulled[0] < len(chunks):
            pulled[0] += 1
            return {"type": "http.request", "body": chunks[pulled[0] - 1], "more_body": pulled[0] < len(chunks)}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80), "app": app}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    return sent[0]["status"], pulled[0]


def test_anonymous_upload_is_refused_before_its_body_is_read(ops):
    chunk = b"x" * (1 << 20)
    status, pulled = _asgi(ops.app, "POST", "/api/work-orders/1/attachments",
                           {"content-type": "multipart/form-data; boundary=z"}, [chunk] * 200)
    assert (status, pulled) == (401, 0)


def test_declared_oversized_body_is_refused_at_once(ops):
    h = _login(ops, "operator")
    status, pulled = _asgi(ops.app, "POST", "/api/work-orders",
                           {**h, "content-type": "application/json", "content-length": str(100 * 10**6)},
                           [b"{" * 1024] * 3)
    assert (status, pulled) == (413, 0)


def test_streamed_oversized_body_stops_at_the_limit(ops):
    h = _login(ops, "operator")
    chunk = b" " * (16 << 10)
    status, pulled = _asgi(ops.app, "POST", "/api/work-orders", {**h, "content-type": "application/json"},
                           [chunk] * 6400)  # 100 MiB without a Content-Length
    assert status == 413 and pulled <= 64 * 1024 // len(chunk) + 1


def test_non_utf8_csv_from_an_anonymous_caller_is_401(ops):
    r = ops.client.post("/api/billing/readings", content=b"\xff\xfe\x00bad", headers={"content-type": "text/csv"})
    assert r.status_code == 401


# -- headers ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/owner", "/api/health", "/api/auth/me", "/viewer/app/main.js", "/nope"])
def test_security_headers_on_every_response(ops, path):
    r = ops.client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "unsafe-eval" not in csp


def test_an_uploaded_image_with_html_inside_is_served_as_a_sandboxed_download(ops):
    h = _login(ops, "owner101")
    wid = ops.client.post("/api/work-orders", headers=h,
                          json={"description": "门锁坏了", "location": {"unit_id": "A101"}}).json()["id"]
    body = PNG + b"<html><script>alert(document.cookie)</script></html>"
    att = ops.client.post(f"/api/work-orders/{wid}/attachments", headers=h,
                          files={"file": ("x.png", body, "image/png")}).json()
    r = ops.client.get(f"/api/work-orders/{wid}/attachments/{att['id']}", headers=h)
    assert r.content == body and r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-security-policy"].startswith("sandbox")
