"""Reading connector and worker files: resolve references, split the keys, validate.

Every problem is collected per key and raised together as one :class:`ConfigError`
before any task starts, so a user fixes everything in one pass.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import orjson
import pydantic

from headwater.connectors.compat import translate_java_connector
from headwater.connectors.config import PluginConfig, field_errors, redact
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.kafka_clients import to_librdkafka
from headwater.connectors.properties import PropertiesError, parse_properties
from headwater.connectors.providers import resolve_all, resolve_providers
from headwater.connectors.runtime.topics import parse_topic_creation
from headwater.connectors.settings import (
    ConnectorConfig,
    WorkerConfig,
    client_setting_errors,
    group_prefixed,
    worker_client_errors,
)

if t.TYPE_CHECKING:
    from headwater.connectors.transforms import TransformChain

__all__ = ["ConnectorFile", "load_connector_file", "load_document", "load_worker_file", "parse_connector"]


class ConnectorFile(t.NamedTuple):
    """A validated connector: framework config, plugin class and plugin config."""

    framework: ConnectorConfig
    plugin_class: type[t.Any]
    plugin_config: PluginConfig
    raw: dict[str, t.Any]
    """The config as written (providers unresolved), for status and REST output."""
    transforms: TransformChain | None = None
    """The ``transforms=`` chain (None or empty: records pass unchanged)."""
    notes: tuple[str, ...] = ()
    """What changed when a Kafka Connect file naming a Java connector was mapped to our
    plugin (:mod:`headwater.connectors.compat`); ``validate`` prints them, workers log them."""

    def redacted(self) -> dict[str, t.Any]:
        """``raw`` with secrets hidden."""
        return redact(self.raw, self.plugin_config.secret_keys())


def parse_connector(
    document: t.Mapping[str, t.Any],
    *,
    source: str | None = None,
    worker: WorkerConfig | None = None,
    remote: bool = False,
) -> ConnectorFile:
    """Validate a ``{"name": ..., "config": {...}}`` document (or a flat config with ``name``).

    With ``worker``, its keys say what ``${file:}`` and ``${env:}`` references may read
    (:meth:`WorkerConfig.provider_policy`; ``remote`` for a config sent over REST) and
    which packages ``connector.class`` may name (``plugin.packages``). Without it (tests,
    the conformance suite: trusted callers) references may read anything and any module
    may be named.

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
    policy = worker.provider_policy(remote=remote) if worker is not None else None
    # A key whose reference does not resolve keeps its text, so it is not also reported
    # missing; later errors about it are dropped, as the reference is the problem.
    flat: dict[str, t.Any] = {}
    reference_errors: list[FieldError] = []
    for key, value in raw.items():
        try:
            flat[key] = resolve_providers(value, key=key, policy=policy)
        except ConfigError as exc:
            reference_errors.extend(exc.errors)
            flat[key] = value
    flat, notes, errors = translate_java_connector(flat)
    transforms, flat = _split_transforms(flat, errors)
    ours, rest = group_prefixed(ConnectorConfig, flat)
    framework: ConnectorConfig | None = None
    try:
        framework = ConnectorConfig.model_validate(ours)
    except pydantic.ValidationError as exc:
        errors.extend(field_errors(exc))
    if worker is not None:
        errors += worker.override_errors(
            {f"{k}.override.": ours.get(f"{k}.override.*", {}) for k in ("producer", "consumer", "admin")}
        )
    for kind in ("producer", "consumer", "admin"):
        prefix = f"{kind}.override."
        mapped, client_errors = to_librdkafka(ours.get(f"{prefix}*", {}), prefix=prefix)
        errors += client_errors
        client_kind: t.Literal["producer", "consumer"] = "consumer" if kind == "consumer" else "producer"
        errors += client_setting_errors(mapped, kind=client_kind, prefix=prefix)
    errors += parse_topic_creation(ours.get("topic.creation.*", {}))[1]
    plugin_class: type[t.Any] | None = None
    plugin_config: PluginConfig | None = None
    connector_class = flat.get("connector.class")
    if isinstance(connector_class, str) and connector_class:
        try:
            plugin_class = resolve_plugin(connector_class, worker.plugin_package_list() if worker else None)
        except ConfigError as exc:
            errors.extend(exc.errors)
    if plugin_class is not None:
        task_keys = plugin_class.config_class.task_keys() & rest.keys()
        for key in sorted(task_keys):
            errors.append(FieldError(key, "set by the connector on each task's config, never by a user; remove it"))
        rest = {key: value for key, value in rest.items() if key not in task_keys}
        try:
            plugin_config = plugin_class.config_class.model_validate(rest)
        except pydantic.ValidationError as exc:
            errors.extend(field_errors(exc))
        if framework is not None:
            errors.extend(_check_kind(plugin_class, framework))
    if reference_errors:
        unresolved = {error.key for error in reference_errors}
        errors = reference_errors + [error for error in errors if error.key not in unresolved]
    if errors or framework is None or plugin_class is None or plugin_config is None:
        raise ConfigError(errors, source=source)
    return ConnectorFile(framework, plugin_class, plugin_config, raw, transforms, tuple(notes))


def _split_transforms(
    flat: dict[str, t.Any], errors: list[FieldError]
) -> tuple[TransformChain | None, dict[str, t.Any]]:
    """Build the ``transforms`` / ``predicates`` chain; return it and the remaining keys."""
    from headwater.connectors.transforms import build_transforms

    ours = {key: value for key, value in flat.items() if key.split(".", 1)[0] in ("transforms", "predicates")}
    chain = None
    try:
        chain = build_transforms(ours)
    except ConfigError as exc:
        errors.extend(exc.errors)
    return chain, {key: value for key, value in flat.items() if key not in ours}


def _check_kind(plugin_class: type[t.Any], framework: ConnectorConfig) -> list[FieldError]:
    from headwater.connectors.api import SinkConnector

    is_sink = issubclass(plugin_class, SinkConnector)
    has_topics = bool(framework.topics or framework.topics_regex)
    if is_sink and not has_topics:
        return [FieldError("topics", "a sink needs topics or topics.regex")]
    if is_sink and framework.topics and framework.topics_regex:
        return [FieldError("topics", "set topics or topics.regex, not both")]
    if is_sink and framework.topic_creation:
        return [FieldError("topic.creation.*", "only source connectors create topics; remove these keys")]
    if not is_sink and has_topics:
        return [FieldError("topics", "only sinks consume topics; a source names its topic in its own keys")]
    if framework.transaction_boundary == "connector" and not _defines_boundaries(plugin_class):
        name = getattr(plugin_class, "name", plugin_class.__name__)
        message = f"{name} cannot define transaction boundaries; use poll or interval"
        return [FieldError("transaction.boundary", message)]
    return []


def _defines_boundaries(plugin_class: type[t.Any]) -> bool:
    from headwater.connectors.api import Capability, SourceConnector

    capabilities: frozenset[t.Any] = getattr(plugin_class, "capabilities", frozenset())
    return issubclass(plugin_class, SourceConnector) and Capability.TRANSACTION_BOUNDARIES in capabilities


def _load_document(path: Path) -> dict[str, t.Any]:
    """A worker or connector file as a dict: Java ``.properties`` (flat keys, as Kafka
    Connect's files are) when the name ends in ``.properties``, else JSON.

    Raises:
        ConfigError: naming the file when it cannot be read or parsed.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([FieldError("file", f"cannot read: {exc.strerror}")], source=str(path)) from exc
    if path.suffix == ".properties":
        try:
            # UTF-8 is what people write; Java's own reading (ISO-8859-1) if it is not UTF-8.
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("iso-8859-1")
            return dict(parse_properties(text))
        except PropertiesError as exc:
            raise ConfigError([FieldError("file", f"not a valid .properties file: {exc}")], source=str(path)) from exc
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError([FieldError("file", f"not valid JSON: {exc}")], source=str(path)) from exc
    if not isinstance(document, dict):
        raise ConfigError([FieldError("file", "must hold a JSON object")], source=str(path))
    return document


def load_document(path: str | Path) -> dict[str, t.Any]:
    """A connector file (``.json`` or ``.properties``) as the ``{"name", "config"}`` document
    the REST API takes (for ``headwater connectors apply``); a flat file's ``name`` key names it.

    Raises:
        ConfigError: naming the file when it cannot be read or parsed or has no name.
    """
    path = Path(path)
    document = _load_document(path)
    if isinstance(document.get("config"), dict):
        return document
    config = {key: value for key, value in document.items() if key != "name"}
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise ConfigError(
            [FieldError("name", "missing: a flat connector file names its connector in name=")], source=str(path)
        )
    return {"name": document["name"], "config": config}


def load_connector_file(path: str | Path, *, worker: WorkerConfig | None = None) -> ConnectorFile:
    """Load and validate one connector file (JSON or ``.properties``) given on the command line; errors name
    the file and each key. ``worker`` as in :func:`parse_connector`."""
    path = Path(path)
    return parse_connector(_load_document(path), source=str(path), worker=worker)


def load_worker_file(path: str | Path, *, distributed: bool = False) -> WorkerConfig:
    """Load and validate a worker file, JSON or ``.properties`` (flat keys, Kafka Connect's names).

    With ``distributed`` the keys distributed mode needs are required too.
    """
    path = Path(path)
    document = _load_document(path)
    try:
        flat = resolve_all(document)
    except ConfigError as exc:
        raise ConfigError(exc.errors, source=str(path)) from None
    ours, rest = group_prefixed(WorkerConfig, flat)
    errors = [FieldError(key, "unknown worker key") for key in rest]
    try:
        config = WorkerConfig.model_validate(ours)
    except pydantic.ValidationError as exc:
        errors.extend(field_errors(exc))
        security = {
            key: str(value)
            for key, value in flat.items()
            if key == "security.protocol" or key.startswith(("sasl.", "ssl."))
        }
        families = {kind: ours.get(f"{kind}.*", {}) for kind in ("producer", "consumer", "admin")}
        errors.extend(worker_client_errors(security, families))
        raise ConfigError(errors, source=str(path)) from None
    errors.extend(config.client_errors())
    errors.extend(config.distributed_errors() if distributed else config.consistency_errors())
    if errors:
        raise ConfigError(errors, source=str(path))
    return config
