"""What the REST API asks of a worker, in standalone and in distributed mode.

:class:`ConnectorAdmin` is the seam between :mod:`headwater.connectors.runtime.rest`
and the two kinds of worker: :class:`StandaloneAdmin` answers for the connectors of one
process (its write operations refuse: the connectors come from files), and the
distributed herder answers for the whole cluster from the config and status topics.
The exceptions below map to Kafka Connect's status codes.
"""

from __future__ import annotations

import logging
import threading
import typing as t

from headwater.connectors.errors import HeadwaterError
from headwater.connectors.providers import reverse_transform
from headwater.connectors.runtime import offset_admin

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.metrics import WorkerMetrics
    from headwater.connectors.runtime.worker import Worker
    from headwater.connectors.settings import WorkerConfig

log = logging.getLogger(__name__)

__all__ = [
    "ConnectorAdmin",
    "ConnectorExists",
    "ConnectorNotFound",
    "ConnectorNotStopped",
    "ReadOnlyConnectors",
    "StandaloneAdmin",
    "TaskElsewhere",
    "TaskNotFound",
    "TasksStillStopping",
    "kafka_cluster_id",
]


class TaskNotFound(HeadwaterError):
    """The connector exists but has no task of that id (REST 404, Connect's ``Unknown task: c-7``)."""

    def __init__(self, name: str, task_id: int) -> None:
        super().__init__(f"Unknown task: {name}-{task_id}")


_CLUSTER_IDS: dict[str, str] = {}
_CLUSTER_IDS_LOCK = threading.Lock()


def kafka_cluster_id(config: WorkerConfig, timeout: float = 5.0) -> str | None:
    """The Kafka cluster id of the worker's broker (``GET /``'s ``kafka_cluster_id``),
    asked once per bootstrap list with AdminClient ``describe_cluster`` and cached; None
    (logged) while the broker does not answer within ``timeout`` s. Any thread."""
    key = config.bootstrap_servers
    with _CLUSTER_IDS_LOCK:
        if key in _CLUSTER_IDS:
            return _CLUSTER_IDS[key]
    from confluent_kafka.admin import AdminClient

    client_config = {"bootstrap.servers": config.bootstrap_servers, **config.producer}
    admin = AdminClient({key: value for key, value in client_config.items() if key not in _PRODUCER_ONLY})
    try:
        cluster_id = admin.describe_cluster(request_timeout=timeout).result(timeout).cluster_id
    except Exception as exc:
        log.warning("cannot read the Kafka cluster id from %s: %s", config.bootstrap_servers, exc)
        return None
    if cluster_id:
        with _CLUSTER_IDS_LOCK:
            _CLUSTER_IDS[key] = cluster_id
    return t.cast(str | None, cluster_id)


_PRODUCER_ONLY = frozenset(
    {"acks", "linger.ms", "compression.type", "enable.idempotence", "batch.size", "queue.buffering.max.ms"}
)


class ConnectorNotFound(HeadwaterError):
    """No connector of that name (REST 404)."""


class ConnectorExists(HeadwaterError):
    """``POST /connectors`` for a name that is taken: use ``PUT .../config`` to update (REST 409)."""


class ReadOnlyConnectors(HeadwaterError):
    """This worker's connectors cannot be changed over REST: edit its files (REST 405)."""


class ConnectorNotStopped(HeadwaterError):
    """Offsets change only while the connector is STOPPED: ``PUT .../stop`` first (REST 400)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for "
            f"the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )


class TasksStillStopping(HeadwaterError):
    """The connector is STOPPED but some of its tasks have not finished stopping yet:
    retry in a moment (REST 409)."""


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
    worker_config: WorkerConfig
    distributed: bool
    """Whether the connectors are the cluster's (``POST /connectors`` works) or one process's."""

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
        """Each task's config, in task id order; a key whose value was a ``${...}``
        reference shows the reference, never the resolved value."""
        ...

    def status(self, name: str) -> dict[str, t.Any]:
        """Kafka Connect's ``ConnectorStateInfo``: ``{name, connector, tasks, type}``."""
        ...

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        """The connector's offsets as ``{"partition", "offset"}`` pairs: the stored source
        offsets, or a sink's consumer-group offsets (see :mod:`.offset_admin`)."""
        ...

    def pause(self, name: str) -> None:
        """Make PAUSED the connector's target state; its tasks obey shortly after."""
        ...

    def resume(self, name: str) -> None:
        """Make STARTED the connector's target state, from PAUSED or STOPPED."""
        ...

    def stop_connector(self, name: str) -> None:
        """Make STOPPED the connector's target state: its tasks flush, commit and close;
        returns once they did (or a bounded wait ran out). The config is kept."""
        ...

    def reset_offsets(self, name: str) -> str:
        """Delete every offset of the STOPPED connector; returns Kafka Connect's message.

        Raises:
            ConnectorNotStopped: the connector's target state is not STOPPED.
            TasksStillStopping: a task of the connector has not finished stopping.
            GroupNotEmpty: a sink's consumer group still has members.
        """
        ...

    def alter_offsets(self, name: str, body: t.Mapping[str, t.Any]) -> str:
        """Apply a ``PATCH .../offsets`` body to the STOPPED connector; returns the message.

        Raises:
            InvalidOffsets: the body is malformed for the connector's kind.
            ConnectorNotStopped: the connector's target state is not STOPPED.
            TasksStillStopping: a task of the connector has not finished stopping.
            GroupNotEmpty: a sink's consumer group still has members.
        """
        ...

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        """Restart one task, or every (failed) task of the connector, now.

        Raises:
            TaskNotFound: ``task_id`` is not a task of the connector.
            TaskElsewhere: a task to restart runs on another worker (distributed mode).
        """
        ...

    def restart_connector(self, name: str) -> None:
        """Restart the connector instance (not its tasks, unless their configs change)."""
        ...

    def topics(self, name: str) -> list[str]:
        """The connector's active topics (KIP-558), sorted; none for an unknown connector, as in Connect."""
        ...

    def reset_topics(self, name: str) -> None:
        """Forget the connector's active topics."""
        ...

    def set_cluster_logger(self, logger: str, level: str) -> bool:
        """``PUT /admin/loggers/{logger}?scope=cluster``: have every worker set the level;
        False when this kind of worker has no cluster (the caller sets it locally)."""
        ...

    def create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Add connector ``{"name", "config"[, "initial_state"]}``; returns its ``ConnectorInfo``.

        ``initial_state`` (KIP-980) is ``RUNNING`` (the default), ``PAUSED`` or ``STOPPED``.

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

    distributed = False

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.worker_id = worker.worker_id
        self.metrics = worker.metrics
        self.worker_config = worker.config

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
        handle = self._handle(name)
        return [reverse_transform(handle.file.raw, config) for config in handle.task_configs]

    def status(self, name: str) -> dict[str, t.Any]:
        self._handle(name)
        return self.worker.status(name)

    def _consumer_config(self, handle: t.Any) -> dict[str, t.Any]:
        from headwater.connectors.runtime.worker import client_configs

        return client_configs(handle.file, self.worker.config)[1]

    def _scope(self, name: str) -> offset_admin.OffsetScope:
        handle = self._handle(name)
        sink = handle.type == "sink"
        return offset_admin.OffsetScope(
            name,
            sink=sink,
            store=lambda: self.worker.offset_store,
            consumer_config=lambda: self._consumer_config(handle),
            ask=lambda changes: offset_admin.ask_connector(
                handle.file.plugin_class, handle.file.plugin_config, changes, sink=sink
            ),
        )

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        return offset_admin.read_offsets(self._scope(name))

    def pause(self, name: str) -> None:
        self._handle(name)
        self.worker.pause(name)

    def resume(self, name: str) -> None:
        self._handle(name)
        self.worker.resume(name)

    def stop_connector(self, name: str) -> None:
        self._handle(name)
        self.worker.stop_connector(name)

    def _stopped(self, name: str) -> t.Any:
        handle = self._handle(name)
        if handle.target_state != "STOPPED":
            raise ConnectorNotStopped(name)
        if handle.still_stopping():
            msg = f"tasks of {name} are still stopping (flushing or stuck past the graceful timeout); retry shortly"
            raise TasksStillStopping(msg)
        return handle

    def reset_offsets(self, name: str) -> str:
        return offset_admin.reset_offsets(self._scope(name), lambda: self._stopped(name))

    def alter_offsets(self, name: str, body: t.Mapping[str, t.Any]) -> str:
        return offset_admin.alter_offsets(self._scope(name), body, lambda: self._stopped(name))

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        handle = self._handle(name)
        if task_id is not None and all(task.id != task_id for task in handle.tasks):
            raise TaskNotFound(name, task_id)
        self.worker.restart(name, task_id=task_id, only_failed=only_failed)

    def restart_connector(self, name: str) -> None:
        self._handle(name)
        self.worker.restart_connector(name)

    def topics(self, name: str) -> list[str]:
        return self.worker.topics.topics(name)

    def reset_topics(self, name: str) -> None:
        self._handle(name)
        self.worker.topics.reset(name)

    def set_cluster_logger(self, logger: str, level: str) -> bool:
        return False

    def _read_only(self) -> t.NoReturn:
        msg = "a standalone worker runs the connectors in its command line's files; edit those and restart it"
        raise ReadOnlyConnectors(msg)

    def create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        self._read_only()

    def put_config(self, name: str, config: t.Mapping[str, t.Any]) -> tuple[bool, dict[str, t.Any]]:
        self._read_only()

    def delete(self, name: str) -> None:
        self._read_only()
