"""The framework's own keys: :class:`ConnectorConfig` (every connector) and :class:`WorkerConfig`.

A connector file is ``{"name": ..., "config": {"connector.class": ..., "tasks.max": ...,
<framework keys>, <plugin keys>}}``. The framework keys are parsed into
:class:`ConnectorConfig`; everything else goes to the plugin's own
:class:`~headwater.connectors.config.PluginConfig` subclass (see
:mod:`headwater.connectors.loading`). A worker file holds :class:`WorkerConfig`'s keys.
"""

from __future__ import annotations

import logging
import re
import typing as t
from pathlib import Path

import pydantic
from pydantic import Field, SecretStr

from headwater.connectors.config import PluginConfig, TopicName, topic_name_problem
from headwater.connectors.errors import FieldError
from headwater.connectors.providers import ProviderPolicy

__all__ = ["ConnectorConfig", "WorkerConfig", "group_prefixed"]


ErrorsTolerance = t.Literal["none", "all"]


def _positive_int(text: str) -> bool:
    return text.strip().isdigit() and int(text) >= 1


RUNTIME_CONSUMER_KEYS = frozenset({"max.poll.records"})
"""Kafka Connect consumer keys the runtime handles itself; librdkafka never sees them."""


class ConnectorConfig(PluginConfig):
    """The framework keys every connector file may set (Kafka Connect's names)."""

    name: str
    """Unique connector name; also names the sink consumer group ``connect-<name>``."""
    connector_class: str = Field(min_length=1)
    """A plugin alias (``datagen``, ``file``, ...) or a ``package.module:Class`` path."""
    tasks_max: int = Field(default=1, ge=1, le=256)
    """Most tasks the connector may split its work into."""
    key_converter: str | None = None
    """Key converter (``json``, ``string``, ``bytes`` or Kafka Connect's class names); worker default if unset."""
    value_converter: str | None = None
    """Value converter; worker default if unset."""
    topics: str | None = None
    """Sinks: comma-separated topics to consume."""
    topics_regex: str | None = None
    """Sinks: a regular expression of topics to consume."""
    errors_tolerance: ErrorsTolerance = "none"
    """``none`` fails the task on the first bad record; ``all`` skips it (to the DLQ if one is set)."""
    errors_deadletterqueue_topic_name: str = ""
    """Topic that receives bad records with ``__connect.errors.*`` headers."""
    errors_deadletterqueue_context_headers_enable: bool = True
    """Add the ``__connect.errors.*`` context headers to dead-letter records."""
    errors_deadletterqueue_topic_replication_factor: int = -1
    """Replication factor when the runtime creates the DLQ topic (-1: broker default)."""
    errors_retry_timeout: int = Field(default=300_000, ge=-1)
    """Milliseconds to keep retrying a retriable error before the task fails (-1: forever)."""
    errors_retry_delay_max_ms: int = Field(default=60_000, ge=0)
    """Cap on the exponential backoff between retries."""
    errors_log_enable: bool = True
    """Log each tolerated error with its record coordinates."""
    task_restart_max_attempts: int = Field(default=5, ge=-1)
    """Times a FAILED task is restarted on its own before it stays FAILED (-1: forever)."""
    task_restart_backoff_initial_ms: int = Field(default=1_000, ge=0)
    """First delay before restarting a failed task; it doubles on each restart."""
    task_restart_backoff_max_ms: int = Field(default=60_000, ge=0)
    """Longest delay between automatic task restarts."""
    producer_override: dict[str, str] = Field(default_factory=dict, alias="producer.override.*")
    """``producer.override.*``: producer settings for this connector (e.g. another cluster)."""
    consumer_override: dict[str, str] = Field(default_factory=dict, alias="consumer.override.*")
    """``consumer.override.*``: consumer settings for this connector. Sinks:
    ``consumer.override.max.poll.records`` (default 500) is the most records one ``put()``
    gets, as in Kafka Connect (the runtime takes it out of the librdkafka settings)."""
    batch_max_wait_ms: int = Field(default=0, ge=0, le=600_000)
    """Sinks: how long the runtime may hold records back to fill a ``put()`` up to
    ``max.poll.records``; 0 hands over whatever has arrived as soon as the task is free."""
    uncommitted_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    """Sinks: most bytes (keys, values, headers) of records read but not yet committed
    that the runtime keeps for the dead-letter topic. When reached it stops fetching and
    asks for a commit until ``pre_commit`` lets some go."""
    key_converter_config: dict[str, str] = Field(default_factory=dict, alias="key.converter.*")
    """``key.converter.*``: options of the key converter, e.g. ``schemas.enable``."""
    value_converter_config: dict[str, str] = Field(default_factory=dict, alias="value.converter.*")
    """``value.converter.*``: options of the value converter."""
    transaction_boundary: t.Literal["poll", "interval", "connector"] = "poll"
    """Sources under ``exactly.once.source.support=enabled`` (KIP-618): one Kafka transaction
    per ``poll()`` (``poll``), per ``transaction.boundary.interval.ms`` (``interval``), or
    where the task marks it through ``context.transactions`` (``connector``, only for
    plugins that declare ``Capability.TRANSACTION_BOUNDARIES``)."""
    transaction_boundary_interval_ms: int | None = Field(default=None, ge=1)
    """With ``transaction.boundary=interval``: milliseconds between commits (the worker's
    ``offset.flush.interval.ms`` if unset)."""

    @pydantic.field_validator("topics")
    @classmethod
    def _legal_topics(cls, value: str | None) -> str | None:
        if value is not None:
            names = [name.strip() for name in value.split(",") if name.strip()]
            problems = [f"{name!r}: {problem}" for name in names if (problem := topic_name_problem(name))]
            if problems or not names:
                raise ValueError("; ".join(problems) or "no topic given")
        return value

    @pydantic.field_validator("errors_deadletterqueue_topic_name")
    @classmethod
    def _legal_dlq(cls, value: str) -> str:
        if value and (problem := topic_name_problem(value)):
            msg = f"{value!r}: {problem}"
            raise ValueError(msg)
        return value

    @pydantic.field_validator("topics_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return _regex_or_none(value)

    @pydantic.field_validator("consumer_override")
    @classmethod
    def _no_shared_instance_id(cls, value: dict[str, str]) -> dict[str, str]:
        if "group.instance.id" in value:
            msg = "group.instance.id cannot be shared by the tasks; set worker.instance.id in the worker file instead"
            raise ValueError(msg)
        if not _positive_int(value.get("max.poll.records", "1")):
            msg = "max.poll.records must be a whole number of records, at least 1"
            raise ValueError(msg)
        return value


class WorkerConfig(PluginConfig):
    """A worker file: where Kafka is, where offsets go, where REST listens."""

    bootstrap_servers: str = "127.0.0.1:9092"
    """Kafka brokers, ``host:port[,host:port]``."""
    offset_storage_file_filename: str | None = None
    """Standalone offset store: a JSON file written atomically."""
    offset_storage_topic: TopicName | None = None
    """Compacted topic for source offsets (used instead of the file when set). Required by
    ``headwater distributed``."""
    group_id: str | None = Field(default=None, min_length=1)
    """Distributed mode: the workers with the same ``group.id`` form one cluster; it is
    also the Kafka consumer group through which they share the tasks."""
    config_storage_topic: TopicName | None = None
    """Distributed mode: compacted single-partition topic holding the connector configs."""
    status_storage_topic: TopicName | None = None
    """Distributed mode: compacted topic holding every connector's and task's state."""
    task_slots_topic: TopicName | None = None
    """Distributed mode: the topic whose partitions the group assigns to workers; a worker
    runs the tasks whose slot ``(crc32(connector) + task) % task.slots`` it is assigned.
    Nothing is ever written to it. Default ``<group.id>-task-slots``."""
    task_slots: int = Field(default=64, ge=1, le=10_000)
    """Distributed mode: the partition count of ``task.slots.topic`` (fixed once created);
    more slots than tasks spreads tasks more evenly."""
    session_timeout_ms: int = Field(default=10_000, ge=1)
    """Distributed mode: a worker that has not heartbeated for this long is out of the
    group, and its tasks move to the others."""
    heartbeat_interval_ms: int = Field(default=3_000, ge=1)
    """Distributed mode: how often a worker heartbeats to the group coordinator."""
    rebalance_timeout_ms: int = Field(default=60_000, ge=1)
    """Distributed mode: how long a rebalance waits for every worker to stop its tasks
    and rejoin (the group consumer's ``max.poll.interval.ms``)."""
    connect_protocol: t.Literal["eager", "compatible", "sessioned"] = "sessioned"
    """Distributed mode: how the group rebalances. ``sessioned`` (the default) and
    ``compatible`` rebalance incrementally (Kafka's ``cooperative-sticky`` assignor): when
    a worker joins or leaves, only the tasks whose slot moves stop and start, the others
    keep running. ``eager`` is the protocol of Headwater 0.1.0's first distributed mode
    (``roundrobin``, consecutive slots): every change stops and restarts every task. All workers of a
    cluster must use the same protocol: to change it, stop every worker (or use a new
    ``group.id``); a worker with the other protocol cannot join the group."""
    exactly_once_source_support: t.Literal["disabled", "enabled"] = "disabled"
    """``enabled``: each source task writes its records and their offsets in one Kafka
    transaction, so consumers reading committed data see every record exactly once, even
    after a ``kill -9``. Needs ``offset.storage.topic``."""
    worker_instance_id: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    """A name for this worker process that stays the same across its restarts and differs
    from every other worker on the cluster (``worker-3``, a pod name of a StatefulSet).
    When set, each sink task joins its group as the static member
    ``<worker.instance.id>-<connector>-<task>`` (KIP-345): a worker restarted after a crash
    takes its partitions back at once, without a rebalance and without waiting for the
    dead member's session, or a rebalance it died in, to time out. In distributed mode the
    worker also joins ``group.id`` as static member ``<worker.instance.id>``: restarted
    within ``session.timeout.ms`` it takes its task slots back and the other workers' tasks
    keep running. The price: a worker that is stopped for good keeps its partitions and
    slots until the session times out."""
    transactional_id_prefix: str = "headwater"
    """Source tasks' transactional ids are ``<prefix>-<connector>-<task>``; a restarted task
    with the same id fences its zombie predecessor."""
    offset_flush_interval_ms: int = Field(default=5_000, ge=10)
    """How often sink offsets are committed and source offsets flushed."""
    rest_host: str = "127.0.0.1"
    """Interface the REST API listens on."""
    rest_port: int = Field(default=8083, ge=0, le=65535)
    """REST API port (0 picks a free one; -1 is not allowed)."""
    listeners: str | None = None
    """The REST listener as a URL, ``http://host:port`` or ``https://host:port`` (one
    listener); replaces ``rest.host`` and ``rest.port`` when set."""
    listeners_https_ssl_certificate_location: str | None = None
    """An ``https`` listener's certificate chain, a PEM file."""
    listeners_https_ssl_key_location: str | None = None
    """An ``https`` listener's private key, a PEM file."""
    listeners_https_ssl_key_password: SecretStr | None = None
    """The password of an encrypted private key."""
    rest_authentication_credentials_file: str | None = None
    """Turns on HTTP basic auth for the REST API: a file of ``user: password[,role]`` lines
    (Jetty's ``PropertyFileLoginModule`` format, as Kafka Connect reads it). A role is
    ``admin`` (the default) or ``read-only`` (GET requests only)."""
    rest_authentication_tokens_file: str | None = None
    """Turns on bearer tokens for the REST API (``Authorization: Bearer <token>``): a file
    of ``name: token[,role]`` lines, roles as for the credentials file."""
    key_converter: str = "json"
    """Default key converter for connectors that do not set one."""
    value_converter: str = "json"
    """Default value converter for connectors that do not set one."""
    scratch_dir: str = ".headwater/scratch"
    """Folder under which each task gets a private scratch folder
    (``<scratch.dir>/<connector>/<task>``) for spills and temporary files."""
    task_shutdown_graceful_timeout_ms: int = Field(default=10_000, ge=0)
    """How long a stopping task may take to flush and commit."""
    producer: dict[str, str] = Field(default_factory=dict, alias="producer.*")
    """``producer.*``: librdkafka producer settings for every connector."""
    consumer: dict[str, str] = Field(default_factory=dict, alias="consumer.*")
    """``consumer.*``: librdkafka consumer settings for every connector."""
    key_converter_config: dict[str, str] = Field(default_factory=dict, alias="key.converter.*")
    """``key.converter.*`` defaults."""
    value_converter_config: dict[str, str] = Field(default_factory=dict, alias="value.converter.*")
    """``value.converter.*`` defaults."""
    plugin_packages: str | None = Field(default=None, pattern=r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*$")
    """Comma-separated package prefixes (``my_company.connectors``) whose classes a
    ``connector.class`` may name by a dotted path. Registered plugins (entry points
    ``headwater.sources``/``headwater.sinks``) are always allowed; any other module is
    refused before it is imported."""
    config_providers_file_param_allowed_paths: str | None = None
    """Comma-separated directories that ``${file:...}`` references may read (KIP-993), e.g.
    ``/etc/headwater/secrets``. Unset: connector files given on the command line may read
    any file, and configs sent over REST (distributed mode) may read none."""
    config_providers_env_param_allowlist_pattern: str | None = None
    """A regular expression that the name in an ``${env:NAME}`` reference must match in
    full (KIP-887), e.g. ``MONGODB_.*``. Unset: connector files given on the command line
    may read any variable, and configs sent over REST (distributed mode) may read none."""

    @pydantic.field_validator("config_providers_file_param_allowed_paths")
    @classmethod
    def _absolute_paths(cls, value: str | None) -> str | None:
        if value is not None:
            relative = [path for path in _csv(value) if not Path(path).is_absolute()]
            if relative or not _csv(value):
                msg = f"give absolute directories, comma-separated (not {', '.join(relative) or 'nothing'})"
                raise ValueError(msg)
        return value

    @pydantic.field_validator("config_providers_env_param_allowlist_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _regex_or_none(value)

    def plugin_package_list(self) -> list[str]:
        """``plugin.packages`` as a list of package prefixes."""
        return _csv(self.plugin_packages)

    def provider_policy(self, *, remote: bool) -> ProviderPolicy:
        """What references in a connector config may read: ``remote`` for a config sent
        over REST (closed unless the provider keys are set), else for a file given on the
        command line (open unless they are set)."""
        paths = self.config_providers_file_param_allowed_paths
        pattern = self.config_providers_env_param_allowlist_pattern
        closed = ProviderPolicy.closed()
        return ProviderPolicy(
            allowed_paths=tuple(Path(p).resolve() for p in _csv(paths))
            if paths is not None
            else (closed.allowed_paths if remote else None),
            env_allowlist=re.compile(pattern) if pattern is not None else (closed.env_allowlist if remote else None),
        )

    def consistency_errors(self) -> list[FieldError]:
        """Problems that involve more than one key (each field alone was valid)."""
        errors = []
        if self.exactly_once_source_support == "enabled" and not self.offset_storage_topic:
            message = "enabled needs offset.storage.topic: offsets are written in the same transaction as records"
            errors.append(FieldError("exactly.once.source.support", message))
        if "group.instance.id" in self.consumer:
            message = "set worker.instance.id instead: one group.instance.id shared by every task would fence them"
            errors.append(FieldError("consumer.group.instance.id", message))
        if not _positive_int(self.consumer.get("max.poll.records", "1")):
            errors.append(FieldError("consumer.max.poll.records", "must be a whole number of records, at least 1"))
        return errors

    def distributed_errors(self) -> list[FieldError]:
        """What ``headwater distributed`` needs beyond a valid standalone worker file."""
        errors = self.consistency_errors()
        for key, value in (
            ("group.id", self.group_id),
            ("config.storage.topic", self.config_storage_topic),
            ("status.storage.topic", self.status_storage_topic),
            ("offset.storage.topic", self.offset_storage_topic),
        ):
            if not value:
                errors.append(FieldError(key, "missing (required in distributed mode)"))
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            message = "must be lower than session.timeout.ms (a third of it is usual)"
            errors.append(FieldError("heartbeat.interval.ms", message))
        return errors

    @property
    def slots_topic(self) -> str:
        """``task.slots.topic``, or its default ``<group.id>-task-slots``."""
        return self.task_slots_topic or f"{self.group_id}-task-slots"


_PREFIXED = {
    ConnectorConfig: (
        ("producer.override.", "producer.override.*"),
        ("consumer.override.", "consumer.override.*"),
        ("key.converter.", "key.converter.*"),
        ("value.converter.", "value.converter.*"),
    ),
    WorkerConfig: (
        ("producer.", "producer.*"),
        ("consumer.", "consumer.*"),
        ("key.converter.", "key.converter.*"),
        ("value.converter.", "value.converter.*"),
    ),
}


def group_prefixed(model: type[PluginConfig], flat: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Split ``flat`` into the model's keys (prefixed families gathered) and the rest."""
    own_keys = {info.alias or name for name, info in model.model_fields.items()}
    ours: dict[str, t.Any] = {}
    rest: dict[str, t.Any] = {}
    for key, value in flat.items():
        if key in own_keys:
            ours[key] = value
            continue
        for prefix, target in _PREFIXED.get(model, ()):
            if key.startswith(prefix) and len(key) > len(prefix):
                ours.setdefault(target, {})[key[len(prefix) :]] = str(value)
                break
        else:
            rest[key] = value
    return ours, rest


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _regex_or_none(value: str | None) -> str | None:
    """Return ``value`` (None stays None); the check behind the regular-expression field validators.

    Raises:
        ValueError: ``value`` does not compile as a Python regular expression (pydantic
            reports it against the field).
    """
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            msg = f"not a regular expression: {exc}"
            raise ValueError(msg) from None
    return value


_QUIET = logging.getLogger("headwater.librdkafka.check")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def librdkafka_problem(kind: t.Literal["producer", "consumer"], settings: t.Mapping[str, t.Any]) -> str | None:
    """librdkafka's complaint about ``settings``, found by building a client that never
    connects (no ``bootstrap.servers``), or None if it takes them."""
    from confluent_kafka import Consumer, KafkaException, Producer

    if kind == "consumer":
        settings = {key: value for key, value in settings.items() if key not in RUNTIME_CONSUMER_KEYS}

    config = {key: value for key, value in settings.items() if key != "bootstrap.servers"}
    config["logger"] = _QUIET
    try:
        if kind == "producer":
            Producer(config)
        else:
            Consumer({"group.id": "headwater-config-check", **config}).close()
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        return str(error.str() if hasattr(error, "str") else error).strip()
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def client_setting_errors(
    settings: t.Mapping[str, str], *, kind: t.Literal["producer", "consumer"], prefix: str
) -> list[FieldError]:
    """One error per key of ``settings`` (a ``producer.*``-style family) that librdkafka
    refuses on its own: an unknown property, or a value it cannot take. Problems between
    keys are left to :func:`librdkafka_problem` on the merged client config, as one
    family's keys may be completed by another's (worker and connector overrides)."""
    errors = []
    for key, value in settings.items():
        if kind == "consumer" and key in RUNTIME_CONSUMER_KEYS:
            continue
        problem = librdkafka_problem(kind, {key: value})
        if problem is not None and not problem.startswith("Failed to create"):
            errors.append(FieldError(prefix + key, problem))
    return errors
