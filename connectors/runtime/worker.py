"""A worker process: hosts connectors' tasks, supervises them, reports their status.

Each task runs in its own thread under a supervisor that restarts it when it fails,
with doubling backoff bounded by ``task.restart.backoff.max.ms`` and at most
``task.restart.max.attempts`` times in a row (Kafka Connect leaves failed tasks failed
until someone restarts them by hand). A restarted task resumes from stored offsets.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
import traceback
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from headwater.codecs.converters import Converter, make_converter
from headwater.connectors.api import ConnectorContext, Plugin, SinkConnector, SourceConnector
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.kafka_clients import to_librdkafka
from headwater.connectors.loading import ConnectorFile
from headwater.connectors.runtime import logs
from headwater.connectors.runtime.active_topics import MemoryTopicStore, TopicStore
from headwater.connectors.runtime.metrics import ConnectorView, TaskView, WorkerMetrics
from headwater.connectors.runtime.offsets import FileOffsetStore, KafkaOffsetStore, OffsetStore
from headwater.connectors.runtime.plugin_configs import plugin_version
from headwater.connectors.runtime.sink_runner import SinkTaskRunner
from headwater.connectors.runtime.source_runner import SourceTaskRunner
from headwater.connectors.runtime.status import TaskReport
from headwater.connectors.runtime.tasks import TaskEnvironment, TaskFactory
from headwater.connectors.runtime.topics import TopicCreator, connection_settings, parse_topic_creation
from headwater.connectors.settings import RUNTIME_CONSUMER_KEYS, WorkerConfig, librdkafka_problem

__all__ = [
    "CONNECTOR_STATE",
    "RuntimeConnectorContext",
    "TargetState",
    "TaskState",
    "Worker",
    "build_converters",
    "client_configs",
    "fence_transactional_ids",
]

log = logging.getLogger(__name__)
T = t.TypeVar("T")
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


def check_clients(connector: ConnectorFile, worker: WorkerConfig) -> None:
    """Build (without connecting) the producer and consumer the connector's tasks would
    use, so that settings librdkafka refuses together (worker ``producer.*`` with the
    connector's ``producer.override.*``) fail now rather than in a task restart loop.

    Raises:
        ConfigError: naming ``producer.*`` or ``consumer.*`` with librdkafka's reason.
    """
    errors = []
    producer, consumer = client_configs(connector, worker)
    for kind, config in (("producer", producer), ("consumer", consumer)):
        problem = librdkafka_problem(t.cast(t.Literal["producer", "consumer"], kind), config)
        if problem is not None:
            errors.append(FieldError(f"{kind}.*", problem))
    if (
        worker.exactly_once_source_support == "enabled"
        and issubclass(connector.plugin_class, SourceConnector)
        and producer["bootstrap.servers"] != worker.bootstrap_servers
    ):
        # The task's transaction carries its offsets to the offset topic of the cluster it
        # writes to, where this worker never reads them.
        message = (
            "with exactly.once.source.support=enabled a source task writes its offsets in the "
            "transaction of its records, so it must write to the worker's own cluster "
            f"({worker.bootstrap_servers}); run this connector on a worker whose bootstrap.servers is "
            f"{producer['bootstrap.servers']}, or on a worker without exactly-once"
        )
        errors.append(FieldError("producer.override.bootstrap.servers", message))
    if errors:
        raise ConfigError(errors)


FETCH_QUEUE_BACKOFF_MS = "100"
"""librdkafka's ``fetch.queue.backoff.ms`` for sink consumers (its default is 1000).

Once a partition's local queue holds ``queued.min.messages`` (100,000), librdkafka stops
fetching it for this long. A sink that drains 100,000 records in less than a second then
waits on ``consume()`` for the rest of that second, every second (librdkafka issue #2879):
measured on the ``file`` sink, 1M JSON records took 10.1 s with the default, 4.4 s of it
inside ``consume()``, and 7.1 s with 100 ms. The Java consumer that Kafka Connect uses has
no such pause. ``consumer.fetch.queue.backoff.ms`` or the connector's
``consumer.override.fetch.queue.backoff.ms`` still set it."""


def client_configs(connector: ConnectorFile, worker: WorkerConfig) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Producer and consumer settings: worker ``producer.*``/``consumer.*``, then the
    connector's ``*.override.*`` (so one connector can read or write another cluster),
    then the settings the delivery guarantees depend on."""
    framework = connector.framework
    base_producer = worker.client_settings("producer")
    producer = {
        "bootstrap.servers": base_producer.pop("bootstrap.servers"),
        "linger.ms": "5",
        "compression.type": "lz4",
        **base_producer,
        **to_librdkafka(framework.producer_override)[0],
        # At-least-once with no reordering or duplicates from retries:
        "acks": "all",
        "enable.idempotence": "true",
        # Delivery reports only for failures: a Python callback per acknowledged record
        # would cost more than producing it. flush() still waits for every ack.
        "delivery.report.only.error": True,
    }
    base_consumer = worker.client_settings("consumer")
    consumer = {
        "bootstrap.servers": base_consumer.pop("bootstrap.servers"),
        "auto.offset.reset": "earliest",
        # Kafka's default. Under the classic group protocol it is also how long a
        # rebalance waits for a member that died during it (see worker.instance.id).
        "max.poll.interval.ms": "300000",
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
        **base_consumer,
        # max.poll.records stays: the sink runner takes it out before librdkafka sees it.
        **{key: value for key, value in worker.consumer.items() if key in RUNTIME_CONSUMER_KEYS},
        **to_librdkafka(framework.consumer_override)[0],
        "group.id": f"connect-{framework.name}",
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
    }
    return producer, consumer


@dataclass
class TaskState:
    """What ``/connectors/{name}/status`` shows for one task, and the handles that stop it."""

    id: int
    state: str = "UNASSIGNED"
    trace: str | None = None
    restarts: int = 0
    """Automatic restarts so far (the ``task.restart.max.attempts`` count)."""
    restart_now: threading.Event = field(default_factory=threading.Event)
    interrupt: threading.Event = field(default_factory=threading.Event)
    """Set to end the current run of the task (flush, commit, return): by a stop (``stop``
    set first) or by a restart over REST (``restart_now`` set first), after which the
    supervisor starts it again at once."""
    connector: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to stop this task alone (flush, commit, return); :meth:`Worker.stop` sets every one."""
    paused: threading.Event = field(default_factory=threading.Event)
    """Set while the connector's target state is PAUSED; the task turns PAUSED once it obeys."""
    thread: threading.Thread | None = None
    report: TaskReport = field(default_factory=TaskReport)
    """Progress, warning and plugin details (see :mod:`.status`); kept through restarts."""

    def to_json(self, worker_id: str, version: str | None = None) -> dict[str, t.Any]:
        """Kafka Connect's ``TaskState``; ``version`` is the plugin's (Connect 4.x shows it)."""
        out: dict[str, t.Any] = {"id": self.id, "state": self.state, "worker_id": worker_id}
        if version is not None:
            out["version"] = version
        if self.trace:
            out["trace"] = self.trace
        out.update(self.report.to_json())
        return out


def fence_transactional_ids(transactional_ids: t.Sequence[str], worker: WorkerConfig) -> None:
    """Initialise a producer per transactional id, which fences older ones and aborts their transactions.

    Called before offsets are read for exactly-once source tasks, so that the offsets read
    are final and no zombie of those tasks can still write.
    """
    if not transactional_ids:
        return
    from confluent_kafka import Producer

    for transactional_id in transactional_ids:
        producer = Producer(
            {**worker.client_settings("producer"), "transactional.id": transactional_id, "logger": logs.CLIENT_LOG}
        )
        producer.init_transactions(60)
        producer.flush(5)


class RuntimeConnectorContext(ConnectorContext):
    """The connector context inside a worker: a reconfiguration request calls ``on_request``.

    ``on_request`` must be cheap and thread-safe (it only schedules the work): the plugin
    may call it from any thread, even from inside ``start()`` or ``task_configs``.
    """

    def __init__(self, connector_name: str, on_request: t.Callable[[], None]) -> None:
        super().__init__(connector_name)
        self._on_request = on_request

    def request_task_reconfiguration(self) -> None:
        super().request_task_reconfiguration()
        self._on_request()


def plugin_label(plugin_class: type[t.Any]) -> str:
    """``module.Class version`` of a plugin class, as lifecycle log lines and metrics name it."""
    return f"{plugin_class.__module__}.{plugin_class.__qualname__} {plugin_version(plugin_class)}"


def _cause(exc: BaseException) -> str:
    """``Type: message`` of an exception, with the root cause when it is chained."""
    text = f"{type(exc).__name__}: {exc}"
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is not exc:
        text += f" (caused by {type(root).__name__}: {root})"
    return text


def stop_plugin(plugin: Plugin[t.Any] | None, name: str) -> None:
    """Call ``plugin.stop()``, logging (not raising) what it raises."""
    if plugin is None:
        return
    try:
        plugin.stop()
    except Exception:
        log.exception("connector %s failed to stop", name)


TargetState: t.TypeAlias = t.Literal["STARTED", "PAUSED", "STOPPED"]
"""What an operator asked a connector to be (Kafka Connect's ``TargetState``)."""

CONNECTOR_STATE: dict[str, str] = {"STARTED": "RUNNING", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}
"""The connector state the status shows for each target state (unless it FAILED)."""


@dataclass
class ConnectorHandle:
    """One connector hosted by this worker."""

    file: ConnectorFile
    type: str
    state: str = "UNASSIGNED"
    trace: str | None = None
    tasks: list[TaskState] = field(default_factory=list)
    task_configs: list[dict[str, t.Any]] = field(default_factory=list)
    target_state: TargetState = "STARTED"
    lingering: list[TaskState] = field(default_factory=list)
    """Tasks asked to stop that had not finished within the graceful timeout."""
    plugin: Plugin[t.Any] | None = None
    """The started connector instance (None while STOPPED or FAILED to start)."""

    def still_stopping(self) -> list[TaskState]:
        """The tasks of an earlier stop whose threads still run (flushing, or stuck)."""
        self.lingering = [task for task in self.lingering if task.thread is not None and task.thread.is_alive()]
        return list(self.lingering)


TaskListener: t.TypeAlias = t.Callable[[TaskState], None]


class Worker:
    """Runs connectors' tasks in threads until :meth:`stop`.

    Built with validated connectors; :meth:`start` builds each connector, splits it into
    ``tasks.max`` task configs and starts one supervised thread per task. The distributed
    herder starts no connectors itself: it calls :meth:`start_task` and :meth:`stop_tasks`
    for the tasks it owns, one at a time.
    """

    def __init__(
        self,
        config: WorkerConfig,
        connectors: t.Sequence[ConnectorFile],
        *,
        on_task_state: TaskListener | None = None,
        task_factory: TaskFactory | None = None,
    ) -> None:
        """Check the connectors and the worker config; start nothing.

        Args:
            config: the worker file.
            connectors: what :meth:`start` runs (empty for a distributed worker).
            on_task_state: called from a task's thread each time it turns RUNNING, FAILED
                or RESTARTING (never once the task was asked to stop); exceptions it
                raises are logged and ignored.
            task_factory: builds every task instead of ``task_class(config, context)``
                (the conformance suite wraps tasks or injects an emulator client).
        """
        names = [connector.framework.name for connector in connectors]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError([FieldError("name", f"connector name {name!r} used twice") for name in duplicates])
        if config.consistency_errors():
            raise ConfigError(config.consistency_errors())
        self.config = config
        self.worker_id = f"{socket.gethostname()}:{config.rest_port}"
        self.metrics = WorkerMetrics()
        self.metrics.view = self.metrics_view
        self.topics: TopicStore = MemoryTopicStore()
        """Where tasks report their active topics (the distributed herder sets its own)."""
        self.stopping = threading.Event()
        self.connectors: dict[str, ConnectorHandle] = {}
        self._tasks: list[TaskState] = []
        self._tasks_lock = threading.Lock()
        self._on_task_state = on_task_state
        self._store: OffsetStore | None = None
        self._target_lock = threading.Lock()
        self._pending = list(connectors)
        self.task_factory = task_factory
        # Every connector lifecycle call (start, task_configs, stop) runs on this one thread.
        self._lifecycle = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="connectors")
        for connector in connectors:
            build_converters(connector, config)  # fail on converter errors before anything starts

    def _open_store(self) -> OffsetStore:
        if self.config.offset_storage_topic:
            return KafkaOffsetStore(
                self.config.bootstrap_servers,
                self.config.offset_storage_topic,
                client_config={
                    k: v for k, v in self.config.client_settings("producer").items() if k != "bootstrap.servers"
                },
                partitions=self.config.offset_storage_partitions,
                replication_factor=self.config.offset_storage_replication_factor,
            )
        return FileOffsetStore(self.config.offset_storage_file_filename or DEFAULT_OFFSET_FILE)

    @property
    def offset_store(self) -> OffsetStore:
        """The store source offsets go to (opened by :meth:`start`)."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def start(self) -> None:
        """Build and start every connector and start its tasks; returns once the threads run."""
        planned: list[tuple[ConnectorFile, ConnectorHandle, list[t.Any]]] = []
        for connector in self._pending:
            is_sink = issubclass(connector.plugin_class, SinkConnector)
            handle = ConnectorHandle(connector, "sink" if is_sink else "source")
            self.connectors[connector.framework.name] = handle
            task_configs = self._plan(handle)
            if task_configs is not None:
                planned.append((connector, handle, task_configs))
        self._pending = []
        self._start_planned(planned)

    def _on_lifecycle_thread(self, call: t.Callable[[], T]) -> T:
        """Run ``call`` on the connectors' lifecycle thread and return its result."""
        if threading.current_thread().name.startswith("connectors"):
            return call()
        return self._lifecycle.submit(call).result()

    def _plan(self, handle: ConnectorHandle) -> list[t.Any] | None:
        """Start the connector unless it runs, and split it into task configs; None (and
        FAILED, the connector stopped) if ``start`` or ``task_configs`` raises."""
        return self._on_lifecycle_thread(lambda: self._plan_now(handle))

    def _plan_now(self, handle: ConnectorHandle) -> list[t.Any] | None:
        connector = handle.file
        framework = connector.framework
        with logs.bound(framework.name):
            starting = handle.plugin is None
            try:
                if starting:
                    name = framework.name
                    self.metrics.connector_startup_attempts.inc()
                    log.info("starting connector %s (%s)", name, plugin_label(connector.plugin_class))
                    context = RuntimeConnectorContext(name, lambda: self.request_reconfiguration(name))
                    plugin = connector.plugin_class(connector.plugin_config, context)
                    handle.plugin = plugin
                    plugin.start()
                assert handle.plugin is not None
                task_configs: list[t.Any] = handle.plugin.task_configs(framework.tasks_max)[: framework.tasks_max]
            except Exception as exc:
                handle.state, handle.trace = "FAILED", traceback.format_exc()
                if starting:
                    self.metrics.connector_startup_failure.inc()
                log.error("connector %s failed: %s", framework.name, _cause(exc), exc_info=True)
                plugin, handle.plugin = handle.plugin, None
                stop_plugin(plugin, framework.name)
                return None
            if starting:
                self.metrics.connector_startup_success.inc()
                log.info("connector %s started; %d task config(s)", framework.name, len(task_configs))
            else:
                log.debug("connector %s: %d task config(s)", framework.name, len(task_configs))
        handle.state, handle.trace = CONNECTOR_STATE[handle.target_state], None
        return task_configs

    def _stop_plugin(self, handle: ConnectorHandle) -> None:
        """Stop the connector instance (on the lifecycle thread), if it runs."""
        plugin, handle.plugin = handle.plugin, None
        if plugin is not None:
            name = handle.file.framework.name

            def stop() -> None:
                with logs.bound(name):
                    stop_plugin(plugin, name)
                    log.info("connector %s stopped", name)

            self._on_lifecycle_thread(stop)

    def request_reconfiguration(self, name: str) -> None:
        """Schedule :meth:`reconfigure` of connector ``name``; returns at once, safe from any thread."""
        if self.stopping.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the worker is shutting down
            self._lifecycle.submit(self._reconfigure_queued, name)

    def _reconfigure_queued(self, name: str) -> None:
        # A REST thread may hold the target lock while it waits for this thread: never
        # block on the lock here, queue the request again behind that thread's work.
        if not self._target_lock.acquire(timeout=0.05):
            self.request_reconfiguration(name)
            return
        try:
            self._reconfigure_locked(name)
        except Exception:
            log.exception("reconfiguring connector %s failed", name)
        finally:
            self._target_lock.release()

    def reconfigure(self, name: str) -> bool:
        """Call the running connector's ``task_configs`` again; when the list differs from
        the current one, restart the tasks with the new list. Returns whether it did."""
        with self._target_lock:
            return self._reconfigure_locked(name)

    def _reconfigure_locked(self, name: str) -> bool:
        handle = self.connectors.get(name)
        if handle is None or handle.plugin is None or handle.target_state == "STOPPED" or self.stopping.is_set():
            return False
        task_configs = self._plan(handle)
        if task_configs is None:
            tasks, handle.tasks, handle.task_configs = handle.tasks, [], []
            self.stop_tasks(tasks)
            return True
        dumped = [config.model_dump(by_alias=True, mode="json") for config in task_configs]
        if dumped == handle.task_configs:
            return False
        log.info("connector %s asked for new task configs: restarting its tasks", name)
        tasks, handle.tasks, handle.task_configs = handle.tasks, [], []
        if not self.stop_tasks(tasks):
            handle.lingering.extend(task for task in tasks if task.thread is not None and task.thread.is_alive())
        self._start_planned([(handle.file, handle, task_configs)])
        return True

    def _start_planned(self, planned: t.Sequence[tuple[ConnectorFile, ConnectorHandle, list[t.Any]]]) -> None:
        """Fence, then start the tasks of connectors just planned, in their target state."""
        transactional_ids = {
            (handle.file.framework.name, task_id): self._transactional_id(handle, task_id)
            for _connector, handle, task_configs in planned
            for task_id in range(len(task_configs))
        }
        # Before reading offsets, fence the previous incarnations of exactly-once tasks:
        # that aborts any transaction a crashed task left open, so the committed offsets
        # read next are final and no zombie can still write.
        fence_transactional_ids([tid for tid in transactional_ids.values() if tid is not None], self.config)
        for connector, handle, task_configs in planned:
            for task_id, task_config in enumerate(task_configs):
                handle.task_configs.append(task_config.model_dump(by_alias=True, mode="json"))
                transactional_id = transactional_ids[(connector.framework.name, task_id)]
                handle.tasks.append(
                    self.start_task(
                        connector,
                        task_id,
                        task_config,
                        transactional_id=transactional_id,
                        paused=handle.target_state == "PAUSED",
                    )
                )

    def start_task(
        self,
        connector: ConnectorFile,
        task_id: int,
        task_config: t.Any,
        *,
        transactional_id: str | None = None,
        paused: bool = False,
    ) -> TaskState:
        """Start one supervised task thread; returns its state at once.

        The caller has already fenced ``transactional_id`` (if any) and made the offset
        store current: the task reads its resume offsets from it as it starts. With
        ``paused`` the task starts PAUSED (built, but not polled or fed) until its
        ``paused`` event is cleared.
        """
        framework = connector.framework
        is_sink = issubclass(connector.plugin_class, SinkConnector)
        key_converter, value_converter = build_converters(connector, self.config)
        producer, consumer = client_configs(connector, self.config)
        state = TaskState(task_id, connector=framework.name)
        env = TaskEnvironment(
            framework=framework,
            plugin_class=connector.plugin_class,
            task_config=task_config,
            task_id=task_id,
            producer_config=self._task_client_config(producer, "producer", framework.name, task_id),
            consumer_config=self._task_client_config(consumer, "consumer", framework.name, task_id),
            key_converter=key_converter,
            value_converter=value_converter,
            offset_store=self.offset_store,
            metrics=self.metrics.for_task(framework.name, task_id, "sink" if is_sink else "source"),
            flush_interval_s=self.config.offset_flush_interval_ms / 1000,
            transactional_id=transactional_id,
            scratch_dir=Path(self.config.scratch_dir) / framework.name / str(task_id),
            plugin_metrics=self.metrics.for_plugin(
                getattr(connector.plugin_class, "name", connector.plugin_class.__name__), framework.name, task_id
            ),
            transforms=connector.transforms,
            task_factory=self.task_factory,
            report=state.report,
            topic_creator=None if is_sink else self._topic_creator(connector, producer),
            flush_timeout_s=self.config.offset_flush_timeout_ms / 1000,
            topics=self.topics.tracker(framework.name, task_id),
        )
        if paused:
            state.paused.set()
        state.thread = threading.Thread(
            target=self._supervise, args=(env, state, is_sink), name=f"{framework.name}-{task_id}", daemon=True
        )
        with self._tasks_lock:
            self._tasks.append(state)
        state.thread.start()
        return state

    def stop_tasks(self, states: t.Sequence[TaskState], timeout: float | None = None) -> bool:
        """Ask ``states``' tasks to flush and commit, and wait for them all.

        Returns False if some task did not stop within ``timeout`` (default
        ``task.shutdown.graceful.timeout.ms``); it is abandoned, still stopping.
        """
        for state in states:
            state.stop.set()
            state.interrupt.set()
            state.restart_now.set()
        deadline = time.monotonic() + (
            timeout if timeout is not None else self.config.task_shutdown_graceful_timeout_ms / 1000
        )
        clean = True
        for state in states:
            if state.thread is not None:
                state.thread.join(max(0.0, deadline - time.monotonic()))
                clean = clean and not state.thread.is_alive()
        with self._tasks_lock:
            self._tasks = [task for task in self._tasks if all(task is not state for state in states)]
        for state in states:
            self.metrics.forget_task(state.connector, state.id)
        return clean

    def hosted_tasks(self) -> list[TaskState]:
        """Every task this worker runs now (any connector)."""
        with self._tasks_lock:
            return list(self._tasks)

    def metrics_view(self) -> tuple[list[ConnectorView], list[TaskView]]:
        """The connectors and tasks the worker-level metrics count (a REST thread, at each scrape)."""
        connectors = [
            ConnectorView(
                name,
                handle.state,
                f"{handle.file.plugin_class.__module__}.{handle.file.plugin_class.__qualname__}",
                plugin_version(handle.file.plugin_class),
                handle.type,
            )
            for name, handle in list(self.connectors.items())
        ]
        tasks = [TaskView(task.connector, task.id, task.state, task.report) for task in self.hosted_tasks()]
        return connectors, tasks

    def _topic_creator(self, connector: ConnectorFile, producer: t.Mapping[str, t.Any]) -> TopicCreator | None:
        """The source task's topic creator (``topic.creation.*``), or None when the
        connector sets none or the worker has ``topic.creation.enable=false``."""
        rules, _errors = parse_topic_creation(connector.framework.topic_creation)
        if rules is None or not self.config.topic_creation_enable:
            return None
        # The cluster and credentials the task produces to, with the worker's admin.* settings.
        admin = {
            **to_librdkafka(self.config.admin)[0],
            **connection_settings(producer),
            **to_librdkafka(connector.framework.admin_override)[0],
        }
        return TopicCreator(admin, rules)

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
        return self.transactional_id(handle.file, task_id)

    def transactional_id(self, connector: ConnectorFile, task_id: int) -> str | None:
        """``<prefix>-<connector>-<task>`` for exactly-once source tasks, else None."""
        if self.config.exactly_once_source_support != "enabled" or issubclass(connector.plugin_class, SinkConnector):
            return None
        return f"{self.config.transactional_id_prefix}-{connector.framework.name}-{task_id}"

    def _report(self, state: TaskState) -> None:
        """Tell the listener about a transition, unless the task is stopping."""
        if self._on_task_state is None or state.stop.is_set():
            return
        try:
            self._on_task_state(state)
        except Exception:
            log.exception("could not report the state of task %s-%d", state.connector, state.id)

    def _supervise(self, env: TaskEnvironment, state: TaskState, is_sink: bool) -> None:
        framework = env.framework
        logs.bind(framework.name, env.task_id)
        consecutive = 0
        while not state.stop.is_set():
            state.interrupt.clear()
            if state.stop.is_set():  # a stop between the check and the clear
                return
            runner: SourceTaskRunner | SinkTaskRunner = SinkTaskRunner(env) if is_sink else SourceTaskRunner(env)
            started = time.monotonic()
            up = False
            self.metrics.task_startup_attempts.inc()
            log.info("starting task %s-%d", framework.name, env.task_id)

            def on_state(name: str, state: TaskState = state) -> None:
                nonlocal up
                if not up:
                    up = True
                    self.metrics.task_startup_success.inc()
                    log.info("task %s-%d started (%s)", framework.name, env.task_id, name)
                elif name != state.state:
                    log.info("task %s-%d is %s", framework.name, env.task_id, name)
                state.state, state.trace = name, None
                env.metrics.task_running.set(1 if name == "RUNNING" else 0)
                self._report(state)

            try:
                runner.run(state.interrupt, on_state, state.paused)
                env.metrics.task_running.set(0)
                if state.stop.is_set() or not state.restart_now.is_set():
                    state.state = "UNASSIGNED"
                    log.info("task %s-%d stopped", framework.name, env.task_id)
                    return
                state.restart_now.clear()  # restarted over REST: it flushed and committed; start again
                log.info("restarting task %s-%d on request", framework.name, env.task_id)
                state.state = "RESTARTING"
                self._report(state)
                consecutive = 0
                continue
            except Exception as exc:
                state.state, state.trace = "FAILED", traceback.format_exc()
                env.metrics.task_running.set(0)
                if not up:
                    self.metrics.task_startup_failure.inc()
                log.error("task %s-%d failed: %s", framework.name, env.task_id, _cause(exc), exc_info=True)
                self._report(state)
            # A task that ran healthily for a while earns a fresh restart budget.
            if time.monotonic() - started > framework.task_restart_backoff_max_ms / 1000:
                consecutive = 0
            limit = framework.task_restart_max_attempts
            if 0 <= limit <= consecutive:
                log.error("task %s-%d stays FAILED after %d restarts", framework.name, env.task_id, consecutive)
                state.restart_now.wait()
                if state.stop.is_set():
                    return
                state.restart_now.clear()
                consecutive = 0
                log.info("restarting task %s-%d on request", framework.name, env.task_id)
                continue
            delay = min(
                framework.task_restart_backoff_initial_ms * 2**consecutive, framework.task_restart_backoff_max_ms
            )
            log.warning("restarting task %s-%d in %.1f s", framework.name, env.task_id, delay / 1000)
            state.restart_now.wait(delay / 1000)
            state.restart_now.clear()
            if state.stop.is_set():
                return
            consecutive += 1
            state.restarts += 1
            state.state = "RESTARTING"
            env.metrics.task_restarts.inc()
            log.info("restarting task %s-%d (restart %d)", framework.name, env.task_id, state.restarts)
            self._report(state)

    def restart_connector(self, name: str) -> None:
        """Restart the connector instance (``stop()``, then ``start()`` and ``task_configs``
        again); its tasks restart only if the new task configs differ. A STOPPED connector
        stays stopped. Called from REST handler threads."""
        with self._target_lock:
            handle = self.connectors[name]
            if handle.target_state == "STOPPED" or self.stopping.is_set():
                return
            log.info("restarting connector %s", name)
            self._stop_plugin(handle)
            task_configs = self._plan(handle)
            if task_configs is None:
                tasks, handle.tasks, handle.task_configs = handle.tasks, [], []
                self.stop_tasks(tasks)
                return
            dumped = [config.model_dump(by_alias=True, mode="json") for config in task_configs]
            if dumped == handle.task_configs and handle.tasks:
                return
            tasks, handle.tasks, handle.task_configs = handle.tasks, [], []
            if not self.stop_tasks(tasks):
                handle.lingering.extend(task for task in tasks if task.thread is not None and task.thread.is_alive())
            self._start_planned([(handle.file, handle, task_configs)])

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        """Restart one task, or every (failed) task of a connector, now."""
        for state in self.connectors[name].tasks:
            if (task_id is None or state.id == task_id) and (not only_failed or state.state == "FAILED"):
                state.restart_now.set()
                state.interrupt.set()

    def pause(self, name: str) -> None:
        """Target state PAUSED: running tasks stop polling (sources) or consuming (sinks).

        Returns at once; each task shows PAUSED once it has flushed and committed. A
        STOPPED connector gets its tasks back, started paused (as Kafka Connect does).
        Called from REST handler threads; idempotent.
        """
        self._set_target_state(name, "PAUSED")

    def resume(self, name: str) -> None:
        """Target state STARTED: paused tasks continue where they were, a STOPPED
        connector is built again and its tasks start from the stored offsets. Idempotent."""
        self._set_target_state(name, "STARTED")

    def stop_connector(self, name: str) -> bool:
        """Target state STOPPED (KIP-875): stop the connector's tasks gracefully (flush,
        commit, close) and wait for them; the config is kept and :meth:`resume` starts
        them again. Returns False if a task outlived the graceful timeout (it is still
        listed by :meth:`ConnectorHandle.still_stopping`). Idempotent."""
        return self._set_target_state(name, "STOPPED")

    def _set_target_state(self, name: str, target: TargetState) -> bool:
        with self._target_lock:
            handle = self.connectors[name]
            previous, handle.target_state = handle.target_state, target
            if target == "STOPPED":
                tasks, handle.tasks, handle.task_configs = handle.tasks, [], []
                handle.state, handle.trace = "STOPPED", None
                stopped = not tasks or self.stop_tasks(tasks)
                self._stop_plugin(handle)
                if stopped:
                    return True
                handle.lingering.extend(task for task in tasks if task.thread is not None and task.thread.is_alive())
                log.error("tasks of %s did not stop within task.shutdown.graceful.timeout.ms", name)
                return False
            if previous == "STOPPED" or not handle.tasks:
                task_configs = self._plan(handle)
                if task_configs is not None:
                    self._start_planned([(handle.file, handle, task_configs)])
                return True
            for task in handle.tasks:
                if target == "PAUSED":
                    task.paused.set()
                else:
                    task.paused.clear()
            if handle.state != "FAILED":
                handle.state = CONNECTOR_STATE[target]
            return True

    def status(self, name: str) -> dict[str, t.Any]:
        """Kafka Connect's ``ConnectorStateInfo`` for ``name``."""
        handle = self.connectors[name]
        version = plugin_version(handle.file.plugin_class)
        connector: dict[str, t.Any] = {"state": handle.state, "worker_id": self.worker_id, "version": version}
        if handle.trace:
            connector["trace"] = handle.trace
        return {
            "name": name,
            "connector": connector,
            "tasks": [task.to_json(self.worker_id, version) for task in handle.tasks],
            "type": handle.type,
        }

    def stop(self, timeout: float | None = None) -> bool:
        """Ask every task to flush and commit, wait for them, close the offset store.

        Returns False if some task did not stop within the graceful timeout.
        """
        self.stopping.set()
        with self._tasks_lock:
            states = list(self._tasks)
        clean = self.stop_tasks(states, timeout)
        for handle in self.connectors.values():
            self._stop_plugin(handle)
        self._lifecycle.shutdown(wait=True, cancel_futures=True)
        if self._store is not None:
            self._store.close()
        return clean

    def wait(self) -> None:
        """Block until :meth:`stop` is called (from a signal handler or another thread)."""
        while not self.stopping.wait(0.5):
            pass
