"""Test servers run as child processes (SecantusDB, fakesnow): start until they listen, stop.

Tooling for fixtures, not runtime code. Both helpers are called from the test process's
main thread (session fixtures), never concurrently for one process.
"""

from __future__ import annotations

import socket
import subprocess
import time
import typing as t

__all__ = ["start_listening", "stop_process"]


def start_listening(
    command: t.Sequence[str],
    *,
    port: int,
    name: str,
    output: t.Any,
    timeout: float,
    poll_s: float = 0.1,
    env: t.Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` (with environment ``env``, else this process's) and return once it
    accepts TCP connections on 127.0.0.1:``port``.

    Raises:
        RuntimeError: naming ``name`` and the port, when the process exits first or does
            not listen within ``timeout`` seconds (it is stopped then).
    """
    process = subprocess.Popen(list(command), stdout=output, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"{name} exited with {process.returncode} on port {port}"
            raise RuntimeError(msg)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(poll_s)
    stop_process(process)
    msg = f"{name} did not listen on port {port} within {timeout} s"
    raise RuntimeError(msg)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if ``process`` does not exit within ``timeout``; None or an
    exited process is left as it is."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
