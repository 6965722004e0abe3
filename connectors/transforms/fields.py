"""Field transformations on the key or the value (Kafka Connect's ``$Key`` / ``$Value`` pairs).

InsertField, ReplaceField, MaskField, ExtractField, HoistField, Flatten and Cast each come
as ``<Name>$Key`` and ``<Name>$Value``; ValueToKey copies value fields into the key.
Without a schema they work on maps (dicts), as Kafka Connect's do; a tombstone (a null
value) passes unchanged, except through HoistField, which wraps it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import typing as t

from pydantic import Field, field_validator, model_validator

from headwater.codecs import schema as s
from headwater.codecs.converters import to_json_bytes
from headwater.connectors.api import SinkRecord
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError
from headwater.connectors.transforms import schemas
from headwater.connectors.transforms.base import (
    AnyRecord,
    Record,
    Transformation,
    record_partition,
    replace,
    require_map,
    schema_of,
)

__all__ = [
    "Cast",
    "ExtractField",
    "Flatten",
    "HoistField",
    "InsertField",
    "MaskField",
    "ReplaceField",
    "ValueToKey",
]

Part: t.TypeAlias = t.Literal["key", "value"]
_CONNECT = "org.apache.kafka.connect.transforms."


def csv(value: str) -> list[str]:
    """A Kafka Connect LIST setting: comma-separated, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


class FieldTransform(Transformation):
    """A transformation of the key or the value; subclasses fix ``part``."""

    part: t.ClassVar[Part] = "value"
    passes_null: t.ClassVar[bool] = True
    purpose: t.ClassVar[str] = "field transformation"

    def apply(self, record: Record) -> Record | None:
        data = getattr(record, self.part)
        if data is None and self.passes_null:
            return record
        schema = schema_of(record, self.part)
        if schema is not None:
            new_data, new_schema = self.with_schema(data, schema, record)
            return replace(record, **{self.part: new_data, f"{self.part}_schema": new_schema})
        return replace(record, **{self.part: self.schemaless(data, record)})

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        """The new key or value of a record without a schema."""
        raise NotImplementedError

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        """The new data and schema of a record with a schema.

        The default keeps the schema and computes the data as without one (struct values
        are dicts either way): right for transformations that change no type.
        """
        return self.schemaless(data, record), schema


# ---------------------------------------------------------------------------------------------
# InsertField


def _field_spec(spec: str | None) -> tuple[str, bool] | None:
    """``name`` / ``name!`` (required) / ``name?`` (optional) -> (name, optional)."""
    if not spec:
        return None
    if spec.endswith("!"):
        return spec[:-1], False
    if spec.endswith("?"):
        return spec[:-1], True
    return spec, True


class InsertFieldConfig(PluginConfig):
    topic_field: str | None = None
    """Field for the record's topic (suffix ``!`` required, ``?`` optional with a schema)."""
    partition_field: str | None = None
    """Field for the Kafka partition."""
    offset_field: str | None = None
    """Field for the Kafka offset (sink connectors only)."""
    timestamp_field: str | None = None
    """Field for the record timestamp (a UTC datetime)."""
    static_field: str | None = None
    """Field for ``static.value``."""
    static_value: str | None = None
    """The static text inserted into ``static.field``."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @model_validator(mode="after")
    def _one_at_least(self) -> InsertFieldConfig:
        if self.static_field and self.static_value is None:
            msg = "static.field needs static.value"
            raise ValueError(msg)
        return self


class InsertField(FieldTransform):
    """Inserts the topic, partition, offset, timestamp and/or a static value as fields."""

    config_class = InsertFieldConfig
    purpose = "field insertion"

    def __init__(self, config: InsertFieldConfig) -> None:
        super().__init__(config)
        self.topic = _field_spec(config.topic_field)
        self.partition = _field_spec(config.partition_field)
        self.offset = _field_spec(config.offset_field)
        self.timestamp = _field_spec(config.timestamp_field)
        self.static = _field_spec(config.static_field)
        self.static_value = config.static_value

    def insertions(self, record: AnyRecord) -> list[tuple[str, t.Any]]:
        """(field, value) pairs to add, in Kafka Connect's order."""
        out: list[tuple[str, t.Any]] = []
        if self.topic:
            out.append((self.topic[0], record.topic))
        if self.partition:
            out.append((self.partition[0], record_partition(record)))
        if self.offset:
            if not isinstance(record, SinkRecord):
                msg = "offset insertion is only supported for sink connectors (offset.field on a source record)"
                raise RecordError(msg)
            out.append((self.offset[0], record.offset))
        if self.timestamp:
            stamp = record.timestamp_ms
            out.append((self.timestamp[0], None if stamp is None else _utc_from_ms(stamp)))
        if self.static:
            out.append((self.static[0], self.static_value))
        return out

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        value = require_map(data, self.purpose)
        value.update(self.insertions(record))
        return value

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        schemas.require_struct(schema, self.purpose)
        added = []
        for spec, kind in (
            (self.topic, s.STRING),
            (self.partition, s.INT32),
            (self.offset, s.INT64),
            (self.timestamp, s.TIMESTAMP),
            (self.static, s.STRING),
        ):
            if spec is not None:
                added.append((spec[0], kind.optional() if spec[1] else kind))
        kept = [(item.name, item.schema) for item in schema.fields if item.name not in {name for name, _ in added}]
        return self.schemaless(data, record), schemas.with_fields(schema, kept + added)


def _utc_from_ms(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


class InsertFieldKey(InsertField):
    part = "key"
    aliases = (_CONNECT + "InsertField$Key", "InsertField$Key")


class InsertFieldValue(InsertField):
    part = "value"
    aliases = (_CONNECT + "InsertField$Value", "InsertField$Value")


# ---------------------------------------------------------------------------------------------
# ReplaceField


class ReplaceFieldConfig(PluginConfig):
    exclude: str = ""
    """Fields to drop; they win over ``include``."""
    include: str = ""
    """Fields to keep (all others are dropped); empty keeps every field."""
    renames: str = ""
    """``old:new`` pairs, comma-separated."""
    blacklist: str = ""
    """Deprecated name of ``exclude``."""
    whitelist: str = ""
    """Deprecated name of ``include``."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @field_validator("renames")
    @classmethod
    def _pairs(cls, value: str) -> str:
        for pair in csv(value):
            old, sep, new = pair.partition(":")
            if not sep or not old or not new or ":" in new:
                msg = f"{pair!r} is not old:new (expected a comma-separated list of old:new pairs)"
                raise ValueError(msg)
        return value


class ReplaceField(FieldTransform):
    """Keeps, drops and renames fields (Kafka Connect's ReplaceField)."""

    config_class = ReplaceFieldConfig
    purpose = "field replacement"

    def __init__(self, config: ReplaceFieldConfig) -> None:
        super().__init__(config)
        self.exclude = frozenset(csv(config.exclude) + csv(config.blacklist))
        self.include = frozenset(csv(config.include) + csv(config.whitelist))
        self.renames = dict(pair.split(":", 1) for pair in csv(config.renames))

    def keeps(self, name: str) -> bool:
        """Kafka Connect's filter: not excluded, and included when an include list is set."""
        return name not in self.exclude and (not self.include or name in self.include)

    def renamed(self, name: str) -> str:
        return self.renames.get(name, name)

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        value = require_map(data, self.purpose)
        return {self.renamed(name): item for name, item in value.items() if self.keeps(name)}

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        schemas.require_struct(schema, self.purpose)
        kept = [(self.renamed(item.name), item.schema) for item in schema.fields if self.keeps(item.name)]
        new_schema = schemas.with_fields(schema, kept)
        value = require_map(data, self.purpose)
        return {self.renamed(item.name): value.get(item.name) for item in schema.fields if self.keeps(item.name)}, (
            new_schema
        )


class ReplaceFieldKey(ReplaceField):
    part = "key"
    aliases = (_CONNECT + "ReplaceField$Key", "ReplaceField$Key")


class ReplaceFieldValue(ReplaceField):
    part = "value"
    aliases = (_CONNECT + "ReplaceField$Value", "ReplaceField$Value")


# ---------------------------------------------------------------------------------------------
# MaskField


class MaskFieldConfig(PluginConfig):
    fields: str = Field(min_length=1)
    """Fields to mask, comma-separated."""
    replacement: str | None = None
    """Text (or number, for numeric fields) to put in place of the value; default: the type's empty value."""

    @field_validator("fields")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not csv(value):
            msg = "name at least one field"
            raise ValueError(msg)
        return value


def _empty_like(value: t.Any) -> t.Any:
    """Kafka Connect's null-equivalent of a value's type."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.0
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(0)
    if isinstance(value, str):
        return ""
    if isinstance(value, dt.datetime):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.date(1970, 1, 1)
    if isinstance(value, dt.time):
        return dt.time(0)
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    msg = f"cannot mask a value of type {type(value).__name__}"
    raise RecordError(msg)


def _replacement_like(value: t.Any, replacement: str) -> t.Any:
    """``replacement`` parsed as the value's type (numbers and strings only, as in Kafka Connect)."""
    try:
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return int(replacement)
        elif isinstance(value, float):
            return float(replacement)
        elif isinstance(value, decimal.Decimal):
            return decimal.Decimal(replacement)
        elif isinstance(value, str):
            return replacement
    except (ValueError, decimal.InvalidOperation) as exc:
        msg = f"replacement {replacement!r} is not a valid {type(value).__name__}"
        raise RecordError(msg) from exc
    msg = f"cannot mask a value of type {type(value).__name__} with a custom replacement"
    raise RecordError(msg)


class MaskField(FieldTransform):
    """Replaces the listed fields with their type's empty value or ``replacement``."""

    config_class = MaskFieldConfig
    purpose = "mask fields"

    def __init__(self, config: MaskFieldConfig) -> None:
        super().__init__(config)
        self.fields = frozenset(csv(config.fields))
        self.replacement = config.replacement

    def mask(self, value: t.Any) -> t.Any:
        if value is None:
            return None
        if self.replacement is None:
            return _empty_like(value)
        return _replacement_like(value, self.replacement)

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        value = require_map(data, self.purpose)
        for name in self.fields:
            if name in value:
                value[name] = self.mask(value[name])
        return value


class MaskFieldKey(MaskField):
    part = "key"
    aliases = (_CONNECT + "MaskField$Key", "MaskField$Key")


class MaskFieldValue(MaskField):
    part = "value"
    aliases = (_CONNECT + "MaskField$Value", "MaskField$Value")


# ---------------------------------------------------------------------------------------------
# ValueToKey, ExtractField, HoistField, Flatten


class FieldsConfig(PluginConfig):
    fields: str = Field(min_length=1)
    """Value fields that make up the new key, comma-separated."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @field_validator("fields")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not csv(value):
            msg = "name at least one field"
            raise ValueError(msg)
        return value


class ValueToKey(Transformation):
    """Replaces the key with a map of the listed value fields (tombstones pass unchanged)."""

    config_class = FieldsConfig
    aliases = (_CONNECT + "ValueToKey", "ValueToKey")
    purpose = "copying fields from value to key"

    def __init__(self, config: FieldsConfig) -> None:
        super().__init__(config)
        self.fields = csv(config.fields)

    def apply(self, record: Record) -> Record | None:
        if record.value is None:
            return record
        schema = schema_of(record, "value")
        if schema is not None:
            key, key_schema = schemas.value_to_key(self.fields, record.value, schema)
            return replace(record, key=key, key_schema=key_schema)
        value = require_map(record.value, self.purpose)
        return replace(record, key={name: value.get(name) for name in self.fields})


class FieldConfig(PluginConfig):
    field: str = Field(min_length=1)
    """The field name."""


class ExtractField(FieldTransform):
    """Replaces the key or value with one of its fields (null when the field is absent)."""

    config_class = FieldConfig
    purpose = "field extraction"

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        return require_map(data, self.purpose).get(t.cast(FieldConfig, self.config).field)

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        name = t.cast(FieldConfig, self.config).field
        return self.schemaless(data, record), schemas.field_schema(schema, name, self.purpose)


class ExtractFieldKey(ExtractField):
    part = "key"
    aliases = (_CONNECT + "ExtractField$Key", "ExtractField$Key")


class ExtractFieldValue(ExtractField):
    part = "value"
    aliases = (_CONNECT + "ExtractField$Value", "ExtractField$Value")


class HoistField(FieldTransform):
    """Wraps the key or value in a map with one field, ``{field: data}``; a null is wrapped too."""

    config_class = FieldConfig
    passes_null = False

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        return {t.cast(FieldConfig, self.config).field: data}

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        name = t.cast(FieldConfig, self.config).field
        return {name: data}, s.struct({name: schema})


class HoistFieldKey(HoistField):
    part = "key"
    aliases = (_CONNECT + "HoistField$Key", "HoistField$Key")


class HoistFieldValue(HoistField):
    part = "value"
    aliases = (_CONNECT + "HoistField$Value", "HoistField$Value")


class FlattenConfig(PluginConfig):
    delimiter: str = "."
    """Joins the names of nested fields."""


class Flatten(FieldTransform):
    """Flattens nested maps into one level, ``outer.inner`` (arrays are kept as they are)."""

    config_class = FlattenConfig
    purpose = "flattening"

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        out: dict[str, t.Any] = {}
        self._flatten(require_map(data, self.purpose), "", out)
        return out

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        """Flattened by the schema: a null optional struct gives a null for each of its fields."""
        schemas.require_struct(schema, self.purpose)
        pairs: list[tuple[str, s.Schema]] = []
        values: dict[str, t.Any] = {}
        self._flatten_schema(schema, require_map(data, self.purpose), "", False, pairs, values)
        return values, schemas.with_fields(schema, pairs)

    def _flatten_schema(
        self,
        schema: s.Schema,
        value: t.Mapping[str, t.Any] | None,
        prefix: str,
        optional: bool,
        pairs: list[tuple[str, s.Schema]],
        values: dict[str, t.Any],
    ) -> None:
        delimiter = t.cast(FlattenConfig, self.config).delimiter
        for item in schema.fields:
            path = f"{prefix}{delimiter}{item.name}" if prefix else item.name
            nested_optional = optional or item.schema.is_optional
            inner = value.get(item.name) if value is not None else None
            if item.schema.type is s.Type.STRUCT:
                self._flatten_schema(item.schema, inner, path, nested_optional, pairs, values)
            else:
                pairs.append((path, item.schema.optional() if nested_optional else item.schema))
                values[path] = inner

    def _flatten(self, value: t.Mapping[str, t.Any], prefix: str, out: dict[str, t.Any]) -> None:
        delimiter = t.cast(FlattenConfig, self.config).delimiter
        for name, item in value.items():
            path = f"{prefix}{delimiter}{name}" if prefix else str(name)
            if isinstance(item, t.Mapping):
                self._flatten(item, path, out)
            else:
                out[path] = item


class FlattenKey(Flatten):
    part = "key"
    aliases = (_CONNECT + "Flatten$Key", "Flatten$Key")


class FlattenValue(Flatten):
    part = "value"
    aliases = (_CONNECT + "Flatten$Value", "Flatten$Value")


# ---------------------------------------------------------------------------------------------
# Cast

CastType: t.TypeAlias = t.Literal["int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string"]
CAST_TYPES: tuple[str, ...] = t.get_args(CastType)
_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


class CastConfig(PluginConfig):
    spec: str = Field(min_length=1)
    """``field:type`` pairs, or one type for the whole key or value; types: int8, int16, int32,
    int64, float32, float64, boolean, string."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @field_validator("spec")
    @classmethod
    def _valid(cls, value: str) -> str:
        _parse_spec(value)
        return value


def _parse_spec(spec: str) -> tuple[str | None, dict[str, str]]:
    """(whole-value type or None, {field: type}); raises ValueError naming the bad entry."""
    items = csv(spec)
    if not items:
        msg = "empty spec; give field:type pairs or one type"
        raise ValueError(msg)
    if len(items) == 1 and ":" not in items[0]:
        whole = items[0]
        if whole not in CAST_TYPES:
            msg = f"unknown type {whole!r}; choose from {', '.join(CAST_TYPES)}"
            raise ValueError(msg)
        return whole, {}
    fields: dict[str, str] = {}
    for item in items:
        name, sep, kind = item.partition(":")
        if not sep or not name:
            msg = f"{item!r} is not field:type (a whole-value cast takes a single type)"
            raise ValueError(msg)
        if kind not in CAST_TYPES:
            msg = f"{item!r}: unknown type {kind!r}; choose from {', '.join(CAST_TYPES)}"
            raise ValueError(msg)
        fields[name] = kind
    return None, fields


def cast_value(value: t.Any, kind: str) -> t.Any:
    """Cast one primitive as Kafka Connect's Cast does, but refuse out-of-range integers.

    Kafka Connect narrows integers the Java way (300 cast to int8 becomes 44); here that is
    a :class:`RecordError`, so that no value changes silently.
    """
    if value is None:
        return None
    if isinstance(value, (dict, list)) and kind != "string":
        msg = f"cannot cast a {type(value).__name__} to {kind}"
        raise RecordError(msg)
    try:
        if kind in _INT_BITS:
            number = _to_int(value)
            bits = _INT_BITS[kind]
            if not -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
                msg = f"{value!r} is out of range for {kind}"
                raise RecordError(msg)
            return number
        if kind in ("float32", "float64"):
            number_f = 1.0 if value is True else 0.0 if value is False else float(value)
            if kind == "float32":
                return struct.unpack("<f", struct.pack("<f", number_f))[0]
            return number_f
        if kind == "boolean":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false"):
                    msg = f"{value!r} is not a boolean (true or false)"
                    raise RecordError(msg)
                return lowered == "true"
            return bool(value)
        return _to_string(value)
    except (ValueError, OverflowError, decimal.InvalidOperation, struct.error) as exc:
        msg = f"cannot cast {value!r} to {kind}: {exc}"
        raise RecordError(msg) from exc


def _to_int(value: t.Any) -> int:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, (float, decimal.Decimal)):
        return int(value)  # truncates toward zero, as Java's narrowing does
    if isinstance(value, int):
        return value
    msg = f"cannot cast a {type(value).__name__} to an integer"
    raise ValueError(msg)


def _to_string(value: t.Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return to_json_bytes(value).decode()
    return str(value)


class Cast(FieldTransform):
    """Casts fields, or the whole key or value, to another primitive type."""

    config_class = CastConfig
    purpose = "cast types"

    def __init__(self, config: CastConfig) -> None:
        super().__init__(config)
        self.whole, self.fields = _parse_spec(config.spec)

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        if self.whole is not None:
            return cast_value(data, self.whole)
        value = require_map(data, self.purpose)
        for name, kind in self.fields.items():
            if name in value:
                try:
                    value[name] = cast_value(value[name], kind)
                except RecordError as exc:
                    msg = f"field {name!r}: {exc}"
                    raise RecordError(msg) from exc
        return value

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        if self.whole is not None:
            if not schema.type.is_primitive:
                msg = f"cannot cast a {s.describe(schema)} as a whole"
                raise RecordError(msg)
            return self.schemaless(data, record), schemas.keep_optional(schema, schemas.CAST_SCHEMAS[self.whole])
        schemas.require_struct(schema, self.purpose)
        pairs = []
        for item in schema.fields:
            kind = self.fields.get(item.name)
            if kind is None:
                pairs.append((item.name, item.schema))
            elif not item.schema.type.is_primitive:
                msg = f"field {item.name!r}: cannot cast a {s.describe(item.schema)} to {kind}"
                raise RecordError(msg)
            else:
                pairs.append((item.name, schemas.keep_optional(item.schema, schemas.CAST_SCHEMAS[kind])))
        return self.schemaless(data, record), schemas.with_fields(schema, pairs)


class CastKey(Cast):
    part = "key"
    aliases = (_CONNECT + "Cast$Key", "Cast$Key")


class CastValue(Cast):
    part = "value"
    aliases = (_CONNECT + "Cast$Value", "Cast$Value")
