"""Converters between structured keys and values and Kafka bytes (Kafka Connect's Converter).

The runtime applies them; plugins never serialise. A converter is told the topic and
whether it handles keys or values, so a schema-registry converter (Avro, subject
``<topic>-key``/``<topic>-value``) fits the same interface later.

Built in, by alias or Kafka Connect class name:

- ``json`` (``org.apache.kafka.connect.json.JsonConverter``): with ``schemas.enable=true``
  (the default, as in Kafka Connect) the ``{"schema": ..., "payload": ...}`` envelope with
  an inferred Connect schema; with ``false``, plain JSON. Decimals are exact:
  ``decimal.format=NUMERIC`` (default) writes JSON numbers with their full scale,
  ``BASE64`` writes Connect's Decimal logical type bytes.
- ``string`` (``...storage.StringConverter``): UTF-8 text.
- ``bytes`` (``...converters.ByteArrayConverter``): raw bytes passed through.
"""

from __future__ import annotations

import base64
import decimal
import json
import typing as t

import orjson

from headwater.connectors.errors import ConfigError, FieldError, RecordError

__all__ = ["ByteArrayConverter", "Converter", "JsonConverter", "StringConverter", "make_converter", "to_json_bytes"]

DECIMAL_SCHEMA_NAME = "org.apache.kafka.connect.data.Decimal"


class Converter(t.Protocol):
    """Turns one key or value into bytes and back."""

    def to_bytes(self, topic: str, data: t.Any) -> bytes | None:
        """Serialise; ``None`` stays ``None`` (a tombstone or an absent key)."""
        ...

    def from_bytes(self, topic: str, data: bytes | None) -> t.Any:
        """Deserialise; raises :class:`RecordError` on bytes it cannot read."""
        ...


def _default(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            msg = f"cannot write {value} as JSON"
            raise TypeError(msg)
        return orjson.Fragment(str(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    msg = f"{type(value).__name__} is not JSON serialisable"
    raise TypeError(msg)


def to_json_bytes(value: t.Any) -> bytes:
    """JSON with exact decimals (as numbers) and bytes as base64: the house JSON writer."""
    return orjson.dumps(value, default=_default)


def _decimal_scale(value: decimal.Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def infer_schema(value: t.Any) -> dict[str, t.Any]:
    """A Kafka Connect schema describing ``value`` (all fields optional)."""
    if isinstance(value, bool):
        return {"type": "boolean", "optional": True}
    if isinstance(value, int):
        return {"type": "int64", "optional": True}
    if isinstance(value, float):
        return {"type": "double", "optional": True}
    if isinstance(value, decimal.Decimal):
        return {
            "type": "bytes",
            "optional": True,
            "name": DECIMAL_SCHEMA_NAME,
            "version": 1,
            "parameters": {"scale": str(_decimal_scale(value))},
        }
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"type": "bytes", "optional": True}
    if isinstance(value, t.Mapping):
        fields = []
        row_schema: dict[str, t.Any] | None = None
        for name, item in value.items():
            if item is None and name == "before" and isinstance(value.get("after"), t.Mapping):
                row_schema = row_schema or infer_schema(value["after"])
                field_schema = row_schema
            elif item is None and name == "after" and isinstance(value.get("before"), t.Mapping):
                row_schema = row_schema or infer_schema(value["before"])
                field_schema = row_schema
            else:
                field_schema = infer_schema(item)
            fields.append({**field_schema, "field": str(name)})
        return {"type": "struct", "fields": fields, "optional": True}
    if isinstance(value, (list, tuple)):
        first = next((item for item in value if item is not None), "")
        return {"type": "array", "items": infer_schema(first), "optional": True}
    return {"type": "string", "optional": True}


def _to_base64_decimals(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        unscaled = int(value.scaleb(_decimal_scale(value)))
        length = max(1, (unscaled.bit_length() + 8) // 8)
        return base64.b64encode(unscaled.to_bytes(length, "big", signed=True)).decode()
    if isinstance(value, t.Mapping):
        return {key: _to_base64_decimals(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_base64_decimals(item) for item in value]
    return value


def _apply_schema(schema: t.Mapping[str, t.Any] | None, value: t.Any) -> t.Any:
    """Restore the types JSON cannot carry (decimals, bytes) using a Connect schema."""
    if schema is None or value is None:
        return value
    kind = schema.get("type")
    if schema.get("name") == DECIMAL_SCHEMA_NAME:
        scale = int((schema.get("parameters") or {}).get("scale", 0))
        if isinstance(value, str):
            unscaled = int.from_bytes(base64.b64decode(value), "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-scale)
        return decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-scale))
    if kind == "bytes" and isinstance(value, str):
        return base64.b64decode(value)
    if kind == "struct" and isinstance(value, dict):
        fields = {field["field"]: field for field in schema.get("fields", ())}
        return {key: _apply_schema(fields.get(key), item) for key, item in value.items()}
    if kind == "array" and isinstance(value, list):
        return [_apply_schema(schema.get("items"), item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _apply_schema(schema.get("values"), item) for key, item in value.items()}
    return value


def _parse_bool(key: str, text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ConfigError([FieldError(key, f"must be true or false, not {text!r}")])


def _shape(value: t.Any) -> t.Hashable:
    """What :func:`infer_schema` depends on, cheap to compute and hashable."""
    if isinstance(value, dict):
        return tuple((name, _shape(item)) for name, item in value.items())
    if isinstance(value, decimal.Decimal):
        return ("decimal", _decimal_scale(value))
    if isinstance(value, (list, tuple)):
        return ("array", _shape(next((item for item in value if item is not None), "")))
    return t.cast(t.Hashable, type(value))


class JsonConverter:
    """Kafka Connect's JSON converter: schema-and-payload envelope or plain JSON."""

    def __init__(
        self, *, schemas_enable: bool = True, decimal_format: str = "NUMERIC", schemas_cache_size: int = 1000
    ) -> None:
        self.schemas_enable = schemas_enable
        self.decimal_format = decimal_format.upper()
        self.schemas_cache_size = schemas_cache_size
        self._schemas: dict[t.Hashable, bytes] = {}

    def _schema_bytes(self, data: t.Any) -> bytes:
        # Inferring and serialising a schema costs several times the payload itself;
        # records of one table share a shape, so the serialised schema is cached by shape.
        if not isinstance(data, t.Mapping) or not isinstance(data, dict):
            return orjson.dumps(infer_schema(data))
        shape = _shape(data)
        cached = self._schemas.get(shape)
        if cached is None:
            if len(self._schemas) >= self.schemas_cache_size:
                self._schemas.clear()
            cached = self._schemas[shape] = orjson.dumps(infer_schema(data))
        return cached

    def to_bytes(self, topic: str, data: t.Any) -> bytes | None:
        if data is None:
            return None
        payload = _to_base64_decimals(data) if self.decimal_format == "BASE64" else data
        try:
            if self.schemas_enable:
                body = orjson.dumps(payload, default=_default)
                return b'{"schema":' + self._schema_bytes(data) + b',"payload":' + body + b"}"
            return orjson.dumps(payload, default=_default)
        except TypeError as exc:
            msg = f"cannot convert to JSON for topic {topic}: {exc}"
            raise RecordError(msg) from exc

    def from_bytes(self, topic: str, data: bytes | None) -> t.Any:
        if data is None:
            return None
        try:
            # Decimals must survive exactly, so numbers are parsed as Decimal when the
            # schema says a Decimal is inside (orjson has no Decimal parsing).
            if self.schemas_enable and DECIMAL_SCHEMA_NAME.encode() in data:
                document = json.loads(data, parse_float=decimal.Decimal)
            else:
                document = orjson.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"value on topic {topic} is not valid JSON: {exc}"
            raise RecordError(msg, raw=data) from exc
        if not self.schemas_enable:
            return document
        if not (isinstance(document, dict) and set(document) == {"schema", "payload"}):
            msg = (
                f"JSON on topic {topic} has no schema/payload envelope; "
                "set value.converter.schemas.enable=false for plain JSON"
            )
            raise RecordError(msg, raw=data)
        try:
            return _apply_schema(document["schema"], document["payload"])
        except (ArithmeticError, ValueError, TypeError) as exc:
            # decimal.InvalidOperation (a decimal beyond the context's precision), bad
            # base64, a non-numeric scale: the record cannot be read, the next one can.
            msg = f"value on topic {topic} does not match its Connect schema: {exc!r}"
            raise RecordError(msg, raw=data) from exc


class StringConverter:
    """UTF-8 text; non-string data is written as its ``str()``."""

    def to_bytes(self, topic: str, data: t.Any) -> bytes | None:
        return None if data is None else str(data).encode()

    def from_bytes(self, topic: str, data: bytes | None) -> t.Any:
        if data is None:
            return None
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            msg = f"record on topic {topic} is not UTF-8: {exc}"
            raise RecordError(msg, raw=data) from exc


class ByteArrayConverter:
    """Raw bytes both ways."""

    def to_bytes(self, topic: str, data: t.Any) -> bytes | None:
        if data is None or isinstance(data, bytes):
            return data
        if isinstance(data, (bytearray, memoryview)):
            return bytes(data)
        msg = f"bytes converter got {type(data).__name__} for topic {topic}; use a json or string converter"
        raise RecordError(msg)

    def from_bytes(self, topic: str, data: bytes | None) -> t.Any:
        return data


_ALIASES = {
    "json": "json",
    "org.apache.kafka.connect.json.JsonConverter": "json",
    "string": "string",
    "org.apache.kafka.connect.storage.StringConverter": "string",
    "bytes": "bytes",
    "org.apache.kafka.connect.converters.ByteArrayConverter": "bytes",
}


def make_converter(name: str, options: t.Mapping[str, str], *, key: str) -> Converter:
    """Build the converter ``name`` with its ``<key>.*`` options.

    Raises:
        ConfigError: naming ``key`` (``key.converter`` or ``value.converter``) for an unknown
            converter or option.
    """
    kind = _ALIASES.get(name)
    if kind is None:
        msg = f"unknown converter {name!r} (use json, string or bytes)"
        raise ConfigError([FieldError(key, msg)])
    unknown = set(options) - (
        {"schemas.enable", "decimal.format", "schemas.cache.size"} if kind == "json" else {"encoding"}
    )
    if unknown:
        raise ConfigError([FieldError(f"{key}.{option}", "unknown converter option") for option in sorted(unknown)])
    if kind == "json":
        decimal_format = options.get("decimal.format", "NUMERIC").upper()
        if decimal_format not in ("NUMERIC", "BASE64"):
            raise ConfigError([FieldError(f"{key}.decimal.format", "must be NUMERIC or BASE64")])
        schemas = _parse_bool(f"{key}.schemas.enable", options.get("schemas.enable", "true"))
        try:
            cache_size = int(options.get("schemas.cache.size", "1000"))
        except ValueError:
            raise ConfigError([FieldError(f"{key}.schemas.cache.size", "must be a whole number")]) from None
        return JsonConverter(schemas_enable=schemas, decimal_format=decimal_format, schemas_cache_size=cache_size)
    if kind == "string":
        return StringConverter()
    return ByteArrayConverter()
