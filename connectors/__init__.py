"""The Headwater connector runtime and the source plugins.

A plugin imports its contract from here: ``SourceConnector``/``SourceTask``,
``SinkConnector``/``SinkTask``, the record types, ``PluginConfig`` (with ``TaskKey`` and
``TopicName`` field types) and the errors.

The names load on first use (PEP 562), so a command that needs only the codecs or the
errors (``headwater copybook decode``, ``headwater oracle parse-redo``) does not pay for
importing the runtime and pydantic at start-up.
"""

from __future__ import annotations

import importlib
import typing as t

if t.TYPE_CHECKING:
    from headwater.connectors.api import (
        Capability,
        ErrantSourceRecord,
        SinkConnector,
        SinkRecord,
        SinkTask,
        SinkTaskContext,
        SourceConnector,
        SourceRecord,
        SourceTask,
        SourceTaskContext,
    )
    from headwater.connectors.config import PluginConfig, TaskKey, TopicName
    from headwater.connectors.errors import ConfigError, FatalError, FieldError, RecordError, RetriableError

_HOMES = {
    **dict.fromkeys(
        (
            "Capability",
            "ErrantSourceRecord",
            "SinkConnector",
            "SinkRecord",
            "SinkTask",
            "SinkTaskContext",
            "SourceConnector",
            "SourceRecord",
            "SourceTask",
            "SourceTaskContext",
        ),
        "headwater.connectors.api",
    ),
    **dict.fromkeys(("PluginConfig", "TaskKey", "TopicName"), "headwater.connectors.config"),
    **dict.fromkeys(
        ("ConfigError", "FatalError", "FieldError", "RecordError", "RetriableError"), "headwater.connectors.errors"
    ),
}

__all__ = [
    "Capability",
    "ConfigError",
    "ErrantSourceRecord",
    "FatalError",
    "FieldError",
    "PluginConfig",
    "RecordError",
    "RetriableError",
    "SinkConnector",
    "SinkRecord",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceRecord",
    "SourceTask",
    "SourceTaskContext",
    "TaskKey",
    "TopicName",
]


def __getattr__(name: str) -> t.Any:
    home = _HOMES.get(name)
    if home is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
