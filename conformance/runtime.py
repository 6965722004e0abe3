"""An in-process worker for tests: the real runtime on a real broker, without a subprocess."""

from __future__ import annotations

import contextlib
import time
import typing as t
import uuid
from pathlib import Path

from headwater.connectors.loading import ConnectorFile, parse_connector
from headwater.connectors.runtime.tasks import TaskFactory
from headwater.connectors.runtime.worker import Worker
from headwater.connectors.settings import WorkerConfig

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.distributed import DistributedHerder
    from headwater.connectors.runtime.rest import RestServer
    from headwater.connectors.runtime.rest_security import Authenticator

__all__ = ["in_process_distributed", "in_process_worker", "wait_for"]


def in_process_worker(
    bootstrap_servers: str,
    folder: Path,
    connectors: t.Sequence[ConnectorFile | t.Mapping[str, t.Any]],
    *,
    task_factory: TaskFactory | None = None,
    **worker_settings: t.Any,
) -> Worker:
    """A :class:`Worker` (not started) with a file offset store in ``folder``.

    ``connectors`` are parsed connector files or ``{"name", "config"}`` documents; offsets
    are flushed every 200 ms so tests see them quickly; REST is not started. Every task
    is built through ``task_factory`` when given (see :class:`Worker`).
    """
    settings: dict[str, t.Any] = {
        "bootstrap_servers": bootstrap_servers,
        "offset_storage_file_filename": str(folder / "offsets.json"),
        "offset_flush_interval_ms": 200,
        "rest_port": 0,
        **worker_settings,
    }
    files = [c if isinstance(c, ConnectorFile) else parse_connector(c) for c in connectors]
    return Worker(WorkerConfig(**settings), files, task_factory=task_factory)


def wait_for(
    condition: t.Callable[[], bool],
    *,
    timeout: float = 60.0,
    what: str = "condition",
    worker: Worker | None = None,
) -> None:
    """Poll ``condition`` until it holds.

    Raises:
        AssertionError: on timeout, or at once when a task of ``worker`` is FAILED (with
            its trace), so a broken pipeline fails fast instead of timing out.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if worker is not None:
            for name in worker.connectors:
                for task in worker.status(name)["tasks"]:
                    assert task["state"] != "FAILED", f"{name} task {task['id']} failed:\n{task.get('trace')}"
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


@contextlib.contextmanager
def in_process_distributed(
    bootstrap_servers: str,
    folder: Path,
    *,
    group_id: str | None = None,
    auth: Authenticator | None = None,
    **worker_settings: t.Any,
) -> t.Iterator[tuple[DistributedHerder, RestServer]]:
    """A started distributed worker and its REST server on a free port, stopped on exit.

    Workers given the same ``group_id`` (default: a fresh one) form one cluster; its
    internal topics are named after the group. Failure detection is quick (6 s sessions),
    the task slots few (4) and offsets flushed every 200 ms, so tests see changes fast.
    The worker id is ``127.0.0.1:<port>``, published with its URL so the group's workers
    forward requests to each other; with ``auth`` the REST API requires a caller it knows.
    """
    from headwater.connectors.runtime.distributed import DistributedHerder
    from headwater.connectors.runtime.rest import RestServer

    group = group_id or f"hw-{uuid.uuid4().hex[:8]}"
    settings: dict[str, t.Any] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": group,
        "config_storage_topic": f"{group}-configs",
        "status_storage_topic": f"{group}-status",
        "offset_storage_topic": f"{group}-offsets",
        "task_slots": 4,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "offset_flush_interval_ms": 200,
        "task_shutdown_graceful_timeout_ms": 5000,
        "scratch_dir": str(folder / "scratch"),
        **worker_settings,
    }
    herder = DistributedHerder(WorkerConfig(**settings))
    rest = RestServer(herder, "127.0.0.1", 0, auth=auth)
    herder.worker_id = f"127.0.0.1:{rest.port}"
    herder.forwarding.url = rest.url
    herder.start()
    rest.start()
    try:
        yield herder, rest
    finally:
        rest.stop()
        herder.stopping.set()
        herder.stop()
