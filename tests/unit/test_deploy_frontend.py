"""`make deploy-frontend`: how each file of frontend/ is served, from which stack's site."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import boto3
import pytest

from devstack.template import load_template
from ops import deploy_frontend
from ops.deploy_frontend import (
    FRONTEND,
    ROOT,
    ConfigError,
    Target,
    cache_control,
    content_type,
    target,
)


@pytest.mark.parametrize("name", ["index.html", "sw.js"])
def test_the_page_and_the_service_worker_are_revalidated_on_every_load(name: str) -> None:
    # A new service worker (a new version of the app) is only found if sw.js is not cached.
    assert cache_control(Path(name)) == "no-cache"


@pytest.mark.parametrize(
    "name", ["app.js", "app.css", "manifest.webmanifest", "icons/icon-192.png"]
)
def test_the_other_files_may_be_cached_briefly(name: str) -> None:
    assert cache_control(Path(name)) == "public, max-age=300"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sw.js", "text/javascript"),
        ("app.js", "text/javascript"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("icons/icon-512.png", "image/png"),
        ("icons/icon.svg", "image/svg+xml"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type(Path(name)) == expected


def test_every_shipped_file_has_a_known_content_type() -> None:
    for path in FRONTEND.rglob("*"):
        if path.is_file():
            assert content_type(path) != "application/octet-stream", path


# --- which stack, which bucket, which paths ------------------------------------------------


@pytest.mark.parametrize(
    ("config_env", "stack_name"),
    [("default", "scc-payments"), ("staging", "scc-payments-staging"), ("dev", "scc-payments-dev")],
)
def test_each_environment_deploys_to_its_own_stack(config_env: str, stack_name: str) -> None:
    assert target(config_env) == Target(config_env, stack_name)


def test_deploy_parameters_win_over_global_ones_as_in_the_sam_cli(tmp_path: Path) -> None:
    # `sam deploy --guided` saves stack_name (and region) under [env.deploy.parameters].
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        "version = 0.1\n"
        '[staging.global.parameters]\nstack_name = "old"\n'
        '[staging.deploy.parameters]\nstack_name = "new"\nregion = "eu-west-1"\n',
        encoding="utf-8",
    )

    assert target("staging", samconfig) == Target("staging", "new", "eu-west-1")


@pytest.mark.parametrize("config_env", ["prod", "version", "nowhere"])
def test_an_environment_samconfig_does_not_have_is_refused(config_env: str) -> None:
    with pytest.raises(ConfigError):
        target(config_env)


class _Paginator:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        assert "Prefix" not in kwargs or kwargs["Prefix"] == ""
        return [{"Contents": [{"Key": key} for key in self.keys]}]


class _Clients:
    """One stack's outputs, its bucket (`existing` keys) and what deploy() did to them."""

    def __init__(self, existing: list[str]) -> None:
        self.existing = existing
        self.stacks: list[str] = []
        self.put: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.invalidations: list[tuple[str, list[str]]] = []

    # cloudformation
    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.stacks.append(StackName)
        outputs = {
            "SiteBucketName": f"{StackName}-sitebucket",
            "DistributionId": f"DIST-{StackName}",
            "SiteUrl": f"https://{StackName}.cloudfront.example",
        }
        return {
            "Stacks": [
                {"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}
            ]
        }

    # s3
    def put_object(self, **kwargs: Any) -> None:
        self.put[kwargs["Key"]] = kwargs

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator([*self.existing, *self.put])

    def delete_object(self, Bucket: str, Key: str) -> None:
        self.deleted.append(Key)

    # cloudfront
    def create_invalidation(
        self,
        DistributionId: str,
        InvalidationBatch: dict[str, Any],
    ) -> dict[str, Any]:
        self.invalidations.append((DistributionId, InvalidationBatch["Paths"]["Items"]))
        return {"Invalidation": {"Id": "I1"}}


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> _Clients:
    fake = _Clients(existing=["old.js", "_staging/index.html", "_staging/app.js"])

    class _Session:
        def __init__(self, region_name: str | None = None) -> None:
            self.region_name = region_name

        def client(self, _service: str) -> _Clients:
            return fake

    monkeypatch.setattr(boto3, "Session", _Session)  # deploy() makes its clients from one
    return fake


def test_staging_goes_to_the_root_of_the_staging_stacks_own_site(
    clients: _Clients, tmp_path: Path
) -> None:
    frontend = tmp_path / "frontend"
    (frontend / "icons").mkdir(parents=True)
    for name in ("index.html", "app.js", "sw.js", "icons/icon.svg"):
        (frontend / name).write_text('const VERSION = "dev";', encoding="utf-8")

    site = deploy_frontend.deploy(target("staging"), frontend)

    assert clients.stacks == ["scc-payments-staging"]
    assert site == "https://scc-payments-staging.cloudfront.example"
    assert sorted(clients.put) == ["app.js", "icons/icon.svg", "index.html", "sw.js"]
    assert {p["Bucket"] for p in clients.put.values()} == {"scc-payments-staging-sitebucket"}
    assert b'"dev"' not in clients.put["sw.js"]["Body"]  # stamped with the shell's version
    # Whatever frontend/ no longer has goes, a former `_staging/` copy included.
    assert sorted(clients.deleted) == ["_staging/app.js", "_staging/index.html", "old.js"]
    assert clients.invalidations == [("DIST-scc-payments-staging", ["/*"])]


def test_the_default_environment_is_the_production_stack(clients: _Clients) -> None:
    assert deploy_frontend.main([]) == 0

    assert clients.stacks == ["scc-payments"]
    assert "index.html" in clients.put
    assert clients.invalidations == [("DIST-scc-payments", ["/*"])]


def test_the_script_has_no_staging_slot_any_more() -> None:
    source = Path(deploy_frontend.__file__).read_text(encoding="utf-8")

    assert "_staging" not in source
    with pytest.raises(SystemExit):
        deploy_frontend.main(["--stage", "staging"])


# --- the distribution: the site at `/`, this stack's API at `/api/*`, nothing else ----------


TEMPLATE = load_template(ROOT / "template.yaml")
DISTRIBUTION = TEMPLATE["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]


def test_the_template_has_no_staging_slot() -> None:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")

    assert "_staging" not in text
    assert "StagingUrl" not in TEMPLATE["Outputs"]
    functions = [
        logical_id
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::CloudFront::Function"
    ]
    assert functions == []


def test_the_site_is_the_bucket_root_and_api_is_the_stacks_own_http_api() -> None:
    origins = {origin["Id"]: origin for origin in DISTRIBUTION["Origins"]}

    assert DISTRIBUTION["DefaultRootObject"] == "index.html"
    assert DISTRIBUTION["DefaultCacheBehavior"]["TargetOriginId"] == "site"
    assert "OriginPath" not in origins["site"]
    assert [(b["PathPattern"], b["TargetOriginId"]) for b in DISTRIBUTION["CacheBehaviors"]] == [
        ("/api/*", "api")
    ]
    assert origins["api"]["DomainName"] == {
        "Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }


_API_LITERAL = re.compile(r"""["'`](/?api/[^"'`$?]*)""")


def test_the_apps_relative_api_calls_reach_api_on_the_site_origin() -> None:
    # The page is served at `/` (DefaultRootObject) or `/index.html`; every `api/...` the app
    # calls then resolves to `/api/...` on the same origin: the `/api/*` behavior above.
    literals = {
        match.group(1)
        for path in FRONTEND.glob("*.js")
        for match in _API_LITERAL.finditer(path.read_text(encoding="utf-8"))
    }

    assert "api/events" in literals
    for page in ("https://d111111abcdef8.cloudfront.net/", "https://d1.cloudfront.net/index.html"):
        for literal in literals:
            resolved = urlsplit(urljoin(page, literal))
            assert resolved.netloc == urlsplit(page).netloc
            assert resolved.path.startswith("/api/"), literal
