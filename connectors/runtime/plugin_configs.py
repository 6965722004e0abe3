"""Kafka Connect's ``/connector-plugins/{plugin}/config[/validate]`` answers, from our config models.

Connect UIs and tools call ``PUT /connector-plugins/{plugin}/config/validate`` before every
create and ``GET /connector-plugins/{plugin}/config`` to draw a form. Both are built here
from the framework's :class:`~headwater.connectors.settings.ConnectorConfig` and the
plugin's own :class:`~headwater.connectors.config.PluginConfig`, in Connect's shapes
(``ConfigInfos``: ``name``, ``error_count``, ``groups``, ``configs`` of ``{definition,
value}``). The functions are pure apart from the validation itself (which may read the
``${file:}``/``${env:}`` references the worker's policy allows); REST handler threads call
them.
"""

from __future__ import annotations

import enum
import types
import typing as t

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from headwater.connectors.config import REDACTED, PluginConfig, redact
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.registry import available_plugins
from headwater.connectors.settings import ConnectorConfig
from headwater.connectors.version import HEADWATER_VERSION

if t.TYPE_CHECKING:
    from headwater.connectors.settings import WorkerConfig

__all__ = ["PluginMismatch", "PluginNotFound", "config_definitions", "find_plugin", "plugin_version", "validate"]

COMMON = "Common"
ERRORS = "Error Handling"
_FRAMEWORK_ORDER = {"name": 1, "connector.class": 2, "tasks.max": 3}


class PluginNotFound(Exception):
    """No installed plugin answers to the name in the path (REST 404)."""


class PluginMismatch(Exception):
    """The body's ``connector.class`` names another plugin than the path (REST 400)."""


def plugin_version(plugin: type[t.Any]) -> str:
    """The version a plugin reports in statuses, plugin lists and metrics: its ``version``
    class attribute when it has one, else the installed Headwater's for the built-in
    plugins, else the version of the distribution its top package ships in."""
    version = getattr(plugin, "version", None)
    if isinstance(version, str) and version:
        return version
    top = plugin.__module__.split(".")[0]
    if top == "headwater":
        return HEADWATER_VERSION
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version(top)
    except (PackageNotFoundError, ValueError):
        return "unknown"


def _names(alias: str, plugin: type[t.Any]) -> set[str]:
    """Every name Connect users may give for a plugin: our alias, the class as
    ``module:Class`` or ``module.Class``, and (as Connect's aliases) the simple class
    name with or without its ``Connector`` suffix."""
    simple = plugin.__qualname__
    names = {alias, simple}
    parts = plugin.__module__.split(".")
    for end in range(1, len(parts) + 1):  # the defining module and each package above it
        module = ".".join(parts[:end])
        names |= {f"{module}:{simple}", f"{module}.{simple}"}
    if simple.endswith("Connector") and len(simple) > len("Connector"):
        names.add(simple.removesuffix("Connector"))
    return names


def find_plugin(name: str) -> tuple[str, type[t.Any]]:
    """The (alias, class) of the installed plugin ``name`` designates.

    Raises:
        PluginNotFound: no installed plugin has that name (Connect's ``Unknown plugin X.``).
    """
    for alias, plugin in available_plugins().items():
        if name in _names(alias, plugin):
            return alias, plugin
    msg = f"Unknown plugin {name}."
    raise PluginNotFound(msg)


def _type_of(annotation: t.Any) -> tuple[str, list[str]]:
    """Connect's ``ConfigDef.Type`` name of a field, and its recommended values (a Literal's)."""
    args = [arg for arg in t.get_args(annotation) if arg is not type(None)]
    origin = t.get_origin(annotation)
    if origin in (t.Union, types.UnionType) and len(args) == 1:
        return _type_of(args[0])
    if origin is t.Literal:
        return "STRING", [str(arg) for arg in args]
    if origin is t.Annotated:
        return _type_of(args[0])
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return "PASSWORD", []
        if issubclass(annotation, bool):
            return "BOOLEAN", ["true", "false"]
        if issubclass(annotation, int):
            return "LONG" if annotation is not int else "INT", []
        if issubclass(annotation, float):
            return "DOUBLE", []
        if issubclass(annotation, enum.Enum):
            return "STRING", [str(member.value) for member in annotation]
        if issubclass(annotation, (list, tuple, set, frozenset)):
            return "LIST", []
    if origin in (list, tuple, set, frozenset):
        return "LIST", []
    return "STRING", []


def _text(value: t.Any) -> str | None:
    """A value as Connect shows it: a string (``true``, ``1``, ``a,b``), or null."""
    if value is None or value is PydanticUndefined:
        return None
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    return str(value)


def _fields(model: type[PluginConfig]) -> t.Iterator[tuple[str, FieldInfo]]:
    """The keys a user sets, dotted: prefixed families (``producer.override.*``) and task keys left out."""
    hidden = model.task_keys()
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key.endswith(".*") or key in hidden:
            continue
        yield key, info


def _definition(key: str, info: FieldInfo, group: str | None, order: int) -> dict[str, t.Any]:
    kind, _recommended = _type_of(info.annotation)
    required = info.is_required()
    default = None if required or info.default_factory is not None else _text(info.default)
    documentation = " ".join((info.description or "").split())
    importance = "HIGH" if required else "MEDIUM"
    return {
        "name": key,
        "type": kind,
        "required": required,
        "default_value": default,
        "importance": importance,
        "documentation": documentation,
        "group": group,
        "width": "NONE" if group is None else "MEDIUM",
        "display_name": key,
        "dependents": [],
        "order": order,
    }


def _all_fields(alias: str, plugin: type[t.Any]) -> list[tuple[str, FieldInfo, str | None, int]]:
    """The plugin's own keys (group: the plugin alias), then the framework's (Common, Error Handling)."""
    out: list[tuple[str, FieldInfo, str | None, int]] = []
    for order, (key, info) in enumerate(_fields(plugin.config_class), 1):
        out.append((key, info, alias, order))
    for position, (key, info) in enumerate(_fields(ConnectorConfig), 1):
        group = ERRORS if key.startswith("errors.") else COMMON
        out.append((key, info, group, _FRAMEWORK_ORDER.get(key, 3 + position)))
    return out


def config_definitions(plugin_name: str) -> list[dict[str, t.Any]]:
    """``GET /connector-plugins/{plugin}/config``: every key's ``ConfigKeyInfo``.

    Raises:
        PluginNotFound: unknown plugin.
    """
    alias, plugin = find_plugin(plugin_name)
    return [_definition(key, info, group, order) for key, info, group, order in _all_fields(alias, plugin)]


def validate(
    plugin_name: str,
    config: t.Mapping[str, t.Any],
    worker: WorkerConfig | None,
    *,
    remote: bool,
    check: t.Callable[[t.Any], None] | None = None,
) -> dict[str, t.Any]:
    """``PUT /connector-plugins/{plugin}/config/validate``: Connect's ``ConfigInfos``.

    ``config`` is the flat connector config (``connector.class`` defaults to the path's
    plugin). Every error this worker would refuse the config for at create time is
    reported on its key: framework and plugin keys, ``${...}`` references the worker's
    policy forbids (``remote`` for a config sent over REST), converters and client
    settings through ``check(connector_file)``; a key that is no key of the plugin gets an
    entry of its own with the error, so ``error_count`` counts everything.

    Raises:
        PluginNotFound: the path names no installed plugin.
        PluginMismatch: ``connector.class`` names another plugin than the path.
    """
    from headwater.connectors.loading import parse_connector

    alias, plugin = find_plugin(plugin_name)
    flat = dict(config)
    given_class = flat.get("connector.class")
    if given_class is None:
        flat["connector.class"] = plugin_name
    else:
        try:
            same = find_plugin(str(given_class))[1] is plugin
        except PluginNotFound:
            same = False
        if not same:
            msg = f"Included connector type {given_class} does not match request type {plugin_name}"
            raise PluginMismatch(msg)
    errors: list[FieldError] = []
    try:
        # The plugin is found already: parse under its alias, whatever name the caller used.
        connector = parse_connector({**flat, "connector.class": alias}, worker=worker, remote=remote)
        if check is not None:
            check(connector)
    except ConfigError as exc:
        errors = exc.errors
    by_key: dict[str, list[str]] = {}
    for error in errors:
        by_key.setdefault(error.key, []).append(error.message)
    configs = []
    groups: list[str] = []
    secrets = plugin.config_class.secret_keys()
    for key, info, group, order in _all_fields(alias, plugin):
        if group is not None and group not in groups:
            groups.append(group)
        kind, recommended = _type_of(info.annotation)
        value = flat.get(key, info.default if not info.is_required() and info.default_factory is None else None)
        shown = REDACTED if (key in secrets or kind == "PASSWORD") and value not in (None, "") else _text(value)
        configs.append(
            {
                "definition": _definition(key, info, group, order),
                "value": {
                    "name": key,
                    "value": shown,
                    "recommended_values": recommended,
                    "errors": by_key.pop(key, []),
                    "visible": True,
                },
            }
        )
    for key, messages in by_key.items():  # unknown keys, transforms.*, producer.override.*, ...
        definition = {
            "name": key,
            "type": "STRING",
            "required": False,
            "default_value": None,
            "importance": "LOW",
            "documentation": "",
            "group": None,
            "width": "NONE",
            "display_name": key,
            "dependents": [],
            "order": -1,
        }
        value = redact({key: flat.get(key)}).get(key)
        configs.append(
            {
                "definition": definition,
                "value": {
                    "name": key,
                    "value": None if value is None else _text(value),
                    "recommended_values": [],
                    "errors": messages,
                    "visible": True,
                },
            }
        )
    error_count = sum(len(entry["value"]["errors"]) for entry in configs)
    return {"name": plugin_name, "error_count": error_count, "groups": groups, "configs": configs}
