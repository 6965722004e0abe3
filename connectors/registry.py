"""Finding plugins: built-in aliases and third-party entry points.

A plugin registers itself under the entry-point group ``headwater.sources`` or
``headwater.sinks`` with its alias as the name, e.g. in its pyproject::

    [project.entry-points."headwater.sources"]
    my-source = "my_package.connector:MySourceConnector"

``connector.class`` then takes the alias or the entry point's ``module:Class`` (or
``module.Class``). Any other dotted path is resolved only when its module is under one
of the allowed package prefixes (the worker key ``plugin.packages``): nothing outside
them is ever imported, so a connector config cannot make the worker import an arbitrary
module for its side effects. The class found must be a Headwater connector.
"""

from __future__ import annotations

import importlib
import re
import typing as t
from importlib.metadata import EntryPoint, entry_points

from headwater.connectors.errors import ConfigError, FieldError

__all__ = ["ENTRY_POINT_GROUPS", "available_plugins", "resolve_plugin"]

ENTRY_POINT_GROUPS = ("headwater.sources", "headwater.sinks")
_IDENTIFIER = r"[A-Za-z_]\w*"
_DOTTED = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*")


def _registered() -> list[EntryPoint]:
    return [entry for group in ENTRY_POINT_GROUPS for entry in entry_points(group=group)]


def available_plugins() -> dict[str, type[t.Any]]:
    """Every registered plugin by alias, loaded; a plugin that fails to load is skipped."""
    plugins: dict[str, type[t.Any]] = {}
    for entry in _registered():
        try:
            plugins[entry.name] = entry.load()
        except ImportError:  # an optional extra is not installed
            continue
    return dict(sorted(plugins.items()))


def _split(connector_class: str) -> tuple[str, str] | None:
    """``module:Class`` or ``module.Class`` as (module, attribute); None if malformed."""
    module, sep, attr = connector_class.partition(":")
    if not sep:
        module, _, attr = connector_class.rpartition(".")
    if _DOTTED.fullmatch(module) and _DOTTED.fullmatch(attr):
        return module, attr
    return None


def _load_entry(entry: EntryPoint, connector_class: str) -> type[t.Any]:
    try:
        return t.cast(type[t.Any], entry.load())
    except ImportError as exc:
        msg = f"plugin {connector_class!r} needs a missing package ({exc.name}); install its extra"
        raise ConfigError([FieldError("connector.class", msg)]) from exc


def resolve_plugin(connector_class: str, allowed_packages: t.Collection[str] | None = None) -> type[t.Any]:
    """Return the connector class ``connector_class`` names, importing nothing it must not.

    Args:
        connector_class: an alias, a registered plugin's ``module:Class``, or a dotted path.
        allowed_packages: package prefixes a dotted path's module may be under; None allows
            any module (for trusted callers: tests, the conformance suite).

    Raises:
        ConfigError: for ``connector.class`` when the alias is unknown, the path is outside
            the allowed packages or cannot be imported, or the object is not a Headwater
            connector.
    """
    from headwater.connectors.api import Plugin

    registered = _registered()
    parts = _split(connector_class)
    for entry in registered:
        if entry.name == connector_class or (parts is not None and _split(entry.value) == parts):
            return _load_entry(entry, connector_class)
    known = ", ".join(sorted({entry.name for entry in registered})) or "none"
    if parts is None:
        msg = f"unknown plugin {connector_class!r} (known: {known})"
        raise ConfigError([FieldError("connector.class", msg)])
    module_name, attr = parts
    if allowed_packages is not None and not any(
        module_name == prefix or module_name.startswith(prefix + ".") for prefix in allowed_packages
    ):
        msg = (
            f"{connector_class!r} is neither a registered plugin (known: {known}) nor under the worker's "
            "plugin.packages; register it as an entry point or add its package there"
        )
        raise ConfigError([FieldError("connector.class", msg)])
    try:
        plugin = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        msg = f"cannot load {connector_class!r}: {exc}"
        raise ConfigError([FieldError("connector.class", msg)]) from exc
    if not (isinstance(plugin, type) and issubclass(plugin, Plugin)):
        msg = f"{connector_class!r} is not a Headwater SourceConnector or SinkConnector"
        raise ConfigError([FieldError("connector.class", msg)])
    return plugin
