"""Photo attachments: type checked by magic bytes (never by the declared type), size limit."""

from __future__ import annotations

import hashlib

from services.errors import InvalidInput
from services.parsing import check_text

__all__ = ["MAX_BYTES", "MAX_PER_ORDER", "sniff_image_type", "validate_photo"]

#: Largest accepted photo (bytes).
MAX_BYTES = 5 * 1024 * 1024
#: Most photos per work order.
MAX_PER_ORDER = 10


def sniff_image_type(data: bytes) -> str | None:
    """Return ``image/jpeg``, ``image/png`` or ``image/webp`` from the leading bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def validate_photo(filename: str, data: bytes) -> tuple[str, str]:
    """Check a photo; return ``(content_type, sha256)`` or raise :class:`InvalidInput`."""
    check_text(filename, "filename")
    if not data:
        raise InvalidInput(f"file {filename!r} is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"file {filename!r} is {len(data)} bytes; the limit is {MAX_BYTES}")
    kind = sniff_image_type(data)
    if kind is None:
        raise InvalidInput(f"file {filename!r} is not a JPEG, PNG or WebP image (checked by content)")
    return kind, hashlib.sha256(data).hexdigest()
