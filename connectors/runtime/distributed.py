"""Distributed mode: N identical workers share connectors and tasks through Kafka alone.

There is no cluster protocol of our own. Three Kafka mechanisms do the work:

- **Connector configs** live in ``config.storage.topic`` (compacted, one partition; key
  ``connector-<name>``, value the ``{"name", "config"}`` document as the user sent it,
  ``${env:}``/``${file:}`` references unresolved, a tombstone on delete). Every worker
  tails it into a :class:`~headwater.connectors.runtime.tables.TopicTable`; any worker
  accepts REST writes.
- **Target states** (Kafka Connect's ``TargetState``) live in the config topic too:
  ``target-state-<name>`` → ``{"state": "STARTED"|"PAUSED"|"STOPPED"}``, absent meaning
  STARTED. Every worker applies it to the tasks it runs: it starts no task of a STOPPED
  connector and starts or holds the tasks of a PAUSED one paused, so a task that moves
  to another worker keeps its target state.
- **Statuses** live in ``status.storage.topic`` the same way (``status-connector-<name>``,
  ``status-task-<name>-<id>`` → ``{"state", "trace", "worker_id"}``), written by the
  worker that owns the task, so every worker answers ``GET .../status`` for the cluster.
- **Task assignment** is a Kafka consumer group: every worker joins group ``group.id``
  subscribed to ``task.slots.topic`` (``task.slots`` partitions, never written to); a
  worker runs exactly the tasks whose slot is one of its assigned partitions (see
  :func:`task_slot`).

How the group rebalances is ``connect.protocol``:

- ``sessioned``/``compatible`` (the default): incremental cooperative rebalancing with
  Kafka's ``cooperative-sticky`` assignor. The assignor keeps every slot where it is
  and moves only as many as balance the slot counts; it revokes them in a first round
  (``on_revoke`` lists just those) and hands them to their new owners in a second, so
  a worker stops (flushes, commits) only the tasks of the slots it gives away, and the
  new owner starts them only after that. Every other task keeps running. The sticky
  assignor hands out contiguous runs of slots, so a connector's tasks take slots
  ``crc32(c) + id * stride`` with ``stride`` about ``0.38 * task.slots`` (a golden-ratio
  step): any run of slots holds about its share of any connector's tasks.
- ``eager`` (the first protocol, kept so that a cluster of older workers keeps
  working): ``roundrobin`` assignor and consecutive slots ``crc32(c) + id``, which
  roundrobin deals over the workers. On every membership change each worker stops all
  its tasks before it gives its slots back; then each starts the tasks of its new slots.

Either way no two workers run the same task: slots are given up only after their
tasks stopped. A source task moving from another worker first has its exactly-once
producer fenced and the offset store re-read, so it resumes from that worker's last
durable offsets; a sink task's consumer commits what it flushed when it stops.

- **Task configs** are computed once, by the connector's *leader*: the worker that owns
  the slot of the connector's task 0 runs the connector instance (``start()``,
  ``task_configs``, ``stop()``) and stores the list in the config topic as Kafka
  Connect's ``KafkaConfigBackingStore`` does: ``task-<name>-<n>`` →
  ``{"properties": {...}}`` for each task, then ``commit-<name>`` → ``{"tasks": N}``
  (plus ``config.hash``, the connector config the list was computed from, so that no
  worker starts tasks from the list of an older config). Every worker starts its tasks
  from the committed list (taken as of the commit record, in log order), never by
  calling ``task_configs``, so the list may depend on the moment (a snapshot SCN), and a
  ``request_task_reconfiguration()`` reaches every worker: the leader calls
  ``task_configs`` again and stores the new list if it differs. A STOPPED connector's
  list is committed empty, as Kafka Connect does. ``${env:}``/``${file:}`` references
  are stored unresolved where a task keeps the connector's value.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import traceback
import typing as t
import zlib
from dataclasses import dataclass, field

import orjson
from pydantic import SecretStr

from headwater.connectors.api import SinkConnector
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.loading import ConnectorFile, parse_connector
from headwater.connectors.providers import resolve_providers, reverse_transform
from headwater.connectors.runtime import logs, offset_admin
from headwater.connectors.runtime.active_topics import StatusTopicStore
from headwater.connectors.runtime.admin import (
    ConnectorExists,
    ConnectorNotFound,
    ConnectorNotStopped,
    TaskElsewhere,
    TaskNotFound,
    TasksStillStopping,
)
from headwater.connectors.runtime.forwarding import Forwarding
from headwater.connectors.runtime.loggers import CLUSTER_LOGGER_PREFIX, cluster_logger_listener
from headwater.connectors.runtime.logs import CLIENT_LOG
from headwater.connectors.runtime.metrics import ConnectorView, RebalanceStats, TaskView
from headwater.connectors.runtime.offsets import KafkaOffsetStore
from headwater.connectors.runtime.plugin_configs import plugin_version
from headwater.connectors.runtime.status import PUBLISH_INTERVAL_S
from headwater.connectors.runtime.tables import TopicTable
from headwater.connectors.runtime.worker import (
    CONNECTOR_STATE,
    RuntimeConnectorContext,
    TargetState,
    TaskState,
    Worker,
    build_converters,
    check_clients,
    client_configs,
    fence_transactional_ids,
    plugin_label,
    stop_plugin,
)
from headwater.connectors.settings import WorkerConfig

__all__ = ["ConnectorPlan", "DistributedHerder", "config_hash", "slot_stride", "task_properties", "task_slot"]

log = logging.getLogger(__name__)

CONNECTOR_PREFIX = "connector-"
TASK_PREFIX = "task-"
COMMIT_PREFIX = "commit-"
CONFIG_HASH = "config.hash"
"""Our addition to Kafka Connect's ``commit-<name>`` value: the hash of the connector
document the committed task list was computed from."""
TARGET_STATE_PREFIX = "target-state-"
INITIAL_STATES: dict[str, TargetState] = {"RUNNING": "STARTED", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}
"""``initial_state`` of ``POST /connectors`` (KIP-980) → the target state stored."""
CONNECTOR_STATUS_PREFIX = "status-connector-"
TASK_STATUS_PREFIX = "status-task-"
POLL_INTERVAL_S = 0.2
_OWN_STATUS_KEYS = frozenset({"id", "state", "trace", "worker_id"})
"""Status-topic fields every task entry has; the others (progress, warning, plugin details) are copied as they are."""
PROTOCOL_WARNING_INTERVAL_S = 60.0


def slot_stride(slots: int) -> int:
    """The distance between the slots of a connector's consecutive tasks under the
    incremental protocol: the integer nearest ``slots * (3 - sqrt 5) / 2`` that is
    coprime with ``slots`` (25 of 64), so that a connector's first ``slots`` tasks take
    distinct slots and any contiguous run of slots holds about its share of them (a
    golden-ratio sequence)."""
    stride = max(1, round(slots * (3 - math.sqrt(5)) / 2))
    while math.gcd(stride, slots) != 1:
        stride += 1
    return stride


def task_slot(connector: str, task_id: int, slots: int, *, eager: bool = False) -> int:
    """The slot (partition of ``task.slots.topic``) of task ``task_id`` of ``connector``.

    Every worker computes the same slot from the task's identity alone:
    ``(crc32(connector) + task_id * slot_stride(slots)) % slots``, or consecutive slots
    ``(crc32(connector) + task_id) % slots`` under ``connect.protocol=eager``. Task 0's
    slot (the same under both) also owns the connector instance and its status.
    """
    step = 1 if eager else slot_stride(slots)
    return (zlib.crc32(connector.encode()) + task_id * step) % slots


def _properties(plan: ConnectorPlan, task_id: int) -> dict[str, t.Any]:
    return plan.stored[task_id] if plan.stored is not None and task_id < len(plan.stored) else {}


def _task_status_key(connector: str, task_id: int) -> str:
    return f"{TASK_STATUS_PREFIX}{connector}-{task_id}"


def _parse_status_key(key: str) -> tuple[str, int | None] | None:
    """``(connector, task id)`` of a status key; the id is None for a connector status."""
    if key.startswith(CONNECTOR_STATUS_PREFIX):
        return key[len(CONNECTOR_STATUS_PREFIX) :], None
    if key.startswith(TASK_STATUS_PREFIX):
        name, _, task = key[len(TASK_STATUS_PREFIX) :].rpartition("-")
        if name and task.isdigit():
            return name, int(task)
    return None


@dataclass(frozen=True)
class ConnectorPlan:
    """One stored connector config and its committed task configs, as this worker sees them."""

    document: dict[str, t.Any]
    """``{"name", "config"}`` as stored (providers unresolved)."""
    connector: ConnectorFile | None
    """None when the config does not resolve or validate on this worker (see ``error``)."""
    task_configs: tuple[t.Any, ...] = ()
    """The committed task configs, validated; empty until the leader committed a list."""
    error: str | None = None
    stored: tuple[dict[str, t.Any], ...] | None = None
    """The committed ``properties`` of each task (providers unresolved), or None while no
    list is committed for this document."""

    @property
    def type(self) -> str:
        if self.connector is not None and issubclass(self.connector.plugin_class, SinkConnector):
            return "sink"
        return "source"


@dataclass
class _OwnedTask:
    state: TaskState
    document: dict[str, t.Any]
    properties: dict[str, t.Any]


@dataclass
class _Leader:
    """The connector instance this worker runs as the connector's leader."""

    document: dict[str, t.Any]
    plugin: t.Any
    computed: bool = False
    """Whether ``task_configs`` was called since ``start()``."""


@dataclass
class _Committed:
    """A ``commit-<name>`` record and the task records as they were when it was read."""

    commit: dict[str, t.Any]
    tasks: list[dict[str, t.Any] | None] = field(default_factory=list)


def config_hash(document: t.Mapping[str, t.Any]) -> str:
    """The hash of a stored connector document that a task list was computed from."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def task_properties(connector: ConnectorFile, task_config: PluginConfig) -> dict[str, t.Any]:
    """A task config as stored in ``task-<name>-<n>``: dotted keys, JSON values, secrets
    revealed, and the connector's own ``${env:}``/``${file:}`` reference where the task
    keeps the value it resolves to (so a resolved secret is not written out)."""
    dumped = task_config.model_dump(by_alias=True, mode="json")
    base = connector.plugin_config.model_dump(by_alias=True, mode="json")
    out: dict[str, t.Any] = {}
    for name, info in type(task_config).model_fields.items():
        key = info.alias or name
        value = getattr(task_config, name)
        out[key] = value.get_secret_value() if isinstance(value, SecretStr) else dumped.get(key)
        raw = connector.raw.get(key)
        if isinstance(raw, str) and "${" in raw and key in base:
            base_value = getattr(connector.plugin_config, name)
            if base_value == value:
                out[key] = raw
    return out


def _parse(
    document: dict[str, t.Any], stored: tuple[dict[str, t.Any], ...] | None, worker: WorkerConfig
) -> ConnectorPlan:
    """Resolve and validate one stored connector document and its committed task configs."""
    try:
        connector = parse_connector(document, worker=worker, remote=True)
    except ConfigError as exc:
        return ConnectorPlan(document, None, error=f"invalid config: {exc}", stored=stored)
    if stored is None:
        return ConnectorPlan(document, connector)
    task_configs = []
    for task_id, properties in enumerate(stored):
        try:
            policy = worker.provider_policy(remote=True)
            resolved = {key: resolve_providers(value, key=key, policy=policy) for key, value in properties.items()}
            task_configs.append(connector.plugin_class.config_class.model_validate(resolved))
        except Exception as exc:
            error = f"the stored config of task {task_id} does not validate on this worker: {exc}"
            return ConnectorPlan(document, connector, error=error, stored=stored)
    return ConnectorPlan(document, connector, tuple(task_configs), stored=stored)


class DistributedHerder:
    """One distributed worker: the group member, the shared tables and the local tasks.

    :meth:`start` reads the config and status topics and joins the group; from then on
    the group thread starts and stops tasks on every assignment and config change, until
    :meth:`stop`. REST handler threads call the read methods and :meth:`create`,
    :meth:`put_config`, :meth:`delete`, :meth:`restart`, :meth:`pause`, :meth:`resume`,
    :meth:`stop_connector` and the offset changes (this class implements
    :class:`~headwater.connectors.runtime.admin.ConnectorAdmin`).
    """

    def __init__(self, config: WorkerConfig) -> None:
        """Check the worker config; connect to nothing yet.

        Raises:
            ConfigError: naming each key distributed mode needs and the file lacks.
        """
        errors = config.distributed_errors()
        if errors:
            raise ConfigError(errors)
        self.worker_config = config
        self.worker = Worker(config, [], on_task_state=self._task_state_changed)
        self.metrics = self.worker.metrics
        self.metrics.view = self._metrics_view
        self.metrics.rebalance = RebalanceStats()
        self._published_at = 0.0
        self._published: dict[tuple[str, int], dict[str, t.Any]] = {}
        """The status extras last written for each task (what :meth:`_publish_task_extras` compares)."""
        self.stopping = threading.Event()
        common = config.client_settings("producer")
        self.configs = TopicTable(
            common,
            t.cast(str, config.config_storage_topic),
            purpose="config topic",
            replication_factor=config.config_storage_replication_factor,
        )
        self.statuses = TopicTable(
            common,
            t.cast(str, config.status_storage_topic),
            purpose="status topic",
            replication_factor=config.status_storage_replication_factor,
        )
        self.distributed = True
        self.worker.topics = StatusTopicStore(self.statuses)
        self.forwarding = Forwarding(self.statuses, config, lambda: self.worker_id, self.leads)
        """Where REST requests go that another worker must answer (see :mod:`.forwarding`)."""
        self.configs.add_listener(cluster_logger_listener)
        self._plans: dict[str, ConnectorPlan] = {}
        self._plans_lock = threading.Lock()
        self._eager = config.connect_protocol == "eager"
        self._owned_slots: set[int] | None = None
        """Slots assigned to this worker; None until its first assignment. Group thread
        only: the rebalance callbacks add and remove slots (all of them at once under
        the eager protocol, only the moving ones under the cooperative one)."""
        self._running: dict[tuple[str, int], _OwnedTask] = {}
        self._committed: dict[str, _Committed] = {}
        self._committed_lock = threading.Lock()
        self._leaders: dict[str, _Leader] = {}
        """Connectors this worker leads (owner of their task-0 slot); group thread only."""
        self._leader_errors: dict[str, tuple[dict[str, t.Any], str]] = {}
        """Connector -> (document, trace) of a ``start``/``task_configs`` that raised here."""
        self._requested: set[str] = set()
        self._restart_leaders: set[str] = set()
        """Connectors whose instance a REST restart asked to stop and start again."""
        self._requested_lock = threading.Lock()
        self._dirty = threading.Event()
        self._group_thread: threading.Thread | None = None
        self._clean = True

    def _slot(self, connector: str, task_id: int) -> int:
        """:func:`task_slot` under this worker's ``connect.protocol``."""
        return task_slot(connector, task_id, self.worker_config.task_slots, eager=self._eager)

    @property
    def worker_id(self) -> str:
        """``host:port`` of this worker's REST API, as status entries name it."""
        return self.worker.worker_id

    @worker_id.setter
    def worker_id(self, value: str) -> None:
        self.worker.worker_id = value

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Open the offset store, read the config and status topics, create the slots
        topic and join the group (in a thread); returns before the first assignment.

        Raises:
            RetriableError: Kafka is unreachable or a topic cannot be created or read.
        """
        from headwater.connectors.runtime.topics import ensure_topic

        self.worker.offset_store  # noqa: B018  (opens and reads the offset topic now, not in a task's start)
        self.configs.add_listener(self._config_changed)
        self.configs.start()
        self.statuses.start()
        self.forwarding.start()
        ensure_topic(
            self.worker_config.client_settings("admin"),
            self.worker_config.slots_topic,
            purpose="task slots topic",
            partitions=self.worker_config.task_slots,
        )
        self._group_thread = threading.Thread(target=self._run_group, name="group", daemon=True)
        self._group_thread.start()

    def _config_changed(self, key: str, value: dict[str, t.Any] | None) -> None:
        """From the config table's reader thread, in log order: snapshot the task records
        as each commit record is read (Kafka Connect applies task configs on commit)."""
        if key.startswith(COMMIT_PREFIX):
            name = key[len(COMMIT_PREFIX) :]
            with self._committed_lock:
                if value is None:
                    self._committed.pop(name, None)
                else:
                    count = int(value.get("tasks", 0))
                    tasks = [self.configs.get(f"{TASK_PREFIX}{name}-{task_id}") for task_id in range(count)]
                    self._committed[name] = _Committed(value, tasks)
        self._dirty.set()

    def _stored(self, name: str, document: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], ...] | None:
        """The committed task properties of ``name`` computed from ``document``, or None."""
        with self._committed_lock:
            committed = self._committed.get(name)
        if committed is None or committed.commit.get(CONFIG_HASH) != config_hash(document):
            return None
        if any(task is None or not isinstance(task.get("properties"), dict) for task in committed.tasks):
            return None
        return tuple(t.cast(dict[str, t.Any], task)["properties"] for task in committed.tasks)

    def _request_reconfiguration(self, name: str) -> None:
        """From any thread: the connector asked for new task configs."""
        with self._requested_lock:
            self._requested.add(name)
        self._dirty.set()

    def wait(self) -> None:
        """Block until :meth:`stop` is requested (``stopping`` set by a signal handler)."""
        while not self.stopping.wait(0.5):
            pass

    def stop(self) -> bool:
        """Stop every task (flush, commit), leave the group, close the tables.

        Returns False if some task did not stop within ``task.shutdown.graceful.timeout.ms``.
        """
        self.stopping.set()
        if self._group_thread is not None:
            self._group_thread.join(self.worker_config.task_shutdown_graceful_timeout_ms / 1000 + 30)
        stopped = self.worker.stop()  # closes the offset store; no task is left running by now
        self.forwarding.stop()
        clean = self._clean and stopped
        self.configs.close()
        self.statuses.close()
        return clean

    # -- the group -------------------------------------------------------------------

    def _group_config(self) -> dict[str, t.Any]:
        config = self.worker_config
        return {
            # Client security and consumer.* (without Kafka Connect's max.poll.records).
            **config.client_settings("consumer"),
            "group.id": config.group_id,
            "client.id": f"headwater-worker-{self.worker_id}",
            "partition.assignment.strategy": "roundrobin" if self._eager else "cooperative-sticky",
            "session.timeout.ms": str(config.session_timeout_ms),
            "heartbeat.interval.ms": str(config.heartbeat_interval_ms),
            "max.poll.interval.ms": str(config.rebalance_timeout_ms),
            "enable.auto.commit": "false",
            "auto.offset.reset": "latest",
            # A static member restarted within its session gets its slots back with no
            # rebalance, so the other workers' tasks keep running through its restart.
            **({"group.instance.id": config.worker_instance_id} if config.worker_instance_id else {}),
        }

    def _run_group(self) -> None:
        """The group thread: poll to stay in the group; reconcile on every change.

        Assignment callbacks run inside ``poll``, in this thread, so assignments and
        config changes are handled one at a time and never race.
        """
        from confluent_kafka import Consumer, KafkaError

        consumer = Consumer({**self._group_config(), "logger": CLIENT_LOG})
        consumer.subscribe(
            [self.worker_config.slots_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self.metrics.rebalance.started()  # joining the group is the first rebalance
        protocol_warned = 0.0
        try:
            while not self.stopping.is_set():
                self._publish_task_extras()
                message = consumer.poll(POLL_INTERVAL_S)
                error = message.error() if message is not None else None
                if error is not None and error.code() == KafkaError.INCONSISTENT_GROUP_PROTOCOL:
                    # It keeps retrying (and runs nothing): it joins once the others are gone.
                    if time.monotonic() - protocol_warned > PROTOCOL_WARNING_INTERVAL_S:
                        protocol_warned = time.monotonic()
                        log.error(
                            "cannot join group %s: its workers rebalance with another connect.protocol than this "
                            "worker's %s (eager uses roundrobin, compatible and sessioned cooperative-sticky); "
                            "give every worker the same connect.protocol. Retrying; no task runs here meanwhile.",
                            self.worker_config.group_id,
                            self.worker_config.connect_protocol,
                        )
                elif error is not None:
                    log.warning("group %s: %s", self.worker_config.group_id, error)
                if self._dirty.is_set() and self._owned_slots is not None:
                    self._dirty.clear()
                    self._reconcile()
        except Exception:
            log.exception("the group thread failed; stopping the worker")
            self._clean = False  # the worker exits non-zero, so a supervisor restarts it
            self.stopping.set()
        finally:
            self._stop_owned(list(self._running), reason="worker stopping")
            self._stop_leaders(list(self._leaders))
            self._owned_slots = None
            consumer.close()  # leaves the group: the others take the slots at once

    def _on_assign(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """From ``poll`` in the group thread: ``partitions`` are added to this worker's
        slots (under the cooperative protocol only the new ones, possibly none; under the
        eager one the whole assignment). Starts the tasks of the owned slots not running;
        the client assigns the partitions when this returns."""
        added = {partition.partition for partition in partitions}
        self._owned_slots = (self._owned_slots or set()) | added
        if added or self._eager:
            log.info(
                "rebalance done: assigned %d task slot(s) of %s, %d owned",
                len(added),
                self.worker_config.slots_topic,
                len(self._owned_slots),
            )
        if self.metrics.rebalance is not None:
            self.metrics.rebalance.completed()
        self._guarded(self._reconcile)
        self._guarded(self.forwarding.assigned)

    def leads(self) -> bool:
        """Whether this worker leads the group now: it owns slot 0, so it carries out every
        config change (see :mod:`.forwarding`). Any thread."""
        return 0 in (self._owned_slots or ())

    def _on_revoke(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """From ``poll`` in the group thread, before ``partitions`` go to other workers:
        stop (flush, commit) the tasks and connector instances of exactly those slots.
        The group waits for this (up to ``rebalance.timeout.ms``) before it assigns the
        slots elsewhere, so a task never runs on two workers."""
        revoked = {partition.partition for partition in partitions}
        if not revoked:
            return
        if self.metrics.rebalance is not None:
            self.metrics.rebalance.started()
        self._owned_slots = (self._owned_slots or set()) - revoked
        moving = [key for key in self._running if self._slot(*key) in revoked]
        log.info("rebalance: giving back %d task slot(s); stopping %d task(s)", len(revoked), len(moving))
        self._guarded(lambda: self._stop_owned(moving, reason="its slot moves to another worker"))
        self._guarded(lambda: self._stop_leaders([name for name in self._leaders if self._slot(name, 0) in revoked]))

    def _on_lost(self, consumer: t.Any, partitions: list[t.Any]) -> None:
        """The session expired: other workers may run these tasks already; stop them now."""
        log.warning("lost %d task slot(s) (session expired)", len(partitions))
        self._on_revoke(consumer, partitions)

    def _guarded(self, action: t.Callable[[], None]) -> None:
        # An exception escaping a rebalance callback would surface from poll() far from
        # its cause; log it here and let the next change retry.
        try:
            action()
        except Exception:
            log.exception("handling a task assignment failed")
            self._dirty.set()

    # -- reconciling -----------------------------------------------------------------

    def plan(self, name: str) -> ConnectorPlan | None:
        """Connector ``name``'s current plan (cached per stored document and committed
        task list), or None."""
        document = self.configs.get(CONNECTOR_PREFIX + name)
        if document is None:
            return None
        stored = self._stored(name, document)
        with self._plans_lock:
            cached = self._plans.get(name)
            if cached is not None and cached.document == document and cached.stored == stored:
                return cached
        plan = _parse(document, stored, self.worker_config)
        with self._plans_lock:
            self._plans[name] = plan
        return plan

    def _plans_now(self) -> dict[str, ConnectorPlan]:
        plans = {}
        for key in self.configs.items(CONNECTOR_PREFIX):
            name = key[len(CONNECTOR_PREFIX) :]
            plan = self.plan(name)
            if plan is not None:
                plans[name] = plan
        with self._plans_lock:
            for name in set(self._plans) - set(plans):
                del self._plans[name]
        return plans

    def _reconcile(self) -> None:
        """Make the running tasks exactly the owned tasks of the stored configs.

        Called from the group thread only. Stops tasks whose slot is not owned or whose
        connector was changed or deleted, then starts the owned tasks not running.
        """
        owned = self._owned_slots
        if owned is None:
            return
        plans = self._plans_now()
        targets = {name: self.target_state(name) for name in plans}
        if self._lead(plans, targets, owned):
            plans = self._plans_now()  # with the task lists this worker just committed
        desired: dict[tuple[str, int], tuple[ConnectorPlan, t.Any]] = {}
        for name, plan in plans.items():
            if targets[name] == "STOPPED":
                continue
            for task_id, task_config in enumerate(plan.task_configs if plan.error is None else ()):
                if self._slot(name, task_id) in owned:
                    desired[(name, task_id)] = (plan, task_config)
        stale = [
            key
            for key, task in self._running.items()
            if key not in desired
            or desired[key][0].document != task.document
            or _properties(desired[key][0], key[1]) != task.properties
        ]
        self._stop_owned(stale, reason="config changed, connector stopped or task moved", desired=desired)
        for (name, _task_id), task in self._running.items():
            if targets[name] == "PAUSED":
                task.state.paused.set()
            else:
                task.state.paused.clear()
        starting = [key for key in desired if key not in self._running]
        sources = [key for key in starting if desired[key][0].type == "source"]
        if sources:
            transactional_ids = [
                tid
                for name, task_id in sources
                if (tid := self.worker.transactional_id(t.cast(ConnectorFile, plans[name].connector), task_id))
            ]
            fence_transactional_ids(transactional_ids, self.worker_config)
            store = self.worker.offset_store
            if isinstance(store, KafkaOffsetStore):
                store.refresh()
        for key in starting:
            plan, task_config = desired[key]
            connector = t.cast(ConnectorFile, plan.connector)
            name, task_id = key
            try:
                state = self.worker.start_task(
                    connector,
                    task_id,
                    task_config,
                    transactional_id=self.worker.transactional_id(connector, task_id),
                    paused=targets[name] == "PAUSED",
                )
            except ConfigError as exc:  # e.g. a converter this worker cannot build
                self._write_status(_task_status_key(name, task_id), "FAILED", str(exc))
                continue
            self._running[key] = _OwnedTask(state, plan.document, _properties(plan, task_id))
            log.info("started task %s-%d (slot %d)", name, task_id, self._slot(name, task_id))
        self._write_connector_statuses(plans, targets, owned)
        self._collect_statuses(plans, targets, owned)

    def _lead(
        self, plans: t.Mapping[str, ConnectorPlan], targets: t.Mapping[str, TargetState], owned: set[int]
    ) -> bool:
        """Run the connectors whose task-0 slot this worker owns and commit their task lists.

        Starts the connector (``start()``) when this worker becomes its leader or its
        config changed, calls ``task_configs`` then and after each reconfiguration
        request, and stores the list when it differs from the committed one (an empty
        list while STOPPED). Stops the connectors it no longer leads. Group thread only.
        Returns whether it committed anything.
        """
        with self._requested_lock:
            requested, self._requested = self._requested, set()
            restarting, self._restart_leaders = self._restart_leaders, set()
        self._stop_leaders(sorted(restarting & set(self._leaders)))
        leading = {
            name
            for name, plan in plans.items()
            if plan.connector is not None and self._slot(name, 0) in owned and targets[name] != "STOPPED"
        }
        self._stop_leaders(
            [
                name
                for name, leader in self._leaders.items()
                if name not in leading or leader.document != plans[name].document
            ]
        )
        wrote = False
        for name, plan in plans.items():
            if targets[name] == "STOPPED" and self._slot(name, 0) in owned:
                wrote = self._commit_task_list(name, plan, []) or wrote
        for name in sorted(leading):
            plan = plans[name]
            connector = t.cast(ConnectorFile, plan.connector)
            failed = self._leader_errors.get(name)
            if failed is not None and failed[0] == plan.document and name not in requested:
                continue  # failed on this config already: wait for a change
            leader = self._leaders.get(name)
            starting = leader is None
            try:
                if leader is None:
                    self._connector_starting(name, connector)
                    context = RuntimeConnectorContext(name, lambda name=name: self._request_reconfiguration(name))
                    leader = _Leader(plan.document, connector.plugin_class(connector.plugin_config, context))
                    self._leaders[name] = leader
                    leader.plugin.start()
                    self._connector_started(name)
                if not leader.computed or name in requested:
                    tasks_max = connector.framework.tasks_max
                    task_configs = list(leader.plugin.task_configs(tasks_max)[:tasks_max])
                    leader.computed = True
                    properties = [task_properties(connector, config) for config in task_configs]
                    wrote = self._commit_task_list(name, plan, properties) or wrote
                self._leader_errors.pop(name, None)
            except Exception:
                if starting:
                    self.metrics.connector_startup_failure.inc()
                with logs.bound(name):
                    log.exception("connector %s failed", name)
                self._leader_errors[name] = (plan.document, traceback.format_exc())
                self._stop_leaders([name])
        return wrote

    def _connector_starting(self, name: str, connector: ConnectorFile) -> None:
        self.metrics.connector_startup_attempts.inc()
        with logs.bound(name):
            log.info("starting connector %s (%s) as its leader", name, plugin_label(connector.plugin_class))

    def _connector_started(self, name: str) -> None:
        self.metrics.connector_startup_success.inc()
        with logs.bound(name):
            log.info("connector %s started", name)

    def _commit_task_list(self, name: str, plan: ConnectorPlan, properties: list[dict[str, t.Any]]) -> bool:
        """Write ``task-<name>-<n>`` records then ``commit-<name>``, unless that list is committed."""
        if plan.stored is not None and list(plan.stored) == properties:
            return False
        for task_id, task in enumerate(properties):
            self.configs.put(f"{TASK_PREFIX}{name}-{task_id}", {"properties": task})
        self.configs.put(COMMIT_PREFIX + name, {"tasks": len(properties), CONFIG_HASH: config_hash(plan.document)})
        log.info("committed %d task config(s) of connector %s", len(properties), name)
        return True

    def _stop_leaders(self, names: t.Sequence[str]) -> None:
        """Stop the connector instances this worker runs for ``names`` (``Plugin.stop``)."""
        for name in names:
            leader = self._leaders.pop(name, None)
            if leader is not None:
                stop_plugin(leader.plugin, name)

    def _stop_owned(
        self,
        keys: t.Sequence[tuple[str, int]],
        *,
        reason: str,
        desired: t.Mapping[tuple[str, int], t.Any] | None = None,
    ) -> None:
        """Stop tasks ``keys`` gracefully and wait for them; mark the ones still wanted
        somewhere UNASSIGNED (deleted ones are cleared by :meth:`_collect_statuses`)."""
        tasks = [self._running.pop(key) for key in keys if key in self._running]
        if not tasks:
            return
        log.info("stopping %d task(s): %s", len(tasks), reason)
        clean = self.worker.stop_tasks([task.state for task in tasks])
        if not clean:
            self._clean = False
            log.error("some tasks did not stop within task.shutdown.graceful.timeout.ms")
            return  # a task still stopping may yet report; do not claim it stopped
        for task in tasks:
            name, task_id = task.state.connector, task.state.id
            log.info("stopped task %s-%d (slot %d): %s", name, task_id, self._slot(name, task_id), reason)
        entries: dict[str, dict[str, t.Any] | None] = {}
        for task in tasks:
            key = (task.state.connector, task.state.id)
            if desired is not None and key in desired:
                continue  # restarting here at once with its new config
            if self.configs.get(CONNECTOR_PREFIX + key[0]) is not None:
                entries[_task_status_key(*key)] = self._status_value("UNASSIGNED", None)
        self._put_statuses(entries)

    def _write_connector_statuses(
        self, plans: t.Mapping[str, ConnectorPlan], targets: t.Mapping[str, TargetState], owned: set[int]
    ) -> None:
        """The owner of a connector's task-0 slot reports the connector's own state."""
        entries: dict[str, dict[str, t.Any] | None] = {}
        for name, plan in plans.items():
            if self._slot(name, 0) not in owned:
                continue
            failed = self._leader_errors.get(name)
            error = plan.error or (failed[1] if failed is not None and failed[0] == plan.document else None)
            value = self._status_value("FAILED" if error else CONNECTOR_STATE[targets[name]], error)
            if self.statuses.get(CONNECTOR_STATUS_PREFIX + name) != value:
                entries[CONNECTOR_STATUS_PREFIX + name] = value
        self._put_statuses(entries)

    def _collect_statuses(
        self, plans: t.Mapping[str, ConnectorPlan], targets: t.Mapping[str, TargetState], owned: set[int]
    ) -> None:
        """Tombstone the status entries of deleted connectors and of task ids beyond a
        connector's task count (zero while STOPPED), each by the worker owning the entry's slot."""
        entries: dict[str, dict[str, t.Any] | None] = {}
        for key in self.statuses.items("status-"):
            parsed = _parse_status_key(key)
            if parsed is None:
                continue
            name, task_id = parsed
            plan = plans.get(name)
            gone = plan is None or (
                task_id is not None
                and (targets.get(name) == "STOPPED" or (plan.error is None and task_id >= len(plan.task_configs)))
            )
            if gone and self._slot(name, task_id or 0) in owned:
                entries[key] = None
        self._put_statuses(entries)

    def _status_value(self, state: str, trace: str | None) -> dict[str, t.Any]:
        return {"state": state, "trace": trace, "worker_id": self.worker_id}

    def _write_status(self, key: str, state: str, trace: str | None) -> None:
        self._put_statuses({key: self._status_value(state, trace)})

    def _put_statuses(self, entries: t.Mapping[str, dict[str, t.Any] | None]) -> None:
        for key, value in entries.items():
            try:
                self.statuses.put(key, value)
            except Exception:
                log.exception("could not write %s to the status topic", key)

    def _task_state_changed(self, state: TaskState) -> None:
        """From a task's thread: it turned RUNNING, FAILED or RESTARTING."""
        extras = state.report.to_json()
        self._published[(state.connector, state.id)] = extras
        value = {**self._status_value(state.state, state.trace), **extras}
        self._put_statuses({_task_status_key(state.connector, state.id): value})

    def _publish_task_extras(self) -> None:
        """Group thread: write the progress, warning and details of owned tasks to the
        status topic when they differ from what was written, at most every ``PUBLISH_INTERVAL_S``
        (a finished load's rate decays to 0 within 30 s; then nothing more is written)."""
        now = time.monotonic()
        if now - self._published_at < PUBLISH_INTERVAL_S:
            return
        self._published_at = now
        for key in set(self._published) - set(self._running):
            del self._published[key]
        for key, owned in list(self._running.items()):
            state = owned.state
            if state.state not in ("RUNNING", "PAUSED") or state.stop.is_set():
                continue
            if state.report.to_json() != self._published.get(key, {}):
                self._task_state_changed(state)

    def _metrics_view(self) -> tuple[list[ConnectorView], list[TaskView]]:
        """Worker metrics: the connectors this worker leads, the tasks it runs."""
        _hosted, tasks = self.worker.metrics_view()
        connectors = []
        for name in list(self._leaders):
            plan = self.plan(name)
            if plan is None or plan.connector is None:
                continue
            plugin_class = plan.connector.plugin_class
            entry = self.statuses.get(CONNECTOR_STATUS_PREFIX + name) or {}
            connectors.append(
                ConnectorView(
                    name,
                    str(entry.get("state") or "UNASSIGNED"),
                    f"{plugin_class.__module__}.{plugin_class.__qualname__}",
                    plugin_version(plugin_class),
                    plan.type,
                )
            )
        return connectors, tasks

    # -- ConnectorAdmin: reads ---------------------------------------------------------

    def _require(self, name: str) -> ConnectorPlan:
        plan = self.plan(name)
        if plan is None:
            msg = f"Connector {name} not found"
            raise ConnectorNotFound(msg)
        return plan

    def names(self) -> list[str]:
        """Every stored connector, sorted."""
        return sorted(key[len(CONNECTOR_PREFIX) :] for key in self.configs.items(CONNECTOR_PREFIX))

    def exists(self, name: str) -> bool:
        return self.configs.get(CONNECTOR_PREFIX + name) is not None

    def _redacted(self, plan: ConnectorPlan) -> dict[str, t.Any]:
        if plan.connector is not None:
            return t.cast(dict[str, t.Any], plan.connector.redacted())
        from headwater.connectors.config import redact

        return redact({"name": plan.document.get("name"), **plan.document.get("config", {})})

    def target_state(self, name: str) -> TargetState:
        """Connector ``name``'s stored target state (STARTED when none is stored)."""
        entry = self.configs.get(TARGET_STATE_PREFIX + name)
        state = entry.get("state") if entry else None
        return t.cast(TargetState, state) if state in ("PAUSED", "STOPPED") else "STARTED"

    def _task_count(self, name: str, plan: ConnectorPlan) -> int:
        """How many tasks the connector has now: none while STOPPED (as Kafka Connect)."""
        return 0 if self.target_state(name) == "STOPPED" else len(plan.task_configs)

    def info(self, name: str) -> dict[str, t.Any]:
        plan = self._require(name)
        tasks = [{"connector": name, "task": task_id} for task_id in range(self._task_count(name, plan))]
        return {"name": name, "config": self._redacted(plan), "tasks": tasks, "type": plan.type}

    def config(self, name: str) -> dict[str, t.Any]:
        return self._redacted(self._require(name))

    def task_configs(self, name: str) -> list[dict[str, t.Any]]:
        """The committed task configs (``task-<name>-<n>``), secrets hidden."""
        from headwater.connectors.config import redact

        plan = self._require(name)
        stored = plan.stored or ()
        secrets = plan.connector.plugin_config.secret_keys() if plan.connector is not None else frozenset()
        raw = plan.document.get("config", {})
        # Never a resolved value: the stored properties keep the connector's references,
        # and any value a reference resolved to is turned back into its ``${...}`` text.
        return [
            reverse_transform(raw, redact(properties, secrets)) for properties in stored[: self._task_count(name, plan)]
        ]

    def status(self, name: str) -> dict[str, t.Any]:
        """Every task of the connector, with the worker running it, from the status topic."""
        plan = self._require(name)
        connector = dict(self.statuses.get(CONNECTOR_STATUS_PREFIX + name) or {"state": "UNASSIGNED"})
        if not connector.get("trace"):
            connector.pop("trace", None)
        if self.target_state(name) == "STOPPED":
            task_ids = []
        elif plan.error is None:
            task_ids = list(range(len(plan.task_configs)))
        else:
            prefix = f"{TASK_STATUS_PREFIX}{name}-"
            suffixes = [key[len(prefix) :] for key in self.statuses.items(prefix)]
            task_ids = sorted(int(suffix) for suffix in suffixes if suffix.isdigit())
        version = plugin_version(plan.connector.plugin_class) if plan.connector is not None else None
        if version is not None:
            connector["version"] = version
        tasks = []
        for task_id in task_ids:
            entry = self.statuses.get(_task_status_key(name, task_id)) or {"state": "UNASSIGNED", "worker_id": None}
            task: dict[str, t.Any] = {"id": task_id, "state": entry["state"], "worker_id": entry.get("worker_id")}
            if version is not None:
                task["version"] = version
            if entry.get("trace"):
                task["trace"] = entry["trace"]
            task.update({key: value for key, value in entry.items() if key not in _OWN_STATUS_KEYS})
            tasks.append(task)
        return {"name": name, "connector": connector, "tasks": tasks, "type": plan.type}

    def _consumer_config(self, plan: ConnectorPlan) -> dict[str, t.Any]:
        if plan.connector is None:
            msg = f"the config of connector {plan.document.get('name')} does not validate: {plan.error}"
            raise ConfigError([FieldError("config", msg)])
        return client_configs(plan.connector, self.worker_config)[1]

    def _scope(self, name: str) -> offset_admin.OffsetScope:
        plan = self._require(name)
        return offset_admin.OffsetScope(
            name,
            sink=plan.type == "sink",
            store=lambda: self.worker.offset_store,
            consumer_config=lambda: self._consumer_config(plan),
            ask=lambda changes: self._ask_connector(plan, changes),
        )

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        return offset_admin.read_offsets(self._scope(name))

    # -- ConnectorAdmin: target states and offsets ------------------------------------------

    def pause(self, name: str) -> None:
        """Store target state PAUSED; every worker pauses the tasks it runs. Returns at once."""
        self._require(name)
        self.configs.put(TARGET_STATE_PREFIX + name, {"state": "PAUSED"})

    def resume(self, name: str) -> None:
        """Store target state STARTED; paused tasks continue, a stopped connector's start."""
        self._require(name)
        self.configs.put(TARGET_STATE_PREFIX + name, {"state": "STARTED"})

    def stop_connector(self, name: str) -> None:
        """Store target state STOPPED, then wait (bounded by the graceful shutdown timeout
        plus 10 s) until no worker reports a task of the connector: each has flushed,
        committed and closed. Returns after the wait even if some task is still listed;
        offset changes answer 409 until it is gone."""
        self._require(name)
        self.configs.put(TARGET_STATE_PREFIX + name, {"state": "STOPPED"})
        deadline = time.monotonic() + self.worker_config.task_shutdown_graceful_timeout_ms / 1000 + 10
        while self._live_tasks(name) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)

    def _live_tasks(self, name: str) -> list[str]:
        """Status keys of the connector's tasks that some worker may still run."""
        prefix = f"{TASK_STATUS_PREFIX}{name}-"
        entries = self.statuses.items(prefix)
        return sorted(key for key, value in entries.items() if value.get("state") != "UNASSIGNED")

    def _stopped(self, name: str) -> ConnectorPlan:
        plan = self._require(name)
        if self.target_state(name) != "STOPPED":
            raise ConnectorNotStopped(name)
        live = self._live_tasks(name)
        if live:
            msg = f"tasks of {name} are still stopping ({', '.join(live)}); retry once GET .../status lists none"
            raise TasksStillStopping(msg)
        return plan

    def _ask_connector(self, plan: ConnectorPlan, changes: t.Sequence[offset_admin.OffsetChange]) -> None:
        connector = plan.connector
        if connector is None:
            msg = f"the config of connector {plan.document.get('name')} does not validate: {plan.error}"
            raise ConfigError([FieldError("config", msg)])
        offset_admin.ask_connector(connector.plugin_class, connector.plugin_config, changes, sink=plan.type == "sink")

    def reset_offsets(self, name: str) -> str:
        """Tombstone the STOPPED connector's source offsets, or delete its sink group."""
        return offset_admin.reset_offsets(self._scope(name), lambda: self._stopped(name))

    def alter_offsets(self, name: str, body: t.Mapping[str, t.Any]) -> str:
        """Write the given offsets of the STOPPED connector (source store or sink group)."""
        return offset_admin.alter_offsets(self._scope(name), body, lambda: self._stopped(name))

    def restart(self, name: str, *, task_id: int | None = None, only_failed: bool = False) -> None:
        """Restart the matching tasks if this worker runs them all.

        When a matching task runs elsewhere it raises :class:`TaskElsewhere` naming that
        worker and restarts nothing; the REST API then forwards the request there (see
        :mod:`.forwarding`).
        """
        status = self.status(name)
        matching = [
            task
            for task in status["tasks"]
            if (task_id is None or task["id"] == task_id) and (not only_failed or task["state"] == "FAILED")
        ]
        if task_id is not None and not any(task["id"] == task_id for task in status["tasks"]):
            raise TaskNotFound(name, task_id)
        local = {(name, task["id"]): self._running.get((name, task["id"])) for task in matching}
        elsewhere = {
            task["worker_id"] or "no worker (unassigned)" for task in matching if local[(name, task["id"])] is None
        }
        if elsewhere:
            msg = (
                f"tasks of {name} run on {', '.join(sorted(elsewhere))}, not on {self.worker_id}: "
                "send the restart there (Kafka Connect would forward it)"
            )
            raise TaskElsewhere(msg, elsewhere)
        for owned in local.values():
            if owned is not None:
                owned.state.restart_now.set()
                owned.state.interrupt.set()

    def restart_connector(self, name: str) -> None:
        """Restart the connector instance if this worker runs it (the owner of its task-0
        slot): the group thread stops it and starts it again, calling ``task_configs``.

        Raises:
            TaskElsewhere: another worker runs the connector instance.
        """
        self._require(name)
        if task_slot(name, 0, self.worker_config.task_slots) not in (self._owned_slots or set()):
            owner = (self.statuses.get(CONNECTOR_STATUS_PREFIX + name) or {}).get("worker_id")
            msg = f"connector {name} runs on {owner or 'no worker (unassigned)'}, not on {self.worker_id}"
            raise TaskElsewhere(msg, [owner] if owner else [])
        with self._requested_lock:
            self._restart_leaders.add(name)
            self._requested.add(name)
        self._dirty.set()

    def topics(self, name: str) -> list[str]:
        return self.worker.topics.topics(name)

    def reset_topics(self, name: str) -> None:
        self._require(name)
        self.worker.topics.reset(name)

    def set_cluster_logger(self, logger: str, level: str) -> bool:
        """Store ``logger-cluster-<logger>`` in the config topic (as Kafka Connect does);
        every worker, and every worker started later, applies it as it reads the record."""
        self.configs.put(CLUSTER_LOGGER_PREFIX + logger, {"level": level})
        return True

    # -- ConnectorAdmin: writes ----------------------------------------------------------

    def _validate(self, name: t.Any, config: t.Any) -> ConnectorFile:
        """Resolve and validate as a worker starting the tasks would, naming every bad key."""
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise ConfigError([FieldError("name", "a connector needs a name without '/'")])
        if not isinstance(config, dict):
            raise ConfigError([FieldError("config", "must be a JSON object of connector settings")])
        if "name" in config and config["name"] != name:
            message = f"{config['name']!r} does not match the connector name {name!r}"
            raise ConfigError([FieldError("name", message)])
        connector = parse_connector({"name": name, "config": config}, worker=self.worker_config, remote=True)
        build_converters(connector, self.worker_config)
        check_clients(connector, self.worker_config)
        return connector

    def create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Validate, then store ``{"name", "config"}``; the owning workers start its tasks.

        The REST API carries every config change out on the leader only (see
        :mod:`.forwarding`), one at a time: of two creates of one name, the second raises
        :class:`ConnectorExists`.
        """
        with self.forwarding.write_lock:
            return self._create(document)

    def _create(self, document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        name, config = document.get("name"), document.get("config")
        initial_state = document.get("initial_state")
        self._validate(name, config)
        if initial_state is not None and initial_state not in INITIAL_STATES:
            message = f"{initial_state!r} is not one of {', '.join(INITIAL_STATES)}"
            raise ConfigError([FieldError("initial_state", message)])
        if self.exists(t.cast(str, name)):
            msg = f"Connector {name} already exists"
            raise ConnectorExists(msg)
        # The target state goes first, so no worker starts the tasks in another state.
        target = INITIAL_STATES[initial_state] if initial_state is not None else "STARTED"
        if target != "STARTED" or self.configs.get(TARGET_STATE_PREFIX + t.cast(str, name)) is not None:
            self.configs.put(TARGET_STATE_PREFIX + t.cast(str, name), {"state": target})
        self.configs.put(CONNECTOR_PREFIX + t.cast(str, name), {"name": name, "config": config})
        self._await_task_list(t.cast(str, name))
        return self.info(t.cast(str, name))

    def _await_task_list(self, name: str, timeout: float = 10.0) -> None:
        """Wait (bounded) until the connector's leader committed the task list of its
        current config, so the answer lists the tasks; returns early if it failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.target_state(name) != "STOPPED":
            plan = self.plan(name)
            status = self.statuses.get(CONNECTOR_STATUS_PREFIX + name) or {}
            if plan is None or plan.stored is not None or plan.error is not None or status.get("state") == "FAILED":
                return
            time.sleep(POLL_INTERVAL_S / 2)

    def put_config(self, name: str, config: t.Mapping[str, t.Any]) -> tuple[bool, dict[str, t.Any]]:
        config = dict(config)
        self._validate(name, config)
        with self.forwarding.write_lock:
            created = not self.exists(name)
            self.configs.put(CONNECTOR_PREFIX + name, {"name": name, "config": config})
        self._await_task_list(name)
        return created, self.info(name)

    def delete(self, name: str) -> None:
        with self.forwarding.write_lock:
            self._require(name)
            self.worker.topics.reset(name)
            self.configs.put(CONNECTOR_PREFIX + name, None)
            if self.configs.get(TARGET_STATE_PREFIX + name) is not None:
                self.configs.put(TARGET_STATE_PREFIX + name, None)
