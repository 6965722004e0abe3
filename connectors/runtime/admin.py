"""What the REST API asks of a worker, in standalone and in distributed mode.

:class:`ConnectorAdmin` is the seam between :mod:`headwater.connectors.runtime.rest`
and the two kinds of worker: :class:`StandaloneAdmin` answers for the connectors of one
process (its write operations refuse: the connectors come from files), and the
distributed herder answers for the whole cluster from the config and status topics.
The exceptions below map to Kafka Connect's status codes.
"""

from __future__ import annotations

import typing as t

from headwater.connectors.errors import HeadwaterError
from headwater.connectors.runtime.offsets import ConnectorOffsets

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.metrics import WorkerMetrics
    from headwater.connectors.runtime.worker import Worker

__all__ = [
    "ConnectorAdmin",
    "ConnectorExists",
    "ConnectorNotFound",
    "ReadOnlyConnectors",
    "StandaloneAdmin",
    "TaskElsewhere",
]


class ConnectorNotFound(HeadwaterError):
    """No connector of that name (REST 404)."""


class ConnectorExists(HeadwaterError):
    """``POST /connectors`` for a name that is taken: use ``PUT .../config`` to update (REST 409)."""


class ReadOnlyConnectors(HeadwaterError):
    """This worker's connectors cannot be changed over REST: edit its files (REST 405)."""


class TaskElsewhere(HeadwaterError):
    """The task runs on another worker: send the request to that worker (REST 409)."""

    def __init__(self, message: str, worker_ids: t.Collection[str]) -> None:
        super().__init__(message)
        self.worker_ids = sorted(worker_ids)


class ConnectorAdmin(t.Protocol):
    """The connectors a REST server answers for.

    Every method that takes a connector name raises :class:`ConnectorNotFound` for an
    unknown one. Configs in answers have their secrets hidden.
    """

    worker_id: str
    metrics: WorkerMetrics

    def names(self) -> list[str]:
        """Every connector's name, sorted."""
        ...

    def exists(self, name: str) -> bool:
        """Whether connector ``name`` exists."""
        ...

    def info(self, name: str) -> dict[str, t.Any]:
        """Kafka Connect's ``ConnectorInfo``: ``{name, config, tasks, type}``."""
        ...

    def config(self, name: str) -> dict[str, t.Any]:
        """The flat config as written (providers unresolved), secrets hidden."""
        ...

    def task_configs(self, name: str) -> list[dict[str, t.Any]]:
        """Each task's config, in task id order."""
        ...

    def status(self, name: str) -> dict[str, t.Any]:
        """Kafka Connect's ``ConnectorStateInfo``: ``{name, connector, tasks, type}``."""
        ...

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        """The connector's stored source offsets as ``{"partition", "offset"}`` pairs."""
        ...

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        """Restart one task, or every (failed) task of the connector, now.

        Raises:
            TaskElsewhere: a task to restart runs on another worker.
        """
        ...

    def create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Add connector ``{"name", "config"}``; returns its ``ConnectorInfo``.

        Raises:
            ConfigError: one entry per invalid key; nothing was written.
            ConnectorExists: the name is taken.
            ReadOnlyConnectors: this worker takes its connectors from files.
        """
        ...

    def put_config(self, name: str, config: t.Mapping[str, t.Any]) -> tuple[bool, dict[str, t.Any]]:
        """Create or replace connector ``name``'s config; returns (created, ``ConnectorInfo``).

        Raises:
            ConfigError: one entry per invalid key; nothing was written.
            ReadOnlyConnectors: this worker takes its connectors from files.
        """
        ...

    def delete(self, name: str) -> None:
        """Remove connector ``name``; its tasks stop on whichever worker runs them.

        Raises:
            ReadOnlyConnectors: this worker takes its connectors from files.
        """
        ...


class StandaloneAdmin:
    """The connectors of one standalone worker, given on its command line."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.worker_id = worker.worker_id
        self.metrics = worker.metrics

    def _handle(self, name: str) -> t.Any:
        handle = self.worker.connectors.get(name)
        if handle is None:
            msg = f"Connector {name} not found"
            raise ConnectorNotFound(msg)
        return handle

    def names(self) -> list[str]:
        return sorted(self.worker.connectors)

    def exists(self, name: str) -> bool:
        return name in self.worker.connectors

    def info(self, name: str) -> dict[str, t.Any]:
        handle = self._handle(name)
        tasks = [{"connector": name, "task": state.id} for state in handle.tasks]
        return {"name": name, "config": handle.file.redacted(), "tasks": tasks, "type": handle.type}

    def config(self, name: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self._handle(name).file.redacted())

    def task_configs(self, name: str) -> list[dict[str, t.Any]]:
        return list(self._handle(name).task_configs)

    def status(self, name: str) -> dict[str, t.Any]:
        self._handle(name)
        return self.worker.status(name)

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        if self._handle(name).type == "sink":
            return []
        pairs = ConnectorOffsets(self.worker.offset_store, name).all()
        return [{"partition": partition, "offset": offset} for partition, offset in pairs]

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        self._handle(name)
        self.worker.restart(name, task_id=task_id, only_failed=only_failed)

    def _read_only(self) -> t.NoReturn:
        msg = "a standalone worker runs the connectors in its command line's files; edit those and restart it"
        raise ReadOnlyConnectors(msg)

    def create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        self._read_only()

    def put_config(self, name: str, config: t.Mapping[str, t.Any]) -> tuple[bool, dict[str, t.Any]]:
        self._read_only()

    def delete(self, name: str) -> None:
        self._read_only()
