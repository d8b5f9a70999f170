"""The notification outbox: in-app messages (stored, read through the API) and email.

Writers add :class:`services.models.Notification` rows in their own transaction (so a
failed request queues nothing). :func:`deliver_email` sends the pending email rows over
SMTP (``smtp://host:port``), marking each ``sent`` or ``failed`` with the error.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import utcnow
from services.errors import InvalidInput
from services.models import Notification

__all__ = ["deliver_email", "parse_smtp_url"]


def parse_smtp_url(url: str) -> tuple[str, int]:
    """Return ``(host, port)`` of ``smtp://host:port``."""
    parsed = urlparse(url)
    if parsed.scheme != "smtp" or not parsed.hostname:
        raise InvalidInput(f"smtp_url={url!r} must look like smtp://host:port")
    return parsed.hostname, parsed.port or 25


def deliver_email(session: Session, smtp_url: str, sender: str, *, limit: int = 500) -> dict[str, int]:
    """Send pending email notifications; return ``{"sent", "failed"}`` counts."""
    host, port = parse_smtp_url(smtp_url)
    pending = list(session.scalars(select(Notification).where(Notification.channel == "email",
                                                              Notification.status == "pending")
                                   .order_by(Notification.id).limit(limit)))
    sent = failed = 0
    if not pending:
        return {"sent": 0, "failed": 0}
    try:
        smtp = smtplib.SMTP(host, port, timeout=10)
    except OSError as exc:
        for n in pending:
            n.attempts += 1
            n.error = f"cannot connect to {host}:{port}: {exc}"
        return {"sent": 0, "failed": len(pending)}
    with smtp:
        for n in pending:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = sender, n.recipient, n.subject
            msg.set_content(n.body)
            n.attempts += 1
            try:
                smtp.send_message(msg)
                n.status, n.sent_at, n.error = "sent", utcnow(), None
                sent += 1
            except smtplib.SMTPException as exc:
                n.error = str(exc)[:500]
                if n.attempts >= 5:
                    n.status = "failed"
                failed += 1
    session.flush()
    return {"sent": sent, "failed": failed}
