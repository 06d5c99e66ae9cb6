"""UTC everywhere; ISO-8601 with a trailing Z on the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2026-05-23T18:30:00Z")
    return moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """2026-05-23T18:30:00.123Z (milliseconds, always UTC)."""
    utc = to_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso_z(text: str) -> datetime:
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
