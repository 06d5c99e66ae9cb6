"""A local stand-in for API Gateway (HTTP API, payload format 2.0) plus a static file server.

`/api/*` is routed by method + path template to the function the template names, as an HTTP
API v2.0 event, and the function's response is converted back the way API Gateway does it
(status, headers, cookies, base64 bodies, CORS handled by the "API" itself). A route with a JWT
authorizer is authorized first (devstack/authorizer.py): a refused token is API Gateway's 401
and the function never runs; an accepted one puts its claims in the event. Everything else
is served from frontend/ (no directory listings, nothing outside that folder).

The request → event → response conversions are pure functions so they are unit-tested
without sockets; the HTTP server around them is thin.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack.authorizer import (
    AuthorizerDenied,
    Jwks,
    JwtAuthorizer,
    authorize,
    unauthorized_response,
)
from devstack.shell_version import WORKER, stamped_worker
from devstack.template import CorsConfig, Route

log = logging.getLogger(__name__)

API_PREFIX = "/api"
MAX_BODY_BYTES = 1024 * 1024
_DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Headers a proxy owns; never copied from a function's response.
_HOP_BY_HOP = frozenset(
    {"connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer"}
)


# ---------------------------------------------------------------------------------------------
# Route matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path_template}"


_PARAM = re.compile(r"^\{([A-Za-z0-9_.\-]+)(\+?)\}$")


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    # Lower sorts first: literal segments beat {params}, which beat {greedy+}; a specific
    # method beats ANY. This is API Gateway's "most specific route wins".
    priority: tuple[tuple[int, ...], int]


def compile_route(route: Route) -> _CompiledRoute:
    """A regex over the raw (still percent-encoded) path for one route template."""
    parts: list[str] = []
    names: list[str] = []
    kinds: list[int] = []
    for segment in route.path_template.strip("/").split("/"):
        param = _PARAM.match(segment)
        if param is None:
            parts.append(re.escape(segment))
            kinds.append(0)
        elif param.group(2):
            names.append(param.group(1))
            parts.append(f"(?P<p{len(names) - 1}>.+)")
            kinds.append(2)
        else:
            names.append(param.group(1))
            parts.append(f"(?P<p{len(names) - 1}>[^/]+)")
            kinds.append(1)
    pattern = re.compile("^/" + "/".join(parts) + "$")
    return _CompiledRoute(route, pattern, tuple(names), (tuple(kinds), int(route.method == "ANY")))


class RouteTable:
    """Matches a request line against the template's HTTP API routes."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = sorted((compile_route(r) for r in routes), key=lambda c: c.priority)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        method = method.upper()
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.match(raw_path)
            if found is None:
                continue
            params = {name: unquote(found.group(f"p{i}")) for i, name in enumerate(compiled.names)}
            return RouteMatch(compiled.route, params)
        return None

    def __len__(self) -> int:
        return len(self._routes)


# ---------------------------------------------------------------------------------------------
# Request → HTTP API v2.0 event
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as the gateway received it."""

    method: str
    target: str  # the request-target: raw path plus optional ?query
    headers: Sequence[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    port: int = 80

    @property
    def raw_path(self) -> str:
        return split_target(self.target)[0]

    @property
    def raw_query(self) -> str:
        return split_target(self.target)[1]

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


def header_value(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (any case), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def split_target(target: str) -> tuple[str, str]:
    """(raw path, raw query) of a request-target, still percent-encoded.

    An origin-form target (`/a/b?x=1`) is split by hand: a URL parser would read `//x/y` as a
    host `x` and path `/y`.
    """
    if not target.startswith("/"):
        parts = urlsplit(target)  # absolute-form: http://host/path?query
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query.partition("#")[0]


def build_v2_event(
    request: IncomingRequest,
    match: RouteMatch,
    *,
    request_id: str,
    now: datetime,
    account_id: str = "123456789012",
    api_id: str = "local",
    stage: str = "$default",
) -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload format 2.0) would send for this request."""
    headers = _event_headers(request)
    cookies = headers.pop("cookie", None)
    host = headers.get("host", f"127.0.0.1:{request.port}")
    domain_name = host.split(":", 1)[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": request.method.upper(),
                "path": request.raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": match.route_key,
            "stage": stage,
            "time": _clf_time(now),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = [c.strip() for c in cookies.split(";") if c.strip()]
    query = _query_parameters(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _event_headers(request: IncomingRequest) -> dict[str, str]:
    """Lower-cased names; repeated headers joined with commas (cookies with '; ')."""
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        if key in headers:
            separator = "; " if key == "cookie" else ","
            headers[key] = f"{headers[key]}{separator}{value}"
        else:
            headers[key] = value
    # Added by API Gateway in front of every integration.
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-forwarded-port", str(request.port))
    if request.body:
        headers["content-length"] = str(len(request.body))
    return headers


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _clf_time(now: datetime) -> str:
    utc = now.astimezone(UTC)
    return f"{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year}:{utc:%H:%M:%S} +0000"


def new_request_id() -> str:
    """An API Gateway style request id (short, base64)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


# ---------------------------------------------------------------------------------------------
# Function result → HTTP response
# ---------------------------------------------------------------------------------------------


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


class InvalidFunctionResponse(ValueError):
    """The function returned something API Gateway would answer with a 500."""


def convert_response(result: Any) -> HttpResponse:
    """Turn a payload-2.0 function result into an HTTP response, as API Gateway does.

    A dict with `statusCode` is a full response; any other valid JSON result is sent as a
    200 `application/json` body (API Gateway's inferred format).
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(
            200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8")
        )
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidFunctionResponse(f"statusCode must be an integer HTTP status, got {status!r}")
    headers = _response_headers(result.get("headers"))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise InvalidFunctionResponse("cookies must be a list of strings")
    headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    return HttpResponse(status, headers, _response_body(result))


def _response_headers(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise InvalidFunctionResponse("headers must be an object")
    headers: list[tuple[str, str]] = []
    for name, value in raw.items():
        if name.lower() in _HOP_BY_HOP:
            continue
        if isinstance(value, dict | list) or value is None:
            raise InvalidFunctionResponse(f"header {name} must be a string")
        headers.append((str(name), _header_text(value)))
    return headers


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _response_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidFunctionResponse("body must be a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidFunctionResponse("isBase64Encoded body is not valid base64") from exc
    return body.encode("utf-8")


def error_response(status: int, code: str, message: str) -> HttpResponse:
    """The project's error envelope, for errors the gateway itself answers."""
    body = {"status": "error", "error": {"code": code, "message": message, "fields": {}}}
    return HttpResponse(
        status,
        [("Content-Type", "application/json")],
        json.dumps(body).encode("utf-8"),
    )


# ---------------------------------------------------------------------------------------------
# CORS (handled by the "API", not by the functions, as API Gateway does)
# ---------------------------------------------------------------------------------------------


def is_preflight(request: IncomingRequest) -> bool:
    return (
        request.method.upper() == "OPTIONS"
        and request.header("origin") is not None
        and request.header("access-control-request-method") is not None
    )


def _origin_allowed(cors: CorsConfig, origin: str | None) -> bool:
    return origin is not None and ("*" in cors.allow_origins or origin in cors.allow_origins)


def preflight_response(cors: CorsConfig, request: IncomingRequest) -> HttpResponse:
    """API Gateway answers preflights itself; a disallowed one gets no CORS headers."""
    origin = request.header("origin")
    method = (request.header("access-control-request-method") or "").upper()
    requested = [
        h.strip().lower()
        for h in (request.header("access-control-request-headers") or "").split(",")
        if h.strip()
    ]
    allowed = (
        _origin_allowed(cors, origin)
        and ("*" in cors.allow_methods or method in cors.allow_methods)
        and ("*" in cors.allow_headers or all(h in cors.allow_headers for h in requested))
    )
    response = HttpResponse(204)
    if not allowed or origin is None:
        return response
    response.headers.append(("Access-Control-Allow-Origin", _allow_origin_value(cors, origin)))
    response.headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        response.headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        response.headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
    response.headers.append(("Vary", "Origin"))
    return response


def apply_cors(response: HttpResponse, cors: CorsConfig | None, origin: str | None) -> HttpResponse:
    """With CORS configured, API Gateway ignores a function's CORS headers and adds its own."""
    if cors is None:
        return response
    response.headers = [
        (k, v) for k, v in response.headers if not k.lower().startswith("access-control-")
    ]
    if origin is not None and _origin_allowed(cors, origin):
        response.headers.append(("Access-Control-Allow-Origin", _allow_origin_value(cors, origin)))
        if cors.expose_headers:
            response.headers.append(
                ("Access-Control-Expose-Headers", ",".join(cors.expose_headers))
            )
        if cors.allow_credentials:
            response.headers.append(("Access-Control-Allow-Credentials", "true"))
        response.headers.append(("Vary", "Origin"))
    return response


def _allow_origin_value(cors: CorsConfig, origin: str) -> str:
    if "*" in cors.allow_origins and not cors.allow_credentials:
        return "*"
    return origin


# ---------------------------------------------------------------------------------------------
# Static files
# ---------------------------------------------------------------------------------------------

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
_STATIC_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'",
    ),
    ("Cache-Control", "no-store"),
)


def resolve_static(root: Path, raw_path: str) -> Path | None:
    """The file under `root` that `raw_path` names, or None (never anything outside root).

    Decoded `..`, backslashes, NULs and hidden (dot) segments are refused outright rather
    than normalised; directories resolve to their index.html and are never listed.
    """
    decoded = unquote(raw_path)
    if "\x00" in decoded or "\\" in decoded:
        return None
    segments = [s for s in decoded.split("/") if s]
    if any(s.startswith(".") for s in segments):
        return None
    real_root = root.resolve()
    candidate = real_root.joinpath(*segments) if segments else real_root
    if candidate.is_dir():
        candidate = candidate / "index.html"
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError, RuntimeError, OSError):
        return None
    if not resolved.is_relative_to(real_root) or not resolved.is_file():
        return None
    return resolved


def content_type_for(path: Path) -> str:
    known = _CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def static_response(root: Path, raw_path: str) -> HttpResponse:
    path = resolve_static(root, raw_path)
    if path is None:
        response = HttpResponse(
            404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found\n"
        )
    else:
        body = path.read_bytes()
        if path.name == WORKER and path.parent == root.resolve():
            body = stamped_worker(root.resolve(), body)
        response = HttpResponse(200, [("Content-Type", content_type_for(path))], body)
    response.headers.extend(_STATIC_SECURITY_HEADERS)
    return response


# ---------------------------------------------------------------------------------------------
# The API (routes + CORS + a way to invoke functions) and the HTTP server
# ---------------------------------------------------------------------------------------------


class FunctionFailed(RuntimeError):
    """The function raised, timed out or could not start: API Gateway answers 500/503/504."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


# (function logical id, event) → the function's result; raises FunctionFailed.
Invoke = Callable[[str, dict[str, Any]], Any]


def _no_jwks(issuer: str) -> Mapping[str, Any]:
    raise RuntimeError(f"no JWKS source configured for {issuer}")


@dataclass(frozen=True)
class Api:
    routes: RouteTable
    cors: CorsConfig | None
    invoke: Invoke
    account_id: str = "123456789012"
    api_id: str = "local"
    # The API's JWT authorizers by name (routes name theirs) and where their keys come from.
    authorizers: Mapping[str, JwtAuthorizer] = field(default_factory=dict)
    jwks: Jwks = _no_jwks


@dataclass
class Outcome:
    response: HttpResponse
    function_logical_id: str | None = None


def handle_api(api: Api, request: IncomingRequest, *, now: datetime, request_id: str) -> Outcome:
    """Everything API Gateway does for one `/api/*` request, minus the sockets."""
    origin = request.header("origin")
    if api.cors is not None and is_preflight(request):
        return Outcome(preflight_response(api.cors, request))
    match = api.routes.match(request.method, request.raw_path)
    if match is None:
        response = error_response(
            404, "not_found", f"No route for {request.method} {request.raw_path}"
        )
        return Outcome(apply_cors(response, api.cors, origin))
    event = build_v2_event(
        request, match, request_id=request_id, now=now, account_id=api.account_id, api_id=api.api_id
    )
    if match.route.authorizer is not None:
        denied = _authorize(api, match, event, now)
        if denied is not None:
            denied.headers.append(("apigw-requestid", request_id))
            return Outcome(apply_cors(denied, api.cors, origin))
    function_id = match.route.function_logical_id
    try:
        response = convert_response(api.invoke(function_id, event))
    except FunctionFailed as exc:
        log.error("%s failed: %s", function_id, exc)
        response = error_response(exc.status, exc.code, _public_message(exc.status))
    except InvalidFunctionResponse as exc:
        log.error("%s returned an invalid response: %s", function_id, exc)
        response = error_response(500, "internal", "Internal Server Error")
    response.headers.append(("apigw-requestid", request_id))
    return Outcome(apply_cors(response, api.cors, origin), function_id)


def _authorize(
    api: Api, match: RouteMatch, event: dict[str, Any], now: datetime
) -> HttpResponse | None:
    """Run the route's authorizer: None (and the claims in the event) or the 401 to send."""
    name = match.route.authorizer
    authorizer = api.authorizers.get(name or "")
    if authorizer is None:
        # A route naming an authorizer the API does not have: API Gateway would refuse to
        # deploy it; answering 500 keeps such a route from ever running unauthenticated.
        log.error("route %s names authorizer %s, which is not configured", match.route_key, name)
        return error_response(500, "internal", "Internal Server Error")
    try:
        event["requestContext"]["authorizer"] = authorize(
            authorizer,
            event["headers"],
            jwks=api.jwks,
            now=now.timestamp(),
            required_scopes=match.route.scopes,
        )
    except AuthorizerDenied as denied:
        log.info("%s: %s refused the request: %s", match.route_key, name, denied.description)
        status, headers, body = unauthorized_response(denied.error_description)
        return HttpResponse(status, list(headers.items()), body)
    return None


def _public_message(status: int) -> str:
    # Like API Gateway: the client learns that it failed, never how (no stack traces).
    return {503: "Service Unavailable", 504: "Endpoint request timed out"}.get(
        status, "Internal Server Error"
    )


class GatewayServer(ThreadingHTTPServer):
    """Static files + `/api/*`. Routes arrive later (after the stack is deployed), and
    /api/health answers 503 until `ready` is set (after seeding), so "healthy" means usable."""

    daemon_threads = True
    block_on_close = False
    # Like a real load balancer, queue bursts of connections instead of resetting them (the
    # socketserver default backlog is 5).
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written (a phone losing its signal) is
        normal traffic for API Gateway, not a server error: one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            log.info("client %s:%s closed the connection before the answer", *client_address[:2])
            return
        super().handle_error(request, client_address)

    def __init__(
        self,
        address: tuple[str, int],
        *,
        static_root: Path,
        max_body_bytes: int = MAX_BODY_BYTES,
        health_path: str = "/api/health",
    ) -> None:
        self.static_root = static_root
        self.max_body_bytes = max_body_bytes
        self.health_path = health_path
        self.api: Api | None = None
        self.ready = threading.Event()
        super().__init__(address, _RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm a kept-alive connection
    # waits ~40 ms (delayed ACK) before the body of every response.
    disable_nagle_algorithm = True
    server_version = "devstack-gateway"

    def version_string(self) -> str:
        return self.server_version

    def __getattr__(self, name: str) -> Any:
        # Every method (GET, POST, ..., TRACE, PROPFIND): BaseHTTPRequestHandler looks up
        # do_<METHOD> and would answer an HTML 501 for one it lacks; API Gateway routes any
        # method like any request, so an unrouted one is a JSON 404.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        function_id: str | None = None
        raw_path = split_target(self.path)[0]
        try:
            if raw_path == API_PREFIX or raw_path.startswith(API_PREFIX + "/"):
                body = self._read_body()
                if isinstance(body, HttpResponse):
                    response = body
                else:
                    response, function_id = self._api(body)
            elif self.command in ("GET", "HEAD"):
                response = static_response(self.server.static_root, raw_path)
            else:
                response = HttpResponse(
                    405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")]
                )
        except Exception:  # a gateway bug must not look like a dropped connection
            log.exception("gateway error on %s %s", self.command, raw_path)
            response = error_response(500, "internal", "Internal Server Error")
        self._send(response)
        elapsed_ms = (time.perf_counter() - started) * 1000
        target = f" -> {function_id}" if function_id else ""
        # The path only: query strings may carry things that do not belong in a log.
        log.info(
            '%s "%s %s" %d %.0fms%s',
            self.client_address[0],
            self.command,
            raw_path,
            response.status,
            elapsed_ms,
            target,
        )

    def _read_body(self) -> bytes | HttpResponse:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return error_response(411, "length_required", "Send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return error_response(400, "bad_request", "Invalid Content-Length")
        if length < 0:
            self.close_connection = True
            return error_response(400, "bad_request", "Invalid Content-Length")
        if length > self.server.max_body_bytes:
            # Drain what the client is sending (within reason) so it reads the 413 instead of a
            # reset connection; beyond that, the unread rest means this connection must close.
            if not self._drain(length):
                self.close_connection = True
            limit = f"{self.server.max_body_bytes // 1024} KiB"
            return error_response(413, "payload_too_large", f"Request body is larger than {limit}")
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> bool:
        if length > _DRAIN_LIMIT_BYTES:
            return False
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 64 * 1024))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    def _api(self, body: bytes) -> tuple[HttpResponse, str | None]:
        api = self.server.api
        raw_path = split_target(self.path)[0]
        if api is None or (raw_path == self.server.health_path and not self.server.ready.is_set()):
            return error_response(503, "starting", "The local stack is still starting"), None
        request = IncomingRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
            port=self.server.server_address[1],
        )
        outcome = handle_api(api, request, now=datetime.now(UTC), request_id=new_request_id())
        return outcome.response, outcome.function_logical_id

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Per-request lines are written by _dispatch; this only sees protocol errors.
        log.warning("%s %s", self.client_address[0], format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass
