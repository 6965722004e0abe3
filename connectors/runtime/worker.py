"""A worker process: hosts connectors' tasks, supervises them, reports their status.

Each task runs in its own thread under a supervisor that restarts it when it fails,
with doubling backoff bounded by ``task.restart.backoff.max.ms`` and at most
``task.restart.max.attempts`` times in a row (Kafka Connect leaves failed tasks failed
until someone restarts them by hand). A restarted task resumes from stored offsets.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
import typing as t
from dataclasses import dataclass, field

from headwater.codecs.converters import Converter, make_converter
from headwater.connectors.api import SinkConnector
from headwater.connectors.config import ConnectorFile, WorkerConfig
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.runtime.metrics import WorkerMetrics
from headwater.connectors.runtime.offsets import FileOffsetStore, KafkaOffsetStore, OffsetStore
from headwater.connectors.runtime.tasks import SinkTaskRunner, SourceTaskRunner, TaskEnvironment

__all__ = ["TaskState", "Worker", "build_converters", "client_configs"]

log = logging.getLogger(__name__)
DEFAULT_OFFSET_FILE = ".headwater/connect.offsets.json"


def build_converters(connector: ConnectorFile, worker: WorkerConfig) -> tuple[Converter, Converter]:
    """The key and value converters of a connector, worker defaults filled in.

    Raises:
        ConfigError: naming ``key.converter``/``value.converter`` or their options.
    """
    framework = connector.framework
    errors: list[FieldError] = []
    converters: list[Converter] = []
    for key, name, options in (
        (
            "key.converter",
            framework.key_converter or worker.key_converter,
            {**worker.key_converter_config, **framework.key_converter_config},
        ),
        (
            "value.converter",
            framework.value_converter or worker.value_converter,
            {**worker.value_converter_config, **framework.value_converter_config},
        ),
    ):
        try:
            converters.append(make_converter(name, options, key=key))
        except ConfigError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigError(errors)
    return converters[0], converters[1]


def client_configs(connector: ConnectorFile, worker: WorkerConfig) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Producer and consumer settings: worker ``producer.*``/``consumer.*``, then the
    connector's ``*.override.*`` (so one connector can read or write another cluster),
    then the settings the delivery guarantees depend on."""
    framework = connector.framework
    producer = {
        "bootstrap.servers": worker.bootstrap_servers,
        "linger.ms": "5",
        "compression.type": "lz4",
        **worker.producer,
        **framework.producer_override,
        # At-least-once with no reordering or duplicates from retries:
        "acks": "all",
        "enable.idempotence": "true",
        # Delivery reports only for failures: a Python callback per acknowledged record
        # would cost more than producing it. flush() still waits for every ack.
        "delivery.report.only.error": True,
    }
    consumer = {
        "bootstrap.servers": worker.bootstrap_servers,
        "auto.offset.reset": "earliest",
        # Kafka's default. Under the classic group protocol it is also how long a
        # rebalance waits for a member that died during it (see worker.instance.id).
        "max.poll.interval.ms": "300000",
        # A topics.regex subscription sees new topics only on a metadata refresh, which
        # librdkafka does every 5 minutes by default: far too slow for CDC topics that
        # appear while the sink runs.
        **({"topic.metadata.refresh.interval.ms": "2000"} if framework.topics_regex else {}),
        **worker.consumer,
        **framework.consumer_override,
        "group.id": f"connect-{framework.name}",
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
    }
    return producer, consumer


@dataclass
class TaskState:
    """What ``/connectors/{name}/status`` shows for one task."""

    id: int
    state: str = "UNASSIGNED"
    trace: str | None = None
    restarts: int = 0
    restart_now: threading.Event = field(default_factory=threading.Event)

    def to_json(self, worker_id: str) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"id": self.id, "state": self.state, "worker_id": worker_id}
        if self.trace:
            out["trace"] = self.trace
        return out


def _fence(transactional_ids: t.Sequence[str], worker: WorkerConfig) -> None:
    """Initialise a producer per transactional id, which fences older ones and aborts their transactions."""
    if not transactional_ids:
        return
    from confluent_kafka import Producer

    for transactional_id in transactional_ids:
        producer = Producer(
            {"bootstrap.servers": worker.bootstrap_servers, **worker.producer, "transactional.id": transactional_id}
        )
        producer.init_transactions(60)
        producer.flush(5)


@dataclass
class ConnectorHandle:
    """One connector hosted by this worker."""

    file: ConnectorFile
    type: str
    state: str = "UNASSIGNED"
    trace: str | None = None
    tasks: list[TaskState] = field(default_factory=list)
    task_configs: list[dict[str, t.Any]] = field(default_factory=list)


class Worker:
    """Runs connectors' tasks in threads until :meth:`stop`.

    Built with validated connectors; :meth:`start` builds each connector, splits it into
    ``tasks.max`` task configs and starts one supervised thread per task.
    """

    def __init__(self, config: WorkerConfig, connectors: t.Sequence[ConnectorFile]) -> None:
        names = [connector.framework.name for connector in connectors]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError([FieldError("name", f"connector name {name!r} used twice") for name in duplicates])
        if config.consistency_errors():
            raise ConfigError(config.consistency_errors())
        self.config = config
        self.worker_id = f"{socket.gethostname()}:{config.rest_port}"
        self.metrics = WorkerMetrics()
        self.stopping = threading.Event()
        self.connectors: dict[str, ConnectorHandle] = {}
        self._threads: list[threading.Thread] = []
        self._store: OffsetStore | None = None
        self._pending = list(connectors)
        for connector in connectors:
            build_converters(connector, config)  # fail on converter errors before anything starts

    def _open_store(self) -> OffsetStore:
        if self.config.offset_storage_topic:
            return KafkaOffsetStore(
                self.config.bootstrap_servers, self.config.offset_storage_topic, client_config=self.config.producer
            )
        return FileOffsetStore(self.config.offset_storage_file_filename or DEFAULT_OFFSET_FILE)

    @property
    def offset_store(self) -> OffsetStore:
        """The store source offsets go to (opened by :meth:`start`)."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def start(self) -> None:
        """Build every connector and start its tasks; returns once the threads run."""
        planned: list[tuple[ConnectorFile, ConnectorHandle, list[t.Any]]] = []
        for connector in self._pending:
            framework = connector.framework
            is_sink = issubclass(connector.plugin_class, SinkConnector)
            handle = ConnectorHandle(connector, "sink" if is_sink else "source")
            self.connectors[framework.name] = handle
            try:
                plugin = connector.plugin_class(connector.plugin_config)
                task_configs = plugin.task_configs(framework.tasks_max)[: framework.tasks_max]
            except Exception:
                handle.state, handle.trace = "FAILED", traceback.format_exc()
                log.exception("connector %s failed to start", framework.name)
                continue
            handle.state = "RUNNING"
            planned.append((connector, handle, task_configs))
        self._pending = []
        transactional_ids = {
            (handle.file.framework.name, task_id): self._transactional_id(handle, task_id)
            for _connector, handle, task_configs in planned
            for task_id in range(len(task_configs))
        }
        # Before reading offsets, fence the previous incarnations of exactly-once tasks:
        # that aborts any transaction a crashed task left open, so the committed offsets
        # read next are final and no zombie can still write.
        _fence([tid for tid in transactional_ids.values() if tid is not None], self.config)
        store = self.offset_store
        for connector, handle, task_configs in planned:
            framework = connector.framework
            is_sink = handle.type == "sink"
            key_converter, value_converter = build_converters(connector, self.config)
            producer, consumer = client_configs(connector, self.config)
            for task_id, task_config in enumerate(task_configs):
                state = TaskState(task_id)
                handle.tasks.append(state)
                handle.task_configs.append(task_config.model_dump(by_alias=True, mode="json"))
                env = TaskEnvironment(
                    framework=framework,
                    plugin_class=connector.plugin_class,
                    task_config=task_config,
                    task_id=task_id,
                    producer_config=self._task_client_config(producer, "producer", framework.name, task_id),
                    consumer_config=self._task_client_config(consumer, "consumer", framework.name, task_id),
                    key_converter=key_converter,
                    value_converter=value_converter,
                    offset_store=store,
                    metrics=self.metrics.for_task(framework.name, task_id),
                    flush_interval_s=self.config.offset_flush_interval_ms / 1000,
                    transactional_id=transactional_ids[(framework.name, task_id)],
                )
                thread = threading.Thread(
                    target=self._supervise, args=(env, state, is_sink), name=f"{framework.name}-{task_id}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _task_client_config(
        self, config: dict[str, t.Any], kind: str, connector: str, task_id: int
    ) -> dict[str, t.Any]:
        """Kafka Connect's per-task ``client.id`` (unless set), and the static group member
        id of a sink task's consumer when the worker has a ``worker.instance.id``."""
        task_config = {"client.id": f"connector-{kind}-{connector}-{task_id}", **config}
        if kind == "consumer" and self.config.worker_instance_id:
            task_config["group.instance.id"] = f"{self.config.worker_instance_id}-{connector}-{task_id}"
        return task_config

    def _transactional_id(self, handle: ConnectorHandle, task_id: int) -> str | None:
        """``<prefix>-<connector>-<task>`` for exactly-once source tasks, else None."""
        if self.config.exactly_once_source_support != "enabled" or handle.type == "sink":
            return None
        return f"{self.config.transactional_id_prefix}-{handle.file.framework.name}-{task_id}"

    def _supervise(self, env: TaskEnvironment, state: TaskState, is_sink: bool) -> None:
        framework = env.framework
        consecutive = 0
        while not self.stopping.is_set():
            runner: SourceTaskRunner | SinkTaskRunner = SinkTaskRunner(env) if is_sink else SourceTaskRunner(env)
            started = time.monotonic()

            def running(state: TaskState = state) -> None:
                state.state, state.trace = "RUNNING", None
                env.metrics.task_running.set(1)

            try:
                runner.run(self.stopping, running)
                state.state = "UNASSIGNED"
                env.metrics.task_running.set(0)
                return
            except Exception:
                state.state, state.trace = "FAILED", traceback.format_exc()
                env.metrics.task_running.set(0)
                log.error("task %s-%d failed:\n%s", framework.name, env.task_id, state.trace)
            # A task that ran healthily for a while earns a fresh restart budget.
            if time.monotonic() - started > framework.task_restart_backoff_max_ms / 1000:
                consecutive = 0
            limit = framework.task_restart_max_attempts
            if 0 <= limit <= consecutive:
                log.error("task %s-%d stays FAILED after %d restarts", framework.name, env.task_id, consecutive)
                state.restart_now.wait()
                if self.stopping.is_set():
                    return
                state.restart_now.clear()
                consecutive = 0
                continue
            delay = min(
                framework.task_restart_backoff_initial_ms * 2**consecutive, framework.task_restart_backoff_max_ms
            )
            log.warning("restarting task %s-%d in %.1f s", framework.name, env.task_id, delay / 1000)
            state.restart_now.wait(delay / 1000)
            state.restart_now.clear()
            if self.stopping.is_set():
                return
            consecutive += 1
            state.restarts += 1
            state.state = "RESTARTING"
            env.metrics.task_restarts.inc()

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        """Restart one task, or every (failed) task of a connector, now."""
        for state in self.connectors[name].tasks:
            if (task_id is None or state.id == task_id) and (not only_failed or state.state == "FAILED"):
                state.restart_now.set()

    def status(self, name: str) -> dict[str, t.Any]:
        """Kafka Connect's ``ConnectorStateInfo`` for ``name``."""
        handle = self.connectors[name]
        connector: dict[str, t.Any] = {"state": handle.state, "worker_id": self.worker_id}
        if handle.trace:
            connector["trace"] = handle.trace
        return {
            "name": name,
            "connector": connector,
            "tasks": [task.to_json(self.worker_id) for task in handle.tasks],
            "type": handle.type,
        }

    def stop(self, timeout: float | None = None) -> bool:
        """Ask every task to flush and commit, wait for them, close the offset store.

        Returns False if some task did not stop within the graceful timeout.
        """
        self.stopping.set()
        for handle in self.connectors.values():
            for state in handle.tasks:
                state.restart_now.set()
        deadline = time.monotonic() + (
            timeout if timeout is not None else self.config.task_shutdown_graceful_timeout_ms / 1000
        )
        clean = True
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            clean = clean and not thread.is_alive()
        if self._store is not None:
            self._store.close()
        return clean

    def wait(self) -> None:
        """Block until :meth:`stop` is called (from a signal handler or another thread)."""
        while not self.stopping.wait(0.5):
            pass
