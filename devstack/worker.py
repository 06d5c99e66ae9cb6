"""One local Lambda execution environment: `python -m devstack.worker <module.function>`.

Started by devstack.runner as a subprocess with the function's environment. Like Lambda, it
imports the handler once (the cold start) and then serves invocations one at a time, keeping
module state between them.

Protocol (JSON, one object per line):
- worker → runner, once: {"type": "ready", "init_ms": 412.5}
  or {"type": "init_error", "error": {...}} (then it exits 1);
- runner → worker: {"id": "...", "event": {...}, "context": {"aws_request_id": "...",
  "deadline_ms": <epoch ms>, "function_name": ..., "function_version": ...,
  "invoked_function_arn": ..., "memory_limit_in_mb": ..., "log_group_name": ...,
  "log_stream_name": ...}};
- worker → runner: {"type": "result", "id": "...", "ok": true, "result": <handler return>}
  or {"type": "result", "id": "...", "ok": false, "error": {"errorType", "errorMessage",
  "stackTrace"}}.
The protocol uses a private copy of the original stdout; the handler's own stdout (Powertools
Logger writes there) is redirected to stderr, which the runner shows as the function's log.
End of stdin means "shut down".

Only the standard library is imported here, so a cold start costs what the handler costs.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.aws_request_id: str = str(raw.get("aws_request_id", ""))
        self.function_name: str = str(raw.get("function_name", ""))
        self.function_version: str = str(raw.get("function_version", "$LATEST"))
        self.invoked_function_arn: str = str(raw.get("invoked_function_arn", ""))
        self.memory_limit_in_mb: int = int(raw.get("memory_limit_in_mb", 128))
        self.log_group_name: str = str(raw.get("log_group_name", ""))
        self.log_stream_name: str = str(raw.get("log_stream_name", ""))
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms: float = float(raw.get("deadline_ms", 0))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The shape Lambda reports for an unhandled exception."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def load_handler(spec: str) -> Handler:
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r} is not of the form module.function")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"handler {spec!r} is not callable")
    return handler  # type: ignore[no-any-return]


def invoke(handler: Handler, request: dict[str, Any]) -> str:
    """Run one invocation and return the reply line (never raises for handler errors)."""
    request_id = request.get("id")
    context = request.get("context") or {}
    os.environ["AWS_LAMBDA_REQUEST_ID"] = str(context.get("aws_request_id", ""))
    try:
        result = handler(request.get("event"), LambdaContext(context))
    except Exception as exc:  # noqa: BLE001 - any handler failure is reported, not fatal
        return _failure(request_id, error_payload(exc))
    try:
        # Serialised here so an unserialisable result is the function's error, as in Lambda.
        return json.dumps({"type": "result", "id": request_id, "ok": True, "result": result})
    except (TypeError, ValueError) as exc:
        payload = error_payload(exc)
        payload["errorType"] = "Runtime.MarshalError"
        return _failure(request_id, payload)


def _failure(request_id: Any, payload: dict[str, Any]) -> str:
    sys.stderr.write("".join(payload["stackTrace"]))
    return json.dumps({"type": "result", "id": request_id, "ok": False, "error": payload})


def serve(handler: Handler, requests: IO[str], replies: IO[str]) -> None:
    for line in requests:
        if not line.strip():
            continue
        replies.write(invoke(handler, json.loads(line)) + "\n")
        replies.flush()
        sys.stderr.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m devstack.worker <module.function>\n")
        return 2
    # The runner stops workers itself; a Ctrl-C in the terminal must not spray tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the handler's prints and Powertools logs go to the function log (stderr)
    started = time.perf_counter()
    try:
        handler = load_handler(argv[1])
    except Exception as exc:  # noqa: BLE001 - reported to the runner as an init error
        payload = error_payload(exc)
        sys.stderr.write("".join(payload["stackTrace"]))
        replies.write(json.dumps({"type": "init_error", "error": payload}) + "\n")
        return 1
    init_ms = round((time.perf_counter() - started) * 1000, 1)
    replies.write(json.dumps({"type": "ready", "init_ms": init_ms}) + "\n")
    serve(handler, sys.stdin, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
