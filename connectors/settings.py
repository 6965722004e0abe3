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
from headwater.connectors.kafka_clients import to_librdkafka
from headwater.connectors.providers import PROVIDERS, ProviderPolicy

__all__ = ["ConnectorConfig", "WorkerConfig", "group_prefixed"]


ErrorsTolerance = t.Literal["none", "all"]


def _positive_int(text: str) -> bool:
    return text.strip().isdigit() and int(text) >= 1


RUNTIME_CONSUMER_KEYS = frozenset({"max.poll.records"})
"""Kafka Connect consumer keys the runtime handles itself; librdkafka never sees them."""


PRINCIPAL_OVERRIDES = frozenset({"security.protocol", "sasl.mechanism", "sasl.jaas.config"})
"""What ``connector.client.config.override.policy=Principal`` lets a connector override."""


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
    """Sinks: a regular expression of topics to consume, matched against the whole topic name
    as in Kafka Connect (Java syntax: ``orders`` is not ``orders.dlq``; ``\\d``, ``(?:...)``
    work); topics created later join within 2 seconds."""
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
    admin_override: dict[str, str] = Field(default_factory=dict, alias="admin.override.*")
    """``admin.override.*``: settings of the admin client that creates this connector's
    topics (``topic.creation.*``), over the worker's ``admin.*`` and the producer's cluster."""
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
    topic_creation: dict[str, str] = Field(default_factory=dict, alias="topic.creation.*")
    """Sources (KIP-158): ``topic.creation.default.replication.factor`` and
    ``topic.creation.default.partitions`` (both required to turn it on; -1 takes the
    broker's default), ``topic.creation.groups`` and per group ``include``/``exclude``
    regexes, ``replication.factor``, ``partitions`` and topic configs (``cleanup.policy``,
    ``retention.ms``, ...). Each topic is created before the first record goes to it."""
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
    offset_storage_replication_factor: int = Field(default=-1, ge=-1, le=32767)
    """Replication factor when the worker creates ``offset.storage.topic`` (-1: the
    broker's default; Kafka Connect's default is 3)."""
    offset_storage_partitions: int = Field(default=25, ge=1, le=10_000)
    """Partitions when the worker creates ``offset.storage.topic``."""
    config_storage_replication_factor: int = Field(default=-1, ge=-1, le=32767)
    """Replication factor when the worker creates ``config.storage.topic`` (-1: the broker's default)."""
    status_storage_replication_factor: int = Field(default=-1, ge=-1, le=32767)
    """Replication factor when the worker creates ``status.storage.topic`` (-1: the broker's default)."""
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
    offset_flush_timeout_ms: int = Field(default=60_000, ge=1)
    """Source tasks: how long an offset flush waits for Kafka to acknowledge the records
    produced since the last one; after that the task fails and restarts from the stored
    offsets (nothing is lost). Kafka Connect's default is 5000; a restart costs more here."""
    topic_creation_enable: bool = True
    """Let source connectors create their topics from their ``topic.creation.*`` settings
    (KIP-158); false ignores those settings (topics must exist or be auto-created)."""
    rest_host: str = "127.0.0.1"
    """Interface the REST API listens on."""
    rest_port: int = Field(default=8083, ge=0, le=65535)
    """REST API port (0 picks a free one; -1 is not allowed)."""
    listeners: str | None = None
    """The REST listener as a URL, ``http://host:port`` or ``https://host:port`` (one
    listener); replaces ``rest.host`` and ``rest.port`` when set."""
    rest_advertised_host_name: str | None = None
    """The host other workers reach this one's REST API at, and the host of its worker id
    ``host:port`` in distributed mode (Kafka Connect's key); default the listener's host
    for forwarding (this machine's name for a wildcard) and this machine's name in the id."""
    rest_advertised_port: int | None = Field(default=None, ge=1, le=65535)
    """Distributed mode: the port other workers reach this one at (and of its worker id);
    default the bound port."""
    rest_advertised_listener: t.Literal["http", "https"] | None = None
    """Distributed mode: ``http`` or ``https`` for other workers; default the listener's scheme."""
    connector_client_config_override_policy: t.Literal["All", "None", "Principal"] = "All"
    """Which ``producer.override.*``/``consumer.override.*`` keys a connector may set:
    ``All``, ``None``, or ``Principal`` (only ``security.protocol``, ``sasl.mechanism``
    and ``sasl.jaas.config``), as in Kafka Connect."""
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
    security_protocol: str | None = None
    """Client security for every client the worker creates (task producers and consumers,
    admin clients, the distributed config/status/offset/group clients), as in Kafka
    Connect: ``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``. ``producer.*``,
    ``consumer.*``, ``admin.*`` and a connector's ``*.override.*`` take precedence."""
    sasl: dict[str, str] = Field(default_factory=dict, alias="sasl.*")
    """``sasl.*`` for every client: ``sasl.mechanism``, ``sasl.username``/``sasl.password``,
    or Java's ``sasl.jaas.config`` with a PLAIN or SCRAM login module (mapped to those)."""
    ssl: dict[str, str] = Field(default_factory=dict, alias="ssl.*")
    """``ssl.*`` for every client: librdkafka's names (``ssl.ca.location``, ...) or Java's
    ``ssl.truststore.location`` (PEM or PKCS12) and ``ssl.keystore.location`` (PKCS12 or
    PEM); JKS stores are refused with the command that converts them."""
    producer: dict[str, str] = Field(default_factory=dict, alias="producer.*")
    """``producer.*``: librdkafka producer settings for every connector."""
    consumer: dict[str, str] = Field(default_factory=dict, alias="consumer.*")
    """``consumer.*``: librdkafka consumer settings for every connector."""
    admin: dict[str, str] = Field(default_factory=dict, alias="admin.*")
    """``admin.*``: settings of the admin clients (topic creation, offsets, dead-letter topics)."""
    header_converter: str = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
    """Kafka Connect's key, accepted for carried-over files: headers are passed as bytes
    (what ``SimpleHeaderConverter`` and ``StringConverter`` write for string headers), so
    only those two classes are accepted."""
    key_converter_config: dict[str, str] = Field(default_factory=dict, alias="key.converter.*")
    """``key.converter.*`` defaults."""
    value_converter_config: dict[str, str] = Field(default_factory=dict, alias="value.converter.*")
    """``value.converter.*`` defaults."""
    plugin_packages: str | None = Field(default=None, pattern=r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*$")
    """Comma-separated package prefixes (``my_company.connectors``) whose classes a
    ``connector.class`` may name by a dotted path. Registered plugins (entry points
    ``headwater.sources``/``headwater.sinks``) are always allowed; any other module is
    refused before it is imported."""
    plugin_path: str | None = None
    """Kafka Connect's key, read as ``plugin.packages``: comma-separated Python package
    prefixes. Headwater plugins are pip-installed packages, so a directory is refused."""
    config_providers: str | None = None
    """Comma-separated config providers that references may use (``file``, ``env``);
    unset: both. ``config.providers.<name>.class`` may name Kafka's ``FileConfigProvider``
    or ``EnvVarConfigProvider`` (or be left out)."""
    config_providers_file_class: str | None = None
    """Accepted for carried-over files: must be ``org.apache.kafka.common.config.provider.FileConfigProvider``."""
    config_providers_env_class: str | None = None
    """Accepted for carried-over files: must be ``org.apache.kafka.common.config.provider.EnvVarConfigProvider``."""
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

    @pydantic.field_validator("header_converter")
    @classmethod
    def _known_header_converter(cls, value: str) -> str:
        if value.rsplit(".", 1)[-1] not in ("SimpleHeaderConverter", "StringConverter") and value != "string":
            msg = f"{value}: headers are passed as bytes; only SimpleHeaderConverter or StringConverter apply"
            raise ValueError(msg)
        return value

    @pydantic.field_validator("plugin_path")
    @classmethod
    def _packages_not_folders(cls, value: str | None) -> str | None:
        for entry in _csv(value):
            if not re.fullmatch(r"[A-Za-z_][\w.]*", entry):
                msg = (
                    f"{entry!r} is not a Python package: Headwater plugins are pip-installed; list their "
                    "packages (my_company.connectors), not folders"
                )
                raise ValueError(msg)
        return value

    @pydantic.field_validator("config_providers")
    @classmethod
    def _known_providers(cls, value: str | None) -> str | None:
        unknown = [name for name in _csv(value) if name not in PROVIDERS]
        if unknown:
            msg = f"unknown provider(s) {', '.join(unknown)} (known: {', '.join(PROVIDERS)})"
            raise ValueError(msg)
        return value

    @pydantic.field_validator("config_providers_file_class", "config_providers_env_class")
    @classmethod
    def _kafka_provider_class(cls, value: str | None, info: pydantic.ValidationInfo) -> str | None:
        expected = {
            "config_providers_file_class": "FileConfigProvider",
            "config_providers_env_class": "EnvVarConfigProvider",
        }
        name = expected[t.cast(str, info.field_name)]
        if value is not None and value.rsplit(".", 1)[-1] != name:
            msg = f"{value}: only Kafka's {name} (built in) is available"
            raise ValueError(msg)
        return value

    @pydantic.field_validator("config_providers_env_param_allowlist_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _regex_or_none(value)

    def plugin_package_list(self) -> list[str]:
        """``plugin.packages`` and ``plugin.path`` as one list of package prefixes."""
        return [*_csv(self.plugin_packages), *_csv(self.plugin_path)]

    def client_security(self) -> dict[str, str]:
        """``security.protocol``, ``sasl.*`` and ``ssl.*`` as librdkafka settings (Java
        names mapped; refused ones left out, :meth:`client_errors` names them)."""
        settings = {
            **({"security.protocol": self.security_protocol} if self.security_protocol else {}),
            **{f"sasl.{key}": value for key, value in self.sasl.items()},
            **{f"ssl.{key}": value for key, value in self.ssl.items()},
        }
        return to_librdkafka(settings)[0]

    def client_settings(self, kind: t.Literal["producer", "consumer", "admin"]) -> dict[str, str]:
        """The base settings of every ``kind`` client the worker creates:
        ``bootstrap.servers``, the worker's client security, then ``<kind>.*`` (mapped to
        librdkafka's names). Callers add their own keys after these."""
        family = {"producer": self.producer, "consumer": self.consumer, "admin": self.admin}[kind]
        mapped = to_librdkafka(family)[0]
        if kind == "consumer":
            mapped = {key: value for key, value in mapped.items() if key not in RUNTIME_CONSUMER_KEYS}
        return {"bootstrap.servers": self.bootstrap_servers, **self.client_security(), **mapped}

    def client_errors(self) -> list[FieldError]:
        """Client settings the worker cannot use, each named as written in the worker file:
        Java-only names (with the librdkafka name to use) and what librdkafka refuses,
        key by key (:func:`worker_client_errors`), then for the merged client configs."""
        security = {
            **({"security.protocol": self.security_protocol} if self.security_protocol else {}),
            **{f"sasl.{key}": value for key, value in self.sasl.items()},
            **{f"ssl.{key}": value for key, value in self.ssl.items()},
        }
        families = {"producer": self.producer, "consumer": self.consumer, "admin": self.admin}
        errors = worker_client_errors(security, families)
        if not errors:
            client_kinds: tuple[t.Literal["producer", "consumer"], ...] = ("producer", "consumer")
            for client_kind in client_kinds:
                problem = librdkafka_problem(client_kind, self.client_settings(client_kind))
                if problem is not None:
                    errors.append(FieldError(f"{client_kind} client", problem))
        return errors

    def provider_policy(self, *, remote: bool) -> ProviderPolicy:
        """What references in a connector config may read: ``remote`` for a config sent
        over REST (closed unless the provider keys are set), else for a file given on the
        command line (open unless they are set). A provider left out of a set
        ``config.providers`` may read nothing."""
        paths = self.config_providers_file_param_allowed_paths
        pattern = self.config_providers_env_param_allowlist_pattern
        closed = ProviderPolicy.closed()
        enabled = set(_csv(self.config_providers)) if self.config_providers is not None else set(PROVIDERS)
        return ProviderPolicy(
            allowed_paths=closed.allowed_paths
            if "file" not in enabled
            else tuple(Path(p).resolve() for p in _csv(paths))
            if paths is not None
            else (closed.allowed_paths if remote else None),
            env_allowlist=closed.env_allowlist
            if "env" not in enabled
            else re.compile(pattern)
            if pattern is not None
            else (closed.env_allowlist if remote else None),
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

    def override_errors(self, overrides: t.Mapping[str, t.Mapping[str, str]]) -> list[FieldError]:
        """A connector's client overrides (``{"producer.override.": {...}, ...}``) that
        ``connector.client.config.override.policy`` forbids, one error per key."""
        allowed = {"All": None, "None": frozenset(), "Principal": PRINCIPAL_OVERRIDES}[
            self.connector_client_config_override_policy
        ]
        if allowed is None:
            return []
        policy = self.connector_client_config_override_policy
        message = f"not allowed by the worker's connector.client.config.override.policy={policy}"
        return [
            FieldError(prefix + key, message)
            for prefix, settings in overrides.items()
            for key in settings
            if key not in allowed
        ]

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
        ("admin.override.", "admin.override.*"),
        ("key.converter.", "key.converter.*"),
        ("value.converter.", "value.converter.*"),
        ("topic.creation.", "topic.creation.*"),
    ),
    WorkerConfig: (
        ("producer.", "producer.*"),
        ("consumer.", "consumer.*"),
        ("admin.", "admin.*"),
        ("sasl.", "sasl.*"),
        ("ssl.", "ssl.*"),
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


def worker_client_errors(
    security: t.Mapping[str, str], families: t.Mapping[str, t.Mapping[str, str]]
) -> list[FieldError]:
    """Key-by-key errors of a worker's client settings: ``security`` (its top-level
    ``security.protocol``, ``sasl.*``, ``ssl.*``) and ``families`` (``producer``,
    ``consumer``, ``admin`` -> their settings without the prefix). Usable before the
    worker file as a whole validates, so every problem is reported in one pass."""
    mapped, errors = to_librdkafka(security)
    errors += client_setting_errors(mapped, kind="producer", prefix="")
    for kind, family in families.items():
        mapped, family_errors = to_librdkafka(family, prefix=f"{kind}.")
        errors += family_errors
        errors += client_setting_errors(
            mapped, kind="consumer" if kind == "consumer" else "producer", prefix=f"{kind}."
        )
    return errors


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
