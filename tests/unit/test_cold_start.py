"""What a handler module does at import, its cold start, checked in a fresh interpreter.

Each function's module is imported the way Lambda imports it: a new process with the
environment template.yaml gives the function (devstack's `lambda_environment`), pointed at an
endpoint where nothing listens, with sockets refused. The checks are about what happens, never
how long it takes: no network, nothing imported that only some requests need, no pydantic
model built before a request needs it, one SDK session and one client per service, and the
garbage collector back on with the import's objects frozen (shared.coldstart).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from build.artifact_files import artifact_files
from devstack.intrinsics import NO_VALUE, Resolver, ResourceValues
from devstack.runner import lambda_environment
from devstack.template import FunctionSpec, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS = {
    "Stage": "dev",
    "AdminEmail": "admin@scc.example",
    "AllowedOrigin": "http://localhost",
}
# What `Ref` returns for each resource: names that pass the functions' configuration rules.
REFS = {"UserPool": "us-east-1_ColdStart", "UserPoolClient": "coldstartclient"}

FUNCTIONS = {
    logical_id: resource["Properties"]["Handler"]
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource.get("Type") == "AWS::Serverless::Function"
}

# Imported only by the requests (or settings) that use them.
ON_DEMAND_MODULES = {
    # The e-mail rule's library: the first address a request carries (the notifier checks its
    # own sender and recipients at start, so it is the one function that imports it there).
    "email_validator",
    # SSM parameters: only a secret given as <NAME>_PARAM.
    "aws_lambda_powertools.utilities.parameters",
}
# SDK clients each function builds at cold start, one per service, from one session.
CLIENTS = {
    "IngestFunction": ["dynamodb"],
    "QueryFunction": ["dynamodb"],
    "PeopleFunction": ["cognito-idp", "dynamodb"],
    "ProjectorFunction": ["dynamodb"],
    "NotifierFunction": ["dynamodb", "sesv2"],
}

PROBE = r"""
import gc, json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access during the cold start")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

import botocore.client, botocore.session

clients, sessions = [], []
_create_client = botocore.client.ClientCreator.create_client
_init_session = botocore.session.Session.__init__

def create_client(self, service_name, *args, **kwargs):
    clients.append(service_name)
    return _create_client(self, service_name, *args, **kwargs)

def init_session(self, *args, **kwargs):
    sessions.append(1)
    _init_session(self, *args, **kwargs)

botocore.client.ClientCreator.create_client = create_client
botocore.session.Session.__init__ = init_session

import importlib
importlib.import_module(sys.argv[1])

from pydantic import BaseModel

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

ours = {c for c in subclasses(BaseModel) if c.__module__.split(".")[0] in ("shared", "services")}
print(json.dumps({
    "gc_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "built": sorted(f"{c.__module__}.{c.__qualname__}" for c in ours if c.__pydantic_complete__),
    "deferred": sorted(f"{c.__module__}.{c.__qualname__}" for c in ours if not c.__pydantic_complete__),
    "modules": sorted(sys.modules),
    "clients": sorted(clients),
    "sessions": len(sessions),
}))
"""


def _environment(logical_id: str) -> dict[str, str]:
    resources = {
        name: ResourceValues(ref=REFS.get(name, f"coldstart{name}"))
        for name in TEMPLATE["Resources"]
    }
    resolve = Resolver(
        TEMPLATE, PARAMETERS, region="us-east-1", account_id="123456789012", resources=resources
    )
    declared = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **TEMPLATE["Resources"][logical_id]["Properties"]["Environment"]["Variables"],
    }
    variables = {name: resolve(value) for name, value in declared.items()}
    spec = FunctionSpec(
        logical_id=logical_id,
        name=f"coldstart-{logical_id}",
        handler=FUNCTIONS[logical_id],
        environment={k: str(v) for k, v in variables.items() if v is not NO_VALUE},
    )
    # Port 9 (discard): nothing answers there, so any call at import would fail.
    return lambda_environment(
        spec, endpoint_url="http://127.0.0.1:9", region="us-east-1", repo_root=ROOT
    )


@pytest.fixture(scope="module", params=sorted(FUNCTIONS))
def cold_start(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    logical_id: str = request.param
    module = FUNCTIONS[logical_id].rpartition(".")[0]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        env=_environment(logical_id),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return logical_id, json.loads(done.stdout.strip().splitlines()[-1])


def test_every_function_has_its_expected_clients() -> None:
    assert set(CLIENTS) == set(FUNCTIONS)


def test_the_handler_module_starts_without_the_network(
    cold_start: tuple[str, dict[str, Any]],
) -> None:
    # Given the function's template environment and no network, when its module is imported,
    # then it starts (the probe refused every socket), with one session and one client per
    # service it always uses.
    logical_id, report = cold_start
    assert report["sessions"] == 1
    assert report["clients"] == CLIENTS[logical_id]


def test_the_handler_module_imports_nothing_only_some_requests_need(
    cold_start: tuple[str, dict[str, Any]],
) -> None:
    logical_id, report = cold_start
    expected_absent = ON_DEMAND_MODULES - (
        {"email_validator"} if logical_id == "NotifierFunction" else set()
    )
    assert expected_absent.isdisjoint(report["modules"])


def test_no_request_model_is_built_before_a_request_needs_it(
    cold_start: tuple[str, dict[str, Any]],
) -> None:
    # Only the function's own configuration is validated (and so built) at cold start; every
    # API and ledger model waits for the first request that uses it.
    logical_id, report = cold_start
    assert report["deferred"], "no model of ours was defined"
    own = f"services.{logical_id.removesuffix('Function').lower()}.config."
    for name in report["built"]:
        assert name.startswith(own), name


def test_the_import_leaves_the_collector_on_with_its_objects_frozen(
    cold_start: tuple[str, dict[str, Any]],
) -> None:
    _, report = cold_start
    assert report["gc_enabled"]
    assert report["frozen"] > 0


def test_the_artifact_carries_every_module_of_ours_the_handler_imports(
    cold_start: tuple[str, dict[str, Any]],
) -> None:
    # Given what the function's artifact is built from (build/Makefile copies these files)
    logical_id, report = cold_start
    service = logical_id.removesuffix("Function").lower()
    files = {path.as_posix() for path in artifact_files(service)}
    # Then every module of ours its cold start imported is among them
    ours = [name for name in report["modules"] if name.split(".")[0] in ("shared", "services")]
    for name in ours:
        module = name.replace(".", "/")
        assert f"{module}.py" in files or f"{module}/__init__.py" in files, name
    # And no other function's code is
    assert not any(
        f.startswith("services/") and f.split("/")[1] not in (service, "__init__.py") for f in files
    )


def test_a_stream_function_artifact_leaves_out_the_http_plumbing() -> None:
    for service in ("projector", "notifier"):
        files = {path.as_posix() for path in artifact_files(service)}
        assert {"shared/http.py", "shared/auth.py", "shared/responses.py"}.isdisjoint(files)
        assert "shared/repository.py" in files  # the item layout it parses records with
