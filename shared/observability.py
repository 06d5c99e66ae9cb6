"""Structured JSON logs (Powertools). Never log request bodies: they carry passwords."""

from __future__ import annotations

from aws_lambda_powertools import Logger


def get_logger() -> Logger:
    # Service name and level come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL.
    return Logger()
