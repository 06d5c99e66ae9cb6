"""Runs each function in its own subprocesses, the way Lambda runs execution environments.

Each worker (devstack/worker.py) has the function's environment and nothing else from this
process (so a developer's real AWS credentials or AWS_PROFILE can never reach a handler), its
own module state and its own cold start. A small pool per function, started lazily, lets
concurrent requests run concurrently, as concurrent Lambda invocations would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devstack.template import FunctionSpec

log = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 4
# Lambda gives the init phase 10 s; a cold import here is well under a second.
INIT_TIMEOUT_SECONDS = 10.0
_STOP_GRACE_SECONDS = 3.0


class InvokeError(RuntimeError):
    """The invocation produced no result (init failure, timeout, crash)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "init_error" | "timeout" | "crashed"


@dataclass(frozen=True)
class InvokeResult:
    """What a function returned (ok) or the error it raised (not ok)."""

    ok: bool
    payload: Any = None
    error: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    cold_start: bool = False
    worker_pid: int = 0


def lambda_environment(
    spec: FunctionSpec,
    *,
    endpoint_url: str | None,
    region: str,
    repo_root: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one execution environment: the function's variables + the runtime's.

    Order matters: the function's own variables come after the neutral defaults, and the
    variables Lambda reserves (region, credentials, function identity) come last, because in
    AWS a function cannot override them either.
    """
    env: dict[str, str] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # No X-Ray daemon locally; a Powertools Tracer would otherwise try to reach one.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    env.update(spec.environment)
    if extra:
        env.update(extra)
    env.update(
        {
            "PYTHONPATH": str(repo_root),
            "LAMBDA_TASK_ROOT": str(repo_root),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or 'python3.11'}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


class _Worker:
    """One subprocess running devstack.worker for one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        cwd: Path,
        python: str,
        log_sink: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.log_stream_name = _log_stream_name()
        worker_env = dict(env, AWS_LAMBDA_LOG_STREAM_NAME=self.log_stream_name)
        self.process = subprocess.Popen(
            [python, "-m", "devstack.worker", spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.pid = self.process.pid
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._threads = [
            _daemon(self._read_replies, f"{spec.logical_id}-{self.pid}-out"),
            _daemon(lambda: self._relay_logs(log_sink), f"{spec.logical_id}-{self.pid}-err"),
        ]
        self.invocations = 0

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def _relay_logs(self, sink: Callable[[str], None]) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            sink(f"[{self.spec.logical_id} {self.pid}] {line.rstrip()}")

    def wait_ready(self, timeout: float) -> float:
        """Wait for the cold start; returns its duration in ms."""
        message = self._next_message(timeout, "init")
        if message.get("type") == "ready":
            return float(message.get("init_ms", 0.0))
        error = message.get("error") or {}
        raise InvokeError(
            "init_error", f"{error.get('errorType', 'InitError')}: {error.get('errorMessage', '')}"
        )

    def invoke(self, event: Any, request_id: str, timeout: float) -> dict[str, Any]:
        deadline_ms = (time.time() + timeout) * 1000
        request = {
            "id": request_id,
            "event": event,
            "context": {
                "aws_request_id": request_id,
                "deadline_ms": deadline_ms,
                "function_name": self.spec.name,
                "function_version": "$LATEST",
                "invoked_function_arn": self.spec.arn,
                "memory_limit_in_mb": self.spec.memory_mb,
                "log_group_name": f"/aws/lambda/{self.spec.name}",
                "log_stream_name": self.log_stream_name,
            },
        }
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise InvokeError("crashed", f"worker {self.pid} is gone: {exc}") from exc
        self.invocations += 1
        while True:
            message = self._next_message(timeout, "invocation")
            if message.get("id") == request_id:
                return message

    def _next_message(self, timeout: float, phase: str) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            # Like Lambda: a function that overruns its timeout loses its environment.
            self.kill()
            raise InvokeError(
                "timeout", f"{self.spec.logical_id} {phase} timed out after {timeout:.0f} s"
            ) from None
        if line is None:
            code = self.process.wait()
            raise InvokeError(
                "crashed", f"{self.spec.logical_id} worker {self.pid} exited with {code}"
            )
        message: dict[str, Any] = json.loads(line)
        return message

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = _STOP_GRACE_SECONDS) -> None:
        """Close stdin (the worker's signal to exit), then SIGTERM, then SIGKILL."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=grace / 2)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace / 2)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipes()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        # The reader threads end at EOF once the process is gone; then the pipes can close.
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=1)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()


class FunctionPool:
    """Up to `max_workers` warm workers for one function, started on demand."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        *,
        cwd: Path,
        python: str = sys.executable,
        max_workers: int = DEFAULT_MAX_WORKERS,
        log_sink: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self._env = dict(env)
        self._cwd = cwd
        self._python = python
        self._max_workers = max_workers
        self._log_sink = log_sink or _stderr_sink
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._starting = 0
        self._closed = False
        self._lock = threading.Condition()

    def invoke(self, event: Any, *, request_id: str | None = None) -> InvokeResult:
        request_id = request_id or str(uuid.uuid4())
        worker, cold = self._acquire()
        started = time.perf_counter()
        try:
            message = worker.invoke(event, request_id, float(self.spec.timeout_seconds))
        except InvokeError:
            self._discard(worker)
            raise
        self._release(worker)
        duration_ms = (time.perf_counter() - started) * 1000
        return InvokeResult(
            ok=bool(message.get("ok")),
            payload=message.get("result"),
            error=message.get("error") or {},
            duration_ms=duration_ms,
            cold_start=cold,
            worker_pid=worker.pid,
        )

    def _acquire(self) -> tuple[_Worker, bool]:
        with self._lock:
            while True:
                if self._closed:
                    raise InvokeError("crashed", f"{self.spec.logical_id}: the stack is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker, False
                    self._forget(worker)
                if len(self._all) + self._starting < self._max_workers:
                    self._starting += 1
                    break
                self._lock.wait()
        # Started outside the lock: a cold start must not hold up warm invocations.
        try:
            worker = _Worker(self.spec, self._env, self._cwd, self._python, self._log_sink)
            with self._lock:
                self._all.append(worker)
        finally:
            with self._lock:
                self._starting -= 1
                self._lock.notify_all()
        try:
            init_ms = worker.wait_ready(INIT_TIMEOUT_SECONDS)
        except InvokeError:
            self._discard(worker)
            raise
        log.info(
            "%s: cold start in worker %d (init %.0f ms)", self.spec.logical_id, worker.pid, init_ms
        )
        return worker, True

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed or not worker.alive():
                self._forget(worker)
            else:
                self._idle.append(worker)
            self._lock.notify_all()
        if self._closed:
            worker.stop()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._forget(worker)
            self._lock.notify_all()

    def _forget(self, worker: _Worker) -> None:
        if worker in self._all:
            self._all.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all]

    def kill_all(self) -> int:
        """SIGKILL every worker, busy or idle, as a crashed execution environment dies: an
        invocation in flight ends with an error. The next invocation starts a new worker."""
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.kill()
        return len(workers)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._idle.clear()
            self._lock.notify_all()
        for worker in workers:
            worker.stop()
        with self._lock:
            self._all.clear()


class FunctionRunner:
    """All the stack's functions, by logical id."""

    def __init__(self, pools: Mapping[str, FunctionPool]) -> None:
        self._pools = dict(pools)

    @classmethod
    def for_functions(
        cls,
        functions: Mapping[str, FunctionSpec],
        *,
        endpoint_url: str | None,
        region: str,
        repo_root: Path,
        max_workers: int = DEFAULT_MAX_WORKERS,
        extra_env: Mapping[str, str] | None = None,
        log_sink: Callable[[str], None] | None = None,
    ) -> FunctionRunner:
        pools = {
            logical_id: FunctionPool(
                spec,
                lambda_environment(
                    spec,
                    endpoint_url=endpoint_url,
                    region=region,
                    repo_root=repo_root,
                    extra=extra_env,
                ),
                cwd=repo_root,
                max_workers=max_workers,
                log_sink=log_sink,
            )
            for logical_id, spec in functions.items()
        }
        return cls(pools)

    def invoke(self, logical_id: str, event: Any, *, request_id: str | None = None) -> InvokeResult:
        pool = self._pools.get(logical_id)
        if pool is None:
            raise KeyError(f"no function {logical_id} in the stack")
        return pool.invoke(event, request_id=request_id)

    def pids(self) -> dict[str, list[int]]:
        return {logical_id: pool.pids() for logical_id, pool in self._pools.items()}

    def kill(self, logical_id: str) -> int:
        """Kill every worker of one function (see FunctionPool.kill_all); how many there were."""
        return self._pools[logical_id].kill_all()

    def stop(self) -> None:
        for pool in self._pools.values():
            pool.stop()


def _daemon(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _stderr_sink(line: str) -> None:
    _write_line(sys.stderr, line)


def _write_line(stream: IO[str], line: str) -> None:
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # the console went away during shutdown


def _log_stream_name() -> str:
    # Same shape as Lambda's: date/[$LATEST]hex.
    day = time.strftime("%Y/%m/%d", time.gmtime())
    return f"{day}/[$LATEST]{secrets.token_hex(16)}"


def new_request_id() -> str:
    """An API Gateway style request id (short, base64)."""
    return base64.b64encode(secrets.token_bytes(12)).decode("ascii")
