"""Kafka Connect schemas to JSON Schema and back, as Confluent's ``JsonSchemaData`` maps them.

Pure, no I/O. Types Connect has and JSON Schema lacks travel as keywords: ``connect.type``
(``int8`` ... ``int64``, ``float32``/``float64``, ``bytes``, ``map``), ``connect.index``
(field order), ``connect.version``, ``connect.parameters``; a named schema's name is its
``title``, its doc the ``description``. An optional schema is ``oneOf: [{"type": "null"}, T]``.
Values are Connect ``JsonConverter`` payloads with NUMERIC decimals (exact JSON numbers).
"""

from __future__ import annotations

import typing as t
from dataclasses import replace

from headwater.codecs import schema as s
from headwater.codecs.schema import Field, Parameters, Schema, Type

__all__ = ["to_connect_schema", "to_json_schema"]

_JSON_TYPE = {
    Type.INT8: "integer",
    Type.INT16: "integer",
    Type.INT32: "integer",
    Type.INT64: "integer",
    Type.FLOAT32: "number",
    Type.FLOAT64: "number",
    Type.BOOLEAN: "boolean",
    Type.STRING: "string",
    Type.BYTES: "string",
}
_CONNECT_TYPE = {
    Type.INT8: "int8",
    Type.INT16: "int16",
    Type.INT32: "int32",
    Type.INT64: "int64",
    Type.FLOAT32: "float32",
    Type.FLOAT64: "float64",
    Type.BYTES: "bytes",
}
_FROM_CONNECT_TYPE = {value: key for key, value in _CONNECT_TYPE.items()}


def to_json_schema(schema: Schema, *, top: bool = True) -> dict[str, t.Any]:
    """The JSON Schema (draft 7) of a Connect schema, with Confluent's ``connect.*`` keywords."""
    document = _base(schema)
    if schema.is_optional:
        document = {"oneOf": [{"type": "null"}, document]}
        if schema.default is not None:
            document["default"] = s.value_to_json(schema, schema.default, decimal_format="NUMERIC")
    if top:
        document = {"$schema": "http://json-schema.org/draft-07/schema#", **document}
    return document


def _base(schema: Schema) -> dict[str, t.Any]:
    kind = schema.type
    document: dict[str, t.Any]
    if schema.is_decimal:
        document = {"type": "number", "connect.type": "bytes"}
    elif kind.is_primitive:
        document = {"type": _JSON_TYPE[kind]}
        if kind in _CONNECT_TYPE:
            document["connect.type"] = _CONNECT_TYPE[kind]
    elif kind is Type.ARRAY:
        document = {"type": "array", "items": to_json_schema(t.cast(Schema, schema.items), top=False)}
    elif kind is Type.MAP:
        keys, values = t.cast(Schema, schema.keys), t.cast(Schema, schema.values)
        if keys.type is Type.STRING and not keys.is_optional:
            document = {
                "type": "object",
                "additionalProperties": to_json_schema(values, top=False),
                "connect.type": "map",
            }
        else:
            entry = {
                "type": "object",
                "properties": {
                    "key": {**to_json_schema(keys, top=False), "connect.index": 0},
                    "value": {**to_json_schema(values, top=False), "connect.index": 1},
                },
                "additionalProperties": False,
            }
            document = {"type": "array", "items": entry, "connect.type": "map"}
    else:
        document = {
            "type": "object",
            "properties": {
                item.name: {**to_json_schema(item.schema, top=False), "connect.index": item.index}
                for item in schema.fields
            },
            "additionalProperties": False,
        }
    if schema.name is not None:
        document["title"] = schema.name
    if schema.version is not None:
        document["connect.version"] = schema.version
    if schema.doc is not None:
        document["description"] = schema.doc
    if schema.parameters:
        document["connect.parameters"] = dict(schema.parameters)
    if schema.default is not None and not schema.is_optional:
        document["default"] = s.value_to_json(schema, schema.default, decimal_format="NUMERIC")
    return document


def to_connect_schema(document: t.Any, path: str = "") -> Schema:
    """The Connect schema of a JSON Schema written by :func:`to_json_schema` (or Confluent).

    Raises:
        SchemaError: for JSON Schema constructs without a Connect type, naming the path.
    """
    if not isinstance(document, dict):
        msg = f"JSON Schema {path or '<root>'}: expected an object"
        raise s.SchemaError(msg)
    if "oneOf" in document or "anyOf" in document:
        alternatives = document.get("oneOf") or document.get("anyOf") or ()
        branches = [branch for branch in alternatives if branch.get("type") != "null"]
        if len(branches) != 1:
            msg = f"JSON Schema {path or '<root>'}: only oneOf [null, T] has a Connect type"
            raise s.SchemaError(msg)
        optional = to_connect_schema(branches[0], path).optional()
        if document.get("default") is not None:
            optional = replace(optional, default=s.value_from_json(optional, document["default"]))
        return optional
    kind = document.get("type")
    connect_type = document.get("connect.type")
    schema: Schema
    if kind == "object" and connect_type == "map":
        schema = s.map_of(s.STRING, to_connect_schema(document.get("additionalProperties"), f"{path}<value>"))
    elif kind == "array" and connect_type == "map":
        properties = document["items"]["properties"]
        schema = s.map_of(
            to_connect_schema(properties["key"], f"{path}<key>"),
            to_connect_schema(properties["value"], f"{path}<value>"),
        )
    elif kind == "object":
        properties = document.get("properties") or {}
        ordered = sorted(properties.items(), key=lambda item: item[1].get("connect.index", 1 << 30))
        schema = Schema(
            Type.STRUCT,
            fields=tuple(
                Field(name, index, to_connect_schema(item, f"{path}.{name}".lstrip(".")))
                for index, (name, item) in enumerate(ordered)
            ),
        )
    elif kind == "array":
        schema = s.array_of(to_connect_schema(document.get("items"), f"{path}[]"))
    elif kind == "number" and connect_type == "bytes":
        schema = Schema(Type.BYTES)
    elif kind in ("integer", "number", "string") and connect_type in _FROM_CONNECT_TYPE:
        schema = Schema(_FROM_CONNECT_TYPE[connect_type])
    elif kind == "integer":
        schema = s.INT64
    elif kind == "number":
        schema = s.FLOAT64
    elif kind == "boolean":
        schema = s.BOOLEAN
    elif kind == "string":
        schema = s.STRING
    else:
        msg = f"JSON Schema {path or '<root>'}: type {kind!r} has no Connect type"
        raise s.SchemaError(msg)
    if "title" in document:
        schema = replace(schema, name=document["title"])
    if "connect.version" in document:
        schema = replace(schema, version=int(document["connect.version"]))
    if "description" in document:
        schema = replace(schema, doc=document["description"])
    if "connect.parameters" in document:
        schema = replace(schema, parameters=Parameters(document["connect.parameters"]))
    if document.get("default") is not None:
        schema = replace(schema, default=s.value_from_json(schema, document["default"]))
    return schema
