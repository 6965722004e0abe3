"""A real MongoDB-wire server for tests: SecantusDB, and the ``mongodb_uri`` fixture.

SecantusDB (PyPI ``secantusdb``, GPL-2.0, a test-only dependency) speaks MongoDB's wire
protocol on WiredTiger: real upserts, real E11000 duplicate-key errors, bulk write
errors with indexes. :class:`SecantusServer` runs ``secantusd-py`` on a free port of
127.0.0.1; :func:`shared_mongodb_uri` starts one per test process on first use, and the
session fixture :func:`mongodb_uri` hands its URI to tests (skipping them, with the
reason, when ``secantusd-py`` is not installed). ``$HEADWATER_MONGODB_URI`` points the
fixture at another server instead (e.g. a real ``mongod``); it is neither started nor
stopped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from headwater.codecs.envelope import canonical_key
from headwater.conformance.servers import start_listening, stop_process

__all__ = [
    "MONGODB_URI_ENV",
    "SecantusServer",
    "mongodb_uri",
    "read_state",
    "secantusd_executable",
    "shared_mongodb_uri",
]

#: When set, the fixture uses this server instead of starting SecantusDB.
MONGODB_URI_ENV = "HEADWATER_MONGODB_URI"


def secantusd_executable() -> str | None:
    """The ``secantusd-py`` launcher: next to this Python first, then on ``$PATH``."""
    beside = Path(sys.executable).with_name("secantusd-py")
    if beside.exists():
        return str(beside)
    return shutil.which("secantusd-py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SecantusServer:
    """One ``secantusd-py`` process on 127.0.0.1.

    ``storage_path`` is a WiredTiger folder that survives a :meth:`stop` and
    :meth:`start` on the same port (use it to take the server away and bring it back
    with its data); ``:memory:`` (the default) loses everything on stop.
    """

    def __init__(
        self, *, port: int | None = None, storage_path: str | Path = ":memory:", log_path: Path | None = None
    ) -> None:
        executable = secantusd_executable()
        if executable is None:
            msg = "secantusd-py is not installed (pip install secantusdb, a test-only dependency)"
            raise FileNotFoundError(msg)
        self.executable = executable
        self.port = port or _free_port()
        self.storage_path = str(storage_path)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """``mongodb://127.0.0.1:<port>/?directConnection=true``."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and return its URI once it accepts connections.

        Raises:
            RuntimeError: the process exited or did not listen within ``timeout``.
        """
        output: t.Any = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = start_listening(
            [
                self.executable,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                self.storage_path,
                "--log-level",
                "WARNING",
            ],
            port=self.port,
            name="secantusd-py",
            output=output,
            timeout=timeout,
            poll_s=0.05,
        )
        return self.uri

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``."""
        process, self.process = self.process, None
        stop_process(process, timeout)

    def __enter__(self) -> SecantusServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_shared: SecantusServer | None = None


def shared_mongodb_uri() -> str:
    """The URI of this process's shared server, started on the first call.

    ``$HEADWATER_MONGODB_URI`` wins when set. The server stops when the process exits.
    Tests that give each case its own collection name can all share it.

    Raises:
        FileNotFoundError: ``secantusd-py`` is not installed.
    """
    global _shared
    external = os.environ.get(MONGODB_URI_ENV, "").strip()
    if external:
        return external
    if _shared is None or _shared.process is None or _shared.process.poll() is not None:
        server = SecantusServer()
        server.start()
        atexit.register(server.stop)
        _shared = server
    return _shared.uri


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    """A MongoDB URI for the whole session (SecantusDB, or ``$HEADWATER_MONGODB_URI``).

    Skips the test, saying why, when ``secantusd-py`` is not installed.
    """
    try:
        return shared_mongodb_uri()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _plain(value: t.Any) -> t.Any:
    """BSON types back to what the sink was given (Decimal128 -> Decimal)."""
    from bson.decimal128 import Decimal128

    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def read_state(uri: str, database: str, collection: str) -> dict[str, dict[str, t.Any]]:
    """A collection as canonical key of ``_id`` -> document without ``_id``.

    For a collection the ``mongodb`` sink wrote in CDC mode this is directly
    comparable with :func:`headwater.codecs.envelope.fold` of the change stream.
    """
    import pymongo

    client: t.Any = pymongo.MongoClient(uri, uuidRepresentation="standard")
    try:
        state: dict[str, dict[str, t.Any]] = {}
        for document in client[database][collection].find():
            document_id = _plain(document.pop("_id"))
            state[canonical_key(document_id)] = _plain(document)
        return state
    finally:
        client.close()
