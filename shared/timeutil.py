"""UTC everywhere; ISO-8601 with a trailing Z on the wire."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# RFC 3339's profile of ISO 8601 (seconds optional): a date, a time, and the offset, which is
# what makes a moment unambiguous. Parsed by datetime.fromisoformat once the shape is right.
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
# What `iso_z` writes (the stored and published form of a moment), for published schemas.
ISO_Z_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"
_BEYOND_MICROSECONDS = re.compile(r"(\.[0-9]{6})[0-9]+")
_NEEDS_OFFSET = "must include a UTC offset, e.g. 2026-05-23T18:30:00Z"


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(_NEEDS_OFFSET)
    return moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """2026-05-23T18:30:00.123Z (milliseconds, always UTC)."""
    utc = to_utc(moment)
    # Not strftime: its %Y writes the year 641 as "641", which no ISO 8601 reader takes back
    # (a payment stored so would break every read of its event's ledger).
    return utc.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_iso_z(text: str) -> datetime:
    """The one reading of a moment: ``2026-05-23T18:30:00Z``, ``2026-05-23T11:30:00.5-07:00``
    (seconds and fractions optional, the offset required), returned in UTC. Raises ValueError
    with a message fit for the user."""
    shape = _MOMENT.fullmatch(text)
    if shape is None:
        raise ValueError("must be a date and time like 2026-05-23T18:30:00Z")
    if shape.group("offset") is None:
        raise ValueError(_NEEDS_OFFSET)
    # Beyond microseconds the digits are cut (not rounded): a datetime holds no more.
    text = _BEYOND_MICROSECONDS.sub(r"\1", text).upper().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a real date and time") from None
    return to_utc(parsed)
