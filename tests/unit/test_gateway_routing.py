"""The local gateway's pure parts: route matching, HTTP API v2.0 events, responses, CORS, and
static file resolution. No sockets: these run on the request/response values themselves."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from devstack.gateway import (
    Api,
    FunctionFailed,
    IncomingRequest,
    InvalidFunctionResponse,
    RouteMatch,
    RouteTable,
    apply_cors,
    build_v2_event,
    content_type_for,
    convert_response,
    error_response,
    handle_api,
    preflight_response,
    resolve_static,
    split_target,
)
from devstack.template import CorsConfig, Route, load_template, routes_from_translated, translate

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 23, 18, 30, 5, 123000, tzinfo=UTC)
ORIGIN = "http://127.0.0.1:8000"
CORS = CorsConfig(
    allow_origins=(ORIGIN,),
    allow_headers=("authorization", "content-type"),
    allow_methods=("GET", "POST", "OPTIONS"),
    max_age=600,
)
ROUTES = [
    Route("POST", "/api/auth/login", "IngestFunction"),
    Route("GET", "/api/events", "QueryFunction"),
    Route("POST", "/api/events", "IngestFunction"),
    Route("GET", "/api/events/{event_id}", "QueryFunction"),
    Route("GET", "/api/events/export", "ExportFunction"),
    Route("POST", "/api/g/{event_id}/payment", "IngestFunction"),
    Route("GET", "/api/g/{event_id}/payments", "QueryFunction"),
    Route("POST", "/api/g/{event_id}/payments/{payment_id}/void", "IngestFunction"),
    Route("GET", "/api/files/{proxy+}", "FilesFunction"),
    Route("ANY", "/api/any", "AnyFunction"),
    Route("DELETE", "/api/any", "DeleteFunction"),
]


def request(
    method: str = "GET",
    target: str = "/api/events",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> IncomingRequest:
    return IncomingRequest(
        method=method,
        target=target,
        headers=headers or [("Host", "127.0.0.1:8000"), ("User-Agent", "pytest")],
        body=body,
        source_ip="127.0.0.1",
        port=8000,
    )


def event_for(req: IncomingRequest, routes: list[Route] = ROUTES) -> dict[str, Any]:
    match = RouteTable(routes).match(req.method, req.raw_path)
    assert match is not None
    return build_v2_event(req, match, request_id="req-1", now=NOW)


# --- route matching --------------------------------------------------------------------------


def test_a_literal_route_matches_with_no_path_parameters() -> None:
    match = RouteTable(ROUTES).match("GET", "/api/events")

    assert match == RouteMatch(Route("GET", "/api/events", "QueryFunction"), {})
    assert match.route_key == "GET /api/events"


def test_the_same_path_routes_by_method() -> None:
    table = RouteTable(ROUTES)

    get, post = table.match("GET", "/api/events"), table.match("POST", "/api/events")

    assert get is not None
    assert get.route.function_logical_id == "QueryFunction"
    assert post is not None
    assert post.route.function_logical_id == "IngestFunction"


def test_path_parameters_are_extracted_and_percent_decoded() -> None:
    match = RouteTable(ROUTES).match("POST", "/api/g/2026-05-23%20corporate%2Fmixer/payment")

    assert match is not None
    assert match.route.path_template == "/api/g/{event_id}/payment"
    assert match.path_parameters == {"event_id": "2026-05-23 corporate/mixer"}


def test_several_path_parameters_are_all_extracted() -> None:
    match = RouteTable(ROUTES).match("POST", "/api/g/ev-1/payments/pay-9/void")

    assert match is not None
    assert match.path_parameters == {"event_id": "ev-1", "payment_id": "pay-9"}


def test_a_literal_segment_wins_over_a_parameter_like_api_gateway() -> None:
    match = RouteTable(ROUTES).match("GET", "/api/events/export")

    assert match is not None
    assert match.route.function_logical_id == "ExportFunction"


def test_a_parameter_never_spans_a_slash_but_a_greedy_one_does() -> None:
    table = RouteTable(ROUTES)

    assert table.match("GET", "/api/events/a/b") is None
    greedy = table.match("GET", "/api/files/a/b/c.txt")
    assert greedy is not None
    assert greedy.path_parameters == {"proxy": "a/b/c.txt"}


def test_a_specific_method_wins_over_any() -> None:
    table = RouteTable(ROUTES)

    delete, patch = table.match("DELETE", "/api/any"), table.match("PATCH", "/api/any")

    assert delete is not None
    assert delete.route.function_logical_id == "DeleteFunction"
    assert patch is not None
    assert patch.route.function_logical_id == "AnyFunction"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nope"),
        ("DELETE", "/api/events"),
        ("POST", "/api/g/x/payment/extra"),
        ("POST", "/api/g//payment"),
        ("GET", "/api/events/"),
        ("GET", "/API/EVENTS"),
    ],
)
def test_requests_that_match_no_route_find_nothing(method: str, path: str) -> None:
    assert RouteTable(ROUTES).match(method, path) is None


def test_every_http_api_event_of_the_template_is_routable_to_its_function() -> None:
    # Given the routes SAM's translator derives from template.yaml
    translated = translate(load_template(REPO_ROOT / "template.yaml"), {})
    routes = routes_from_translated(translated)
    table = RouteTable(routes)

    # Then each of them is reached by a concrete request for it
    assert routes
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "some-id", route.path_template)
        match = table.match(route.method, path)
        assert match is not None, route
        assert match.route == route


def test_each_route_takes_its_authorizer_and_scopes_from_its_openapi_security() -> None:
    # Given an HTTP API body with a default (top-level) authorizer, a public route, a route
    # with scopes and one that names its own authorizer
    def operation(function: str, **extra: Any) -> dict[str, Any]:
        uri = {
            "Fn::Sub": f"arn:aws:apigateway:r:lambda:path/functions/${{{function}.Arn}}/invocations"
        }
        return {"x-amazon-apigateway-integration": {"uri": uri}, **extra}

    translated = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function"},
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Body": {
                        "security": [{"Default": []}],
                        "paths": {
                            "/a": {"get": operation("Fn")},
                            "/b": {"get": operation("Fn", security=[{"NONE": []}])},
                            "/c": {"get": operation("Fn", security=[{"Jwt": ["read", "write"]}])},
                            "/d": {"post": operation("Fn", security=[])},
                        },
                    }
                },
            },
        }
    }

    # When the routes are read
    routes = {(r.method, r.path_template): r for r in routes_from_translated(translated)}

    # Then each has the authorizer (None: public) and the scopes its security says
    assert routes["GET", "/a"] == Route("GET", "/a", "Fn", "Default", ())
    assert routes["GET", "/b"] == Route("GET", "/b", "Fn", None, ())
    assert routes["GET", "/c"] == Route("GET", "/c", "Fn", "Jwt", ("read", "write"))
    assert routes["POST", "/d"].authorizer is None


def test_the_templates_public_routes_are_sign_in_health_and_the_document() -> None:
    translated = translate(load_template(REPO_ROOT / "template.yaml"), {})

    public = {r.path_template for r in routes_from_translated(translated) if r.authorizer is None}

    assert public == {
        "/api/health",
        "/api/openapi.json",
        *(p for p in public if p.startswith("/api/auth/")),
    }
    assert "/api/auth/login" in public


# --- v2.0 events -----------------------------------------------------------------------------


def test_the_event_has_the_http_api_v2_shape() -> None:
    req = request(
        "POST",
        "/api/g/2026-05-23-corporate-mixer/payment?x=1",
        headers=[
            ("Host", "127.0.0.1:8000"),
            ("User-Agent", "pytest/1"),
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer t"),
        ],
        body=b'{"amount": "150.00"}',
    )

    event = event_for(req)

    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/g/{event_id}/payment"
    assert event["rawPath"] == "/api/g/2026-05-23-corporate-mixer/payment"
    assert event["rawQueryString"] == "x=1"
    assert event["pathParameters"] == {"event_id": "2026-05-23-corporate-mixer"}
    assert event["body"] == '{"amount": "150.00"}'
    assert event["isBase64Encoded"] is False
    assert event["headers"]["authorization"] == "Bearer t"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["content-length"] == str(len(req.body))
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/api/g/2026-05-23-corporate-mixer/payment",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest/1",
    }
    assert context["requestId"] == "req-1"
    assert context["routeKey"] == "POST /api/g/{event_id}/payment"
    assert context["stage"] == "$default"
    assert context["time"] == "23/May/2026:18:30:05 +0000"
    assert context["timeEpoch"] == 1779561005123
    assert context["domainName"] == "127.0.0.1"


def test_header_names_are_lower_cased_and_repeats_joined_with_commas() -> None:
    event = event_for(
        request(headers=[("X-Thing", "a"), ("x-thing", "b"), ("Accept", "application/json")])
    )

    assert event["headers"]["x-thing"] == "a,b"
    assert event["headers"]["accept"] == "application/json"
    assert all(name == name.lower() for name in event["headers"])


def test_repeated_query_parameters_are_joined_with_commas() -> None:
    event = event_for(request(target="/api/events?limit=5&tag=a&tag=b&empty="))

    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"limit": "5", "tag": "a,b", "empty": ""}


def test_a_request_without_query_body_or_parameters_omits_those_keys() -> None:
    event = event_for(request())

    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "body" not in event
    assert "cookies" not in event


def test_cookies_move_from_the_header_to_the_cookies_list() -> None:
    event = event_for(request(headers=[("Cookie", "a=1; b=2"), ("Cookie", "c=3")]))

    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_a_body_that_is_not_utf8_is_base64_encoded() -> None:
    raw = b"\xff\xfe\x00binary"

    event = event_for(request("POST", "/api/events", body=raw))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_powertools_reads_the_event_like_one_from_api_gateway() -> None:
    # Given a Powertools HTTP API app like the services use
    app = APIGatewayHttpResolver()

    @app.post("/api/g/<event_id>/payment")
    def log_payment(event_id: str) -> Response[str]:
        body = app.current_event.json_body
        headers = app.current_event.headers
        return Response(
            201,
            "application/json",
            json.dumps(
                {"event_id": event_id, "amount": body["amount"], "auth": headers["authorization"]}
            ),
        )

    # When it handles the gateway's event for a request
    req = request(
        "POST",
        "/api/g/ev-1/payment",
        headers=[("Authorization", "Bearer t"), ("Content-Type", "application/json")],
        body=b'{"amount": "150.00"}',
    )
    event = event_for(req)
    result = app.resolve(event, cast(Any, None))

    # Then the route, path parameter, headers and body all arrive
    assert APIGatewayProxyEventV2(event).path_parameters == {"event_id": "ev-1"}
    assert result["statusCode"] == 201
    assert json.loads(result["body"]) == {
        "event_id": "ev-1",
        "amount": "150.00",
        "auth": "Bearer t",
    }


# --- responses -------------------------------------------------------------------------------


def test_a_full_response_keeps_status_headers_and_body() -> None:
    response = convert_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "body": '{"ok": true}',
            "isBase64Encoded": False,
        }
    )

    assert response.status == 201
    assert response.header("content-type") == "application/json"
    assert response.header("x-count") == "3"
    assert response.body == b'{"ok": true}'


def test_cookies_become_one_set_cookie_header_each() -> None:
    response = convert_response({"statusCode": 200, "cookies": ["a=1; Secure", "b=2"], "body": ""})

    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1; Secure", "b=2"]


def test_a_base64_body_is_decoded() -> None:
    payload = b"\x00\x01binary"

    response = convert_response(
        {"statusCode": 200, "body": base64.b64encode(payload).decode(), "isBase64Encoded": True}
    )

    assert response.body == payload


def test_a_result_without_status_code_is_sent_as_json_with_200() -> None:
    response = convert_response({"status": "ok"})

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {"status": "ok"}


def test_headers_a_proxy_owns_are_not_copied_from_the_function() -> None:
    response = convert_response(
        {
            "statusCode": 200,
            "headers": {"Content-Length": "999", "Connection": "close"},
            "body": "x",
        }
    )

    assert response.header("content-length") is None
    assert response.header("connection") is None


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200", "body": ""},
        {"statusCode": 42, "body": ""},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"], "body": ""},
        {"statusCode": 200, "cookies": "a=1", "body": ""},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_responses_api_gateway_would_reject_are_invalid(result: dict[str, Any]) -> None:
    with pytest.raises(InvalidFunctionResponse):
        convert_response(result)


# --- CORS ------------------------------------------------------------------------------------


def preflight(
    origin: str, method: str = "POST", headers: str = "content-type,authorization"
) -> IncomingRequest:
    return request(
        "OPTIONS",
        "/api/events",
        headers=[
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", headers),
        ],
    )


def test_an_allowed_preflight_gets_the_configured_cors_headers() -> None:
    response = preflight_response(CORS, preflight(ORIGIN))

    assert response.status == 204
    assert response.header("access-control-allow-origin") == ORIGIN
    assert response.header("access-control-allow-methods") == "GET,POST,OPTIONS"
    assert response.header("access-control-allow-headers") == "authorization,content-type"
    assert response.header("access-control-max-age") == "600"


@pytest.mark.parametrize(
    "req",
    [
        preflight("http://evil.example"),
        preflight(ORIGIN, method="DELETE"),
        preflight(ORIGIN, headers="x-custom"),
    ],
)
def test_a_disallowed_preflight_gets_no_cors_headers(req: IncomingRequest) -> None:
    response = preflight_response(CORS, req)

    assert response.status == 204
    assert not [k for k, _ in response.headers if k.lower().startswith("access-control-")]


def test_the_api_replaces_the_functions_cors_headers_with_its_own() -> None:
    function_response = convert_response(
        {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": "{}"}
    )

    response = apply_cors(function_response, CORS, ORIGIN)

    assert [v for k, v in response.headers if k == "Access-Control-Allow-Origin"] == [ORIGIN]


def test_a_foreign_origin_gets_no_cors_headers_at_all() -> None:
    function_response = convert_response(
        {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": "{}"}
    )

    response = apply_cors(function_response, CORS, "http://evil.example")

    assert response.header("access-control-allow-origin") is None


# --- the whole /api/* path without sockets ----------------------------------------------------


def api_with(invoke: Any) -> Api:
    return Api(routes=RouteTable(ROUTES), cors=CORS, invoke=invoke)


def test_an_unknown_api_route_is_a_404_in_the_error_envelope() -> None:
    outcome = handle_api(api_with(None), request("GET", "/api/nope"), now=NOW, request_id="r")

    assert outcome.response.status == 404
    assert outcome.function_logical_id is None
    body = json.loads(outcome.response.body)
    assert body["status"] == "error"
    assert body["error"]["code"] == "not_found"
    assert body["error"]["fields"] == {}


def test_a_routed_request_invokes_the_templates_function_with_the_event() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def invoke(logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append((logical_id, event))
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "[]"}

    outcome = handle_api(api_with(invoke), request("GET", "/api/events"), now=NOW, request_id="r-7")

    assert outcome.response.status == 200
    assert outcome.function_logical_id == "QueryFunction"
    assert seen[0][0] == "QueryFunction"
    assert seen[0][1]["requestContext"]["requestId"] == "r-7"
    assert outcome.response.header("apigw-requestid") == "r-7"


def test_a_failing_function_is_a_500_that_reveals_nothing() -> None:
    def invoke(_logical_id: str, _event: dict[str, Any]) -> Any:
        raise FunctionFailed(500, "internal", "KeyError: 'secret detail'")

    outcome = handle_api(api_with(invoke), request("GET", "/api/events"), now=NOW, request_id="r")

    assert outcome.response.status == 500
    assert b"secret detail" not in outcome.response.body
    assert json.loads(outcome.response.body)["error"]["code"] == "internal"


def test_an_invalid_function_response_is_a_500() -> None:
    outcome = handle_api(
        api_with(lambda _l, _e: {"statusCode": 200, "body": {"x": 1}}),
        request("GET", "/api/events"),
        now=NOW,
        request_id="r",
    )

    assert outcome.response.status == 500


def test_a_preflight_is_answered_without_invoking_any_function() -> None:
    def invoke(_logical_id: str, _event: dict[str, Any]) -> Any:
        raise AssertionError("a preflight must not reach a function")

    outcome = handle_api(api_with(invoke), preflight(ORIGIN), now=NOW, request_id="r")

    assert outcome.response.status == 204


def test_the_error_envelope_is_the_projects() -> None:
    response = error_response(413, "payload_too_large", "too big")

    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {
        "status": "error",
        "error": {"code": "payload_too_large", "message": "too big", "fields": {}},
    }


# --- static files ----------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<!doctype html>")
    (root / "app.js").write_text("export {};")
    (root / "sub" / "index.html").write_text("sub")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/api/events?limit=5", ("/api/events", "limit=5")),
        ("//evil.example/x?y=1", ("//evil.example/x", "y=1")),
        ("/a%2Fb?q=%20#frag", ("/a%2Fb", "q=%20")),
        ("http://127.0.0.1:8000/api/health?x", ("/api/health", "x")),
    ],
)
def test_request_targets_split_into_raw_path_and_query(
    target: str, expected: tuple[str, str]
) -> None:
    assert split_target(target) == expected


def test_the_root_and_directories_serve_their_index_html(site: Path) -> None:
    assert resolve_static(site, "/") == (site / "index.html").resolve()
    assert resolve_static(site, "/sub/") == (site / "sub" / "index.html").resolve()
    assert resolve_static(site, "/app.js") == (site / "app.js").resolve()


@pytest.mark.parametrize(
    "raw_path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/../../secret.txt",
        "/..%5csecret.txt",
        "/link.txt",
        "/.env",
        "/empty/",
        "/missing.js",
        "/index.html%00.js",
    ],
)
def test_nothing_outside_the_site_and_no_listing_is_ever_served(site: Path, raw_path: str) -> None:
    assert resolve_static(site, raw_path) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("sw.js", "text/javascript; charset=utf-8"),  # a service worker must be JavaScript
        ("manifest.webmanifest", "application/manifest+json"),
        ("icon-192.png", "image/png"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_types_are_the_ones_browsers_need(name: str, expected: str) -> None:
    assert content_type_for(Path(name)) == expected
