"""The narrow client the sink uses, and the real one over ``snowflake-connector-python``.

The driver is imported when :func:`connect` runs, so the package imports without the
``snowflake`` extra. Driver errors become Headwater's: network and server-side failures
(a suspended warehouse, a busy session, HTTP 5xx) are :class:`RetriableError`, SQL that
Snowflake refuses is :class:`FatalError`.
"""

from __future__ import annotations

import re
import typing as t

from headwater.connectors.errors import ConfigError, FatalError, RetriableError

if t.TYPE_CHECKING:
    from headwater.sinks.snowflake.config import SnowflakeSinkConfig

__all__ = ["DriverClient", "SnowflakeClient", "connect", "ident", "quote"]

Row: t.TypeAlias = tuple[t.Any, ...]

_RETRIABLE_ERRNOS = frozenset({604, 606, 608, 625})
"""Snowflake errors that pass: a query cancelled by the server (604), no running warehouse
(606: suspended or resuming), a warehouse being resized or restarted (608), a statement
that timed out waiting for a lock (625)."""


class SnowflakeClient(t.Protocol):
    """One Snowflake session, used from the task's thread only."""

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[Row]:
        """Run one statement (``%s`` placeholders) and return its rows."""
        ...

    def columns(self, sql: str, params: t.Sequence[t.Any] | None = None) -> tuple[list[str], list[Row]]:
        """Run one query and return its column names and rows."""
        ...

    def commit(self) -> None:
        """Commit the open transaction (the session runs with autocommit off)."""
        ...

    def rollback(self) -> None:
        """Roll the open transaction back."""
        ...

    def close(self) -> None:
        """End the session; idempotent."""
        ...


def _private_key(pem: str, passphrase: str | None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    text = pem.strip()
    if "-----BEGIN" not in text:
        kind = "ENCRYPTED PRIVATE KEY" if passphrase else "PRIVATE KEY"
        text = f"-----BEGIN {kind}-----\n{text}\n-----END {kind}-----"
    key = serialization.load_pem_private_key(text.encode(), passphrase.encode() if passphrase else None)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class DriverClient:
    """:class:`SnowflakeClient` over a ``snowflake.connector`` connection."""

    def __init__(self, connection: t.Any) -> None:
        self._connection = connection

    def _run(self, sql: str, params: t.Sequence[t.Any] | None) -> t.Any:
        from snowflake.connector import errors

        try:
            return self._connection.cursor().execute(sql, params)
        except (errors.OperationalError, errors.InterfaceError, errors.ServiceUnavailableError) as exc:
            msg = f"Snowflake did not answer ({exc}); retrying"
            raise RetriableError(msg) from exc
        except errors.Error as exc:
            if getattr(exc, "errno", None) in _RETRIABLE_ERRNOS or "HTTP 5" in str(exc):
                msg = f"Snowflake is busy or restarting ({exc}); retrying"
                raise RetriableError(msg) from exc
            msg = f"Snowflake refused {sql.split(' ', 3)[:3]}: {exc}"
            raise FatalError(msg) from exc

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[Row]:
        cursor = self._run(sql, params)
        return list(cursor.fetchall())

    def columns(self, sql: str, params: t.Sequence[t.Any] | None = None) -> tuple[list[str], list[Row]]:
        cursor = self._run(sql, params)
        rows = list(cursor.fetchall())
        return [d.name for d in cursor.description], rows

    def commit(self) -> None:
        self._run("COMMIT", None)

    def rollback(self) -> None:
        self._run("ROLLBACK", None)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def connect(config: SnowflakeSinkConfig) -> DriverClient:
    """A session on the configured account, database and schema (both created if missing),
    with autocommit off.

    Raises:
        ConfigError: the ``snowflake`` extra is not installed.
        RetriableError: the account cannot be reached.
    """
    try:
        import snowflake.connector
    except ImportError as exc:
        msg = "the snowflake sink needs snowflake-connector-python: pip install 'headwater[snowflake]'"
        raise ConfigError(msg) from exc
    params: dict[str, t.Any] = {
        "account": config.account,
        "user": config.snowflake_user_name,
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        "network_timeout": 60,
        "login_timeout": 30,
    }
    if config.snowflake_private_key is not None:
        passphrase = config.snowflake_private_key_passphrase
        params["private_key"] = _private_key(
            config.snowflake_private_key.get_secret_value(), passphrase.get_secret_value() if passphrase else None
        )
    elif config.snowflake_password is not None:
        params["password"] = config.snowflake_password.get_secret_value()
    for key, value in (
        ("role", config.snowflake_role_name),
        ("warehouse", config.snowflake_warehouse_name),
        ("host", config.snowflake_host),
        ("port", config.snowflake_port),
    ):
        if value is not None:
            params[key] = value
    params["protocol"] = config.snowflake_protocol
    try:
        connection = snowflake.connector.connect(**params)
    except snowflake.connector.errors.DatabaseError as exc:
        msg = f"cannot log in to Snowflake account {config.account!r} as {config.snowflake_user_name!r}: {exc}"
        raise RetriableError(msg) from exc
    client = DriverClient(connection)
    database, schema = ident(config.snowflake_database_name), ident(config.snowflake_schema_name)
    client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}")
    client.execute(f"USE SCHEMA {database}.{schema}")
    # Every statement from here on runs in a transaction that only COMMIT ends: the rows
    # and the offsets of a batch become visible together (and it saves a BEGIN per batch).
    connection.autocommit(False)
    return client


def ident(name: str) -> str:
    """An object name in SQL: as written when it is a plain identifier (Snowflake upper-cases
    it), else quoted with its case kept."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name):
        return name
    return quote(name)


def quote(name: str) -> str:
    """A quoted identifier (case kept, ``"`` doubled): column names."""
    return '"' + name.replace('"', '""') + '"'
