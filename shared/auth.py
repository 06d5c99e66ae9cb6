"""Admin sign-in: slow password hashes and short-lived HS256 tokens.

Passwords are hashed with scrypt at OWASP's parameters (N=2^17, r=8, p=1) and compared in
constant time. Tokens are JWTs signed with HS256 only (the algorithm is pinned when decoding,
so ``alg: none`` or an RS/HS confusion is refused), with ``exp``, ``iat``, issuer and audience.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from shared.errors import Unauthorized

_SCHEME = "scrypt"
_OWASP_N, _OWASP_R, _OWASP_P = 2**17, 8, 1
_KEY_LENGTH = 32
_ISSUER = "scc-payments"
_AUDIENCE = "scc-admin"
_ALGORITHM = "HS256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r + 1024 * 1024,
        dklen=_KEY_LENGTH,
    )


def hash_password(password: str, *, n: int = _OWASP_N, r: int = _OWASP_R, p: int = _OWASP_P) -> str:
    """ "scrypt$N$r$p$salt$key": the parameters travel with the hash so they can be raised later."""
    salt = secrets.token_bytes(16)
    return f"{_SCHEME}${n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, n, r, p))}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != _SCHEME:
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, _unb64(expected))
    except ValueError:
        return False


def burn_password_check(password: str, encoded: str) -> None:
    """Spend the same time as a real check (for unknown e-mails), so timing reveals nothing."""
    verify_password(password, encoded)


@dataclass(frozen=True)
class Admin:
    email: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def issue_token(email: str, *, key: str, ttl_seconds: int, now: datetime) -> IssuedToken:
    expires_at = now + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": email,
        "iss": _ISSUER,
        "aud": _AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return IssuedToken(jwt.encode(claims, key, algorithm=_ALGORITHM), expires_at)


def verify_token(token: str, *, key: str) -> Admin:
    """Return the admin a token was issued to; Unauthorized for anything else."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Your session has expired; sign in again") from None
    except jwt.PyJWTError:
        raise Unauthorized("Invalid token; sign in again") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("Invalid token; sign in again")
    return Admin(email=subject)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Sign in required: send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in required: send Authorization: Bearer <token>")
    return token.strip()


def email_digest(email: str) -> str:
    """Keys for per-address sign-in counters: no address is stored in clear."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]


def _main(argv: list[str]) -> int:
    import getpass

    if argv[1:] != ["hash"]:
        print("usage: python -m shared.auth hash   (reads the password from stdin or a prompt)")
        return 2
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\n")
    if len(password) < 12:
        print("refusing: use at least 12 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv))
