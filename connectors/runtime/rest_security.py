"""Who may call the REST API, and over what: the listener, TLS, basic auth, bearer tokens.

Everything is off by default (a local worker on ``127.0.0.1:8083`` over plain HTTP, open
to every caller) and one worker key away:

- ``listeners=https://host:port`` with ``listeners.https.ssl.certificate.location`` and
  ``listeners.https.ssl.key.location`` (PEM files) serves TLS.
- ``rest.authentication.credentials.file`` turns on HTTP basic auth. The file has Jetty's
  ``PropertyFileLoginModule`` format, as Kafka Connect's ``BasicAuthSecurityRestExtension``
  reads it: one ``user: password[,role]`` line per user, ``#`` comments.
- ``rest.authentication.tokens.file`` turns on bearer tokens (``Authorization: Bearer
  <token>``), in the same format: ``name: token[,role]``.

A role is ``admin`` (every request; the default when a line names none, as in Kafka
Connect, where every authenticated user may do everything) or ``read-only`` (GET only).
An unauthenticated request gets 401 with ``WWW-Authenticate``; a read-only caller's
write gets 403. Every check runs on the REST handler thread of the request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import socket
import ssl
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from headwater.connectors.errors import ConfigError, FieldError

if t.TYPE_CHECKING:
    from headwater.connectors.settings import WorkerConfig

__all__ = [
    "Authenticator",
    "Listener",
    "Principal",
    "listener_of",
    "read_login_file",
    "rest_config_errors",
    "tls_context",
]

ROLES = ("admin", "read-only")
CREDENTIALS_KEY = "rest.authentication.credentials.file"
TOKENS_KEY = "rest.authentication.tokens.file"
CERT_KEY = "listeners.https.ssl.certificate.location"
KEY_KEY = "listeners.https.ssl.key.location"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: str

    @property
    def may_write(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Listener:
    """Where the REST API listens: ``http`` or ``https`` on ``host:port``."""

    scheme: str
    host: str
    port: int


def listener_of(config: WorkerConfig) -> Listener:
    """``listeners`` if set, else ``http://rest.host:rest.port``.

    Raises:
        ConfigError: naming ``listeners`` when it is not one ``http(s)://host:port``.
    """
    if not config.listeners:
        return Listener("http", config.rest_host, config.rest_port)
    value = config.listeners.strip()
    problem = None
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        problem = "the port is not a number from 0 to 65535"
    else:
        if "," in value:
            problem = "one listener only"
        elif url.scheme not in ("http", "https") or not url.hostname or port is None or url.path not in ("", "/"):
            problem = "must be http://host:port or https://host:port"
    if problem is not None:
        raise ConfigError([FieldError("listeners", f"{value!r}: {problem}")])
    return Listener(url.scheme, t.cast(str, url.hostname), t.cast(int, port))


def tls_context(config: WorkerConfig) -> ssl.SSLContext:
    """The server-side TLS context of an ``https`` listener (TLS 1.2 or later).

    Raises:
        ConfigError: naming the key whose file is missing, unreadable or not a PEM
            certificate or key (or the two do not match).
    """
    cert, key = config.listeners_https_ssl_certificate_location, config.listeners_https_ssl_key_location
    errors = [
        FieldError(name, "required for an https listener")
        for name, value in ((CERT_KEY, cert), (KEY_KEY, key))
        if not value
    ]
    if errors:
        raise ConfigError(errors)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    password = config.listeners_https_ssl_key_password
    try:
        context.load_cert_chain(t.cast(str, cert), t.cast(str, key), password.get_secret_value() if password else None)
    except FileNotFoundError as exc:
        missing = CERT_KEY if not Path(t.cast(str, cert)).is_file() else KEY_KEY
        raise ConfigError([FieldError(missing, f"cannot read {exc.filename}")]) from exc
    except (OSError, ssl.SSLError) as exc:
        message = f"cannot load the certificate and key: {getattr(exc, 'reason', None) or exc}"
        raise ConfigError([FieldError(CERT_KEY, message)]) from exc
    return context


def read_login_file(path: str, key: str) -> dict[str, tuple[str, str]]:
    """``user: secret[,role]`` lines as ``{user: (secret, role)}``.

    Raises:
        ConfigError: naming ``key`` (and the line) for an unreadable file, a malformed
            line, an empty secret or an unknown role.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError([FieldError(key, f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")]) from exc
    entries: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        user, sep, rest = stripped.partition(":")
        secret, _, roles = rest.strip().partition(",")
        role = roles.strip() or "admin"
        if not sep or not user.strip() or not secret.strip():
            raise ConfigError([FieldError(key, f"{path} line {number}: expected 'name: secret[,role]'")])
        if role not in ROLES:
            raise ConfigError(
                [FieldError(key, f"{path} line {number}: role {role!r} is not one of {', '.join(ROLES)}")]
            )
        entries[user.strip()] = (secret.strip(), role)
    if not entries:
        raise ConfigError([FieldError(key, f"{path} has no 'name: secret[,role]' line: nobody could call the API")])
    return entries


class Authenticator:
    """Checks a request's ``Authorization`` header against the configured users and tokens."""

    def __init__(self, users: t.Mapping[str, tuple[str, str]], tokens: t.Mapping[str, tuple[str, str]]) -> None:
        self.users = dict(users)
        self.tokens = dict(tokens)

    @classmethod
    def from_config(cls, config: WorkerConfig) -> Authenticator | None:
        """None when neither file is set (authentication off).

        Raises:
            ConfigError: from :func:`read_login_file`.
        """
        credentials, tokens = config.rest_authentication_credentials_file, config.rest_authentication_tokens_file
        if not credentials and not tokens:
            return None
        return cls(
            read_login_file(credentials, CREDENTIALS_KEY) if credentials else {},
            read_login_file(tokens, TOKENS_KEY) if tokens else {},
        )

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401 answer."""
        schemes = (["Basic"] if self.users else []) + (["Bearer"] if self.tokens else [])
        return ", ".join(f'{scheme} realm="headwater"' for scheme in schemes)

    def authenticate(self, header: str | None) -> Principal | None:
        """The caller ``header`` proves, or None. Secrets are compared in constant time."""
        scheme, _, value = (header or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and self.users:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            expected = self.users.get(user)
            if sep and expected is not None and hmac.compare_digest(password.encode(), expected[0].encode()):
                return Principal(user, expected[1])
            return None
        if scheme.lower() == "bearer" and self.tokens and value:
            found = None
            for name, (token, role) in self.tokens.items():
                if hmac.compare_digest(value.encode(), token.encode()):
                    found = Principal(name, role)
            return found
        return None


def rest_config_errors(config: WorkerConfig) -> list[FieldError]:
    """What ``headwater validate --worker`` can know about the REST listener without
    binding it: the listener, the TLS files, the login files, that the host resolves."""
    errors: list[FieldError] = []
    try:
        listener = listener_of(config)
    except ConfigError as exc:
        return exc.errors
    checks: list[t.Callable[[], object]] = [lambda: Authenticator.from_config(config)]
    if listener.scheme == "https":
        checks.append(lambda: tls_context(config))
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            errors += exc.errors
    try:
        socket.getaddrinfo(listener.host, listener.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        key = "listeners" if config.listeners else "rest.host"
        errors.append(FieldError(key, f"{listener.host!r} does not resolve to an address: {exc}"))
    return errors
