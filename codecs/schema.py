"""Kafka Connect's schema model: what a record's key or value looks like, independent of format.

Pure data, no I/O. A :class:`Schema` is immutable and hashable, so converters cache their
per-schema work (a registered Avro schema, a serialised JSON schema) keyed by it.

Building one reads like the data it describes::

    from headwater.codecs import schema as s

    row = s.struct(
        {
            "id": s.INT32,
            "name": s.STRING.optional(),
            "balance": s.decimal_of(2, precision=9).optional(),
            "opened": s.DATE.optional(),
            "tags": s.array_of(s.STRING).optional(),
        },
        name="bank.customers.Value",
    )
    row.validate({"id": 1, "name": None, "balance": Decimal("12.50"), "opened": None, "tags": []})

The Python value of each type: ``int`` for int8-64, ``float`` for float32/64, ``bool``,
``str``, ``bytes``, ``list`` for arrays, ``dict`` for maps and structs (field name to
value); the logical types: :class:`decimal.Decimal` for ``Decimal`` (scale from the schema),
:class:`datetime.date` for ``Date``, :class:`datetime.time` for ``Time``,
:class:`datetime.datetime` for ``Timestamp``. Debezium's semantic types (``io.debezium.time.*``
and friends) are named primitives: their values stay ints and strings, as Debezium writes them.

:func:`to_connect_json` / :func:`from_connect_json` convert to and from the schema JSON of
Kafka Connect's ``JsonConverter`` (``{"type": "struct", "fields": [...], "optional": ...}``).
:func:`infer` derives a schema from a value: only the fallback when a source has no metadata.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import enum
import typing as t
from dataclasses import dataclass, field, replace

__all__ = [
    "BOOLEAN",
    "BYTES",
    "DATE",
    "FLOAT32",
    "FLOAT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "Field",
    "Schema",
    "SchemaError",
    "Type",
    "array_of",
    "close",
    "debezium",
    "decimal_of",
    "describe",
    "envelope",
    "exact",
    "from_connect_json",
    "from_unscaled",
    "infer",
    "is_converted_logical",
    "json_decoder",
    "json_encoder",
    "map_of",
    "merge",
    "mismatch",
    "rescale",
    "struct",
    "to_connect_json",
    "unscaled_bytes",
    "validate_primitive",
    "value_from_json",
    "value_to_json",
]

DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE_NAME = "org.apache.kafka.connect.data.Date"
TIME_NAME = "org.apache.kafka.connect.data.Time"
TIMESTAMP_NAME = "org.apache.kafka.connect.data.Timestamp"
PRECISION_PARAMETER = "connect.decimal.precision"
"""Where Debezium and Confluent's converters keep a Decimal's precision."""

EPOCH = datetime.date(1970, 1, 1)
EPOCH_TIME = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class SchemaError(ValueError):
    """A value does not fit its schema, or schema JSON is malformed; the message names the field path."""


class Type(enum.StrEnum):
    """Kafka Connect's schema types, spelled as in its JSON."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float"
    FLOAT64 = "double"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


class Parameters(t.Mapping[str, str]):
    """A read-only, hashable ``str -> str`` mapping (a schema's ``parameters``)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: t.Mapping[str, str] | t.Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, t.Mapping) else items
        self._items = {str(key): str(value) for key, value in pairs}
        self._hash = hash(frozenset(self._items.items()))

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, t.Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"Parameters({self._items!r})"


def _freeze(value: t.Any) -> t.Hashable:
    if isinstance(value, dict):
        return tuple((key, _freeze(item)) for key, item in value.items())
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return t.cast(t.Hashable, value)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a struct: its name, its position and its schema."""

    name: str
    index: int
    schema: Schema


@dataclass(frozen=True, slots=True, eq=False)
class Schema:
    """A Kafka Connect schema. Build with the module's constants and functions, refine with
    :meth:`optional`, :meth:`with_default`, :meth:`with_doc`, :meth:`named`, which return copies.

    ``fields`` is set for structs, ``items`` for arrays, ``keys``/``values`` for maps.
    Equality and hash cover every attribute, the default value included.
    """

    type: Type
    is_optional: bool = False
    default: t.Any = None
    name: str | None = None
    version: int | None = None
    doc: str | None = None
    parameters: Parameters = field(default_factory=Parameters)
    fields: tuple[Field, ...] = ()
    items: Schema | None = None
    keys: Schema | None = None
    values: Schema | None = None
    _hash: int | None = field(default=None, init=False, repr=False, compare=False)
    _optional: Schema | None = field(default=None, init=False, repr=False, compare=False)

    def _identity(self) -> tuple[t.Any, ...]:
        return (
            self.type,
            self.is_optional,
            _freeze(self.default),
            self.name,
            self.version,
            self.doc,
            self.parameters,
            self.fields,
            self.items,
            self.keys,
            self.values,
        )

    def __hash__(self) -> int:
        # Cached: converters look schemas up per record.
        cached = self._hash
        if cached is None:
            cached = hash(self._identity())
            object.__setattr__(self, "_hash", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and (self is other or self._identity() == other._identity())

    def __repr__(self) -> str:
        return f"Schema({describe(self)})"

    # -- refining (each returns a copy) --------------------------------------------------

    def optional(self) -> Schema:
        """The same schema, null allowed (built once per schema: converters ask per record)."""
        if self.is_optional:
            return self
        cached = self._optional
        if cached is None:
            cached = replace(self, is_optional=True)
            object.__setattr__(self, "_optional", cached)
        return cached

    def required(self) -> Schema:
        """The same schema, null refused (unless a default stands in)."""
        return replace(self, is_optional=False) if self.is_optional else self

    def with_default(self, value: t.Any) -> Schema:
        """The same schema with a default (validated against it)."""
        schema = replace(self, default=value)
        schema.validate(value, path="<default>")
        return schema

    def with_doc(self, doc: str | None) -> Schema:
        return replace(self, doc=doc)

    def named(self, name: str | None, version: int | None = None) -> Schema:
        """The same schema with a (logical or record) name and an optional version."""
        return replace(self, name=name, version=version)

    def with_parameters(self, **parameters: str) -> Schema:
        return replace(self, parameters=Parameters({**self.parameters, **parameters}))

    # -- reading -------------------------------------------------------------------------

    def field(self, name: str) -> Field | None:
        """The struct field ``name``, or None."""
        for item in self.fields:
            if item.name == name:
                return item
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.fields)

    @property
    def scale(self) -> int:
        """A Decimal's scale (0 for anything else)."""
        return int(self.parameters.get("scale", 0))

    @property
    def precision(self) -> int | None:
        """A Decimal's precision when known (``connect.decimal.precision``)."""
        value = self.parameters.get(PRECISION_PARAMETER)
        return int(value) if value is not None else None

    @property
    def is_decimal(self) -> bool:
        return self.name == DECIMAL

    def validate(self, value: t.Any, path: str = "") -> None:
        """Raise :class:`SchemaError` naming the field path if ``value`` does not fit.

        Checks types, required fields, unknown struct fields and decimal scales; cheap
        enough for tests and for checking a source's first record, not meant per record.
        """
        _validate(self, value, path or "<root>")


def describe(schema: Schema) -> str:
    """A short human description, e.g. ``struct<id:int32,name:string?>``."""
    mark = "?" if schema.is_optional else ""
    if schema.type is Type.STRUCT:
        inner = ",".join(f"{item.name}:{describe(item.schema)}" for item in schema.fields)
        return f"{schema.name or ''}struct<{inner}>{mark}"
    if schema.type is Type.ARRAY:
        return f"array<{describe(t.cast(Schema, schema.items))}>{mark}"
    if schema.type is Type.MAP:
        return f"map<{describe(t.cast(Schema, schema.keys))},{describe(t.cast(Schema, schema.values))}>{mark}"
    if schema.is_decimal:
        return f"decimal({schema.precision or ''},{schema.scale}){mark}"
    return f"{schema.name or schema.type.value}{mark}"


# -- building ------------------------------------------------------------------------------

INT8 = Schema(Type.INT8)
INT16 = Schema(Type.INT16)
INT32 = Schema(Type.INT32)
INT64 = Schema(Type.INT64)
FLOAT32 = Schema(Type.FLOAT32)
FLOAT64 = Schema(Type.FLOAT64)
BOOLEAN = Schema(Type.BOOLEAN)
STRING = Schema(Type.STRING)
BYTES = Schema(Type.BYTES)

DATE = Schema(Type.INT32, name=DATE_NAME, version=1)
"""Connect's Date: days since the epoch; Python value :class:`datetime.date`."""
TIME = Schema(Type.INT32, name=TIME_NAME, version=1)
"""Connect's Time: milliseconds since midnight; Python value :class:`datetime.time`."""
TIMESTAMP = Schema(Type.INT64, name=TIMESTAMP_NAME, version=1)
"""Connect's Timestamp: milliseconds since the epoch; Python value :class:`datetime.datetime` (UTC)."""


def decimal_of(scale: int, precision: int | None = None) -> Schema:
    """Connect's Decimal logical type (bytes holding the unscaled two's-complement integer).

    ``precision`` is kept as ``connect.decimal.precision``, as Debezium and Confluent's
    Avro converter write it.
    """
    parameters = {"scale": str(scale)}
    if precision is not None:
        parameters[PRECISION_PARAMETER] = str(precision)
    return Schema(Type.BYTES, name=DECIMAL, version=1, parameters=Parameters(parameters))


def array_of(items: Schema) -> Schema:
    return Schema(Type.ARRAY, items=items)


def map_of(keys: Schema, values: Schema) -> Schema:
    return Schema(Type.MAP, keys=keys, values=values)


def struct(
    fields: t.Mapping[str, Schema] | t.Iterable[tuple[str, Schema]],
    *,
    name: str | None = None,
    version: int | None = None,
    doc: str | None = None,
    optional: bool = False,
) -> Schema:
    """A struct with ``fields`` in order (a dict or ``(name, schema)`` pairs)."""
    pairs = list(fields.items() if isinstance(fields, t.Mapping) else fields)
    names = [item for item, _ in pairs]
    if len(set(names)) != len(names):
        duplicates = sorted({item for item in names if names.count(item) > 1})
        msg = f"struct {name or ''} has duplicate fields {duplicates}"
        raise SchemaError(msg)
    return Schema(
        Type.STRUCT,
        is_optional=optional,
        name=name,
        version=version,
        doc=doc,
        fields=tuple(Field(item, index, schema) for index, (item, schema) in enumerate(pairs)),
    )


class debezium:
    """Debezium's semantic types: named Connect primitives whose values stay ints and strings."""

    DATE = Schema(Type.INT32, name="io.debezium.time.Date", version=1)
    """Days since the epoch."""
    TIME = Schema(Type.INT32, name="io.debezium.time.Time", version=1)
    """Milliseconds past midnight."""
    MICRO_TIME = Schema(Type.INT64, name="io.debezium.time.MicroTime", version=1)
    NANO_TIME = Schema(Type.INT64, name="io.debezium.time.NanoTime", version=1)
    TIMESTAMP = Schema(Type.INT64, name="io.debezium.time.Timestamp", version=1)
    """Milliseconds since the epoch, no time zone."""
    MICRO_TIMESTAMP = Schema(Type.INT64, name="io.debezium.time.MicroTimestamp", version=1)
    NANO_TIMESTAMP = Schema(Type.INT64, name="io.debezium.time.NanoTimestamp", version=1)
    ZONED_TIMESTAMP = Schema(Type.STRING, name="io.debezium.time.ZonedTimestamp", version=1)
    """ISO-8601 text with offset, e.g. ``2024-01-31T10:15:30.123456Z``."""
    ZONED_TIME = Schema(Type.STRING, name="io.debezium.time.ZonedTime", version=1)
    YEAR = Schema(Type.INT32, name="io.debezium.time.Year", version=1)
    JSON = Schema(Type.STRING, name="io.debezium.data.Json", version=1)
    UUID = Schema(Type.STRING, name="io.debezium.data.Uuid", version=1)
    XML = Schema(Type.STRING, name="io.debezium.data.Xml", version=1)
    VARIABLE_SCALE_DECIMAL = struct(
        {"scale": INT32, "value": BYTES},
        name="io.debezium.data.VariableScaleDecimal",
        version=1,
        doc="Variable scaled decimal",
    )
    """A decimal whose scale varies per value (Oracle ``NUMBER`` without scale)."""

    @staticmethod
    def enum(allowed: t.Iterable[str]) -> Schema:
        return Schema(
            Type.STRING, name="io.debezium.data.Enum", version=1, parameters=Parameters({"allowed": ",".join(allowed)})
        )

    @staticmethod
    def bits(length: int) -> Schema:
        return Schema(
            Type.BYTES, name="io.debezium.data.Bits", version=1, parameters=Parameters({"length": str(length)})
        )

    @staticmethod
    def variable_scale_decimal(value: decimal.Decimal) -> dict[str, t.Any]:
        """The struct value Debezium writes for ``value`` under :attr:`VARIABLE_SCALE_DECIMAL`."""
        scale = _decimal_scale(value)
        return {"scale": scale, "value": unscaled_bytes(value, scale)}


# -- decimals ------------------------------------------------------------------------------


def exact(digits: int) -> decimal.Context:
    """A decimal context that never rounds numbers of up to ``digits`` significant digits.

    Python's default context rounds to 28 digits; Connect and Oracle's NUMBER(38) need more.
    """
    return decimal.Context(prec=max(digits, 28) + 2, traps=[decimal.Inexact, decimal.InvalidOperation])


def _decimal_scale(value: decimal.Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def rescale(value: decimal.Decimal, scale: int, path: str = "") -> decimal.Decimal:
    """``value`` at exactly ``scale`` digits after the point; refuses to round.

    Raises:
        SchemaError: when the value has more fractional digits than ``scale`` (or is not finite).
    """
    if not value.is_finite():
        msg = f"{path or 'value'}: {value} is not a finite decimal"
        raise SchemaError(msg)
    if _decimal_scale(value) == scale and value.as_tuple().exponent == -scale:
        return value
    digits = len(value.as_tuple().digits) + abs(scale) + 1
    try:
        return value.quantize(decimal.Decimal(1).scaleb(-scale), context=exact(digits))
    except decimal.Inexact:
        msg = f"{path or 'value'}: {value} has more than {scale} decimal places (the schema's scale)"
        raise SchemaError(msg) from None


def unscaled_bytes(value: decimal.Decimal, scale: int) -> bytes:
    """Connect's Decimal wire form: the unscaled value, big-endian two's complement, minimal length."""
    sign, digits, _ = rescale(value, scale).as_tuple()
    unscaled = int("".join(map(str, digits)) or "0")
    if sign:
        unscaled = -unscaled
    length = max(1, (unscaled.bit_length() + 8) // 8)
    return unscaled.to_bytes(length, "big", signed=True)


def from_unscaled(data: bytes, scale: int) -> decimal.Decimal:
    """The exact decimal of Connect's Decimal wire form."""
    unscaled = int.from_bytes(data, "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale, context=exact(len(str(unscaled)) + abs(scale)))


# -- validation ----------------------------------------------------------------------------

_INT_RANGES = {
    Type.INT8: (-(2**7), 2**7 - 1),
    Type.INT16: (-(2**15), 2**15 - 1),
    Type.INT32: (-(2**31), 2**31 - 1),
    Type.INT64: (-(2**63), 2**63 - 1),
}


def mismatch(path: str, schema: Schema, value: t.Any, why: str = "") -> t.NoReturn:
    msg = f"{path}: {type(value).__name__} {value!r:.60} does not fit {describe(schema)}{why}"
    raise SchemaError(msg)


def validate_primitive(schema: Schema, value: t.Any, path: str) -> None:
    """Raise :class:`SchemaError` if ``value`` does not fit the primitive (or logical) ``schema``."""
    _validate(schema, value, path)


def _validate(schema: Schema, value: t.Any, path: str) -> None:
    if value is None:
        if schema.is_optional or schema.default is not None:
            return
        msg = f"{path}: null in a required {describe(schema)}"
        raise SchemaError(msg)
    kind = schema.type
    name = schema.name
    if name == DECIMAL:
        if not isinstance(value, decimal.Decimal):
            mismatch(path, schema, value)
        rescale(value, schema.scale, path)
        return
    if name == DATE_NAME:
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            mismatch(path, schema, value)
        return
    if name == TIME_NAME:
        if not isinstance(value, datetime.time):
            mismatch(path, schema, value)
        return
    if name == TIMESTAMP_NAME:
        if not isinstance(value, datetime.datetime):
            mismatch(path, schema, value)
        return
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if not isinstance(value, int) or isinstance(value, bool):
            mismatch(path, schema, value)
        if not low <= value <= high:
            mismatch(path, schema, value, " (out of range)")
    elif kind in (Type.FLOAT32, Type.FLOAT64):
        if not isinstance(value, (float, int)) or isinstance(value, bool):
            mismatch(path, schema, value)
    elif kind is Type.BOOLEAN:
        if not isinstance(value, bool):
            mismatch(path, schema, value)
    elif kind is Type.STRING:
        if not isinstance(value, str):
            mismatch(path, schema, value)
    elif kind is Type.BYTES:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            mismatch(path, schema, value)
    elif kind is Type.ARRAY:
        if not isinstance(value, (list, tuple)):
            mismatch(path, schema, value)
        for index, item in enumerate(value):
            _validate(t.cast(Schema, schema.items), item, f"{path}[{index}]")
    elif kind is Type.MAP:
        if not isinstance(value, t.Mapping):
            mismatch(path, schema, value)
        for key, item in value.items():
            _validate(t.cast(Schema, schema.keys), key, f"{path}.<key>")
            _validate(t.cast(Schema, schema.values), item, f"{path}[{key!r}]")
    else:
        if not isinstance(value, t.Mapping):
            mismatch(path, schema, value)
        unknown = set(value) - set(schema.field_names)
        if unknown:
            msg = f"{path}: fields {sorted(unknown)} are not in {schema.name or 'the struct'}"
            raise SchemaError(msg)
        for item in schema.fields:
            _validate(item.schema, value.get(item.name), f"{path}.{item.name}" if path != "<root>" else item.name)


# -- Kafka Connect's schema JSON -----------------------------------------------------------


def to_connect_json(schema: Schema, *, decimal_format: str = "BASE64") -> dict[str, t.Any]:
    """The schema as Kafka Connect's ``JsonConverter`` writes it in ``{"schema": ..., "payload": ...}``.

    ``decimal_format`` shapes Decimal defaults as the converter's payload does.
    """
    document: dict[str, t.Any] = {"type": schema.type.value}
    if schema.type is Type.STRUCT:
        document["fields"] = [
            {**to_connect_json(item.schema, decimal_format=decimal_format), "field": item.name}
            for item in schema.fields
        ]
    elif schema.type is Type.ARRAY:
        document["items"] = to_connect_json(t.cast(Schema, schema.items), decimal_format=decimal_format)
    elif schema.type is Type.MAP:
        document["keys"] = to_connect_json(t.cast(Schema, schema.keys), decimal_format=decimal_format)
        document["values"] = to_connect_json(t.cast(Schema, schema.values), decimal_format=decimal_format)
    document["optional"] = schema.is_optional
    if schema.default is not None:
        document["default"] = value_to_json(schema, schema.default, decimal_format=decimal_format)
    if schema.name is not None:
        document["name"] = schema.name
    if schema.version is not None:
        document["version"] = schema.version
    if schema.doc is not None:
        document["doc"] = schema.doc
    if schema.parameters:
        document["parameters"] = dict(schema.parameters)
    return document


def from_connect_json(document: t.Any, path: str = "") -> Schema:
    """Parse Kafka Connect's schema JSON (as :func:`to_connect_json` writes it).

    Raises:
        SchemaError: naming the path of the malformed part.
    """
    if not isinstance(document, t.Mapping):
        msg = f"schema {path or '<root>'}: expected an object, got {type(document).__name__}"
        raise SchemaError(msg)
    try:
        kind = Type(str(document.get("type")))
    except ValueError:
        msg = f"schema {path or '<root>'}: unknown type {document.get('type')!r}"
        raise SchemaError(msg) from None
    fields: tuple[Field, ...] = ()
    items = keys = values = None
    if kind is Type.STRUCT:
        raw_fields = document.get("fields") or []
        fields = tuple(
            Field(str(item.get("field")), index, from_connect_json(item, f"{path}.{item.get('field')}"))
            for index, item in enumerate(raw_fields)
        )
    elif kind is Type.ARRAY:
        items = from_connect_json(document.get("items"), f"{path}[]")
    elif kind is Type.MAP:
        keys = from_connect_json(document.get("keys"), f"{path}<key>")
        values = from_connect_json(document.get("values"), f"{path}<value>")
    version = document.get("version")
    schema = Schema(
        kind,
        is_optional=bool(document.get("optional", False)),
        name=document.get("name"),
        version=int(version) if version is not None else None,
        doc=document.get("doc"),
        parameters=Parameters(document.get("parameters") or {}),
        fields=fields,
        items=items,
        keys=keys,
        values=values,
    )
    if document.get("default") is not None:
        schema = replace(schema, default=value_from_json(schema, document["default"]))
    return schema


def value_to_json(
    schema: Schema, value: t.Any, *, decimal_format: str = "BASE64", map_entries: bool = False, path: str = ""
) -> t.Any:
    """``value`` as Connect's ``JsonConverter`` payload under ``schema``: JSON-ready Python data.

    Decimals become base64 strings (``BASE64``) or exact :class:`decimal.Decimal` numbers
    (``NUMERIC``, to be written as JSON numbers), rescaled to the schema's scale; dates,
    times and timestamps become Connect's ints; bytes become base64. Maps with non-string
    keys become ``[key, value]`` pairs, or ``{"key", "value"}`` entries with ``map_entries``.

    Raises:
        SchemaError: naming the field path of a value that does not fit.
    """
    if value is None:
        if schema.default is not None:
            return value_to_json(
                schema, schema.default, decimal_format=decimal_format, map_entries=map_entries, path=path
            )
        if not schema.is_optional:
            msg = f"{path or '<root>'}: null in a required {describe(schema)}"
            raise SchemaError(msg)
        return None
    name = schema.name
    kind = schema.type
    if name is not None:
        if name == DECIMAL:
            if not isinstance(value, decimal.Decimal):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = decimal.Decimal(str(value))
                else:
                    mismatch(path or "<root>", schema, value)
            if decimal_format == "BASE64":
                return base64.b64encode(unscaled_bytes(rescale(value, schema.scale, path), schema.scale)).decode()
            return rescale(value, schema.scale, path)
        if name == DATE_NAME and isinstance(value, datetime.date):
            return (value - EPOCH).days
        if name == TIME_NAME and isinstance(value, datetime.time):
            return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
        if name == TIMESTAMP_NAME and isinstance(value, datetime.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
            delta = moment - EPOCH_TIME
            return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if kind is Type.STRUCT:
        if not isinstance(value, t.Mapping):
            mismatch(path or "<root>", schema, value)
        unknown = set(value) - set(schema.field_names)
        if unknown:
            msg = f"{path or '<root>'}: fields {sorted(unknown)} are not in the schema {schema.name or ''}".rstrip()
            raise SchemaError(msg)
        return {
            item.name: value_to_json(
                item.schema,
                value.get(item.name),
                decimal_format=decimal_format,
                map_entries=map_entries,
                path=f"{path}.{item.name}" if path else item.name,
            )
            for item in schema.fields
        }
    if kind is Type.ARRAY:
        if not isinstance(value, (list, tuple)):
            mismatch(path or "<root>", schema, value)
        items = t.cast(Schema, schema.items)
        return [
            value_to_json(items, item, decimal_format=decimal_format, map_entries=map_entries, path=f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    if kind is Type.MAP:
        if not isinstance(value, t.Mapping):
            mismatch(path or "<root>", schema, value)
        keys, values = t.cast(Schema, schema.keys), t.cast(Schema, schema.values)
        if keys.type is Type.STRING:
            return {
                key: value_to_json(
                    values, item, decimal_format=decimal_format, map_entries=map_entries, path=f"{path}[{key!r}]"
                )
                for key, item in value.items()
            }
        # Connect's JsonConverter writes maps with non-string keys as [key, value] pairs,
        # Confluent's JSON Schema converter as {"key": ..., "value": ...} entries.
        pairs = [
            [
                value_to_json(keys, key, decimal_format=decimal_format, map_entries=map_entries, path=f"{path}<key>"),
                value_to_json(
                    values, item, decimal_format=decimal_format, map_entries=map_entries, path=f"{path}[{key!r}]"
                ),
            ]
            for key, item in value.items()
        ]
        return [{"key": key, "value": item} for key, item in pairs] if map_entries else pairs
    if kind is Type.BYTES:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode()
        mismatch(path or "<root>", schema, value)
    if kind in _INT_RANGES:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
            return int(value)
        mismatch(path or "<root>", schema, value)
    if kind in (Type.FLOAT32, Type.FLOAT64):
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return float(value)
        mismatch(path or "<root>", schema, value)
    if kind is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        mismatch(path or "<root>", schema, value)
    if not isinstance(value, str):
        mismatch(path or "<root>", schema, value)
    return value


def value_from_json(schema: Schema | None, value: t.Any, path: str = "") -> t.Any:
    """The Python value of Connect ``JsonConverter`` payload ``value`` under ``schema``.

    Numbers may arrive as :class:`decimal.Decimal` (parsed exactly): float fields become
    floats, int fields ints, Decimal fields keep every digit. With ``schema=None`` the
    value is returned as parsed.

    Raises:
        SchemaError: naming the field path of a value that does not fit.
    """
    if schema is None:
        return value
    if value is None:
        return schema.default
    name = schema.name
    kind = schema.type
    try:
        if name == DECIMAL:
            scale = schema.scale
            if isinstance(value, str):
                return from_unscaled(base64.b64decode(value, validate=True), scale)
            number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
            return rescale(number, scale, path)
        if name == DATE_NAME and isinstance(value, (int, decimal.Decimal)):
            return EPOCH + datetime.timedelta(days=int(value))
        if name == TIME_NAME and isinstance(value, (int, decimal.Decimal)):
            return (datetime.datetime.min + datetime.timedelta(milliseconds=int(value))).time()
        if name == TIMESTAMP_NAME and isinstance(value, (int, decimal.Decimal)):
            return EPOCH_TIME + datetime.timedelta(milliseconds=int(value))
    except (ValueError, ArithmeticError, TypeError) as exc:
        if isinstance(exc, SchemaError):
            raise
        msg = f"{path or '<root>'}: {value!r:.60} is not a valid {name}: {exc}"
        raise SchemaError(msg) from exc
    if kind is Type.STRUCT:
        if not isinstance(value, dict):
            mismatch(path or "<root>", schema, value)
        return {
            item.name: value_from_json(item.schema, value.get(item.name), f"{path}.{item.name}" if path else item.name)
            for item in schema.fields
        }
    if kind is Type.ARRAY:
        if not isinstance(value, list):
            mismatch(path or "<root>", schema, value)
        return [value_from_json(schema.items, item, f"{path}[{index}]") for index, item in enumerate(value)]
    if kind is Type.MAP:
        if isinstance(value, dict):
            return {key: value_from_json(schema.values, item, f"{path}[{key!r}]") for key, item in value.items()}
        if isinstance(value, list):
            pairs = [(pair["key"], pair["value"]) if isinstance(pair, dict) else pair for pair in value]
            return {
                value_from_json(schema.keys, key, f"{path}<key>"): value_from_json(
                    schema.values, item, f"{path}<value>"
                )
                for key, item in pairs
            }
        mismatch(path or "<root>", schema, value)
    if kind is Type.BYTES:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError as exc:
                msg = f"{path or '<root>'}: bytes field is not base64: {exc}"
                raise SchemaError(msg) from exc
        mismatch(path or "<root>", schema, value)
    if kind in _INT_RANGES:
        if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        mismatch(path or "<root>", schema, value)
    if kind in (Type.FLOAT32, Type.FLOAT64):
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return float(value)
        mismatch(path or "<root>", schema, value)
    return value


# -- inference (the fallback) --------------------------------------------------------------


def infer(value: t.Any) -> Schema | None:
    """A schema describing ``value``, every part optional; None for a bare null.

    Only the fallback when a source has no metadata. Nulls and empty arrays carry no type:
    their part of the schema is left open (a null field is ``None`` here, an empty array's
    items are None) and :func:`merge` fills it from other records; :func:`close` turns what
    is still open into optional strings at the end.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOLEAN.optional()
    if isinstance(value, int):
        return INT64.optional()
    if isinstance(value, float):
        return FLOAT64.optional()
    if isinstance(value, decimal.Decimal):
        return decimal_of(_decimal_scale(value)).optional()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTES.optional()
    if isinstance(value, datetime.datetime):
        return TIMESTAMP.optional()
    if isinstance(value, datetime.date):
        return DATE.optional()
    if isinstance(value, datetime.time):
        return TIME.optional()
    if isinstance(value, t.Mapping):
        inferred = [(str(key), infer(item)) for key, item in value.items()]
        # Debezium's envelope: a null before/after has the other's row schema.
        before, after = dict(inferred).get("before"), dict(inferred).get("after")
        row = merge(before, after)
        pairs = [(key, row if key in ("before", "after") and row is not None else item) for key, item in inferred]
        return Schema(
            Type.STRUCT,
            is_optional=True,
            fields=tuple(Field(key, index, t.cast(Schema, item)) for index, (key, item) in enumerate(pairs)),
        )
    if isinstance(value, (list, tuple)):
        items: Schema | None = None
        for item in value:
            items = merge(items, infer(item))
        return Schema(Type.ARRAY, is_optional=True, items=items)
    return STRING.optional()


def merge(known: Schema | None, new: Schema | None) -> Schema | None:
    """Combine two inferred schemas of one topic: open parts (None) take the other side's type.

    A null never changes a schema: a field that is null (None) in ``new`` keeps ``known``'s
    type, and an empty array keeps ``known``'s items. Decimals widen to the larger scale.
    Where the two disagree otherwise, ``new`` wins (the data changed its shape).
    """
    if known is None:
        return new
    if new is None:
        return known
    if known == new:
        return known
    if known.type is Type.STRUCT and new.type is Type.STRUCT and known.name == new.name:
        merged: dict[str, Schema | None] = {item.name: item.schema for item in known.fields}
        for item in new.fields:
            merged[item.name] = merge(merged.get(item.name), item.schema)
        return replace(
            new,
            fields=tuple(Field(key, index, t.cast(Schema, item)) for index, (key, item) in enumerate(merged.items())),
        )
    if known.type is Type.ARRAY and new.type is Type.ARRAY:
        return replace(new, items=merge(known.items, new.items))
    if known.is_decimal and new.is_decimal:
        return known if known.scale >= new.scale else new
    return new


def close(schema: Schema | None) -> Schema:
    """An inferred schema with its open parts (nulls, empty arrays) made optional strings."""
    if schema is None:
        return STRING.optional()
    if schema.type is Type.STRUCT:
        if all(item.schema is not None for item in schema.fields) and not any(
            _is_open(item.schema) for item in schema.fields
        ):
            return schema
        return replace(schema, fields=tuple(replace(item, schema=close(item.schema)) for item in schema.fields))
    if schema.type is Type.ARRAY:
        return replace(schema, items=close(schema.items))
    return schema


def _is_open(schema: Schema | None) -> bool:
    if schema is None:
        return True
    if schema.type is Type.STRUCT:
        return any(_is_open(item.schema) for item in schema.fields)
    if schema.type is Type.ARRAY:
        return _is_open(schema.items)
    return False


# -- Debezium's change-event envelope -------------------------------------------------------


def envelope(row: Schema, source: Schema, *, name: str | None = None) -> Schema:
    """The schema of a Debezium change event (``before``, ``after``, ``source``, ``op``, ``ts_ms``).

    ``row`` is the table's row schema (Debezium names it ``<topic>.Value``); ``name`` is the
    envelope's (``<topic>.Envelope``). ``before`` and ``after`` are the optional row, so a
    create, an update and a delete share one schema.
    """
    return struct(
        {
            "before": row.optional(),
            "after": row.optional(),
            "source": source,
            "op": STRING,
            "ts_ms": INT64.optional(),
        },
        name=name,
        version=1 if name else None,
    )


# -- compiled payload encoders ---------------------------------------------------------------

_PYTHON_TYPES: dict[Type, tuple[type, ...]] = {
    Type.INT8: (int,),
    Type.INT16: (int,),
    Type.INT32: (int,),
    Type.INT64: (int,),
    Type.FLOAT32: (float, int),
    Type.FLOAT64: (float, int),
    Type.BOOLEAN: (bool,),
    Type.STRING: (str,),
}

Encoder: t.TypeAlias = t.Callable[[t.Any], t.Any]

#: Rescales a finite decimal for the fast path: traps rounding and exponents out of range (the
#: slow path then raises the precise error); the precision only bounds the digits, never rounds.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact, decimal.InvalidOperation])


def is_converted_logical(schema: Schema) -> bool:
    """A logical type whose JSON form the value converts (Connect's Decimal, Date, Time and
    Timestamp); every other named schema is written as its base type."""
    return schema.name is not None and (schema.is_decimal or schema.name in (DATE_NAME, TIME_NAME, TIMESTAMP_NAME))


def json_encoder(
    schema: Schema, *, decimal_format: str = "BASE64", map_entries: bool = False, generated: bool = True
) -> Encoder:
    """A fast equivalent of :func:`value_to_json` for one schema: build once, call per record.

    Structs whose keys are exactly the schema's fields and whose values have the expected
    Python types are converted in one pass (only decimals, bytes, dates and nested parts
    are touched); anything else (a missing field, a wrong type, a null in a required field)
    falls back to :func:`value_to_json`, which fills defaults or raises the precise error.

    ``generated`` builds each struct's encoder from generated source (see
    :func:`_compile_struct`): a few times faster per call, about 30 times dearer to build
    (around a millisecond for a change-event envelope). ``False`` builds loops, for a
    schema that may be used only a few times.
    """

    def slow(value: t.Any) -> t.Any:
        return value_to_json(schema, value, decimal_format=decimal_format, map_entries=map_entries)

    return _compile(schema, decimal_format, map_entries, generated) or (
        lambda value: value if value is None else slow(value)
    )


def _compile(schema: Schema, decimal_format: str, map_entries: bool, generated: bool) -> Encoder | None:
    """An encoder for non-null values of ``schema``, or None when values pass unchanged."""
    if is_converted_logical(schema):
        if schema.is_decimal and decimal_format != "BASE64":
            quantum = decimal.Decimal(1).scaleb(-schema.scale)

            def numeric(value: t.Any) -> t.Any:
                if type(value) is decimal.Decimal and value.is_finite():
                    try:  # at the schema's scale, or the slow path's error (rounding, out of range)
                        return value.quantize(quantum, context=_EXACT)
                    except decimal.DecimalException:
                        pass
                return value_to_json(schema, value, decimal_format=decimal_format)

            return numeric
        return lambda value: value_to_json(schema, value, decimal_format=decimal_format)
    kind = schema.type
    if kind in _PYTHON_TYPES:
        return None
    if kind is Type.BYTES:

        def binary(value: t.Any) -> t.Any:
            if type(value) is bytes:
                return binascii.b2a_base64(value, newline=False).decode("ascii")
            return value_to_json(schema, value, decimal_format=decimal_format)

        return binary
    if kind is Type.STRUCT:
        return (_compile_struct if generated else _loop_struct)(schema, decimal_format, map_entries, generated)
    if kind is Type.ARRAY:
        items = t.cast(Schema, schema.items)
        inner = _compile(items, decimal_format, map_entries, generated)
        allowed = _PYTHON_TYPES.get(items.type) if items.name is None else None
        nullable = items.is_optional

        def array(value: t.Any) -> t.Any:
            if type(value) is list:
                if inner is not None:
                    try:
                        return [
                            item if item is None and nullable else inner(item) if item is not None else _null(items)
                            for item in value
                        ]
                    except SchemaError:
                        pass  # the slow path raises it again, with the element's path
                if allowed is not None and all(type(item) in allowed or (item is None and nullable) for item in value):
                    return value
            return value_to_json(schema, value, decimal_format=decimal_format, map_entries=map_entries)

        return array
    return lambda value: value_to_json(schema, value, decimal_format=decimal_format, map_entries=map_entries)


def _null(schema: Schema) -> t.Any:
    return value_to_json(schema, None)


#: Structs with more fields than this are encoded by a loop rather than generated code.
_GENERATED_FIELDS_MAX = 256


def _compile_struct(schema: Schema, decimal_format: str, map_entries: bool, generated: bool) -> Encoder:
    """One struct's encoder: Python source generated for its fields, compiled once.

    The generated function reads each field into a local, checks its type inline and builds
    the output in the schema's field order, with no per-field loop or dispatch; it is what
    the loop in :func:`_loop_struct` does, a few times faster. Field names enter the source
    only as ``repr()`` string literals. Anything unexpected (not a dict, a missing or extra
    key, a wrong type, a null where the slow path would fill a default or raise) goes to
    :func:`value_to_json`, which fills defaults or raises the precise error.
    """
    if len(schema.fields) > _GENERATED_FIELDS_MAX:
        return _loop_struct(schema, decimal_format, map_entries, generated)

    def slow(value: t.Any) -> t.Any:
        return value_to_json(schema, value, decimal_format=decimal_format, map_entries=map_entries)

    namespace: dict[str, t.Any] = {"slow": slow, "dict": dict, "type": type, "len": len, "SchemaError": SchemaError}
    reads: list[str] = []
    checks: list[str] = []
    conversions: list[str] = []
    for index, item in enumerate(schema.fields):
        local = f"v{index}"
        reads.append(f"        {local} = value[{item.name!r}]")
        inner = _compile(item.schema, decimal_format, map_entries, generated)
        nullable = item.schema.is_optional and item.schema.default is None
        if inner is not None:
            namespace[f"c{index}"] = inner
            null = "pass" if nullable else "return slow(value)"
            conversions.append(f"        if {local} is not None:\n            {local} = c{index}({local})")
            conversions.append(f"        else:\n            {null}")
            continue
        allowed = _PYTHON_TYPES.get(item.schema.type)
        test = None
        if allowed is not None:
            namespace[f"t{index}"] = allowed[0] if len(allowed) == 1 else allowed
            test = f"type({local}) is not t{index}" if len(allowed) == 1 else f"type({local}) not in t{index}"
        if nullable and test:
            checks.append(f"    if {local} is not None and {test}:\n        return slow(value)")
        elif not nullable:
            checks.append(f"    if {local} is None{' or ' + test if test else ''}:\n        return slow(value)")
    count = len(schema.fields)
    built = ", ".join(f"{item.name!r}: v{index}" for index, item in enumerate(schema.fields))
    lines = [
        "def encode(value):",
        f"    if type(value) is not dict or len(value) != {count}:",
        "        return slow(value)",
        "    try:",
        *(reads or ["        pass"]),
        "    except KeyError:",
        "        return slow(value)",
        *checks,
    ]
    if conversions:
        lines += [
            "    try:",
            *conversions,
            "    except SchemaError:",
            "        return slow(value)  # the same error, with the field's path",
            f"    return {{{built}}}",
        ]
    else:
        lines.append("    return value")
    exec(compile("\n".join(lines), f"<json encoder for {schema.name or 'struct'}>", "exec"), namespace)
    return t.cast(Encoder, namespace["encode"])


def _loop_struct(schema: Schema, decimal_format: str, map_entries: bool, generated: bool) -> Encoder:
    """:func:`_compile_struct`'s encoder as a loop over the fields, for structs too wide to generate."""
    order = schema.field_names
    names = frozenset(order)
    converted: list[tuple[str, Encoder]] = []
    checked: list[tuple[str, tuple[type, ...], bool]] = []
    for item in schema.fields:
        inner = _compile(item.schema, decimal_format, map_entries, generated)
        nullable = item.schema.is_optional and item.schema.default is None
        if inner is not None:
            converted.append((item.name, inner))
            if not nullable:
                checked.append((item.name, (), False))
        elif item.schema.type in _PYTHON_TYPES:
            checked.append((item.name, _PYTHON_TYPES[item.schema.type], nullable))

    def slow(value: t.Any) -> t.Any:
        return value_to_json(schema, value, decimal_format=decimal_format, map_entries=map_entries)

    def encode(value: t.Any) -> t.Any:
        if type(value) is not dict or value.keys() != names:
            return slow(value)
        for name, allowed, nullable in checked:
            field_value = value[name]
            if field_value is None:
                if not nullable:
                    return slow(value)
            elif allowed and type(field_value) not in allowed:
                return slow(value)
        if not converted:
            return value
        out = {name: value[name] for name in order}  # the schema's field order, as the generated encoder
        try:
            for name, inner in converted:
                field_value = out[name]
                if field_value is not None:
                    out[name] = inner(field_value)
        except SchemaError:
            return slow(value)  # the same error, with the field's path
        return out

    return encode


def json_decoder(schema: Schema) -> Encoder:
    """A fast equivalent of :func:`value_from_json` for one schema: build once, call per record.

    Only fields that change type (decimals, floats parsed as Decimal, bytes, dates, nested
    parts) are touched; an irregular value (missing or unknown fields) takes
    :func:`value_from_json`.
    """
    compiled = _compile_decoder(schema)
    if compiled is None:
        return lambda value: schema.default if value is None else value
    return lambda value: schema.default if value is None else compiled(value)


def _compile_decoder(schema: Schema) -> Encoder | None:
    def slow(value: t.Any) -> t.Any:
        return value_from_json(schema, value)

    kind = schema.type
    if is_converted_logical(schema):
        return slow
    if kind in (Type.FLOAT32, Type.FLOAT64):
        return lambda value: value if type(value) is float else slow(value)
    if kind in (Type.INT8, Type.INT16, Type.INT32, Type.INT64):
        return lambda value: value if type(value) is int else slow(value)
    if kind in (Type.BOOLEAN, Type.STRING):
        return None
    if kind in (Type.BYTES, Type.MAP):
        return slow
    if kind is Type.ARRAY:
        inner = _compile_decoder(t.cast(Schema, schema.items))
        if inner is None:
            return None
        items = t.cast(Schema, schema.items)
        return lambda value: (
            [items.default if item is None else inner(item) for item in value] if type(value) is list else slow(value)
        )
    names = frozenset(schema.field_names)
    parts = [(item.name, decoder) for item in schema.fields if (decoder := _compile_decoder(item.schema)) is not None]
    defaults = [item.name for item in schema.fields if item.schema.default is not None]

    def struct(value: t.Any) -> t.Any:
        if type(value) is not dict or value.keys() != names or defaults:
            return slow(value)
        if not parts:
            return value
        out = dict(value)
        for name, decoder in parts:
            field_value = out[name]
            if field_value is not None:
                out[name] = decoder(field_value)
        return out

    return struct
