"""`make schemas`: JSON Schemas and the OpenAPI document, generated from the code.

Writes events_schema/<Name>.json for the domain events (the stream's ledger items) and the API
bodies, and services/query/openapi.json, the one OpenAPI document of the whole HTTP API (every
API function's routes merged), which QueryFunction serves at GET /api/openapi.json.
`--check` writes nothing and exits 1 listing the stale files (tests/unit/test_schemas_fresh.py).

Run from the repository root: `PYTHONPATH=. python events_schema/generate.py [--check]`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from events_schema.events import DOMAIN_EVENTS
from services.people import models as people_models
from services.query.export import ExportLink
from services.query.openapi import OPENAPI_PATH, OPENAPI_TITLE, OPENAPI_VERSION
from shared import models
from shared.responses import COMPONENTS as ERROR_COMPONENTS
from shared.responses import REF_PREFIX

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "events_schema"
SCHEMA_ID_BASE = "https://scc-payments.invalid/schemas/"

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    people_models.LoginRequest,
    people_models.ChallengeRequest,
    people_models.RefreshRequest,
    people_models.ForgotPasswordRequest,
    people_models.ResetPasswordRequest,
    people_models.InviteRequest,
    people_models.RoleRequest,
    models.CloseoutRequest,
    models.CreateEventRequest,
    models.LogPaymentRequest,
    models.LogPaymentByBodyRequest,
    models.VoidRequest,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    people_models.SignedIn,
    people_models.Challenge,
    people_models.PeopleList,
    people_models.PersonView,
    people_models.SignedOut,
    people_models.CodeSent,
    people_models.PasswordReset,
    ExportLink,
    models.CloseoutView,
    models.CloseoutList,
    models.LogPaymentResponse,
    models.VoidResponse,
    models.EventView,
    models.EventList,
    models.PaymentPage,
    models.PaymentView,
    models.SummaryView,
    models.Health,
)


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_ID_BASE}{model.__name__}.json",
        **schema,
    }


API_MODULES = ("services.ingest.handler", "services.query.handler", "services.people.handler")
# What the API functions' modules read at import; nothing is called while generating (the
# credentials only spare the SDK a search for real ones).
PLACEHOLDER_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "unused",
    "AWS_SECRET_ACCESS_KEY": "unused",
    "LEDGER_TABLE_NAME": "unused",
    "PROJECTION_TABLE_NAME": "unused",
    "ALLOWED_ORIGIN": "https://example.invalid",
    "REVOCATIONS_TABLE_NAME": "unused",
    "USER_POOL_ID": "us-east-1_unused",
    "USER_POOL_CLIENT_ID": "unused",
    "EXPORT_BUCKET": "unused",
}


def api_modules() -> list[ModuleType]:
    """The API functions' handler modules (their `app` and `ACCESS`), imported with a
    placeholder environment when this process has none of its own."""
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in PLACEHOLDER_ENVIRONMENT.items() if k not in saved})
    try:
        return [importlib.import_module(name) for name in API_MODULES]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def openapi_document() -> dict[str, Any]:
    """Every API function's routes in one document (the HTTP API is one API to its clients)."""
    apps = [module.app for module in api_modules()]
    merged: dict[str, Any] = {}
    for app in apps:
        document = json.loads(
            app.get_openapi_json_schema(title=OPENAPI_TITLE, version=OPENAPI_VERSION)
        )
        if not merged:
            merged = document
            continue
        for path, operations in document.get("paths", {}).items():
            merged.setdefault("paths", {}).setdefault(path, {}).update(operations)
        for section, entries in document.get("components", {}).items():
            merged.setdefault("components", {}).setdefault(section, {}).update(entries)
    merged["paths"] = dict(sorted(merged.get("paths", {}).items()))
    merged["servers"] = [{"url": "/"}]
    _document_access(merged)
    _document_responses(merged)
    return merged


def _document_responses(document: dict[str, Any]) -> None:
    """The responses the routes declare (shared/responses.py), with the components they name.

    Powertools documents a 422 on every route when validation is on; this API answers a failed
    validation with 400 (shared.http), so that 422 and its schemas go. Components nothing
    refers to are dropped, and a reference to a missing component is an error."""
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            responses.pop("422", None)
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: int(kv[0])))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema(
        [(model, "serialization") for model in RESPONSE_MODELS],
        ref_template=REF_PREFIX + "{model}",
    )
    for name, schema in [*definitions.get("$defs", {}).items(), *ERROR_COMPONENTS.items()]:
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are both named {name}")
        schemas[name] = dict(schema)
    used = _referenced(document["paths"], schemas)
    document["components"]["schemas"] = {k: v for k, v in sorted(schemas.items()) if k in used}


def _referenced(paths: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The component names reachable from the paths (following references transitively)."""
    found: set[str] = set()
    pending = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str) and target.startswith(REF_PREFIX):
                name = target.removeprefix(REF_PREFIX)
                if name not in schemas:
                    raise ValueError(f"{target} names no component")
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


SECURITY_SCHEME = "CognitoIdToken"


def _document_access(document: dict[str, Any]) -> None:
    """Who may call each route, from the functions' own ACCESS tables (the ones the guard
    enforces): signed-in routes need the Cognito ID token; `x-scc-role` names the role."""
    access = {key: role for module in api_modules() for key, role in module.ACCESS.items()}
    document.setdefault("components", {})["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The Cognito ID token `POST /api/auth/login` returns as `token`.",
        }
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            role = access[f"{method.upper()} {path}"]
            operation["security"] = [] if role is None else [{SECURITY_SCHEME: []}]
            operation["x-scc-role"] = None if role is None else role.value


def documents() -> dict[Path, dict[str, Any]]:
    out: dict[Path, dict[str, Any]] = {}
    for model in DOMAIN_EVENTS:
        out[SCHEMA_DIR / f"{model.__name__}.json"] = _schema(model, "validation")
    for model in REQUEST_MODELS:
        out[SCHEMA_DIR / f"{model.__name__}.json"] = _schema(model, "validation")
    for model in RESPONSE_MODELS:
        out[SCHEMA_DIR / f"{model.__name__}.json"] = _schema(model, "serialization")
    openapi = openapi_document()
    out[OPENAPI_PATH] = openapi
    return out


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    return [
        path
        for path, document in documents().items()
        if not path.exists() or path.read_text(encoding="utf-8") != render(document)
    ]


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        outdated = stale()
        for path in outdated:
            print(f"stale: {path.relative_to(ROOT)} (run `make schemas`)")
        return 1 if outdated else 0
    for path, document in documents().items():
        path.write_text(render(document), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
