"""`make deploy-frontend [SAM_ENV=default|staging|dev]`: upload frontend/ to the site bucket of
that samconfig.toml environment's stack and invalidate its CloudFront distribution.

Every stack (prod, staging, dev) has its own bucket and distribution, so its own origin; the
files always fill the bucket root, served at `/`, so the SPA's relative `api/...` calls reach
`/api/*`, that stack's own HTTP API. Files that are no longer in frontend/ are removed; the
bucket is versioned, so every earlier file stays restorable (docs/deploy.md, rollback).
Uses the caller's AWS credentials (AWS_PROFILE / AWS_REGION as usual; a `region` set for the
environment in samconfig.toml wins, as it does for `sam deploy`).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from devstack.shell_version import WORKER, stamped_worker

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
SAMCONFIG = ROOT / "samconfig.toml"
# Revalidated on every load, so a deploy (or a rollback) shows at once: the page itself, and the
# service worker (the browser compares its bytes to find a new version of the app; the files it
# precaches are fetched past the HTTP cache, so they may stay cacheable).
NO_CACHE = frozenset({"index.html", "sw.js"})
# Types `mimetypes` may not know (a manifest must be served as one).
CONTENT_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript"}
# The whole site is one slot: the bucket root, served at `/`.
INVALIDATION_PATHS = ("/*",)


class ConfigError(ValueError):
    """samconfig.toml does not name a stack for the environment."""


@dataclass(frozen=True)
class Target:
    """The stack an environment deploys to, as `sam deploy --config-env <env>` would."""

    config_env: str
    stack_name: str
    region: str | None = None


def target(config_env: str, samconfig: Path = SAMCONFIG) -> Target:
    """`stack_name` (and `region`) of `config_env`: its deploy parameters over its global ones,
    the precedence the SAM CLI applies (a guided deploy saves them under deploy)."""
    with samconfig.open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)
    environment = config.get(config_env)
    if not isinstance(environment, dict):
        known = ", ".join(k for k, v in config.items() if isinstance(v, dict))
        raise ConfigError(f"{samconfig.name} has no environment {config_env!r} (has: {known})")
    settings: dict[str, Any] = {}
    for command in ("global", "deploy"):
        settings.update((environment.get(command) or {}).get("parameters") or {})
    stack_name = settings.get("stack_name")
    if not isinstance(stack_name, str) or not stack_name:
        raise ConfigError(f"{samconfig.name} [{config_env}] sets no stack_name")
    region = settings.get("region")
    return Target(config_env, stack_name, region if isinstance(region, str) and region else None)


def content_type(path: Path) -> str:
    return (
        CONTENT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def cache_control(path: Path) -> str:
    return "no-cache" if path.name in NO_CACHE else "public, max-age=300"


def outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy(destination: Target, frontend: Path = FRONTEND) -> str:
    """Upload `frontend` to the root of the stack's site bucket, remove what it no longer has,
    invalidate the distribution; returns the site's URL."""
    session = boto3.Session(region_name=destination.region)
    values = outputs(session.client("cloudformation"), destination.stack_name)
    bucket, distribution = values["SiteBucketName"], values["DistributionId"]
    print(f"[{destination.config_env}] stack {destination.stack_name}: bucket {bucket}")
    s3 = session.client("s3")
    uploaded: set[str] = set()
    for path in sorted(p for p in frontend.rglob("*") if p.is_file()):
        key = path.relative_to(frontend).as_posix()
        body = path.read_bytes()
        if key == WORKER:
            body = stamped_worker(frontend, body)  # the shell's content version
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type(path),
            CacheControl=cache_control(path),
        )
        uploaded.add(key)
        print(f"uploaded s3://{bucket}/{key}")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key not in uploaded:
                s3.delete_object(Bucket=bucket, Key=key)
                print(f"removed s3://{bucket}/{key}")
    paths = list(INVALIDATION_PATHS)
    invalidation = session.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"deploy-frontend-{time.time_ns()}",
        },
    )
    print(f"invalidated {paths} on {distribution}: {invalidation['Invalidation']['Id']}")
    return values.get("SiteUrl", "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--config-env",
        default="default",
        help="samconfig.toml environment whose stack receives the site (default: the prod stack)",
    )
    args = parser.parse_args(argv)
    try:
        destination = target(args.config_env)
    except ConfigError as exc:
        parser.error(str(exc))
    print(f"site: {deploy(destination)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
