"""What a plugin's config is built from: :class:`PluginConfig` and its helpers.

A plugin declares its keys as a :class:`PluginConfig` subclass: dotted keys, unknown keys
rejected, one docstring per field, secrets as ``SecretStr``. This module holds only what
a plugin imports; the framework's own keys are in :mod:`headwater.connectors.settings`,
``${env:}``/``${file:}`` references in :mod:`headwater.connectors.providers`, and reading
connector and worker files in :mod:`headwater.connectors.loading`.
"""

from __future__ import annotations

import re
import typing as t

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from headwater.connectors.errors import FieldError

__all__ = [
    "REDACTED",
    "PluginConfig",
    "TaskKey",
    "field_errors",
    "redact",
    "to_dotted",
]

REDACTED = "[hidden]"
_SECRET_KEY = re.compile(r"(password|secret|token|credential|jaas|private\.key|api\.key)", re.I)


class _TaskInternal:
    """Marks a field that only the connector sets, on its task configs."""

    def __repr__(self) -> str:
        return "TASK_INTERNAL"


_TASK_INTERNAL = _TaskInternal()
_T = t.TypeVar("_T")

TaskKey = t.Annotated[_T, Field(json_schema_extra={"readOnly": True}), _TASK_INTERNAL]
"""A key the connector sets on the task configs it returns (``task.index``, ``task.tables``):
``readOnly`` in the JSON schema and left out of :meth:`PluginConfig.user_json_schema`
(``headwater plugins``, ``GET /connector-plugins``, the README's reference), refused in a
user's connector config, while ``model_copy(update=...)`` in ``task_configs`` still sets it.
Use as ``task_index: TaskKey[int] = Field(default=0, ge=0)``."""


def to_dotted(name: str) -> str:
    """Python field name to Kafka Connect key: ``errors_retry_timeout`` -> ``errors.retry.timeout``."""
    return name.replace("_", ".")


class PluginConfig(BaseModel):
    """Base of every plugin's config: dotted keys, unknown keys rejected, immutable.

    Subclasses declare fields with a docstring each; secrets are ``SecretStr`` so they
    never appear in logs, status output or REST responses; keys typed :data:`TaskKey`
    belong to task configs only.
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

    @classmethod
    def task_keys(cls) -> frozenset[str]:
        """The dotted keys typed :data:`TaskKey`: set by the connector, never by a user."""
        return frozenset(
            info.alias or name
            for name, info in cls.model_fields.items()
            if any(marker is _TASK_INTERNAL for marker in info.metadata)
        )

    @classmethod
    def user_json_schema(cls) -> dict[str, t.Any]:
        """The JSON schema of the keys a user may set: :data:`TaskKey` keys left out."""
        schema = cls.model_json_schema(by_alias=True)
        hidden = cls.task_keys()
        schema["properties"] = {key: spec for key, spec in schema["properties"].items() if key not in hidden}
        if "required" in schema:
            schema["required"] = [key for key in schema["required"] if key not in hidden]
        return schema


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


def redact(flat: t.Mapping[str, t.Any], secret_keys: t.Collection[str] = ()) -> dict[str, t.Any]:
    """A copy of ``flat`` safe to show: secret-typed and secret-looking keys hidden."""
    return {
        key: REDACTED if (key in secret_keys or _SECRET_KEY.search(key)) and value not in (None, "") else value
        for key, value in flat.items()
    }
