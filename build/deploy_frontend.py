"""`make deploy-frontend STAGE=staging|prod`: upload frontend/ to the stack's site bucket and
invalidate CloudFront.

prod fills the bucket root (served at /), staging the `_staging/` prefix (served at
/_staging/*, never cached). Files that are no longer in frontend/ are removed from that slot;
the bucket is versioned, so every earlier file stays restorable (docs/deploy.md, rollback).
Uses the caller's AWS credentials (AWS_PROFILE / AWS_REGION as usual).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from pathlib import Path

import boto3

from devstack.shell_version import WORKER, stamped_worker

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
STAGING_PREFIX = "_staging/"
# Revalidated on every load, so a deploy (or a rollback) shows at once: the page itself, and the
# service worker (the browser compares its bytes to find a new version of the app; the files it
# precaches are fetched past the HTTP cache, so they may stay cacheable).
NO_CACHE = frozenset({"index.html", "sw.js"})
# Types `mimetypes` may not know (a manifest must be served as one).
CONTENT_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript"}


def content_type(path: Path) -> str:
    return (
        CONTENT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def cache_control(path: Path) -> str:
    return "no-cache" if path.name in NO_CACHE else "public, max-age=300"


def outputs(stack_name: str) -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack-name", default="scc-payments")
    parser.add_argument("--stage", choices=["staging", "prod"], required=True)
    args = parser.parse_args(argv)
    values = outputs(args.stack_name)
    bucket, distribution = values["SiteBucketName"], values["DistributionId"]
    prefix = STAGING_PREFIX if args.stage == "staging" else ""
    s3 = boto3.client("s3")
    uploaded: set[str] = set()
    for path in sorted(p for p in FRONTEND.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(FRONTEND).as_posix()
        body = path.read_bytes()
        if path.relative_to(FRONTEND).as_posix() == WORKER:
            body = stamped_worker(FRONTEND, body)  # the shell's content version
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type(path),
            CacheControl=cache_control(path),
        )
        uploaded.add(key)
        print(f"uploaded s3://{bucket}/{key}")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key in uploaded or (not prefix and key.startswith(STAGING_PREFIX)):
                continue
            s3.delete_object(Bucket=bucket, Key=key)
            print(f"removed s3://{bucket}/{key}")
    paths = ["/_staging/*"] if prefix else ["/*"]
    invalidation = boto3.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"deploy-frontend-{time.time_ns()}",
        },
    )
    print(f"invalidated {paths} on {distribution}: {invalidation['Invalidation']['Id']}")
    print(f"site: {values.get('StagingUrl' if prefix else 'SiteUrl')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
