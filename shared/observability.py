"""Where every module gets its logger, and a function its metrics (Powertools).

Service name, log level and metrics namespace come from the function's environment in
template.yaml: POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_NAMESPACE, read
when the logger or the metrics are made, at import. Loggers of one service share their output
and the keys `inject_lambda_context` adds; metrics are EMF lines in the same log, which CloudWatch
turns into metrics (locally they are simply in the function's log). Never log request bodies:
they carry passwords.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "get_logger", "get_metrics"]


def get_logger() -> Logger:
    return Logger()


def get_metrics() -> Metrics:
    """A handler module's metrics, flushed by its `@metrics.log_metrics` once per invocation."""
    return Metrics()
