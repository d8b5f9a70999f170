"""The demo's sandbox gateway: what it signs is what the callback check accepts."""

from __future__ import annotations

import json

import pytest

from services.billing.payments import sign
from services.billing.sandbox import SandboxGateway, install_sandbox


@pytest.mark.parametrize("host, base", [("0.0.0.0", "http://127.0.0.1:8000"), ("", "http://127.0.0.1:8000"),
                                        ("::", "http://[::1]:8000"), ("192.0.2.7", "http://192.0.2.7:8000"),
                                        ("::1", "http://[::1]:8000")])
def test_install_points_the_sandbox_at_the_service(host, base, tmp_path):
    from types import SimpleNamespace

    from services.settings import Settings

    app = SimpleNamespace(state=SimpleNamespace())
    gw = install_sandbox(app, Settings(secret_key="k" * 40, data_dir=tmp_path, payment_secret="p" * 40), host, 8000)
    assert app.state.payment_sandbox is gw and gw.base_url == base and gw.key == b"p" * 40


def test_callback_body_is_a_succeeded_gateway_message():
    gw = SandboxGateway("http://127.0.0.1:1/", b"k" * 32, delay_s=0)
    body = gw.callback_body("ab" * 16, "12.30")
    assert json.loads(body) == {"intent_id": "ab" * 16, "status": "succeeded", "amount": "12.30",
                                "gateway_ref": "SANDBOX-" + "ab" * 6}
    assert gw.base_url == "http://127.0.0.1:1"
    assert sign(b"k" * 32, body).startswith("sha256=")


@pytest.mark.parametrize("kwargs", [{"delay_s": -1}, {"attempts": 0}])
def test_bad_parameters_are_named(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SandboxGateway("http://127.0.0.1:1", b"k" * 32, **kwargs)
