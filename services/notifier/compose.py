"""Ledger entries -> mails. Pure functions: no I/O, no clock, no configuration lookups.

Every value a user typed (patron name, notes, reference, void reason, e-mail) is HTML-escaped
in the HTML part and flattened to one line wherever it lands in a header, so a name like
``<script>`` or ``x\\r\\nBcc: ...`` stays text. Amounts are integer cents formatted exactly.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.notifier.mail import MailMessage, header_safe, masked_address
from shared import keys
from shared.ids import is_event_id
from shared.models import PAYMENT_METHODS, Closeout, Payment, Void
from shared.money import format_cents
from shared.stream import LedgerEntry
from shared.timeutil import iso_z
from shared.validators import email_address

Audience = Literal["admins", "patron"]

CURRENCY_SYMBOLS = {
    "USD": "$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "MXN": "MX$",
    "EUR": "€",
    "GBP": "£",
}
_SUBJECT_NAME_MAX = 60
_SUBJECT_MAX = 200
_METHOD_LABELS = {
    "cash": "Cash",
    "card": "Card",
    "check": "Check",
    "venmo": "Venmo",
    "other": "Other",
}


@dataclass(frozen=True)
class Outgoing:
    """One mail a ledger entry causes, and who it is for (part of its idempotency key)."""

    audience: Audience
    message: MailMessage


@dataclass(frozen=True)
class NotSendable:
    """A mail a ledger entry calls for that cannot go out: the patron's address in the ledger
    item is not one the e-mail rule accepts (items written before the rule, or by hand)."""

    audience: Audience
    reason: str
    recipient: str  # masked: j***@example.com


@dataclass(frozen=True)
class Mails:
    """What one ledger entry causes: the mails to send, and those that cannot be sent."""

    outgoing: list[Outgoing]
    not_sendable: list[NotSendable]


# --- formatting helpers ----------------------------------------------------------------------


def money(cents: int, currency: str) -> str:
    """15010, "USD" -> "$150.10"; a currency without a symbol -> "150.10 CHF"."""
    amount = format_cents(cents)
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{amount} {header_safe(currency)}"
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    return f"{sign}{symbol}{digits}"


def event_title(event_id: str) -> str:
    """ "2026-05-23-corporate-mixer" -> "Corporate Mixer" (the ledger item carries only the id)."""
    if not is_event_id(event_id):
        return event_id
    slug = event_id[len("YYYY-MM-DD-") :]
    return " ".join(word.capitalize() for word in slug.split("-"))


def event_label(event_id: str) -> str:
    return f"{event_title(event_id)} ({event_id})"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _subject(*parts: str) -> str:
    return _clip(header_safe(" ".join(parts)), _SUBJECT_MAX)


def _name_for_subject(name: str) -> str:
    return _clip(header_safe(name), _SUBJECT_NAME_MAX)


def _when(moment: datetime) -> str:
    return iso_z(moment)


def _method(method: str) -> str:
    return _METHOD_LABELS.get(method, method)


def _line(text: str | None) -> str:
    return header_safe(text) if text else "—"


def _multiline(text: str | None) -> str:
    if not text:
        return "—"
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _mail_key(event_id: str, sort_key: str, audience: Audience) -> str:
    return f"{keys.event_pk(event_id)}/{sort_key}/{audience}"


# --- bodies ----------------------------------------------------------------------------------


def _text_body(intro: str, rows: Sequence[tuple[str, str]], outro: str = "") -> str:
    width = max(len(label) for label, _ in rows) + 2
    lines = [intro, ""]
    for label, value in rows:
        first, *rest = value.split("\n")
        lines.append(f"{label + ':':<{width}}{first}")
        lines.extend(f"{'':<{width}}{more}" for more in rest)
    if outro:
        lines += ["", outro]
    return "\n".join(lines) + "\n"


def _html_body(title: str, intro: str, rows: Sequence[tuple[str, str]], outro: str = "") -> str:
    """Every value is escaped here, once; labels and texts are ours but escaped too."""

    def cell(value: str) -> str:
        return html.escape(value, quote=True).replace("\n", "<br>\n")

    table_rows = "\n".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">'
        f"{cell(label)}</th><td>{cell(value)}</td></tr>"
        for label, value in rows
    )
    closing = f"<p>{cell(outro)}</p>\n" if outro else ""
    return (
        "<!doctype html>\n"
        '<html><head><meta charset="utf-8">'
        f"<title>{cell(title)}</title></head>\n"
        '<body style="font-family:sans-serif">\n'
        f"<p>{cell(intro)}</p>\n"
        f'<table style="border-collapse:collapse">\n{table_rows}\n</table>\n'
        f"{closing}"
        "</body></html>\n"
    )


# --- the mails -------------------------------------------------------------------------------


def _mail(
    sender: str,
    to: tuple[str, ...],
    subject: str,
    intro: str,
    rows: Sequence[tuple[str, str]],
    outro: str = "",
    *,
    key: str,
    reply_to: str | None = None,
) -> MailMessage:
    """One mail in both forms: plain text and the same content as escaped HTML."""
    return MailMessage(
        sender=sender,
        to=to,
        subject=subject,
        text=_text_body(intro, rows, outro),
        html=_html_body(subject, intro, rows, outro),
        reply_to=reply_to,
        key=key,
    )


def payment_mail(payment: Payment, *, sender: str, admins: Sequence[str]) -> MailMessage:
    """The admins' notice of a logged payment (Reply-To the patron when we have an address)."""
    amount = money(payment.amount_cents, payment.currency)
    subject = _subject(
        f"Payment logged: {amount} from {_name_for_subject(payment.patron_name)}",
        f"— {event_label(payment.event_id)}",
    )
    patron_email = _usable_address(payment.patron_email)
    rows = [
        ("Event", event_label(payment.event_id)),
        ("Patron", _line(payment.patron_name)),
        ("Amount", f"{amount} ({payment.currency})"),
        ("Method", _method(payment.payment_method)),
        ("Reference", _line(payment.reference)),
        ("Notes", _multiline(payment.notes)),
        ("Received at", _when(payment.received_at)),
        ("Logged by", _line(payment.logged_by)),
        ("Logged at", _when(payment.timestamp)),
        ("Payment id", payment.payment_id),
    ]
    if patron_email:
        rows.insert(2, ("Patron e-mail", patron_email))
    intro = f"A payment of {amount} was logged for {event_label(payment.event_id)}."
    key = _mail_key(payment.event_id, keys.payment_sk(payment.payment_id), "admins")
    return _mail(sender, tuple(admins), subject, intro, rows, key=key, reply_to=patron_email)


def void_mail(void: Void, *, sender: str, admins: Sequence[str]) -> MailMessage:
    """The admins' notice that a payment was voided, with the reason."""
    amount = money(void.amount_cents, void.currency)
    subject = _subject(
        f"Payment voided: {amount} from {_name_for_subject(void.patron_name)}",
        f"— {event_label(void.event_id)}",
    )
    rows = [
        ("Event", event_label(void.event_id)),
        ("Patron", _line(void.patron_name)),
        ("Amount voided", f"{amount} ({void.currency})"),
        ("Method", _method(void.payment_method)),
        ("Reason", _multiline(void.reason)),
        ("Voided by", _line(void.voided_by)),
        ("Voided at", _when(void.timestamp)),
        ("Payment id", void.payment_id),
    ]
    intro = (
        f"A payment of {amount} for {event_label(void.event_id)} was voided. "
        "It no longer counts towards the event's totals; the original entry is kept."
    )
    key = _mail_key(void.event_id, keys.void_sk(void.payment_id), "admins")
    return _mail(sender, tuple(admins), subject, intro, rows, key=key)


def closeout_mail(closeout: Closeout, *, sender: str, admins: Sequence[str]) -> MailMessage:
    """The close-out sheet for the admins: recorded, counted and over/short per method."""
    currency = closeout.currency
    total = closeout.over_short_cents

    def signed(cents: int) -> str:
        if cents == 0:
            return "exact"
        return ("over " if cents > 0 else "short ") + money(abs(cents), currency)

    subject = _subject(f"Closed out: {event_title(closeout.event_id)}", f"— {signed(total)}")
    rows: list[tuple[str, str]] = [("Event", event_label(closeout.event_id))]
    for method in PAYMENT_METHODS:
        recorded = closeout.recorded_cents.get(method, 0)
        counted = closeout.counted_cents.get(method, 0)
        difference = closeout.difference_cents[method]
        rows.append(
            (
                _method(method),
                f"recorded {money(recorded, currency)}, counted {money(counted, currency)}"
                f" ({signed(difference)})",
            )
        )
    rows += [
        ("Over/short", signed(total)),
        ("Payments included", f"{closeout.payment_count} ({closeout.void_count} voided)"),
        ("Note", _multiline(closeout.note)),
        ("Closed out by", _line(closeout.closed_by)),
        ("Closed out at", _when(closeout.closed_at)),
        ("Close-out id", closeout.closeout_id),
    ]
    intro = (
        f"{_line(closeout.closed_by)} closed out {event_label(closeout.event_id)}: "
        f"{signed(total)} against the ledger. A later close-out supersedes this one."
    )
    key = _mail_key(closeout.event_id, keys.closeout_sk(closeout.closeout_id), "admins")
    return _mail(sender, tuple(admins), subject, intro, rows, key=key)


def payment_receipt(payment: Payment, *, sender: str, to: str) -> MailMessage:
    """The patron's receipt, to `to` (the patron's address as the e-mail rule normalises it).
    It leaves out what is internal (notes, who logged it)."""
    amount = money(payment.amount_cents, payment.currency)
    title = event_title(payment.event_id)
    subject = _subject(f"Payment received: {amount} — {title}")
    rows = [
        ("Event", event_label(payment.event_id)),
        ("Amount", f"{amount} ({payment.currency})"),
        ("Method", _method(payment.payment_method)),
        ("Reference", _line(payment.reference)),
        ("Received at", _when(payment.received_at)),
        ("Receipt number", payment.payment_id),
    ]
    intro = f"Hello {_line(payment.patron_name)}, thank you: we received your payment of {amount}."
    outro = "Please keep this e-mail as your receipt."
    key = _mail_key(payment.event_id, keys.payment_sk(payment.payment_id), "patron")
    return _mail(sender, (to,), subject, intro, rows, outro, key=key)


def _usable_address(address: str | None) -> str | None:
    """The address normalised by the e-mail rule, or None when there is none or it fails."""
    if not address:
        return None
    try:
        return email_address(address)
    except ValueError:
        return None


def _receipt(payment: Payment, *, sender: str) -> Outgoing | NotSendable | None:
    """The patron's receipt; why it cannot be sent; or None when the patron left no address."""
    if not payment.patron_email:
        return None
    try:
        to = email_address(payment.patron_email)
    except ValueError as exc:
        return NotSendable("patron", str(exc), masked_address(payment.patron_email))
    return Outgoing("patron", payment_receipt(payment, sender=sender, to=to))


def mails_for(entry: LedgerEntry, *, sender: str, admins: Sequence[str]) -> Mails:
    """Every mail one ledger entry causes: the admins' notice (payment, void or close-out
    sheet), and for a payment with a patron address, the patron's receipt (or, when that
    address fails the e-mail rule, why it cannot be sent)."""
    if entry.payment is not None:
        notice = Outgoing("admins", payment_mail(entry.payment, sender=sender, admins=admins))
        receipt = _receipt(entry.payment, sender=sender)
        if isinstance(receipt, NotSendable):
            return Mails([notice], [receipt])
        return Mails([notice] if receipt is None else [notice, receipt], [])
    if entry.closeout is not None:
        sheet = closeout_mail(entry.closeout, sender=sender, admins=admins)
        return Mails([Outgoing("admins", sheet)], [])
    assert entry.void is not None
    return Mails([Outgoing("admins", void_mail(entry.void, sender=sender, admins=admins))], [])
