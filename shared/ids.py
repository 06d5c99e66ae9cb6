"""Identifiers: time-ordered payment ids (UUIDv7) and readable event ids."""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
import uuid
from datetime import date

EVENT_ID_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}-[a-z0-9]+(?:-[a-z0-9]+)*$"
EVENT_ID_MAX_LENGTH = 80
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_SLUG_MAX = EVENT_ID_MAX_LENGTH - len("2026-05-23-")


def new_payment_id(now_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds then random bits, so ids sort by time."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= secrets.randbits(12) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= secrets.randbits(62)  # rand_b
    return str(uuid.UUID(int=value))


def is_uuid7(text: str) -> bool:
    """True for a canonical lower-case UUID string of version 7 and the RFC variant."""
    try:
        parsed = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122


def slugify(name: str) -> str:
    """ "Corporate Mixer!" -> "corporate-mixer" (ASCII, lower case, dash-separated)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:_SLUG_MAX].rstrip("-") or "event"


def make_event_id(event_date: date, event_name: str) -> str:
    """2026-05-23 + "Corporate Mixer" -> "2026-05-23-corporate-mixer"."""
    return f"{event_date.isoformat()}-{slugify(event_name)}"


def is_event_id(text: str) -> bool:
    return len(text) <= EVENT_ID_MAX_LENGTH and _EVENT_ID.fullmatch(text) is not None
