"""A sandbox payment gateway for ``twin demo``: it confirms every payment intent.

Real deployments have a gateway adapter that calls ``POST /api/billing/payment-callback``
when the payer has paid. The demo has no gateway, so :class:`SandboxGateway` plays one:
``delay_s`` after an intent is created it posts the signed callback (``status``
``succeeded``, the intent's amount) to the running service over HTTP, through the same
signature check and booking as a real gateway's. :func:`install_sandbox` puts it on the app;
only ``twin demo`` calls it (``twin serve`` never does, and no setting turns it on).
"""

from __future__ import annotations

import json
import logging
import threading
import time

import httpx

from services.billing.payments import SIGNATURE_HEADER, sign

__all__ = ["SandboxGateway", "install_sandbox"]

log = logging.getLogger(__name__)


class SandboxGateway:
    """Confirm payment intents through the service's own signed callback.

    Parameters
    ----------
    base_url : str
        The running service, e.g. ``http://127.0.0.1:8000``.
    key : bytes
        The callback HMAC key (:func:`services.auth.payment_callback_key`).
    delay_s : float
        Seconds between the intent and its confirmation (a payer confirming in an app).
    attempts : int
        Tries per callback (the intent's transaction may commit after the first one).
    """

    def __init__(self, base_url: str, key: bytes, *, delay_s: float = 1.5, attempts: int = 5) -> None:
        if delay_s < 0 or attempts < 1:
            raise ValueError(f"delay_s={delay_s} must be >= 0 and attempts={attempts} >= 1")
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.delay_s = delay_s
        self.attempts = attempts

    def confirm(self, intent_id: str, amount: str) -> threading.Thread:
        """Post the signed ``succeeded`` callback of an intent, ``delay_s`` from now (a thread)."""
        t = threading.Thread(target=self._confirm, args=(intent_id, amount), daemon=True,
                             name=f"sandbox-pay-{intent_id[:8]}")
        t.start()
        return t

    def callback_body(self, intent_id: str, amount: str) -> bytes:
        """The JSON body a gateway sends for a succeeded payment."""
        return json.dumps({"intent_id": intent_id, "status": "succeeded", "amount": amount,
                           "gateway_ref": f"SANDBOX-{intent_id[:12]}"}).encode()

    def _confirm(self, intent_id: str, amount: str) -> None:
        body = self.callback_body(intent_id, amount)
        headers = {SIGNATURE_HEADER: sign(self.key, body), "content-type": "application/json"}
        time.sleep(self.delay_s)
        for attempt in range(self.attempts):
            try:
                r = httpx.post(self.base_url + "/api/billing/payment-callback", content=body,
                               headers=headers, timeout=10)
                if r.status_code != 404:  # 404: the intent's transaction has not committed yet
                    if r.status_code >= 400:
                        log.warning("sandbox payment %s refused: %s %s", intent_id, r.status_code, r.text[:200])
                    return
            except httpx.HTTPError as exc:
                log.warning("sandbox payment %s: %s", intent_id, exc)
            time.sleep(0.5 * (attempt + 1))


def install_sandbox(app, settings, host: str, port: int, *, delay_s: float = 1.5) -> SandboxGateway:
    """Put a :class:`SandboxGateway` for the service at ``host:port`` on ``app`` (demo only)."""
    from services.auth import payment_callback_key

    loopback = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in loopback and not loopback.startswith("["):
        loopback = f"[{loopback}]"
    gateway = SandboxGateway(f"http://{loopback}:{port}", payment_callback_key(settings), delay_s=delay_s)
    app.state.payment_sandbox = gateway
    return gateway
