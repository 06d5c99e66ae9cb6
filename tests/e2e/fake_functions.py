"""Throwaway handlers for testing devstack's workers and gateway without the real services.

They run inside devstack.worker subprocesses (handler strings like
`tests.e2e.fake_functions.echo`), so they may only use the standard library.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

# Module state survives between invocations in one worker, as in a warm Lambda environment.
_INVOCATIONS = 0
_COLD_PID = os.getpid()


def _reply(status: int, body: Any, **extra: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
        **extra,
    }


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Returns what it saw: the event, a few context fields, its process and its environment."""
    global _INVOCATIONS
    _INVOCATIONS += 1
    # Noise on stdout must not corrupt the worker protocol.
    print("echo handler: this line goes to the function log, not the protocol")
    return _reply(
        200,
        {
            "event": event,
            "pid": os.getpid(),
            "invocations": _INVOCATIONS,
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "sys_path0": sys.path[0],
        },
    )


def slow(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "0.5"))
    time.sleep(seconds)
    return _reply(200, {"pid": os.getpid(), "slept": seconds})


def boom(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    raise KeyError("a secret detail that must not reach the client")


def not_json(_event: dict[str, Any], _context: Any) -> Any:
    return {"statusCode": 200, "body": object()}


def with_cookies(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return _reply(
        202,
        {"ok": True},
        cookies=["session=abc; HttpOnly; Secure", "theme=dark"],
        headers={"content-type": "application/json", "Access-Control-Allow-Origin": "*"},
    )
