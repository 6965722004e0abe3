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
    "TopicName",
    "field_errors",
    "redact",
    "to_dotted",
    "topic_name_problem",
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


MAX_TOPIC_LENGTH = 249
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def topic_name_problem(name: str) -> str | None:
    """Why Kafka would refuse ``name`` as a topic name, or None if it is legal."""
    if name in (".", ".."):
        return "'.' and '..' are not topic names"
    if len(name) > MAX_TOPIC_LENGTH:
        return f"a topic name has at most {MAX_TOPIC_LENGTH} characters, not {len(name)}"
    if not _TOPIC_CHARS.fullmatch(name):
        return "a topic name has only ASCII letters, digits, '.', '_' and '-'"
    return None


def _check_topic(value: str) -> str:
    problem = topic_name_problem(value)
    if problem is not None:
        msg = f"{value!r}: {problem}"
        raise ValueError(msg)
    return value


TopicName = t.Annotated[str, pydantic.AfterValidator(_check_topic)]
"""A field holding one Kafka topic name, checked as Kafka checks it (legal characters,
at most 249 of them, not ``.`` or ``..``)."""


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

    def local_errors(self) -> list[FieldError]:
        """Checks against the machine that will run the tasks (a directory that must
        exist, a file that must be readable), for problems no key alone shows.

        ``headwater validate`` and ``headwater standalone`` call it on the worker's
        machine before any task starts; the model's validators must not touch the
        machine, as a config is also validated where it will not run. Default: none.
        """
        return []

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
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        errors.append(FieldError(key, message))
    return errors


def redact(flat: t.Mapping[str, t.Any], secret_keys: t.Collection[str] = ()) -> dict[str, t.Any]:
    """A copy of ``flat`` safe to show: secret-typed and secret-looking keys hidden."""
    return {
        key: REDACTED if (key in secret_keys or _SECRET_KEY.search(key)) and value not in (None, "") else value
        for key, value in flat.items()
    }
