"""API Gateway's HTTP API JWT authorizer, by its documented rules, for the local gateway.

For a route with a JWT authorizer, API Gateway (not the function) decides whether the request
gets through; the function then finds the verified claims in
`event["requestContext"]["authorizer"]["jwt"]`. The rules followed here:

- The token is the identity source (`$request.header.Authorization`); without it the request
  is refused. A `Bearer ` prefix is removed.
- The token must be a JWT signed with RS256 (`none`, HS256 and everything else are refused),
  its `kid` must be one of the keys the issuer publishes (its JWKS) and the signature must
  verify with that key.
- `iss` must be the configured issuer exactly; `aud` must be one of the configured audiences,
  or, only when there is no `aud` at all, `client_id` must be (Cognito access tokens).
- `exp` must be in the future, `nbf` (if present) and `iat` must not be. Tokens come from the
  same machine's clock here, so only `nbf`/`iat` get a few seconds of leeway
  (CLOCK_SKEW_SECONDS) for the issuer's rounding; `exp` gets none.
- A route with authorization scopes needs one of them in the `scope` (or `scp`) claim.

The claims reach the function the way API Gateway passes them: every value a string, arrays as
`"[a b]"`, numbers and booleans as their text, nested objects as JSON text, null claims left out.
A refusal is a 401 `{"message":"Unauthorized"}` with a `www-authenticate` header; the reason is
logged, and the client learns only the short, generic phrase API Gateway would send.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

log = logging.getLogger(__name__)

CLOCK_SKEW_SECONDS = 5
UNAUTHORIZED_BODY = b'{"message":"Unauthorized"}'
_NONE_SCHEME = "NONE"
_ISSUER_PREFIX = "https://cognito-idp."
_JWKS_TIMEOUT_SECONDS = 5.0

Jwks = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class JwtAuthorizer:
    """One HTTP API authorizer of type jwt, with its issuer and audiences resolved."""

    name: str
    issuer: str
    audiences: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


class AuthorizerDenied(Exception):
    """The authorizer refused the request. `description` says why (for logs, may name values
    from the token); `error_description` is the generic phrase the client may see."""

    def __init__(self, description: str, error_description: str = "the token is invalid") -> None:
        super().__init__(description)
        self.description = description
        self.error_description = error_description


def authorize(
    authorizer: JwtAuthorizer,
    headers: Mapping[str, str],
    *,
    jwks: Jwks,
    now: float,
    required_scopes: Sequence[str] = (),
) -> dict[str, Any]:
    """The value API Gateway puts at `requestContext.authorizer` for an accepted request.

    `headers` has lower-case names. Raises AuthorizerDenied when the request must get a 401.
    """
    token = _token(authorizer, headers)
    header = _header(token)
    key = _signing_key(authorizer, header, jwks)
    claims = _verified_claims(token, key)
    _check_claims(authorizer, claims, now)
    scopes: list[str] | None = None
    if required_scopes:
        granted = _scopes(claims)
        if not set(granted) & set(required_scopes):
            raise AuthorizerDenied(
                f"token scopes {granted} include none of {list(required_scopes)}",
                "the token does not have the required scope",
            )
        scopes = granted
    return {"jwt": {"claims": gateway_claims(claims), "scopes": scopes}}


def unauthorized_response(description: str) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's 401 for a refused token: status, headers, body."""
    safe = "".join(c for c in description if c.isprintable() and c not in '"\\')
    return (
        401,
        {
            "content-type": "application/json",
            "www-authenticate": f'Bearer scope="" error="invalid_token" error_description="{safe}"',
        },
        UNAUTHORIZED_BODY,
    )


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them to the function: every value a string."""
    return {str(name): _claim_text(value) for name, value in claims.items() if value is not None}


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_claim_text(item) for item in value if item is not None) + "]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the steps ---------------------------------------------------------------------------------


def _token(authorizer: JwtAuthorizer, headers: Mapping[str, str]) -> str:
    source = authorizer.identity_source
    prefix = "$request.header."
    if not source.startswith(prefix):
        raise AuthorizerDenied(f"identity source {source} is not supported locally")
    raw = headers.get(source[len(prefix) :].lower(), "").strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    if not raw:
        raise AuthorizerDenied(f"no token in {source}", "the token is missing")
    return raw


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthorizerDenied(f"not a JWT: {exc}", "the token is malformed") from None
    algorithm = header.get("alg")
    if algorithm != "RS256":
        raise AuthorizerDenied(
            f"signing method {algorithm!r} refused (RS256 only)",
            f"signing method {_printable(algorithm)} is invalid",
        )
    return header


def _signing_key(authorizer: JwtAuthorizer, header: Mapping[str, Any], jwks: Jwks) -> Any:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthorizerDenied("the token has no kid", "the token has no key id")
    try:
        key_set = jwks(authorizer.issuer)
    except Exception as exc:  # noqa: BLE001 - any failure to get keys is a refusal, logged
        raise AuthorizerDenied(
            f"JWKS of {authorizer.issuer} unavailable: {exc}", "the signing keys are unavailable"
        ) from None
    for candidate in key_set.get("keys") or []:
        if isinstance(candidate, Mapping) and candidate.get("kid") == kid:
            try:
                return jwt.PyJWK(dict(candidate), algorithm="RS256").key
            except jwt.PyJWTError as exc:
                raise AuthorizerDenied(
                    f"JWKS key {kid} unusable: {exc}", "the signing keys are unavailable"
                ) from None
    raise AuthorizerDenied(
        f"kid {kid!r} is not in the JWKS of {authorizer.issuer}", "the token's key id is unknown"
    )


def _verified_claims(token: str, key: Any) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            # The signature only: the claims are checked below, by API Gateway's rules.
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise AuthorizerDenied(
            "signature does not verify", "the token signature is invalid"
        ) from None
    except jwt.PyJWTError as exc:
        raise AuthorizerDenied(f"token refused: {exc}", "the token is malformed") from None
    if not isinstance(claims, dict):
        raise AuthorizerDenied("token payload is not an object", "the token is malformed")
    return claims


def _check_claims(authorizer: JwtAuthorizer, claims: Mapping[str, Any], now: float) -> None:
    issuer = claims.get("iss")
    if issuer != authorizer.issuer:
        raise AuthorizerDenied(
            f"iss {issuer!r} is not {authorizer.issuer!r}", "the token does not have a valid issuer"
        )
    if "aud" in claims:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not any(isinstance(a, str) and a in authorizer.audiences for a in audiences):
            raise AuthorizerDenied(
                f"aud {claims['aud']!r} is not one of {list(authorizer.audiences)}",
                "the token does not have a valid audience",
            )
    elif claims.get("client_id") not in authorizer.audiences:
        raise AuthorizerDenied(
            f"no aud, and client_id {claims.get('client_id')!r} is not one of "
            f"{list(authorizer.audiences)}",
            "the token does not have a valid audience",
        )
    expires = _number(claims, "exp", required=True)
    if expires is None or expires <= now:
        raise AuthorizerDenied(f"exp {expires} is not after {now:.0f}", "the token has expired")
    not_before = _number(claims, "nbf", required=False)
    if not_before is not None and not_before > now + CLOCK_SKEW_SECONDS:
        raise AuthorizerDenied(f"nbf {not_before} is after {now:.0f}", "the token is not valid yet")
    issued = _number(claims, "iat", required=True)
    if issued is None or issued > now + CLOCK_SKEW_SECONDS:
        raise AuthorizerDenied(f"iat {issued} is after {now:.0f}", "the token is not valid yet")


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise AuthorizerDenied(f"the token has no {name}", "the token is malformed")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthorizerDenied(f"{name} {value!r} is not a number", "the token is malformed")
    return float(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def _printable(value: Any) -> str:
    return "".join(c for c in str(value) if c.isalnum() or c in "-_")[:20] or "(none)"


# --- the template's authorizers ----------------------------------------------------------------


def authorizers_from_translated(
    translated: Mapping[str, Any], resolve: Callable[[Any], Any]
) -> tuple[dict[str, JwtAuthorizer], dict[tuple[str, str], str | None]]:
    """The JWT authorizers of the template's HTTP APIs (issuer and audiences resolved with
    `resolve`), and for each route (METHOD, path template) its authorizer name, or None for a
    public route (security `[{"NONE": []}]`, or none at all)."""
    authorizers: dict[str, JwtAuthorizer] = {}
    routes: dict[tuple[str, str], str | None] = {}
    for resource in (translated.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        body = (resource.get("Properties") or {}).get("Body") or {}
        schemes = (body.get("components") or {}).get("securitySchemes") or {}
        for name, scheme in schemes.items():
            config = (
                scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
            )
            if not isinstance(config, dict) or str(config.get("type", "")).lower() != "jwt":
                continue
            authorizers[name] = _jwt_authorizer(name, config, resolve)
        for path, operations in (body.get("paths") or {}).items():
            for method, operation in (operations or {}).items():
                if (
                    not isinstance(operation, dict)
                    or "x-amazon-apigateway-integration" not in operation
                ):
                    continue
                authorizer, _ = route_security(operation, body)
                routes[_method(method), path] = authorizer
    return authorizers, routes


def route_security(
    operation: Mapping[str, Any], body: Mapping[str, Any]
) -> tuple[str | None, tuple[str, ...]]:
    """(authorizer name or None, authorization scopes) of one OpenAPI operation; the API's
    top-level `security` applies when the operation has none of its own."""
    security = operation.get("security", body.get("security"))
    if not isinstance(security, list):
        return None, ()
    for requirement in security:
        if not isinstance(requirement, dict):
            continue
        for name, scopes in requirement.items():
            if name == _NONE_SCHEME:
                return None, ()
            return str(name), tuple(str(s) for s in (scopes or []))
    return None, ()


def _jwt_authorizer(
    name: str, config: Mapping[str, Any], resolve: Callable[[Any], Any]
) -> JwtAuthorizer:
    jwt_configuration = config.get("jwtConfiguration") or {}
    issuer = resolve(jwt_configuration.get("issuer"))
    audiences = resolve(jwt_configuration.get("audience") or [])
    source = config.get("identitySource") or "$request.header.Authorization"
    if isinstance(source, list):
        source = source[0] if source else "$request.header.Authorization"
    if not isinstance(issuer, str) or not issuer:
        raise ValueError(f"authorizer {name}: the issuer did not resolve to a URL ({issuer!r})")
    if isinstance(audiences, str):
        audiences = [audiences]
    return JwtAuthorizer(
        name=name,
        issuer=issuer,
        audiences=tuple(str(a) for a in audiences),
        identity_source=str(source),
    )


def _method(openapi_method: str) -> str:
    return "ANY" if openapi_method == "x-amazon-apigateway-any-method" else openapi_method.upper()


# --- keys from moto ----------------------------------------------------------------------------


def moto_jwks(moto_endpoint: str) -> Jwks:
    """issuer → its JWKS, fetched from the moto server (which serves a Cognito pool's keys at
    `<endpoint>/<pool id>/.well-known/jwks.json`); cached per issuer once fetched."""
    cache: dict[str, Mapping[str, Any]] = {}
    lock = threading.Lock()
    base = moto_endpoint.rstrip("/")

    def fetch(issuer: str) -> Mapping[str, Any]:
        with lock:
            if issuer in cache:
                return cache[issuer]
        url = f"{base}/{_pool_id(issuer)}/.well-known/jwks.json"
        request = urllib.request.Request(url, headers=_MOTO_COGNITO_HINT)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=_JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310
                keys = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RuntimeError(f"cannot fetch {url}: {exc}") from exc
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise RuntimeError(f"{url} did not return a JWKS")
        with lock:
            cache[issuer] = keys
        return keys

    return fetch


# moto tells its services apart by the credential scope; a JWKS request carries none of its own.
_MOTO_COGNITO_HINT = {
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/cognito-idp/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
}


def _pool_id(issuer: str) -> str:
    if not issuer.startswith(_ISSUER_PREFIX) or ".amazonaws.com/" not in issuer:
        raise RuntimeError(f"{issuer} is not a Cognito user pool issuer")
    pool_id = issuer.rsplit("/", 1)[-1]
    if not pool_id or "/" in pool_id or pool_id in (".", ".."):
        raise RuntimeError(f"{issuer} names no user pool")
    return pool_id
