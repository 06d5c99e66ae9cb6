"""Test doubles for the notifier's mail adapters (services/notifier/mail.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from services.notifier.mail import (
    MailError,
    MailMessage,
    PermanentMailError,
    RetryableMailError,
    address_of,
)
from shared.validators import is_email_address


@dataclass
class FakeSender:
    """Records every mail it "sends". Behaves like a strict relay: refuses an unverified sender
    (when `verified_senders` is given) and a malformed recipient with PermanentMailError, and
    fails the next sends (or the next ones matching `when`) on request."""

    verified_senders: Collection[str] | None = None
    sent: list[MailMessage] = field(default_factory=list)
    attempts: int = 0
    _failures: list[tuple[Callable[[MailMessage], bool], MailError]] = field(
        default_factory=list, init=False, repr=False
    )

    def fail_next(
        self,
        count: int = 1,
        kind: Literal["retryable", "permanent"] = "retryable",
        *,
        when: Callable[[MailMessage], bool] | None = None,
    ) -> None:
        for _ in range(count):
            error: MailError = (
                RetryableMailError("fake: throttled")
                if kind == "retryable"
                else PermanentMailError("fake: rejected")
            )
            self._failures.append((when or (lambda _message: True), error))

    def send(self, message: MailMessage) -> None:
        self.attempts += 1
        for index, (matches, error) in enumerate(self._failures):
            if matches(message):
                del self._failures[index]
                raise error
        sender = address_of(message.sender)
        if self.verified_senders is not None and sender not in set(self.verified_senders):
            raise PermanentMailError(f"fake: sender not verified {sender}")
        for mailbox in (*message.to, *([message.reply_to] if message.reply_to else [])):
            if not is_email_address(address_of(mailbox)):
                raise PermanentMailError("fake: invalid recipient address")
        self.sent.append(message)
