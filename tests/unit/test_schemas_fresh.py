"""events_schema/ and services/query/openapi.json are generated from the code; stale copies fail here."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

from events_schema.events import EventClosedOut, EventCreated, PaymentLogged, PaymentVoided
from shared.models import Closeout, Event, Payment, Void
from shared.repository import closeout_item, payment_item, void_item

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "schema_generator", ROOT / "events_schema/generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_schemas_match_the_models() -> None:
    # Given the models as they are now, when the schemas are regenerated in memory
    stale = _generator().stale()
    # Then every committed file is identical (else: run `make schemas`)
    assert stale == [], f"stale schema files, run `make schemas`: {stale}"


def test_openapi_document_lists_every_route_of_both_functions() -> None:
    document = json.loads((ROOT / "services/query/openapi.json").read_text(encoding="utf-8"))
    assert document["info"]["title"] == "SCC Payments API"
    assert {"/api/auth/login", "/api/events", "/api/g/{event_id}/payment", "/api/health"} <= set(
        document["paths"]
    )
    assert "post" in document["paths"]["/api/events"]
    assert "get" in document["paths"]["/api/events"]


def test_the_items_the_repository_writes_validate_as_domain_events() -> None:
    moment = datetime(2026, 5, 23, 18, 30, tzinfo=UTC)
    payment = Payment(
        payment_id="0196f0c2-7a00-7000-8000-000000000001",
        event_id="2026-05-23-corporate-mixer",
        patron_name="John Smith",
        amount_cents=15000,
        currency="USD",
        payment_method="card",
        received_at=moment,
        logged_by="admin@scc.example",
        timestamp=moment,
        request_fingerprint="f" * 64,
    )
    void = Void(
        payment_id=payment.payment_id,
        event_id=payment.event_id,
        reason="duplicate",
        voided_by="admin@scc.example",
        timestamp=moment,
        amount_cents=15000,
        currency="USD",
        payment_method="card",
        patron_name="John Smith",
    )
    assert PaymentLogged.model_validate(payment_item(payment)).amount_cents == 15000
    assert PaymentVoided.model_validate(void_item(void)).reason == "duplicate"
    event = Event(
        event_id="2026-05-23-corporate-mixer",
        event_name="Corporate Mixer",
        date=date(2026, 5, 23),
        currency="USD",
        created_at=moment,
        created_by="admin@scc.example",
    )
    item = {
        "pk": "EVENT#2026-05-23-corporate-mixer",
        "sk": "META",
        "type": "EVENT",
        "gsi1pk": "EVENTS",
        "gsi1sk": "2026-05-23#2026-05-23-corporate-mixer",
        "event_id": event.event_id,
        "event_name": event.event_name,
        "date": event.date.isoformat(),
        "location": None,
        "currency": "USD",
        "expected_total_cents": None,
        "created_at": "2026-05-23T18:30:00Z",
        "created_by": event.created_by,
    }
    assert EventCreated.model_validate(item).event_name == "Corporate Mixer"
    closeout = Closeout(
        closeout_id=payment.payment_id,
        event_id=payment.event_id,
        currency="USD",
        closed_by="admin@scc.example",
        closed_at=moment,
        counted_cents={"cash": 0, "card": 15000, "check": 0, "venmo": 0, "other": 0},
        recorded_cents={"cash": 0, "card": 15000, "check": 0, "venmo": 0, "other": 0},
        payment_count=1,
        void_count=0,
        request_fingerprint="c" * 64,
    )
    assert EventClosedOut.model_validate(closeout_item(closeout)).counted_cents["card"] == 15000
