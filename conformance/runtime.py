"""An in-process worker for tests: the real runtime on a real broker, without a subprocess."""

from __future__ import annotations

import time
import typing as t
from pathlib import Path

from headwater.connectors.loading import ConnectorFile, parse_connector
from headwater.connectors.runtime.tasks import TaskFactory
from headwater.connectors.runtime.worker import Worker
from headwater.connectors.settings import WorkerConfig

__all__ = ["in_process_worker", "wait_for"]


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
