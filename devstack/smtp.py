"""A local SMTP relay for the local stack (aiosmtpd), so the notifier's SMTP path can be tried
end to end without a mail provider: every message it accepts is written as an `.eml` file.

It speaks what the template's SmtpSecurity asks for, like a provider's relay would:
`starttls` (the default: STARTTLS offered and required before MAIL), `tls` (implicit TLS) or
`none` (plain). For the two TLS modes it gets a certificate for 127.0.0.1 / ::1 / localhost
from a throwaway certificate authority made at start; the functions' workers are told to
trust that authority (SSL_CERT_FILE) so the notifier verifies the certificate as it would a
real relay's. When a user name is given it requires AUTH with exactly that user and password
(after STARTTLS in `starttls` mode), as Gmail does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import socket
import ssl
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.files import write_atomically

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "tls", "none")
_CONNECT_TIMEOUT_SECONDS = 0.5


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (the notifier's own rule for plain SMTP)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def is_listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port right now."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=_CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class TlsMaterial:
    """A certificate authority (trusted by the workers) and the server certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_tls_material(folder: Path, hosts: tuple[str, ...] = ()) -> TlsMaterial:
    """A fresh CA and a server certificate for the loopback names (plus `hosts`), valid a week."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=7)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devstack local SMTP CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    for host in hosts:
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            names.append(x509.DNSName(host))
        else:
            names.append(x509.IPAddress(address))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    material.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    handle = os.open(material.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "wb") as stream:
        stream.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return material


@dataclass
class MailDropHandler:
    """aiosmtpd handler: every accepted message becomes `<time>-<id>.eml` in `folder`."""

    folder: Path
    received: list[Path] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        header = f"Return-Path: <{envelope.mail_from}>\r\n"
        header += f"X-Original-To: {', '.join(envelope.rcpt_tos)}\r\n"
        path = self.write(header.encode("utf-8") + content)
        log.info(
            "local SMTP server: mail to %d recipient(s) written: %s",
            len(envelope.rcpt_tos),
            path.name,
        )
        return "250 Message accepted for delivery"

    def write(self, data: bytes) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        write_atomically(target, data)
        with self._lock:
            self.received.append(target)
        return target


class LocalSmtpServer:
    """An aiosmtpd relay on host:port writing `.eml` files to `folder`; `stop()` ends it."""

    def __init__(
        self,
        host: str,
        port: int,
        folder: Path,
        *,
        security: str = "starttls",
        tls: TlsMaterial | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}")
        if security != "none" and tls is None:
            raise ValueError(f"SmtpSecurity {security} needs a certificate")
        self.host = host
        self.port = port
        self.folder = folder
        self.security = security
        self.username = username or None
        self.handler = MailDropHandler(folder)
        self._password = password or ""
        self._tls = tls
        self._controller: Any = None

    def __repr__(self) -> str:  # never the password
        return (
            f"LocalSmtpServer({self.host}:{self.port}, security={self.security!r}, "
            f"username={self.username!r}, folder={str(self.folder)!r})"
        )

    def describe(self) -> str:
        auth = f"AUTH as {self.username}" if self.username else "no AUTH"
        return f"{self.host}:{self.port} ({self.security}, {auth}) -> {self.folder}"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        smtp_options: dict[str, Any] = {}
        ssl_context = None
        if self.security == "starttls":
            assert self._tls is not None
            smtp_options.update(tls_context=self._tls.server_context(), require_starttls=True)
        elif self.security == "tls":
            assert self._tls is not None
            ssl_context = self._tls.server_context()
        if self.username:
            smtp_options.update(
                authenticator=self._authenticate,
                auth_required=True,
                # Implicit TLS is TLS from the first byte; aiosmtpd only knows about STARTTLS.
                auth_require_tls=self.security == "starttls",
            )
        controller = Controller(
            self.handler,
            hostname=self.host.strip("[]"),
            port=self.port,
            ssl_context=ssl_context,
            server_hostname="devstack.localhost",
            **smtp_options,
        )
        # aiosmtpd logs every command at INFO; this module logs each mail it writes instead.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        # AUTH without TLS is what SmtpSecurity none asks for (loopback only).
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        controller.start()
        self._controller = controller

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode("utf-8", "replace") == self.username
            and _same(data.password.decode("utf-8", "replace"), self._password)
        )
        if not ok:
            log.warning("local SMTP server: AUTH %s refused for %r", mechanism, _login_of(data))
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            with contextlib.suppress(Exception):
                controller.stop()


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _login_of(data: Any) -> str:
    login = getattr(data, "login", b"")
    return login.decode("utf-8", "replace") if isinstance(login, bytes) else "?"
