"""Typed domain errors. Logic raises these; shared.http maps them to HTTP in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base: carries the HTTP status, a stable machine code and a user-facing message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(f"{name}: {message}", {name: message})


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class EventNotFound(NotFound):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"No event with id {event_id!r}", {"event_id": "unknown event"})


class PaymentNotFound(NotFound):
    def __init__(self, payment_id: str) -> None:
        super().__init__(f"No payment with id {payment_id!r}", {"payment_id": "unknown payment"})


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class EventAlreadyExists(Conflict):
    code = "event_exists"


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
