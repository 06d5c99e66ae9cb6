"""Composing the notifier's mails: escaping, header safety, exact amounts, who gets what."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifier import compose
from services.notifier.mail import MailMessage
from shared.models import Payment, Void
from shared.stream import LedgerEntry
from tests import builders

SENDER = "SCC Payments <payments@scc.example>"
ADMINS = ("admin@scc.example", "bookkeeper@scc.example")
PAYMENT_ID = "0190b3a0-8f1e-7c3a-9b2d-4e5f6a7b8c9d"
WHEN = builders.WHEN
SCRIPT = "<script>alert(1)</script>"


def a_payment(**changes: Any) -> Payment:
    return builders.a_payment(**{"payment_id": PAYMENT_ID, **changes})


def a_void(**changes: Any) -> Void:
    return builders.a_void(a_payment(), **changes)


def admin_mail(**changes: Any) -> MailMessage:
    return compose.payment_mail(a_payment(**changes), sender=SENDER, admins=ADMINS)


# --- subject and amounts ---------------------------------------------------------------------


def test_the_subject_names_amount_patron_and_event() -> None:
    mail = admin_mail()

    assert mail.subject == (
        "Payment logged: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)"
    )
    assert mail.sender == SENDER
    assert mail.to == ADMINS


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (15010, "USD", "$150.10"),
        (1, "USD", "$0.01"),
        (10_000_000, "USD", "$100000.00"),
        (999, "EUR", "€9.99"),
        (15000, "CAD", "CA$150.00"),
        (15000, "GBP", "£150.00"),
        (15000, "CHF", "150.00 CHF"),
    ],
)
def test_amounts_are_exact_to_the_cent_with_the_currency(
    cents: int, currency: str, shown: str
) -> None:
    mail = admin_mail(amount_cents=cents, currency=currency)

    assert shown in mail.subject
    assert shown in mail.text
    assert f"{shown} ({currency})" in mail.text
    assert shown in mail.html


def test_15010_cents_is_150_10_everywhere() -> None:
    mail = admin_mail(amount_cents=15010)

    for part in (mail.subject, mail.text, mail.html):
        assert "150.10" in part
        assert "150.1 " not in part
        assert "150.09" not in part


# --- HTML escaping ---------------------------------------------------------------------------


def test_a_script_patron_name_and_notes_are_escaped_in_html_and_intact_in_text() -> None:
    # Given a patron name and notes that are markup
    mail = admin_mail(
        patron_name=SCRIPT,
        notes='<img src=x onerror="alert(2)">\nsecond line & more',
        reference="<b>ref</b>",
        patron_email="john@example.org",
    )

    # Then the HTML part shows them as text
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<img" not in mail.html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in mail.html
    assert "second line &amp; more" in mail.html
    assert "&lt;b&gt;ref&lt;/b&gt;" in mail.html
    # And the plain-text part keeps exactly what was typed
    assert SCRIPT in mail.text
    assert '<img src=x onerror="alert(2)">' in mail.text
    assert "second line & more" in mail.text
    assert "<b>ref</b>" in mail.text


def test_every_user_value_in_the_void_mail_is_escaped() -> None:
    void = a_void(patron_name=SCRIPT, reason='<i>typo</i> & "dup"', voided_by="<u>x</u>")

    mail = compose.void_mail(void, sender=SENDER, admins=ADMINS)

    assert "<script>" not in mail.html
    assert "<i>" not in mail.html
    assert "<u>" not in mail.html
    assert "&lt;i&gt;typo&lt;/i&gt; &amp; &quot;dup&quot;" in mail.html


def test_the_html_has_no_markup_but_ours() -> None:
    mail = admin_mail(patron_name=SCRIPT, notes="<style>*{display:none}</style>")

    tags = {tag.split(">")[0].split()[0] for tag in mail.html.split("<")[1:]}
    assert tags <= {
        "!doctype",
        "html",
        "/html",
        "head",
        "meta",
        "title",
        "/title",
        "/head",
        "body",
        "/body",
        "p",
        "/p",
        "table",
        "/table",
        "tr",
        "/tr",
        "th",
        "/th",
        "td",
        "/td",
        "br",
    }


# --- header injection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "John\r\nBcc: victim@example.org",
        "John\nBcc: victim@example.org",
        "John\rBcc: victim@example.org",
        "John\u2028Bcc: victim@example.org",
        "John\x85Bcc: victim@example.org",
    ],
)
def test_line_breaks_in_a_name_never_reach_the_subject(name: str) -> None:
    # Given a name (written past the API's checks) that tries to add a header
    mail = admin_mail(patron_name=name)

    # Then the subject is one line and the would-be header is just text in it
    assert "\r" not in mail.subject
    assert "\n" not in mail.subject
    assert "\u2028" not in mail.subject
    assert "\x85" not in mail.subject
    assert "John Bcc: victim@example.org" in mail.subject


def test_a_void_subject_is_one_line_too() -> None:
    void = a_void(patron_name="Eve\r\nBcc: victim@example.org")

    mail = compose.void_mail(void, sender=SENDER, admins=ADMINS)

    assert mail.subject.startswith("Payment voided: $150.00 from Eve Bcc: victim@example.org")


def test_a_very_long_name_is_clipped_in_the_subject_only() -> None:
    name = "A" * 120

    mail = admin_mail(patron_name=name)

    assert len(mail.subject) <= 200
    assert name not in mail.subject
    assert name in mail.text


# --- the void mail ------------------------------------------------------------------------


def test_the_void_mail_says_voided_and_gives_the_reason() -> None:
    mail = compose.void_mail(a_void(reason="Card declined later"), sender=SENDER, admins=ADMINS)

    assert mail.subject == (
        "Payment voided: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)"
    )
    for part in (mail.text, mail.html):
        assert "voided" in part
        assert "Card declined later" in part
        assert PAYMENT_ID in part
    assert mail.key == f"EVENT#2026-05-23-corporate-mixer/VOID#{PAYMENT_ID}/admins"


# --- who gets what ---------------------------------------------------------------------------


def test_a_payment_with_a_patron_address_also_gets_a_receipt_without_internal_details() -> None:
    payment = a_payment(
        patron_email="john@example.org", notes="VIP, comp drinks", reference="chk 1042"
    )
    entry = LedgerEntry("1", "payment", payment.event_id, PAYMENT_ID, "PAYMENT#x", payment=payment)

    mails = compose.mails_for(entry, sender=SENDER, admins=ADMINS)

    assert [m.audience for m in mails.outgoing] == ["admins", "patron"]
    assert mails.not_sendable == []
    admins, patron = (m.message for m in mails.outgoing)
    assert admins.reply_to == "john@example.org"
    assert patron.to == ("john@example.org",)
    assert patron.subject == "Payment received: $150.00 — Corporate Mixer"
    assert "chk 1042" in patron.text
    assert "VIP" not in patron.text + patron.html
    assert "admin@scc.example" not in patron.text + patron.html
    assert admins.key != patron.key


def test_a_payment_without_a_patron_address_mails_only_the_admins() -> None:
    for address in (None, ""):
        payment = a_payment(patron_email=address)
        entry = LedgerEntry("1", "payment", payment.event_id, PAYMENT_ID, "P", payment=payment)

        mails = compose.mails_for(entry, sender=SENDER, admins=ADMINS)

        assert [m.audience for m in mails.outgoing] == ["admins"]
        assert mails.outgoing[0].message.reply_to is None
        assert mails.not_sendable == []


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("not-an-address", "n***"),
        ("x@y.example\r\nBcc: z@example.org", "x***@example.org"),
        ("josé@example.com", "j***@example.com"),
        ("a@x..com", "a***@x..com"),
        ("a@-x.com", "a***@-x.com"),
    ],
)
def test_a_patron_address_the_rule_refuses_mails_the_admins_and_reports_the_receipt(
    address: str, masked: str
) -> None:
    # Given a ledger item whose patron address the e-mail rule refuses (older than the rule)
    payment = a_payment(patron_email=address)
    entry = LedgerEntry("1", "payment", payment.event_id, PAYMENT_ID, "P", payment=payment)

    # When its mails are composed
    mails = compose.mails_for(entry, sender=SENDER, admins=ADMINS)

    # Then the admins are mailed (without that Reply-To), and the receipt is reported unsendable
    # with a reason and only the masked address
    assert [m.audience for m in mails.outgoing] == ["admins"]
    assert mails.outgoing[0].message.reply_to is None
    [unsendable] = mails.not_sendable
    assert unsendable.audience == "patron"
    assert unsendable.recipient == masked
    assert unsendable.reason.startswith("must ")


def test_the_receipt_goes_to_the_address_as_the_rule_normalises_it() -> None:
    payment = a_payment(patron_email=" John.Smith@Example.ORG ")
    entry = LedgerEntry("1", "payment", payment.event_id, PAYMENT_ID, "P", payment=payment)

    mails = compose.mails_for(entry, sender=SENDER, admins=ADMINS)

    admins, patron = (m.message for m in mails.outgoing)
    assert patron.to == ("John.Smith@example.org",)
    assert admins.reply_to == "John.Smith@example.org"


def test_a_void_mails_only_the_admins() -> None:
    void = a_void()
    entry = LedgerEntry("1", "void", void.event_id, PAYMENT_ID, "VOID#x", void=void)

    mails = compose.mails_for(entry, sender=SENDER, admins=ADMINS)

    assert [m.audience for m in mails.outgoing] == ["admins"]
    assert mails.not_sendable == []


def test_the_event_title_comes_from_the_event_id() -> None:
    assert compose.event_title("2026-06-14-harbor-lights-cruise") == "Harbor Lights Cruise"
    assert compose.event_title("not-an-event-id") == "not-an-event-id"


# --- the close-out sheet ------------------------------------------------------------------------


def test_the_close_out_sheet_goes_to_the_admins_with_every_method_and_the_over_short() -> None:
    closeout = builders.a_closeout(
        counted_cents={"cash": 9500, "card": 5550, "check": 0, "venmo": 500, "other": 0},
        recorded_cents={"cash": 10000, "card": 5550, "check": 0, "venmo": 0, "other": 0},
        note=f"found {SCRIPT} in the box",
    )
    entry = LedgerEntry(
        "1", "closeout", closeout.event_id, closeout.closeout_id, "CLOSEOUT#x", closeout=closeout
    )

    [outgoing] = compose.mails_for(entry, sender=SENDER, admins=ADMINS).outgoing

    mail = outgoing.message
    assert outgoing.audience == "admins"
    assert mail.to == ADMINS
    assert mail.subject.startswith("Closed out: Corporate Mixer")
    assert "exact" in mail.subject  # 500 over on venmo, 500 short on cash
    for line in ("Cash", "recorded $100.00, counted $95.00 (short $5.00)", "over $5.00", "Other"):
        assert line in mail.text
    assert SCRIPT in mail.text
    assert SCRIPT not in (mail.html or "")
    assert "&lt;script&gt;" in (mail.html or "")
