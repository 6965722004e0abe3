"""A Snowflake-protocol server for tests: fakesnow's server mode, and the ``snowflake_server`` fixture.

fakesnow (PyPI ``fakesnow[server]``, test-only) answers the real
``snowflake-connector-python`` over HTTP, on DuckDB: VARIANT, PARSE_JSON, stages with
PUT and COPY INTO, MERGE, transactions. :class:`FakesnowServer` runs
``python -m fakesnow -s`` on a free port of 127.0.0.1; :func:`shared_snowflake_server`
starts one per test process on first use, and the session fixture
:func:`snowflake_server` hands its ``(host, port)`` to tests (skipping them, with the
reason, when fakesnow is not installed). ``$HEADWATER_SNOWFLAKE_HOSTPORT``
(``host:port``, plain HTTP) points the fixture at another server instead.

Known limits of fakesnow 0.12.1 (the sink works around them): a ``MERGE`` or a
``CREATE TEMPORARY TABLE`` inside an explicit transaction fails (fakesnow records the
temporary table in its own catalog database), and a failed statement answers HTTP 500,
which the driver retries until its ``network_timeout``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from headwater.conformance.servers import start_listening, stop_process

__all__ = ["SNOWFLAKE_ENV", "FakesnowServer", "shared_snowflake_server", "snowflake_config", "snowflake_server"]

#: When set (``host:port``), the fixture uses this server instead of starting fakesnow.
SNOWFLAKE_ENV = "HEADWATER_SNOWFLAKE_HOSTPORT"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakesnowServer:
    """One ``python -m fakesnow -s`` process on 127.0.0.1 (state in memory, lost on stop)."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        if importlib.util.find_spec("fakesnow") is None:
            msg = "fakesnow is not installed (pip install 'fakesnow[server]==0.12.1', a test-only dependency)"
            raise FileNotFoundError(msg)
        self.port = port or _free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> tuple[str, int]:
        """Start the server; return ``("127.0.0.1", port)`` once it accepts connections.

        Raises:
            RuntimeError: the process exited or did not listen within ``timeout``.
        """
        output: t.Any = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = start_listening(
            [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(self.port)],
            port=self.port,
            name="fakesnow",
            output=output,
            timeout=timeout,
        )
        return "127.0.0.1", self.port

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``."""
        process, self.process = self.process, None
        stop_process(process, timeout)


_shared: FakesnowServer | None = None


def shared_snowflake_server() -> tuple[str, int]:
    """``(host, port)`` of this process's shared server, started on the first call.

    Raises:
        FileNotFoundError: fakesnow is not installed.
    """
    global _shared
    external = os.environ.get(SNOWFLAKE_ENV, "").strip()
    if external:
        host, _, port = external.rpartition(":")
        return host, int(port)
    if _shared is None or _shared.process is None or _shared.process.poll() is not None:
        server = FakesnowServer()
        server.start()
        atexit.register(server.stop)
        _shared = server
    return "127.0.0.1", _shared.port


def snowflake_config(host: str, port: int, **keys: str) -> dict[str, str]:
    """``snowflake`` sink keys for a local server (any user and password; account ``fakesnow``)."""
    return {
        "snowflake.account.name": "fakesnow",
        "snowflake.user.name": "headwater",
        "snowflake.password": "local",
        "snowflake.database.name": "HEADWATER",
        "snowflake.schema.name": "TESTS",
        "snowflake.host": host,
        "snowflake.port": str(port),
        "snowflake.protocol": "http",
        **keys,
    }


@pytest.fixture(scope="session")
def snowflake_server() -> tuple[str, int]:
    """``(host, port)`` of a Snowflake-protocol server for the session (fakesnow, or
    ``$HEADWATER_SNOWFLAKE_HOSTPORT``). Skips the test, saying why, when fakesnow is not installed."""
    try:
        return shared_snowflake_server()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
