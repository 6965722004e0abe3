"""HeaderFrom (``$Key`` / ``$Value``), InsertHeader and DropHeaders.

Headwater's headers are ``(name, bytes)`` pairs; values copied from fields are written
as Kafka Connect's ``SimpleHeaderConverter`` writes them (see :func:`header_bytes`).
"""

from __future__ import annotations

import typing as t

from pydantic import Field, field_validator, model_validator

from headwater.codecs import schema as s
from headwater.connectors.config import PluginConfig
from headwater.connectors.transforms import schemas
from headwater.connectors.transforms.base import AnyRecord, Record, Transformation, header_bytes, replace, require_map
from headwater.connectors.transforms.fields import FieldTransform, csv

__all__ = ["DropHeaders", "HeaderFrom", "InsertHeader"]

_CONNECT = "org.apache.kafka.connect.transforms."


def _not_blank(value: str) -> str:
    if not csv(value):
        msg = "give at least one name (comma-separated)"
        raise ValueError(msg)
    return value


class HeaderFromConfig(PluginConfig):
    fields: str = Field(min_length=1)
    """Fields to copy or move into headers, comma-separated."""
    headers: str = Field(min_length=1)
    """Header names, one for each field, in the same order."""
    operation: t.Literal["move", "copy"]
    """``move`` removes the fields from the key or value; ``copy`` keeps them."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    _fields = field_validator("fields", "headers")(_not_blank)

    @model_validator(mode="after")
    def _same_length(self) -> HeaderFromConfig:
        if len(csv(self.fields)) != len(csv(self.headers)):
            msg = "fields and headers must name the same number of entries"
            raise ValueError(msg)
        return self


class HeaderFrom(FieldTransform):
    """Copies or moves fields of the key or value into headers."""

    config_class = HeaderFromConfig
    purpose = "header from"

    def __init__(self, config: HeaderFromConfig) -> None:
        super().__init__(config)
        self.pairs = list(zip(csv(config.fields), csv(config.headers), strict=True))
        self.move = config.operation == "move"

    def apply(self, record: Record) -> Record | None:
        data = getattr(record, self.part)
        if data is None:
            return record
        value = require_map(data, self.purpose)
        headers = list(record.headers)
        for field, header in self.pairs:
            headers.append((header, header_bytes(value.get(field))))
        new = replace(record, headers=tuple(headers))
        return super().apply(new) if self.move else new

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        value = require_map(data, self.purpose)
        for field, _header in self.pairs:
            value.pop(field, None)
        return value

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        moved = {field for field, _header in self.pairs}
        for field in moved:
            schemas.field_schema(schema, field, self.purpose)
        kept = [(item.name, item.schema) for item in schema.fields if item.name not in moved]
        return self.schemaless(data, record), schemas.with_fields(schema, kept)


class HeaderFromKey(HeaderFrom):
    part = "key"
    aliases = (_CONNECT + "HeaderFrom$Key", "HeaderFrom$Key")


class HeaderFromValue(HeaderFrom):
    part = "value"
    aliases = (_CONNECT + "HeaderFrom$Value", "HeaderFrom$Value")


class InsertHeaderConfig(PluginConfig):
    header: str = Field(min_length=1)
    """The header name."""
    value_literal: str
    """The header value (text)."""


class InsertHeader(Transformation):
    """Adds one header with a literal value."""

    config_class = InsertHeaderConfig
    aliases = (_CONNECT + "InsertHeader", "InsertHeader")

    def apply(self, record: Record) -> Record | None:
        config = t.cast(InsertHeaderConfig, self.config)
        return replace(record, headers=(*record.headers, (config.header, config.value_literal.encode())))


class DropHeadersConfig(PluginConfig):
    headers: str = Field(min_length=1)
    """Header names to remove, comma-separated."""

    _headers = field_validator("headers")(_not_blank)


class DropHeaders(Transformation):
    """Removes every header with one of the listed names."""

    config_class = DropHeadersConfig
    aliases = (_CONNECT + "DropHeaders", "DropHeaders")

    def __init__(self, config: DropHeadersConfig) -> None:
        super().__init__(config)
        self.names = frozenset(csv(config.headers))

    def apply(self, record: Record) -> Record | None:
        return replace(record, headers=tuple(pair for pair in record.headers if pair[0] not in self.names))
