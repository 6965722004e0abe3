"""Kafka Connect schemas and values to Avro and back, as Confluent's ``AvroData`` maps them.

Pure: no registry, no I/O. The Avro schema carries Confluent's annotations
(``connect.name``, ``connect.version``, ``connect.doc``, ``connect.parameters``,
``connect.type`` for int8/int16, ``connect.default``) so that Kafka Connect's
``AvroConverter`` (or Apicurio's) reads back the same Connect schema and logical types:

- ``Decimal`` is ``bytes`` with ``logicalType: decimal``, ``precision`` (the
  ``connect.decimal.precision`` parameter, else 64 as Confluent writes) and ``scale``;
- ``Date``/``Time``/``Timestamp`` are ``int date`` / ``int time-millis`` / ``long timestamp-millis``;
- an optional schema is the union ``["null", T]`` with default null (``[T, "null"]`` when
  it has a non-null default);
- unnamed structs are records ``io.confluent.connect.avro.ConnectDefault``, maps with
  non-string keys arrays of ``io.confluent.connect.avro.MapEntry`` records.

Avro names allow only ``[A-Za-z0-9_]``: other characters (a COBOL ``CUST-ID``) are
replaced by ``_`` in the Avro name, and the original field name is kept in the field's
``connect.field.name`` property, from which :func:`to_connect_schema` restores it.
"""

from __future__ import annotations

import datetime
import decimal
import re
import typing as t
from dataclasses import replace

from headwater.codecs import schema as s
from headwater.codecs.schema import Field, Parameters, Schema, Type

__all__ = ["avro_decoder", "avro_encoder", "from_avro_value", "to_avro_schema", "to_avro_value", "to_connect_schema"]

NAMESPACE = "io.confluent.connect.avro"
DEFAULT_NAME = "ConnectDefault"
MAP_ENTRY = "MapEntry"
DEFAULT_PRECISION = 64
RECORD_DOC = "io.confluent.connect.avro.record.doc"
_INVALID = re.compile(r"[^A-Za-z0-9_]")

_PRIMITIVE = {
    Type.INT8: "int",
    Type.INT16: "int",
    Type.INT32: "int",
    Type.INT64: "long",
    Type.FLOAT32: "float",
    Type.FLOAT64: "double",
    Type.BOOLEAN: "boolean",
    Type.STRING: "string",
    Type.BYTES: "bytes",
}
_LOGICAL = {s.DATE_NAME: "date", s.TIME_NAME: "time-millis", s.TIMESTAMP_NAME: "timestamp-millis"}


def _scrub(name: str) -> str:
    cleaned = _INVALID.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def _full_name(name: str) -> tuple[str, str | None]:
    parts = [_scrub(part) for part in name.split(".") if part]
    return parts[-1], ".".join(parts[:-1]) or None


class _Writer:
    """One conversion: tracks record names so that each record is defined once, then referenced."""

    def __init__(self) -> None:
        self.defined: dict[Schema, str] = {}
        self.names: set[str] = set()
        self.defaults = 0

    def _unique(self, name: str) -> str:
        candidate, number = name, 1
        while candidate in self.names:
            number += 1
            candidate = f"{name}{number}"
        self.names.add(candidate)
        return candidate

    def convert(self, schema: Schema) -> t.Any:
        base = self._base(schema.required() if schema.is_optional else schema)
        if not schema.is_optional:
            return base
        return ["null", base] if schema.default is None else [base, "null"]

    def _annotate(self, avro: dict[str, t.Any], schema: Schema) -> dict[str, t.Any]:
        if schema.name is not None:
            avro["connect.name"] = schema.name
        if schema.version is not None:
            avro["connect.version"] = schema.version
        if schema.doc is not None:
            avro["connect.doc"] = schema.doc
        if schema.parameters:
            avro["connect.parameters"] = dict(schema.parameters)
        if schema.default is not None:
            avro["connect.default"] = to_avro_value(schema, schema.default, json_default=True)
        return avro

    def _base(self, schema: Schema) -> t.Any:
        kind = schema.type
        if schema.is_decimal:
            avro: dict[str, t.Any] = {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": schema.precision or DEFAULT_PRECISION,
                "scale": schema.scale,
            }
            return self._annotate(avro, schema)
        if schema.name in _LOGICAL:
            return self._annotate({"type": _PRIMITIVE[kind], "logicalType": _LOGICAL[t.cast(str, schema.name)]}, schema)
        if kind.is_primitive:
            avro = {"type": _PRIMITIVE[kind]}
            if kind in (Type.INT8, Type.INT16):
                avro["connect.type"] = kind.value
            self._annotate(avro, schema)
            return avro if len(avro) > 1 else avro["type"]
        if kind is Type.ARRAY:
            return self._annotate({"type": "array", "items": self.convert(t.cast(Schema, schema.items))}, schema)
        if kind is Type.MAP:
            keys, values = t.cast(Schema, schema.keys), t.cast(Schema, schema.values)
            if keys.type is Type.STRING and not keys.is_optional:
                return self._annotate({"type": "map", "values": self.convert(values)}, schema)
            entry = self._unique(f"{NAMESPACE}.{MAP_ENTRY}")
            record = {
                "type": "record",
                "name": entry.rsplit(".", 1)[1],
                "namespace": NAMESPACE,
                "fields": [
                    {"name": "key", "type": self.convert(keys)},
                    {"name": "value", "type": self.convert(values)},
                ],
            }
            return self._annotate({"type": "array", "items": record}, schema)
        known = self.defined.get(schema)
        if known is not None:
            return known
        if schema.name:
            name, namespace = _full_name(schema.name)
            full = self._unique(f"{namespace}.{name}" if namespace else name)
        else:
            full = self._unique(f"{NAMESPACE}.{DEFAULT_NAME}")
        namespace_part, _, short = full.rpartition(".")
        fields = []
        for item in schema.fields:
            avro_field: dict[str, t.Any] = {"name": _scrub(item.name), "type": self.convert(item.schema)}
            if item.schema.doc is not None:
                avro_field["doc"] = item.schema.doc
            if item.schema.is_optional and item.schema.default is None:
                avro_field["default"] = None
            elif item.schema.default is not None:
                avro_field["default"] = to_avro_value(item.schema, item.schema.default, json_default=True)
            if avro_field["name"] != item.name:
                avro_field["connect.field.name"] = item.name
            fields.append(avro_field)
        record = {"type": "record", "name": short, "fields": fields}
        if namespace_part:
            record["namespace"] = namespace_part
        if RECORD_DOC in schema.parameters:
            record["doc"] = schema.parameters[RECORD_DOC]
        self.defined[schema] = full
        return self._annotate(record, schema)


def to_avro_schema(schema: Schema) -> t.Any:
    """The Avro schema (JSON-ready) of a Connect schema, annotated as Confluent's AvroData does."""
    return _Writer().convert(schema)


def record_names(schema: Schema) -> dict[Schema, str]:
    """The Avro full name :func:`to_avro_schema` gives each (required) struct inside ``schema``."""
    writer = _Writer()
    writer.convert(schema)
    return dict(writer.defined)


def to_avro_value(schema: Schema, value: t.Any, *, json_default: bool = False, path: str = "") -> t.Any:
    """``value`` ready for fastavro under :func:`to_avro_schema` of ``schema``.

    Decimals are rescaled to the schema's scale (never rounded), maps with non-string keys
    become ``MapEntry`` lists, field names are scrubbed. With ``json_default`` the result
    is an Avro JSON default (decimals as their bytes in a latin-1 string, dates as ints).

    Raises:
        SchemaError: naming the field path of a value that does not fit.
    """
    if value is None:
        if schema.default is not None:
            return to_avro_value(schema, schema.default, json_default=json_default, path=path)
        if not schema.is_optional:
            msg = f"{path or '<root>'}: null in a required {s.describe(schema)}"
            raise s.SchemaError(msg)
        return None
    kind = schema.type
    if schema.is_decimal:
        if not isinstance(value, decimal.Decimal):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = decimal.Decimal(str(value))
            else:
                s.mismatch(path or "<root>", schema, value)
        scaled = s.rescale(value, schema.scale, path)
        return s.unscaled_bytes(scaled, schema.scale).decode("latin-1") if json_default else scaled
    if json_default and schema.name in _LOGICAL:
        return s.value_to_json(schema, value)
    if kind is Type.STRUCT:
        if not isinstance(value, t.Mapping):
            s.mismatch(path or "<root>", schema, value)
        unknown = set(value) - set(schema.field_names)
        if unknown:
            msg = f"{path or '<root>'}: fields {sorted(unknown)} are not in the schema {schema.name or ''}".rstrip()
            raise s.SchemaError(msg)
        return {
            _scrub(item.name): to_avro_value(
                item.schema, value.get(item.name), json_default=json_default, path=f"{path}.{item.name}".lstrip(".")
            )
            for item in schema.fields
        }
    if kind is Type.ARRAY:
        if not isinstance(value, (list, tuple)):
            s.mismatch(path or "<root>", schema, value)
        items = t.cast(Schema, schema.items)
        return [
            to_avro_value(items, item, json_default=json_default, path=f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    if kind is Type.MAP:
        if not isinstance(value, t.Mapping):
            s.mismatch(path or "<root>", schema, value)
        keys, values = t.cast(Schema, schema.keys), t.cast(Schema, schema.values)
        if keys.type is Type.STRING and not keys.is_optional:
            return {
                key: to_avro_value(values, item, json_default=json_default, path=f"{path}[{key!r}]")
                for key, item in value.items()
            }
        return [
            {
                "key": to_avro_value(keys, key, json_default=json_default, path=f"{path}<key>"),
                "value": to_avro_value(values, item, json_default=json_default, path=f"{path}[{key!r}]"),
            }
            for key, item in value.items()
        ]
    if kind is Type.BYTES and json_default and isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if kind in (Type.FLOAT32, Type.FLOAT64) and isinstance(value, (int, decimal.Decimal)):
        return float(value)
    s.validate_primitive(schema, value, path or "<root>")
    return value


def to_connect_schema(avro: t.Any, *, _names: dict[str, Schema] | None = None) -> Schema:
    """The Connect schema of an Avro schema (parsed JSON), reading Confluent's annotations.

    Raises:
        SchemaError: for Avro constructs Connect has no type for (enums and fixed become
            strings and bytes; other unions than with null are refused).
    """
    names = _names if _names is not None else {}
    if isinstance(avro, list):
        branches = [branch for branch in avro if branch != "null"]
        if len(branches) != 1:
            msg = f"Avro union {avro!r:.120} has no Connect type (only [null, T] unions do)"
            raise s.SchemaError(msg)
        return to_connect_schema(branches[0], _names=names).optional()
    if isinstance(avro, str):
        if avro in names:
            return names[avro]
        avro = {"type": avro}
    kind = avro.get("type")
    if isinstance(kind, (dict, list)):
        return to_connect_schema(kind, _names=names)
    logical = avro.get("logicalType")
    schema: Schema
    if logical == "decimal" and kind in ("bytes", "fixed"):
        precision = avro.get("precision")
        params = dict(avro.get("connect.parameters") or {})
        params["scale"] = str(avro.get("scale", 0))
        if precision is not None and int(precision) != DEFAULT_PRECISION:
            params.setdefault(s.PRECISION_PARAMETER, str(precision))
        schema = Schema(Type.BYTES, name=s.DECIMAL, version=1, parameters=Parameters(params))
    elif logical in ("date", "time-millis", "timestamp-millis") and kind in ("int", "long"):
        schema = {"date": s.DATE, "time-millis": s.TIME, "timestamp-millis": s.TIMESTAMP}[logical]
    elif kind == "record":
        fields = []
        full = (
            avro["name"] if "." in avro["name"] or not avro.get("namespace") else f"{avro['namespace']}.{avro['name']}"
        )
        for index, item in enumerate(avro.get("fields", ())):
            field_schema = to_connect_schema(item["type"], _names=names)
            if "doc" in item:
                field_schema = replace(field_schema, doc=item["doc"])
            fields.append(Field(item.get("connect.field.name", item["name"]), index, field_schema))
        default_name = full.startswith(f"{NAMESPACE}.{DEFAULT_NAME}")
        schema = Schema(Type.STRUCT, name=None if default_name else full, fields=tuple(fields))
        if avro.get("doc") is not None:
            # As Confluent's AvroData: the record's Avro doc is a parameter; the Connect doc is connect.doc.
            schema = replace(schema, parameters=Parameters({RECORD_DOC: avro["doc"]}))
    elif kind == "array":
        items = avro["items"]
        if (
            isinstance(items, dict)
            and items.get("type") == "record"
            and str(items.get("name", "")).startswith(MAP_ENTRY)
            and [item["name"] for item in items.get("fields", ())] == ["key", "value"]
        ):
            key_field, value_field = items["fields"]
            schema = s.map_of(
                to_connect_schema(key_field["type"], _names=names), to_connect_schema(value_field["type"], _names=names)
            )
        else:
            schema = s.array_of(to_connect_schema(items, _names=names))
    elif kind == "map":
        schema = s.map_of(s.STRING, to_connect_schema(avro["values"], _names=names))
    elif kind == "enum":
        schema = s.STRING
    elif kind == "fixed":
        schema = s.BYTES
    elif kind == "int":
        schema = Schema({"int8": Type.INT8, "int16": Type.INT16}.get(avro.get("connect.type", ""), Type.INT32))
    else:
        by_avro = {"long": Type.INT64, "float": Type.FLOAT32, "double": Type.FLOAT64, "boolean": Type.BOOLEAN}
        by_avro |= {"string": Type.STRING, "bytes": Type.BYTES}
        if kind not in by_avro:
            msg = f"Avro type {kind!r} has no Connect type"
            raise s.SchemaError(msg)
        schema = Schema(by_avro[kind])
    if "connect.name" in avro and not schema.is_decimal:
        schema = replace(schema, name=avro["connect.name"])
    if "connect.version" in avro:
        schema = replace(schema, version=int(avro["connect.version"]))
    if "connect.doc" in avro:
        schema = replace(schema, doc=avro["connect.doc"])
    if "connect.parameters" in avro and not schema.is_decimal:
        schema = replace(schema, parameters=Parameters({**schema.parameters, **avro["connect.parameters"]}))
    if avro.get("connect.default") is not None:
        # As Confluent's AvroData: the Connect default travels as connect.default.
        schema = replace(schema, default=from_avro_default(schema, avro["connect.default"]))
    if kind == "record":
        # Later references by (full) name get the annotated schema.
        names[full] = names[avro["name"]] = schema
    return schema


def from_avro_default(schema: Schema, value: t.Any) -> t.Any:
    """The Connect value of an Avro JSON default that :func:`to_avro_value` wrote with
    ``json_default`` under ``schema`` (bytes and decimals as latin-1 strings, logical
    types as Connect's ints).

    Raises:
        SchemaError: naming the field path of a default that does not fit.
    """
    if value is None:
        return None
    if schema.is_decimal:
        if not isinstance(value, str):
            s.mismatch("<default>", schema, value)
        return s.from_unscaled(value.encode("latin-1"), schema.scale)
    if schema.name in _LOGICAL:
        return s.value_from_json(schema, value, path="<default>")
    kind = schema.type
    if kind is Type.STRUCT and isinstance(value, t.Mapping):
        return {item.name: from_avro_default(item.schema, value.get(_scrub(item.name))) for item in schema.fields}
    if kind is Type.ARRAY and isinstance(value, list):
        return [from_avro_default(t.cast(Schema, schema.items), item) for item in value]
    if kind is Type.MAP:
        keys, values = t.cast(Schema, schema.keys), t.cast(Schema, schema.values)
        if isinstance(value, list):
            return {from_avro_default(keys, item["key"]): from_avro_default(values, item["value"]) for item in value}
        if isinstance(value, t.Mapping):
            return {key: from_avro_default(values, item) for key, item in value.items()}
    if kind is Type.BYTES and isinstance(value, str):
        return value.encode("latin-1")
    if kind in (Type.FLOAT32, Type.FLOAT64) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    s.validate_primitive(schema, value, "<default>")
    return value


def from_avro_value(schema: Schema | None, value: t.Any) -> t.Any:
    """A value fastavro read (logical types applied) as the Connect value of ``schema``."""
    if schema is None or value is None:
        return value
    kind = schema.type
    if kind is Type.STRUCT and isinstance(value, dict):
        return {item.name: from_avro_value(item.schema, value.get(_scrub(item.name))) for item in schema.fields}
    if kind is Type.ARRAY and isinstance(value, list):
        return [from_avro_value(schema.items, item) for item in value]
    if kind is Type.MAP:
        if isinstance(value, list):
            return {
                from_avro_value(schema.keys, item["key"]): from_avro_value(schema.values, item["value"])
                for item in value
            }
        if isinstance(value, dict):
            return {key: from_avro_value(schema.values, item) for key, item in value.items()}
    if schema.name == s.TIMESTAMP_NAME and isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


_PYTHON_TYPES: dict[Type, tuple[type, ...]] = {
    Type.INT8: (int,),
    Type.INT16: (int,),
    Type.INT32: (int,),
    Type.INT64: (int,),
    Type.FLOAT32: (float,),
    Type.FLOAT64: (float,),
    Type.BOOLEAN: (bool,),
    Type.STRING: (str,),
    Type.BYTES: (bytes,),
}
Encoder = t.Callable[[t.Any], t.Any]


def avro_encoder(schema: Schema) -> Encoder:
    """A fast equivalent of :func:`to_avro_value` for one schema: build once, call per record.

    Values already in shape (struct keys exactly the fields, Python types as expected,
    decimals at the schema's scale) pass unchanged; anything else takes
    :func:`to_avro_value`, which converts or raises the precise error.
    """
    compiled = _compile(schema, record_names(schema))
    if compiled is None:
        return lambda value: value if value is None else to_avro_value(schema, value)
    return lambda value: value if value is None else compiled(value)


def _tagged(schema: Schema, inner: Encoder | None, names: t.Mapping[Schema, str]) -> Encoder | None:
    """For an optional struct: name the union branch, so fastavro need not try each one."""
    name = names.get(schema.required()) if schema.is_optional and schema.type is Type.STRUCT else None
    if name is None:
        return inner
    if inner is None:
        return lambda value: (name, value)
    return lambda value: (name, inner(value))


def _compile(schema: Schema, names: t.Mapping[Schema, str]) -> Encoder | None:
    def slow(value: t.Any) -> t.Any:
        return to_avro_value(schema, value)

    if schema.is_decimal:
        exponent = -schema.scale

        def decimal_value(value: t.Any) -> t.Any:
            if type(value) is decimal.Decimal and value.as_tuple().exponent == exponent:
                return value
            return slow(value)

        return decimal_value
    kind = schema.type
    if schema.name in _LOGICAL or kind is Type.MAP:
        return slow
    if kind in _PYTHON_TYPES:
        allowed = _PYTHON_TYPES[kind]
        return lambda value: value if type(value) in allowed else slow(value)
    if kind is Type.ARRAY:
        items = t.cast(Schema, schema.items)
        inner = _tagged(items, _compile(items, names), names)

        def array(value: t.Any) -> t.Any:
            if type(value) is not list or inner is None:
                return slow(value)
            try:
                return [None if item is None else inner(item) for item in value]
            except s.SchemaError:
                return slow(value)  # again, with the element's path

        return array
    if any(_scrub(item.name) != item.name for item in schema.fields):
        return slow
    field_names = frozenset(schema.field_names)
    parts = [
        (item.name, _tagged(item.schema, _compile(item.schema, names), names),
         item.schema.is_optional and item.schema.default is None)
        for item in schema.fields
    ]  # fmt: skip

    def struct(value: t.Any) -> t.Any:
        if type(value) is not dict or value.keys() != field_names:
            return slow(value)
        out: dict[str, t.Any] = {}
        try:
            for name, inner, nullable in parts:
                item = value[name]
                if item is None:
                    if not nullable:
                        return slow(value)
                    out[name] = None
                else:
                    out[name] = inner(item) if inner is not None else item
        except s.SchemaError:
            return slow(value)  # again, with the field's path
        return out

    return struct


def avro_decoder(schema: Schema) -> Encoder:
    """:func:`from_avro_value` for one schema, or nothing at all when fastavro's values are
    already the Connect values (no scrubbed names, maps or timestamps inside)."""

    def plain(part: Schema | None) -> bool:
        if part is None:
            return True
        if part.type is Type.MAP or part.name == s.TIMESTAMP_NAME:
            return False
        if part.type is Type.ARRAY:
            return plain(part.items)
        return all(_scrub(item.name) == item.name and plain(item.schema) for item in part.fields)

    if plain(schema):
        return lambda value: value
    return lambda value: from_avro_value(schema, value)
