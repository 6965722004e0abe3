"""Typed, declarative configuration in Kafka Connect's shape.

A connector file is ``{"name": ..., "config": {"connector.class": ..., "tasks.max": ...,
<framework keys>, <plugin keys>}}``. The framework keys are parsed into
:class:`ConnectorConfig`; everything else goes to the plugin's own
:class:`PluginConfig` subclass, which forbids unknown keys so that a typo is reported
instead of ignored. Every problem is collected per field and raised together as one
:class:`ConfigError` before any task starts.

Values may be ``${env:NAME}`` or ``${file:/path/to.properties:key}``; they are resolved
when the file is loaded, and the unresolved text is what status output shows.
"""

from __future__ import annotations

import os
import re
import typing as t
from pathlib import Path

import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from headwater.connectors.errors import ConfigError, FieldError

__all__ = [
    "ConnectorConfig",
    "ConnectorFile",
    "PluginConfig",
    "WorkerConfig",
    "field_errors",
    "load_connector_file",
    "load_worker_file",
    "redact",
    "resolve_providers",
    "to_dotted",
]

REDACTED = "[hidden]"
_SECRET_KEY = re.compile(r"(password|secret|token|credential|jaas|private\.key|api\.key)", re.I)
_PROVIDER = re.compile(r"\$\{(env|file):([^}]*)\}")


def to_dotted(name: str) -> str:
    """Python field name to Kafka Connect key: ``errors_retry_timeout`` -> ``errors.retry.timeout``."""
    return name.replace("_", ".")


class PluginConfig(BaseModel):
    """Base of every plugin's config: dotted keys, unknown keys rejected, immutable.

    Subclasses declare fields with a docstring each; secrets are ``SecretStr`` so they
    never appear in logs, status output or REST responses.
    """

    model_config = ConfigDict(
        alias_generator=to_dotted,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
    )

    @classmethod
    def secret_keys(cls) -> frozenset[str]:
        """The dotted keys whose values are secrets."""
        keys = set()
        for name, info in cls.model_fields.items():
            if info.annotation is SecretStr or info.annotation == (SecretStr | None):
                keys.add(info.alias or name)
        return frozenset(keys)

    def to_properties(self) -> dict[str, t.Any]:
        """The config as dotted keys with secrets revealed (for building task configs)."""
        out: dict[str, t.Any] = {}
        for key, value in self.model_dump(by_alias=True, mode="python").items():
            out[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return out


def field_errors(exc: pydantic.ValidationError, prefix: str = "") -> list[FieldError]:
    """Turn a pydantic error into one :class:`FieldError` per dotted key."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        key = prefix + ".".join(loc) if loc else prefix.rstrip(".") or "config"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (is it misspelt, or for another plugin?)"
        elif error["type"] == "missing":
            message = "missing (required)"
        errors.append(FieldError(key, message))
    return errors


ErrorsTolerance = t.Literal["none", "all"]


def _positive_int(text: str) -> bool:
    return text.strip().isdigit() and int(text) >= 1


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
    offset_storage_topic: str | None = None
    """Compacted topic for source offsets (used instead of the file when set). Required by
    ``headwater distributed``."""
    group_id: str | None = Field(default=None, min_length=1)
    """Distributed mode: the workers with the same ``group.id`` form one cluster; it is
    also the Kafka consumer group through which they share the tasks."""
    config_storage_topic: str | None = Field(default=None, min_length=1)
    """Distributed mode: compacted single-partition topic holding the connector configs."""
    status_storage_topic: str | None = Field(default=None, min_length=1)
    """Distributed mode: compacted topic holding every connector's and task's state."""
    task_slots_topic: str | None = Field(default=None, min_length=1)
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


def _group_prefixed(
    model: type[PluginConfig], flat: t.Mapping[str, t.Any]
) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
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


def resolve_providers(value: t.Any, *, key: str) -> t.Any:
    """Replace ``${env:NAME}`` and ``${file:/path:key}`` references inside a string value.

    Raises:
        ConfigError: naming ``key`` when a variable is unset or a file or key is missing.
    """
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        provider, reference = match.groups()
        if provider == "env":
            if reference not in os.environ:
                raise ConfigError([FieldError(key, f"environment variable {reference} is not set")])
            return os.environ[reference]
        path, _, prop = reference.rpartition(":")
        if not path:
            raise ConfigError([FieldError(key, "file reference must be ${file:/path:key}")])
        try:
            properties = _read_properties(Path(path))
        except OSError as exc:
            raise ConfigError([FieldError(key, f"cannot read {path}: {exc.strerror}")]) from exc
        if prop not in properties:
            raise ConfigError([FieldError(key, f"{path} has no key {prop!r}")])
        return properties[prop]

    return _PROVIDER.sub(substitute, value)


def _read_properties(path: Path) -> dict[str, str]:
    """Parse a Java-style properties file (``key=value`` or ``key: value`` lines)."""
    properties = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)", stripped)
        if match:
            properties[match.group(1)] = match.group(2)
    return properties


def _resolve_all(flat: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    resolved: dict[str, t.Any] = {}
    errors: list[FieldError] = []
    for key, value in flat.items():
        try:
            resolved[key] = resolve_providers(value, key=key)
        except ConfigError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigError(errors)
    return resolved


def redact(flat: t.Mapping[str, t.Any], secret_keys: t.Collection[str] = ()) -> dict[str, t.Any]:
    """A copy of ``flat`` safe to show: secret-typed and secret-looking keys hidden."""
    return {
        key: REDACTED if (key in secret_keys or _SECRET_KEY.search(key)) and value not in (None, "") else value
        for key, value in flat.items()
    }


class ConnectorFile(t.NamedTuple):
    """A validated connector: framework config, plugin class and plugin config."""

    framework: ConnectorConfig
    plugin_class: type[t.Any]
    plugin_config: PluginConfig
    raw: dict[str, t.Any]
    """The config as written (providers unresolved), for status and REST output."""

    def redacted(self) -> dict[str, t.Any]:
        """``raw`` with secrets hidden."""
        return redact(self.raw, self.plugin_config.secret_keys())


def parse_connector(document: t.Mapping[str, t.Any], *, source: str | None = None) -> ConnectorFile:
    """Validate a ``{"name": ..., "config": {...}}`` document (or a flat config with ``name``).

    Raises:
        ConfigError: with one entry per invalid or missing key, framework and plugin keys
            together, so a user fixes everything in one pass.
    """
    from headwater.connectors.registry import resolve_plugin

    if "config" in document and isinstance(document["config"], dict):
        raw = {"name": document.get("name"), **document["config"]}
    else:
        raw = dict(document)
    raw = {key: value for key, value in raw.items() if value is not None or key != "name"}
    try:
        flat = _resolve_all(raw)
    except ConfigError as exc:
        raise ConfigError(exc.errors, source=source) from None
    errors: list[FieldError] = []
    if any(key == "transforms" or key.startswith("transforms.") for key in flat):
        errors.append(FieldError("transforms", "single message transforms are not supported yet"))
        flat = {k: v for k, v in flat.items() if not k.startswith("transforms")}
    ours, rest = _group_prefixed(ConnectorConfig, flat)
    framework: ConnectorConfig | None = None
    try:
        framework = ConnectorConfig.model_validate(ours)
    except pydantic.ValidationError as exc:
        errors.extend(field_errors(exc))
    plugin_class: type[t.Any] | None = None
    plugin_config: PluginConfig | None = None
    connector_class = flat.get("connector.class")
    if isinstance(connector_class, str) and connector_class:
        try:
            plugin_class = resolve_plugin(connector_class)
        except ConfigError as exc:
            errors.extend(exc.errors)
    if plugin_class is not None:
        try:
            plugin_config = plugin_class.config_class.model_validate(rest)
        except pydantic.ValidationError as exc:
            errors.extend(field_errors(exc))
        if framework is not None:
            errors.extend(_check_kind(plugin_class, framework))
    if errors or framework is None or plugin_class is None or plugin_config is None:
        raise ConfigError(errors, source=source)
    return ConnectorFile(framework, plugin_class, plugin_config, raw)


def _check_kind(plugin_class: type[t.Any], framework: ConnectorConfig) -> list[FieldError]:
    from headwater.connectors.api import SinkConnector

    is_sink = issubclass(plugin_class, SinkConnector)
    has_topics = bool(framework.topics or framework.topics_regex)
    if is_sink and not has_topics:
        return [FieldError("topics", "a sink needs topics or topics.regex")]
    if is_sink and framework.topics and framework.topics_regex:
        return [FieldError("topics", "set topics or topics.regex, not both")]
    if not is_sink and has_topics:
        return [FieldError("topics", "only sinks consume topics; a source names its topic in its own keys")]
    return []


def _load_json(path: Path) -> dict[str, t.Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError([FieldError("file", f"cannot read: {exc.strerror}")], source=str(path)) from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError([FieldError("file", f"not valid JSON: {exc}")], source=str(path)) from exc
    if not isinstance(document, dict):
        raise ConfigError([FieldError("file", "must hold a JSON object")], source=str(path))
    return document


def load_connector_file(path: str | Path) -> ConnectorFile:
    """Load and validate one connector JSON file; errors name the file and each key."""
    path = Path(path)
    return parse_connector(_load_json(path), source=str(path))


def load_worker_file(path: str | Path, *, distributed: bool = False) -> WorkerConfig:
    """Load and validate a worker JSON file (flat keys, Kafka Connect's names).

    With ``distributed`` the keys distributed mode needs are required too.
    """
    path = Path(path)
    document = _load_json(path)
    flat = _resolve_all(document)
    ours, rest = _group_prefixed(WorkerConfig, flat)
    errors = [FieldError(key, "unknown worker key") for key in rest]
    try:
        config = WorkerConfig.model_validate(ours)
    except pydantic.ValidationError as exc:
        errors.extend(field_errors(exc))
        raise ConfigError(errors, source=str(path)) from None
    errors.extend(config.distributed_errors() if distributed else config.consistency_errors())
    if errors:
        raise ConfigError(errors, source=str(path))
    return config
