"""A Snowflake-protocol server for tests: fakesnow's server mode, and the ``snowflake_server`` fixture.

fakesnow (PyPI ``fakesnow[server]``, test-only) answers the real
``snowflake-connector-python`` over HTTP, on DuckDB: VARIANT, PARSE_JSON, stages with
PUT and COPY INTO, MERGE, transactions. :class:`FakesnowServer` runs
``python -m fakesnow -s`` on a free port of 127.0.0.1; :func:`shared_snowflake_server`
starts one per test process on first use, and the session fixture
:func:`snowflake_server` hands its ``(host, port)`` to tests (skipping them, with the
reason, when fakesnow is not installed). ``$HEADWATER_SNOWFLAKE_HOSTPORT``
(``host:port``, plain HTTP) points the fixture at another server instead.

fakesnow makes a ``fakesnow_bucket_*`` folder (its stages) with ``tempfile`` when it is
imported: the server runs with ``TMPDIR`` set to a folder of its own, removed when it
stops, and nothing in the test process imports fakesnow, so tests leave nothing in /tmp.

Known limits of fakesnow 0.12.1 (the sink works around them):

- ``MERGE`` runs as ``CREATE TEMPORARY TABLE`` + ``DELETE``/``UPDATE``/``INSERT``. After an
  explicit ``BEGIN`` it fails with HTTP 500 (DuckDB refuses the temporary table's comment
  in fakesnow's own catalog database once the transaction wrote the user's). With
  autocommit off (implicit transactions, what the sink uses) it works and its changes
  commit or roll back with the transaction, but the ``CREATE`` commits whatever the
  transaction did before the ``MERGE``: a ``MERGE`` must be the first change of its
  transaction.
- A session that dies inside a transaction keeps it open for ever (Snowflake aborts it
  when the session expires): later writes to the rows it changed conflict.
- A failed statement answers HTTP 500, which the driver retries until its
  ``network_timeout``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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
    """One ``python -m fakesnow -s`` process on 127.0.0.1 (state in memory, lost on stop;
    its stage files live in a temporary folder removed on stop)."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        if importlib.util.find_spec("fakesnow") is None:
            msg = "fakesnow is not installed (pip install 'fakesnow[server]==0.12.1', a test-only dependency)"
            raise FileNotFoundError(msg)
        self.port = port or _free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.tmp_dir: Path | None = None

    def start(self, timeout: float = 60.0) -> tuple[str, int]:
        """Start the server; return ``("127.0.0.1", port)`` once it accepts connections.

        Raises:
            RuntimeError: the process exited or did not listen within ``timeout``.
        """
        output: t.Any = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="headwater-fakesnow-"))
        try:
            self.process = start_listening(
                [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(self.port)],
                port=self.port,
                name="fakesnow",
                output=output,
                timeout=timeout,
                env={**os.environ, "TMPDIR": str(self.tmp_dir)},
            )
        except BaseException:
            self._remove_tmp()
            raise
        return "127.0.0.1", self.port

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``; then remove its
        temporary folder (stage files, ``fakesnow_bucket_*``)."""
        process, self.process = self.process, None
        try:
            stop_process(process, timeout)
        finally:
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        tmp_dir, self.tmp_dir = self.tmp_dir, None
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


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
