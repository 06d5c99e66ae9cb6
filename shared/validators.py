"""One rule per kind of value: e-mail addresses, calendar dates, moments (date, time and UTC
offset), event ids and payment ids.

Each rule is a plain function that returns the value in its one normalised form or raises
ValueError with a message fit to show the user. The API models wrap them as pydantic types
(shared.models), `check` turns them into a field error for path and query parameters, and the
notifier asks the same functions before it mails anyone, so what the API stores is what the
mail adapters can send.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from shared.errors import ValidationFailed
from shared.ids import is_event_id, is_uuid7
from shared.timeutil import parse_iso_z, to_utc

T = TypeVar("T")

EMAIL_MAX = 254  # RFC 5321: the longest address a relay must accept
EMAIL_EXAMPLE = "name@example.com"
EVENT_ID_EXAMPLE = "2026-05-23-corporate-mixer"
PAYMENT_ID_EXAMPLE = "0190b3a0-8f1e-7c3a-9b2d-4e5f6a7b8c9d"
# The shape of a day, for the parsers here and for published schemas (events_schema/).
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAY = re.compile(DAY_PATTERN)


# --- e-mail addresses ------------------------------------------------------------------------


@functools.cache
def _configure_email_library() -> None:
    """Runs once, at the first address (see email_address for why the import waits)."""
    import email_validator

    # The library refuses the special-use name `.local`; the local stack's people and sender
    # live there (admin@scc.local). Like `.example`, which the library accepts, it is a syntax
    # question only: deliverability is never checked here.
    email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
        name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name != "local"
    ]


def email_address(text: str) -> str:
    """The one e-mail rule, for patrons, people and the notifier's own settings alike.

    An ordinary mailbox (``name@example.com``): a dot-atom before the @ (no quoted strings),
    a domain name with a period after it (no IP literals, no display name), surrounding
    whitespace ignored. The part before the @ must be ASCII: neither SES nor our SMTP adapter
    can send to an internationalised (SMTPUTF8) mailbox, so such an address is refused here
    rather than accepted and never mailed. No DNS lookup: this runs in a request.

    Returns the address's ASCII form: the part before the @ as given, the domain in lower
    case (an internationalised domain as its ``xn--`` form, which every relay accepts).
    """
    candidate = text.strip()
    local, at, _ = candidate.rpartition("@")
    if at and not local.isascii():
        raise ValueError(
            "must have only ASCII characters before the @ "
            "(mail cannot be sent to internationalised addresses)"
        )
    # Imported here, not at the top: compiling its patterns costs ~25 ms, which a cold start
    # that never sees an address should not pay.
    from email_validator import EmailNotValidError, validate_email

    _configure_email_library()
    try:
        checked = validate_email(
            candidate,
            check_deliverability=False,
            allow_smtputf8=False,
            strict=True,  # also the 64-character limit before the @
        )
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        raise ValueError(f"must be an e-mail address like {EMAIL_EXAMPLE} ({reason})") from None
    ascii_form = checked.ascii_email
    assert isinstance(ascii_form, str)  # always set when SMTPUTF8 is not allowed
    return ascii_form


def is_email_address(text: str) -> bool:
    try:
        email_address(text)
    except ValueError:
        return False
    return True


# --- dates and moments -----------------------------------------------------------------------


# The days a charter business's books can be about: anything outside is a typo (0026 for 2026)
# that would otherwise sort and total as a real day.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
_OUT_OF_RANGE = f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"


def calendar_date(value: object) -> date:
    """A day as ``YYYY-MM-DD`` (a real one: not 2026-02-30, and within the years the books
    can be about), or a date object."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        if not isinstance(value, str) or _DAY.fullmatch(value) is None:
            raise ValueError("must be a date as YYYY-MM-DD")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a real calendar date") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(_OUT_OF_RANGE)
    return day


def moment(value: object) -> datetime:
    """A point in time in UTC, from ISO-8601 text with its UTC offset (shared.timeutil's one
    reading of a moment) or from an aware datetime, within the years the books can be about."""
    if isinstance(value, datetime):
        result = to_utc(value)
    elif isinstance(value, str):
        result = parse_iso_z(value)
    else:
        raise ValueError("must be a date and time like 2026-05-23T18:30:00Z")
    if not EARLIEST_DAY <= result.date() <= LATEST_DAY:
        raise ValueError(_OUT_OF_RANGE)
    return result


# --- identifiers -----------------------------------------------------------------------------


def event_id(value: str) -> str:
    if not is_event_id(value):
        raise ValueError(f"must look like {EVENT_ID_EXAMPLE}")
    return value


def require_event_id(value: str) -> str:
    """An event id from a path, or ValidationFailed naming `event_id`."""
    return check("event_id", event_id, value)


def payment_id(value: str) -> str:
    """Payment and close-out ids: what shared.ids makes (a canonical, lower-case UUIDv7)."""
    if not is_uuid7(value):
        raise ValueError(f"must be a lower-case UUIDv7, e.g. {PAYMENT_ID_EXAMPLE}")
    return value


# --- for values that do not come through a pydantic model ------------------------------------


def check(name: str, rule: Callable[[str], T], value: str) -> T:
    """``rule(value)``, or ValidationFailed naming `name` (path and query parameters)."""
    try:
        return rule(value)
    except ValueError as exc:
        raise ValidationFailed.field(name, str(exc)) from None
