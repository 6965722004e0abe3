"""Finding plugins: built-in aliases and third-party entry points.

A plugin registers itself under the entry-point group ``headwater.sources`` or
``headwater.sinks`` with its alias as the name, e.g. in its pyproject::

    [project.entry-points."headwater.sources"]
    my-source = "my_package.connector:MySourceConnector"

``connector.class`` then takes the alias, or a ``package.module:Class`` (or
``package.module.Class``) path for plugins that are not registered.
"""

from __future__ import annotations

import importlib
import typing as t
from importlib.metadata import entry_points

from headwater.connectors.errors import ConfigError, FieldError

__all__ = ["ENTRY_POINT_GROUPS", "available_plugins", "resolve_plugin"]

ENTRY_POINT_GROUPS = ("headwater.sources", "headwater.sinks")


def available_plugins() -> dict[str, type[t.Any]]:
    """Every registered plugin by alias, loaded; a plugin that fails to load is skipped."""
    plugins: dict[str, type[t.Any]] = {}
    for group in ENTRY_POINT_GROUPS:
        for entry in entry_points(group=group):
            try:
                plugins[entry.name] = entry.load()
            except ImportError:  # an optional extra is not installed
                continue
    return dict(sorted(plugins.items()))


def resolve_plugin(connector_class: str) -> type[t.Any]:
    """Return the connector class ``connector_class`` names.

    Raises:
        ConfigError: for ``connector.class`` when the alias is unknown, the module cannot
            be imported, or the object is not a Headwater connector.
    """
    from headwater.connectors.api import Plugin

    for group in ENTRY_POINT_GROUPS:
        matches = entry_points(group=group, name=connector_class)
        for entry in matches:
            try:
                plugin = entry.load()
            except ImportError as exc:
                msg = f"plugin {connector_class!r} needs a missing package ({exc.name}); install its extra"
                raise ConfigError([FieldError("connector.class", msg)]) from exc
            return t.cast(type[t.Any], plugin)
    module_name, sep, attr = connector_class.partition(":")
    if not sep:
        module_name, _, attr = connector_class.rpartition(".")
    if not module_name or not attr:
        known = ", ".join(sorted(available_plugins())) or "none"
        msg = f"unknown plugin {connector_class!r} (known: {known})"
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
