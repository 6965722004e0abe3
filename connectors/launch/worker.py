"""Run real ``headwater standalone`` and ``headwater distributed`` worker processes (demo, tests, benchmarks).

Used for the crash tests: start a worker on config files, watch its REST status, kill
it with SIGKILL mid-stream, start it again, and stop it with SIGTERM. Distributed
workers get their connectors over REST (:meth:`WorkerProcess.post` and friends).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

from headwater.connectors.launch.broker import find_free_port as free_port

__all__ = ["DistributedWorkerProcess", "WorkerProcess", "free_port", "rest_request", "write_json"]


def write_json(path: Path, document: t.Any) -> Path:
    """Write ``document`` as JSON to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    return path


def rest_request(base_url: str, method: str, path: str, body: t.Any = None, timeout: float = 60) -> tuple[int, t.Any]:
    """Send ``body`` as JSON to a worker's REST API; the status code and the decoded answer
    (None if empty). Error statuses are returned, not raised, so tests can assert them."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None


class WorkerProcess:
    """One ``headwater standalone`` subprocess with its own worker file and REST port
    (``rest_port``, or a free one)."""

    def __init__(
        self,
        workdir: Path,
        bootstrap_servers: str,
        connectors: t.Sequence[t.Mapping[str, t.Any]],
        *,
        worker_overrides: t.Mapping[str, str] | None = None,
        rest_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.rest_port = rest_port or free_port()
        self.worker_file = write_json(
            workdir / "worker.json",
            {
                "bootstrap.servers": bootstrap_servers,
                "offset.storage.file.filename": str(workdir / "offsets.json"),
                "offset.flush.interval.ms": "500",
                "rest.port": str(self.rest_port),
                **(worker_overrides or {}),
            },
        )
        self.connector_files = [
            write_json(workdir / f"connector-{i}.json", connector) for i, connector in enumerate(connectors)
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "worker.log"

    def command(self) -> list[str]:
        """The ``headwater`` subcommand and arguments this process runs."""
        return ["standalone", str(self.worker_file), *map(str, self.connector_files)]

    def start(self) -> t.Self:
        """Start the worker; returns once its REST API answers."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "headwater.connectors.cli", *self.command()],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"worker exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}"
                raise RuntimeError(msg)
            try:
                self.get("/connectors")
                return self
            except (urllib.error.URLError, OSError):
                # Refused, or accepted but not yet served while the worker opens its stores.
                time.sleep(0.2)
        msg = f"worker REST did not answer within 60 s:\n{self.log_path.read_text()[-3000:]}"
        raise TimeoutError(msg)

    def get(self, path: str) -> t.Any:
        """GET a REST path and decode its JSON."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}{path}", timeout=5) as response:
            body = response.read()
        return json.loads(body) if body and path != "/metrics" else body.decode()

    def request(self, method: str, path: str, body: t.Any = None) -> tuple[int, t.Any]:
        """Send ``body`` as JSON; returns the status code and the decoded answer (None if empty).

        Error statuses are returned, not raised, so tests can assert them.
        """
        return rest_request(f"http://127.0.0.1:{self.rest_port}", method, path, body)

    def post(self, path: str, body: t.Any = None) -> tuple[int, t.Any]:
        """POST ``body`` as JSON; (status, answer)."""
        return self.request("POST", path, body)

    def put(self, path: str, body: t.Any) -> tuple[int, t.Any]:
        """PUT ``body`` as JSON; (status, answer)."""
        return self.request("PUT", path, body)

    def delete(self, path: str) -> tuple[int, t.Any]:
        """DELETE; (status, answer)."""
        return self.request("DELETE", path)

    def status(self, name: str) -> dict[str, t.Any]:
        """The connector's Kafka Connect status document."""
        return t.cast(dict[str, t.Any], self.get(f"/connectors/{name}/status"))

    def metric(self, name: str, connector: str) -> float:
        """Sum of one Prometheus series for ``connector`` (0 if absent)."""
        total = 0.0
        for line in t.cast(str, self.get("/metrics")).splitlines():
            if line.startswith(name + "{") and f'connector="{connector}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_until(self, condition: t.Callable[[], bool], timeout: float = 120, what: str = "condition") -> None:
        """Poll ``condition`` until true; raise with the worker's log tail on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                msg = f"worker died while waiting for {what}:\n{self.log_path.read_text()[-3000:]}"
                raise RuntimeError(msg)
            try:
                if condition():
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.2)
        msg = f"timed out after {timeout} s waiting for {what}:\n{self.log_path.read_text()[-3000:]}"
        raise TimeoutError(msg)

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, as a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait; returns the exit code (0 after a clean stop)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise

    def __enter__(self) -> t.Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class DistributedWorkerProcess(WorkerProcess):
    """One ``headwater distributed`` subprocess: a member of cluster ``group_id``.

    Workers built with the same ``group_id`` (and bootstrap servers) share their
    connectors and tasks; the internal topics are named after the group. Connectors are
    added over REST.
    """

    def __init__(
        self,
        workdir: Path,
        bootstrap_servers: str,
        group_id: str,
        *,
        worker_overrides: t.Mapping[str, str] | None = None,
        rest_port: int | None = None,
    ) -> None:
        distributed = {
            "group.id": group_id,
            "config.storage.topic": f"{group_id}-configs",
            "status.storage.topic": f"{group_id}-status",
            "offset.storage.topic": f"{group_id}-offsets",
            **(worker_overrides or {}),
        }
        super().__init__(workdir, bootstrap_servers, [], worker_overrides=distributed, rest_port=rest_port)

    def command(self) -> list[str]:
        return ["distributed", str(self.worker_file)]
