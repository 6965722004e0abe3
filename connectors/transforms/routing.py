"""RegexRouter, Filter, and the predicates TopicNameMatches, HasHeaderKey, RecordIsTombstone."""

from __future__ import annotations

import re
import typing as t

from pydantic import Field, field_validator

from headwater.connectors.config import PluginConfig
from headwater.connectors.transforms.base import AnyRecord, Predicate, Record, Transformation, replace

__all__ = [
    "Filter",
    "HasHeaderKey",
    "RecordIsTombstone",
    "RegexRouter",
    "TopicNameMatches",
    "java_regex",
    "java_replacement",
]

_CONNECT = "org.apache.kafka.connect.transforms."


_JAVA_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<([A-Za-z][A-Za-z0-9]*)>")


def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regular expression: its named groups ``(?<name>...)`` become Python's ``(?P<name>...)``."""
    return re.compile(_JAVA_NAMED_GROUP.sub(r"(?P<\1>", pattern))


def _regex(value: str) -> str:
    try:
        java_regex(value)
    except re.error as exc:
        msg = f"not a valid regular expression: {exc}"
        raise ValueError(msg) from exc
    return value


def java_replacement(replacement: str) -> str:
    """A Java ``Matcher.replaceFirst`` replacement (``$1``, ``${name}``, ``\\$``) in Python's syntax.

    Raises:
        ValueError: for a ``$`` not followed by a group number or ``{name}``.
    """
    out: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif char == "$":
            named = re.match(r"\{([A-Za-z][A-Za-z0-9]*)\}", replacement[i + 1 :])
            number = re.match(r"\d+", replacement[i + 1 :])
            if named:
                out.append(f"\\g<{named.group(1)}>")
                i += 1 + named.end()
            elif number:
                out.append(f"\\g<{number.group(0)}>")
                i += 1 + number.end()
            else:
                msg = f"'$' at position {i} must be followed by a group number or {{name}} (write \\$ for a dollar)"
                raise ValueError(msg)
        else:
            out.append("\\\\" if char == "\\" else char)
            i += 1
    return "".join(out)


class RegexRouterConfig(PluginConfig):
    regex: str = Field(min_length=1)
    """Regular expression the whole topic name must match."""
    replacement: str
    """The new topic name; ``$1`` / ``${name}`` refer to the regex's groups."""

    @field_validator("regex")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _regex(value)

    @field_validator("replacement")
    @classmethod
    def _valid_replacement(cls, value: str) -> str:
        java_replacement(value)
        return value


class RegexRouter(Transformation):
    """Renames the topic when the whole name matches ``regex`` (others pass unchanged)."""

    config_class = RegexRouterConfig
    aliases = (_CONNECT + "RegexRouter", "RegexRouter")

    def __init__(self, config: RegexRouterConfig) -> None:
        super().__init__(config)
        self.regex = java_regex(config.regex)
        self.template = java_replacement(config.replacement)
        self._routes: dict[str, str] = {}

    def route(self, topic: str) -> str:
        """The new name of ``topic`` (itself when it does not match); remembered, as topics are few."""
        routed = self._routes.get(topic)
        if routed is None:
            match = self.regex.fullmatch(topic)
            routed = topic if match is None else match.expand(self.template)
            if len(self._routes) >= 10_000:
                self._routes.clear()
            self._routes[topic] = routed
        return routed

    def apply(self, record: Record) -> Record | None:
        topic = self.route(record.topic)
        return record if topic == record.topic else replace(record, topic=topic)


class Filter(Transformation):
    """Drops every record it is applied to: use it with a predicate."""

    aliases = (_CONNECT + "Filter", "Filter")

    def apply(self, record: Record) -> Record | None:
        return None


class TopicNameMatchesConfig(PluginConfig):
    pattern: str = Field(min_length=1)
    """Regular expression the whole topic name must match."""

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _regex(value)


class TopicNameMatches(Predicate):
    """True for records whose whole topic name matches ``pattern``."""

    config_class = TopicNameMatchesConfig
    aliases = (_CONNECT + "predicates.TopicNameMatches", "TopicNameMatches")

    def __init__(self, config: TopicNameMatchesConfig) -> None:
        super().__init__(config)
        self.pattern = java_regex(config.pattern)

    def test(self, record: AnyRecord) -> bool:
        return self.pattern.fullmatch(record.topic) is not None


class HasHeaderKeyConfig(PluginConfig):
    name: str = Field(min_length=1)
    """The header key to look for."""


class HasHeaderKey(Predicate):
    """True for records with at least one header named ``name``."""

    config_class = HasHeaderKeyConfig
    aliases = (_CONNECT + "predicates.HasHeaderKey", "HasHeaderKey")

    def test(self, record: AnyRecord) -> bool:
        name = t.cast(HasHeaderKeyConfig, self.config).name
        return any(key == name for key, _ in record.headers)


class RecordIsTombstone(Predicate):
    """True for tombstones: records whose value is null."""

    aliases = (_CONNECT + "predicates.RecordIsTombstone", "RecordIsTombstone")

    def test(self, record: AnyRecord) -> bool:
        return record.value is None
