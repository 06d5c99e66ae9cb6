"""The monthly AWS bill of a season (section 5): 5,000 payments and 50,000 page views a month,
from the capacity units and request counts measured above and AWS's on-demand list prices.

Prices are us-east-1 list prices as published, checked on PRICES_CHECKED, before any free tier
(most of this bill would fit in the free tiers; the figure is what it costs without them). The
few quantities the bench cannot measure on moto (Lambda durations, how often a page view loads
the whole app shell, how many payments carry a patron's receipt) are ASSUMPTIONS, named below.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tests.bench import environment as env

PRICES_CHECKED = "2026-11-30"
# USD, us-east-1, on-demand list prices.
PRICES: dict[str, float] = {
    "dynamodb_write_request_unit": 0.625 / 1_000_000,
    "dynamodb_read_request_unit": 0.125 / 1_000_000,
    "dynamodb_storage_gb_month": 0.25,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_x86_64": 0.0000166667,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1_000_000,
    "ses_email": 0.10 / 1_000,
    "cloudfront_https_request": 0.0100 / 10_000,
    "cloudfront_gb_out": 0.085,
    "s3_get_request": 0.0004 / 1_000,
    "cloudwatch_alarm_month": 0.10,
}
PRICE_NOTES = {
    "dynamodb_write_request_unit": "$0.625 per million write request units (on-demand)",
    "dynamodb_read_request_unit": "$0.125 per million read request units (on-demand)",
    "dynamodb_storage_gb_month": "$0.25 per GB-month (Standard table class)",
    "lambda_request": "$0.20 per million requests",
    "lambda_gb_second_x86_64": "$0.0000166667 per GB-second (x86)",
    "lambda_gb_second_arm64": "$0.0000133334 per GB-second (Arm)",
    "http_api_request": "$1.00 per million HTTP API requests (first 300 million)",
    "ses_email": "$0.10 per 1,000 outbound e-mails (each recipient counts)",
    "cloudfront_https_request": "$0.0100 per 10,000 HTTPS requests (United States)",
    "cloudfront_gb_out": "$0.085 per GB to the internet (first 10 TB, United States)",
    "s3_get_request": "$0.0004 per 1,000 GET requests (S3 Standard)",
    "cloudwatch_alarm_month": "$0.10 per standard-resolution alarm metric per month",
}

PAYMENTS = 5_000
PAGE_VIEWS = 50_000

# --- assumptions (not measurable on moto) ----------------------------------------------------
# Billed milliseconds per invocation on AWS, including a share of billed cold starts.
LAMBDA_MS = {"ingest": 120, "query": 100, "projector": 150, "notifier": 300, "people": 250}
RECEIPT_SHARE = 0.5  # payments that carry a patron e-mail (a receipt goes out too)
API_CALLS_PER_PAGE_VIEW = 2  # GET /api/events, then one page of an event's payments
SIGN_INS_PER_PAGE_VIEW = 0.1  # sign-in or token refresh (PeopleFunction)
SHELL_MISS_SHARE = 1.0  # page views that fetch the whole app shell (an upper bound: no caching)
PROJECTOR_PAYMENTS_PER_BATCH = 1  # a quiet stream: every payment in a batch of its own


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    usd: float


def shell_files() -> list[str]:
    """The app shell the service worker precaches (frontend/sw.js), plus sw.js itself."""
    text = (env.ROOT / "frontend" / "sw.js").read_text(encoding="utf-8")
    block = re.search(r"const SHELL = \[(.*?)\];", text, re.S)
    names = re.findall(r'"([^"]+)"', block.group(1)) if block else []
    return [*names, "sw.js"]


def shell_bytes(files: list[str]) -> int:
    return sum((env.ROOT / "frontend" / name).stat().st_size for name in files)


def architecture() -> str:
    properties = env.resource_properties("IngestFunction")
    return str((properties.get("Architectures") or ["x86_64"])[0])


def monthly_cost(results: dict[str, Any]) -> dict[str, Any]:
    """The month's bill from the measured figures in `results` (section 2 and 4 keys)."""
    memory_gb = int(env.resource_properties("IngestFunction").get("MemorySize", 128)) / 1024
    polls = max(1, math.ceil(float(results["confirm_ms_p50"]) / 100))  # the app polls every 100 ms
    notifier_wcu = (1 - RECEIPT_SHARE) * results[
        "notifier_wcu_per_payment"
    ] + RECEIPT_SHARE * results["notifier_wcu_per_payment_with_receipt"]
    projector_wcu = (
        results["projector_wcu_per_payment_batch_of_1"]
        if PROJECTOR_PAYMENTS_PER_BATCH == 1
        else results["projector_wcu_per_payment"]
    )
    write_units = PAYMENTS * (results["ingest_wcu_per_payment"] + projector_wcu + notifier_wcu)
    read_units = PAYMENTS * (
        results["ingest_rcu_per_payment"] + polls * results["totals_read_rcu"]
    ) + PAGE_VIEWS * (results["events_list_rcu"] + results["page_read_rcu"])
    api_requests = PAYMENTS * (1 + polls) + PAGE_VIEWS * (
        API_CALLS_PER_PAGE_VIEW + SIGN_INS_PER_PAGE_VIEW
    )
    invocations = {
        "ingest": PAYMENTS,
        "query": PAYMENTS * polls + PAGE_VIEWS * API_CALLS_PER_PAGE_VIEW,
        "projector": PAYMENTS / PROJECTOR_PAYMENTS_PER_BATCH,
        "notifier": PAYMENTS,
        "people": PAGE_VIEWS * SIGN_INS_PER_PAGE_VIEW,
    }
    gb_seconds = sum(invocations[name] * LAMBDA_MS[name] / 1000 * memory_gb for name in invocations)
    mails = PAYMENTS * (1 + RECEIPT_SHARE)
    files = shell_files()
    shell_requests = PAGE_VIEWS * SHELL_MISS_SHARE * len(files)
    response_bytes = results["details"]["capacity"]["response_bytes"]
    api_bytes = PAYMENTS * (
        response_bytes["log_payment"] + polls * response_bytes["totals"]
    ) + PAGE_VIEWS * (response_bytes["events_list"] + response_bytes["page"])
    transfer_gb = (PAGE_VIEWS * SHELL_MISS_SHARE * shell_bytes(files) + api_bytes) / 1e9
    stored_gb = (
        PAYMENTS * 2 * (results["details"]["growth"]["typical_payment_item_bytes"] + 100) / 1e9
    )
    alarms = sum(
        1
        for resource in env.translated_template()["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    )

    def bill(arch: str) -> list[Line]:
        return [
            Line(
                "DynamoDB writes",
                write_units,
                "write request units",
                write_units * PRICES["dynamodb_write_request_unit"],
            ),
            Line(
                "DynamoDB reads",
                read_units,
                "read request units",
                read_units * PRICES["dynamodb_read_request_unit"],
            ),
            Line(
                "DynamoDB storage",
                stored_gb,
                "GB-month",
                stored_gb * PRICES["dynamodb_storage_gb_month"],
            ),
            Line(
                "Lambda requests",
                sum(invocations.values()),
                "invocations",
                sum(invocations.values()) * PRICES["lambda_request"],
            ),
            Line(
                f"Lambda duration ({arch})",
                gb_seconds,
                "GB-seconds",
                gb_seconds * PRICES[f"lambda_gb_second_{arch}"],
            ),
            Line(
                "API Gateway HTTP API",
                api_requests,
                "requests",
                api_requests * PRICES["http_api_request"],
            ),
            Line("SES", mails, "e-mails", mails * PRICES["ses_email"]),
            Line(
                "CloudFront requests",
                shell_requests + api_requests,
                "HTTPS requests",
                (shell_requests + api_requests) * PRICES["cloudfront_https_request"],
            ),
            Line(
                "CloudFront transfer out",
                transfer_gb,
                "GB",
                transfer_gb * PRICES["cloudfront_gb_out"],
            ),
            Line(
                "S3 GET (shell files)",
                shell_requests,
                "requests",
                shell_requests * PRICES["s3_get_request"],
            ),
            Line("CloudWatch alarms", alarms, "alarms", alarms * PRICES["cloudwatch_alarm_month"]),
        ]

    template_arch = architecture()
    bills = {arch: bill(arch) for arch in ("arm64", "x86_64")}
    totals = {arch: sum(line.usd for line in lines) for arch, lines in bills.items()}
    return {
        "monthly_cost_usd_5000_payments": totals[template_arch],
        "monthly_cost_usd_5000_payments_arm64": totals["arm64"],
        "monthly_cost_usd_5000_payments_x86_64": totals["x86_64"],
        "details": {
            "payments": PAYMENTS,
            "page_views": PAGE_VIEWS,
            "template_architecture": template_arch,
            "polls_per_payment": polls,
            "prices_checked": PRICES_CHECKED,
            "prices": PRICE_NOTES,
            "assumptions": {
                "lambda_billed_ms": LAMBDA_MS,
                "memory_mb": int(memory_gb * 1024),
                "receipt_share": RECEIPT_SHARE,
                "api_calls_per_page_view": API_CALLS_PER_PAGE_VIEW,
                "sign_ins_per_page_view": SIGN_INS_PER_PAGE_VIEW,
                "shell_miss_share": SHELL_MISS_SHARE,
                "projector_payments_per_batch": PROJECTOR_PAYMENTS_PER_BATCH,
                "shell_files": len(files),
                "shell_bytes": shell_bytes(files),
            },
            "lines": {
                arch: [
                    {
                        "item": line.item,
                        "quantity": round(line.quantity, 3),
                        "unit": line.unit,
                        "usd": round(line.usd, 4),
                    }
                    for line in lines
                ]
                for arch, lines in bills.items()
            },
        },
    }
