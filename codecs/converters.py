"""Converters between structured keys and values and Kafka bytes (Kafka Connect's Converter).

The runtime applies them; plugins never serialise. Kafka Connect's shape: a converter is
built once per connector and key-or-value side with its settings
(``value.converter.<setting>``) and whether it converts keys, then

- :meth:`Converter.from_connect_data` ``(topic, schema, value) -> bytes`` on the source path
  (the schema comes from ``SourceRecord.key_schema`` / ``value_schema``; None infers one),
- :meth:`Converter.to_connect_data` ``(topic, bytes) -> SchemaAndValue`` on the sink path
  (the schema goes to ``SinkRecord.key_schema`` / ``value_schema``).

``to_bytes`` / ``from_bytes`` are the schemaless shorthands of the two.

Converters are plugins: the entry point group ``headwater.converters`` maps a name to a
:class:`Converter` subclass, whose ``aliases`` (Kafka Connect class names) are accepted too.
Built in:

- ``json`` (``org.apache.kafka.connect.json.JsonConverter``): with ``schemas.enable=true``
  (the default, as in Kafka Connect) the ``{"schema": ..., "payload": ...}`` envelope. The
  record's schema drives the payload; without one a schema is inferred (a null never
  changes it). Decimals are exact at any precision: ``decimal.format=NUMERIC`` (the
  default here) writes JSON numbers at the schema's scale, ``BASE64`` (Kafka Connect's
  default) writes Connect's Decimal bytes.
- ``string`` (``...storage.StringConverter``), ``bytes`` (``...converters.ByteArrayConverter``).
- ``avro`` (``io.confluent.connect.avro.AvroConverter``) and ``json-schema``
  (``io.confluent.connect.json.JsonSchemaConverter``) through a schema registry:
  :mod:`headwater.connectors.converters`.
"""

from __future__ import annotations

import abc
import base64
import decimal
import importlib
import json
import typing as t
from dataclasses import dataclass
from importlib import metadata

import orjson

from headwater.codecs import schema as s
from headwater.codecs.jsonwrite import Writer, json_writer
from headwater.codecs.schema import Schema
from headwater.connectors.errors import ConfigError, FieldError, RecordError

__all__ = [
    "ByteArrayConverter",
    "Converter",
    "JsonConverter",
    "SchemaAndValue",
    "StringConverter",
    "TopicSchemas",
    "exact_integers",
    "make_converter",
    "parse_bool",
    "parse_json",
    "to_json_bytes",
    "to_json_line",
    "to_json_lines",
]

ENTRY_POINT_GROUP = "headwater.converters"
DECIMAL_SCHEMA_NAME = s.DECIMAL


@dataclass(frozen=True, slots=True)
class SchemaAndValue:
    """What :meth:`Converter.to_connect_data` read: the value and its schema (None when schemaless)."""

    schema: Schema | None
    value: t.Any


NULL = SchemaAndValue(None, None)
_ENVELOPE_START = b'{"schema":'
_PAYLOAD_KEY = b',"payload":'


class Converter(abc.ABC):
    """Kafka Connect's Converter: one key-or-value side of one connector.

    Built by the worker (``build_converters``) when a connector starts, from the
    ``key.converter.*`` or ``value.converter.*`` settings; then called from that
    connector's task threads. One instance serves one task at a time (the runtime builds
    one per task environment), so implementations may cache without locks.

    Subclasses declare ``name``, ``aliases`` (Kafka Connect class names), the ``settings``
    they accept, and read their settings in ``__init__`` (raising :class:`ConfigError`
    through :meth:`setting_error`, which names ``<prefix>.<setting>``).
    """

    name: t.ClassVar[str]
    aliases: t.ClassVar[tuple[str, ...]] = ()
    settings: t.ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, config: t.Mapping[str, str] | None = None, *, is_key: bool = False, prefix: str | None = None
    ) -> None:
        self.config = dict(config or {})
        self.is_key = is_key
        self.prefix = prefix or ("key.converter" if is_key else "value.converter")
        unknown = set(self.config) - self.settings
        if unknown:
            raise ConfigError(
                [FieldError(f"{self.prefix}.{option}", "unknown converter option") for option in sorted(unknown)]
            )

    def invalid(self, setting: str, message: str) -> t.NoReturn:
        """Raise the :class:`ConfigError` of a bad ``<prefix>.<setting>``."""
        raise ConfigError([FieldError(f"{self.prefix}.{setting}", message)])

    def bool_setting(self, setting: str, default: bool) -> bool:
        text = self.config.get(setting)
        return default if text is None else parse_bool(f"{self.prefix}.{setting}", text)

    def int_setting(self, setting: str, default: int) -> int:
        text = self.config.get(setting)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            self.invalid(setting, "must be a whole number")

    @abc.abstractmethod
    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        """Serialise ``value`` described by ``schema`` (None: infer or go schemaless).

        ``None`` stays ``None`` (a tombstone or an absent key).

        Raises:
            RecordError: the value does not fit the schema or cannot be written; the
                message names the topic and field.
            RetriableError: a schema registry could not be reached.
        """

    @abc.abstractmethod
    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        """Deserialise; ``None`` gives ``SchemaAndValue(None, None)``.

        Raises:
            RecordError: bytes it cannot read, naming the topic.
            RetriableError: a schema registry could not be reached.
        """

    def from_connect_batch(self, topic: str, schema: Schema | None, values: t.Sequence[t.Any]) -> list[bytes | None]:
        """:meth:`from_connect_data` for many values of one topic and one schema, in order.

        The source runtime calls it once per run of records that share a topic and
        schemas, from the task's thread, so that a converter whose work per record is small
        does not pay a Python call per record. It must give exactly what
        :meth:`from_connect_data` gives each value. If any value cannot be written it
        raises :class:`RecordError` (any one); the runtime then converts that run record by
        record, so each bad record is named and dead-lettered and the others go on. This
        default is that per-record loop; override it only for speed.
        """
        return [self.from_connect_data(topic, schema, value) for value in values]

    def to_connect_batch(self, topic: str, data: t.Sequence[bytes | None]) -> tuple[list[Schema | None], list[t.Any]]:
        """:meth:`to_connect_data` for many records of one topic: their schemas and their
        values, in the order given.

        The sink runtime calls it once per batch and topic, from the task's consumer
        thread, so that a converter whose work per record is small does not pay a call and
        a :class:`SchemaAndValue` per record. It must give exactly what
        :meth:`to_connect_data` gives each record. If any record cannot be read it raises
        :class:`RecordError` (any one); the runtime then converts that batch record by
        record, so each bad record is named and dead-lettered and the others go on. This
        default is that per-record loop; override it only for speed.
        """
        schemas: list[Schema | None] = []
        values: list[t.Any] = []
        for item in data:
            read = self.to_connect_data(topic, item)
            schemas.append(read.schema)
            values.append(read.value)
        return schemas, values

    def to_bytes(self, topic: str, data: t.Any) -> bytes | None:
        """Schemaless shorthand of :meth:`from_connect_data`."""
        return self.from_connect_data(topic, None, data)

    def from_bytes(self, topic: str, data: bytes | None) -> t.Any:
        """Shorthand of :meth:`to_connect_data` that drops the schema."""
        return self.to_connect_data(topic, data).value

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients (a registry session). Called once when the connector stops."""


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
    """JSON with exact decimals (as numbers), integers of any size, and bytes as base64: the
    house JSON writer. Raises TypeError for what JSON cannot hold."""
    try:
        return orjson.dumps(value, default=_default)
    except TypeError:
        return orjson.dumps(exact_integers(value), default=_default)  # integers beyond 64 bits


def to_json_line(value: t.Any) -> bytes:
    """:func:`to_json_bytes` with a newline appended (one JSON Lines line)."""
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return orjson.dumps(exact_integers(value), default=_default, option=orjson.OPT_APPEND_NEWLINE)


_NEWLINE = orjson.Fragment(b"\n")


def to_json_lines(values: t.Sequence[t.Any]) -> bytes:
    """The JSON lines of many values, joined: what :func:`to_json_line` gives each.

    One orjson call for the batch, about a quarter of the cost of a call per value: the
    values are written as one array with a raw newline fragment after each, and the
    array's ``,\n,`` separators become the line ends. That is exact because orjson
    escapes every control character inside strings, so a raw newline byte comes only from
    the fragments. Raises TypeError if any value cannot be written this way (an integer
    beyond 64 bits included): then write the batch value by value with
    :func:`to_json_line`, which writes those and names the value it cannot.
    """
    if not values:
        return b""
    newline = _NEWLINE
    array = orjson.dumps([item for value in values for item in (value, newline)], default=_default)
    # b'[v1,\n,v2,\n]' -> b'v1\nv2\n'
    return array[1:-3].replace(b",\n,", b"\n") + b"\n"


def exact_integers(value: t.Any) -> t.Any:
    """``value`` with each integer orjson cannot write (beyond 64 bits) as a fragment of its
    digits; the slow path of the writers above, taken after orjson refused a value."""
    if isinstance(value, dict):
        return {key: exact_integers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_integers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    return value


_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
"""A translation table: each digit to ``0``, every other byte to a space."""
_LONG_RUN = b"0" * 19


def _long_digit_run(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 digits or more: an integer that orjson may read as
    a float (it keeps 64 bits: up to 18446744073709551615, down to -9223372036854775808).
    Strings and fractions match too; they only cost the slower exact parse. A translation
    and a search, about 0.13 µs for a 120-byte record (a regular expression took 1 µs)."""
    return data.translate(_DIGITS_ONLY).find(_LONG_RUN) >= 0


_JOIN_MAX = 8 << 20
"""Batches up to this many bytes are searched as one joined copy; larger ones value by value."""


def _any_long_digit_run(data: t.Sequence[bytes | None]) -> bool:
    """:func:`_long_digit_run` over a batch: one search of the joined values (a newline
    between them, so no run spans two), or one per value when joining would copy more
    than ``_JOIN_MAX`` bytes (large messages)."""
    values = [item for item in data if item is not None]
    if sum(map(len, values)) <= _JOIN_MAX:
        return _long_digit_run(b"\n".join(values))
    return any(map(_long_digit_run, values))


def parse_json(data: bytes) -> t.Any:
    """Parse UTF-8 JSON with orjson, integers of any size kept exact (orjson turns those
    beyond 64 bits into floats, silently). Raises ValueError (``orjson.JSONDecodeError``,
    ``json.JSONDecodeError``, ``UnicodeDecodeError``) for what is not JSON."""
    if not _long_digit_run(data):
        return orjson.loads(data)
    return json.loads(data.decode("utf-8"))


def loads_exact(data: bytes | str) -> t.Any:
    """Parse JSON keeping every digit: numbers with a fraction or exponent become Decimals."""
    return json.loads(data, parse_float=decimal.Decimal)


def parse_bool(key: str, text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ConfigError([FieldError(key, f"must be true or false, not {text!r}")])


def _shape(value: t.Any) -> t.Hashable:
    """What :func:`schema.infer` depends on, cheap to compute and hashable."""
    if isinstance(value, dict):
        return tuple((name, _shape(item)) for name, item in value.items())
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return ("decimal", exponent)
    if isinstance(value, (list, tuple)):
        return ("array", tuple({_shape(item) for item in value}))
    return t.cast(t.Hashable, type(value))


class TopicSchemas:
    """Inferred schemas per topic, the fallback when a record carries none.

    Each topic keeps the merge of everything seen with the same top-level fields
    (:func:`schema.merge`), so a null or an empty array never changes the schema once a
    record had data there, and a decimal column keeps its widest scale. Values of one
    shape reuse their inference.
    """

    def __init__(self, cache_size: int = 1000) -> None:
        self.cache_size = cache_size
        self._known: dict[tuple[str, t.Hashable], Schema | None] = {}
        self._by_shape: dict[tuple[str, t.Hashable], tuple[Schema | None, Schema]] = {}

    def schema(self, topic: str, value: t.Any) -> Schema:
        # Values with other top-level fields (a key and a value through one converter,
        # two record types on one topic) are separate lineages, never merged.
        lineage = (topic, tuple(value) if isinstance(value, dict) else type(value).__name__)
        known = self._known.get(lineage)
        key = (topic, _shape(value))
        cached = self._by_shape.get(key)
        if cached is not None and cached[0] is known:
            return cached[1]
        merged = s.merge(known, s.infer(value))
        if merged != known:
            if len(self._known) >= self.cache_size:
                self._known.clear()
            self._known[lineage] = known = merged
        closed = s.close(merged)
        if len(self._by_shape) >= self.cache_size:
            self._by_shape.clear()
        self._by_shape[key] = (known, closed)
        return closed


#: Records a schema serves through a loop encoder before the JSON converter generates its
#: encoder (see :func:`headwater.codecs.schema.json_encoder`).
_GENERATE_AFTER = 64


class JsonConverter(Converter):
    """Kafka Connect's JSON converter: schema-and-payload envelope or plain JSON."""

    name = "json"
    aliases = ("org.apache.kafka.connect.json.JsonConverter",)
    settings = frozenset({"schemas.enable", "decimal.format", "schemas.cache.size"})

    def __init__(
        self,
        config: t.Mapping[str, str] | None = None,
        *,
        is_key: bool = False,
        prefix: str | None = None,
        schemas_enable: bool | None = None,
        decimal_format: str | None = None,
        schemas_cache_size: int | None = None,
    ) -> None:
        super().__init__(config, is_key=is_key, prefix=prefix)
        self.schemas_enable = (
            schemas_enable if schemas_enable is not None else self.bool_setting("schemas.enable", True)
        )
        self.decimal_format = (decimal_format or self.config.get("decimal.format", "NUMERIC")).upper()
        if self.decimal_format not in ("NUMERIC", "BASE64"):
            self.invalid("decimal.format", "must be NUMERIC or BASE64")
        size = schemas_cache_size if schemas_cache_size is not None else self.int_setting("schemas.cache.size", 1000)
        self._inferred = TopicSchemas(size)
        self._schema_bytes: dict[Schema, bytes] = {}
        self._cache_size = size
        self._parsed: dict[bytes, tuple[Schema, s.Encoder, bool]] = {}
        self._writers: dict[Schema, Writer] = {}
        self._warming: dict[Schema, tuple[s.Encoder, list[int]]] = {}

    def _warm_payload(self, schema: Schema, value: t.Any) -> bytes:
        """The JSON of ``value`` under a ``schema`` with no writer yet: through a loop
        encoder, cheap to build; the ``_GENERATE_AFTER``-th record builds its
        :func:`~headwater.codecs.jsonwrite.json_writer` (generated encoders and the compiled
        writer: dear to build, a few times faster, the same bytes), which
        ``from_connect_data`` then calls itself; a stream of ever-new shapes never pays for
        building one."""
        warming = self._warming.get(schema)
        if warming is None:
            if len(self._warming) >= self._cache_size:
                self._warming.clear()
            warming = self._warming[schema] = (
                s.json_encoder(schema, decimal_format=self.decimal_format, generated=False),
                [0],
            )
        encoder, uses = warming
        uses[0] += 1
        if uses[0] >= _GENERATE_AFTER:
            self._warming.pop(schema, None)  # not del: harmless if another thread got here first
            if len(self._writers) >= self._cache_size:
                self._writers.clear()
            self._writers[schema] = json_writer(schema, to_json_bytes, decimal_format=self.decimal_format)
        return to_json_bytes(encoder(value))

    def _envelope_schema(self, schema: Schema) -> bytes:
        # Serialising a schema costs several times the payload; records share schemas.
        cached = self._schema_bytes.get(schema)
        if cached is None:
            if len(self._schema_bytes) >= self._cache_size:
                self._schema_bytes.clear()
            document = s.to_connect_json(schema, decimal_format=self.decimal_format)
            cached = self._schema_bytes[schema] = orjson.dumps(document, default=_default)
        return cached

    def _refused(self, topic: str, exc: Exception) -> RecordError:
        """The error of a value this converter cannot write (its cause chained by the caller)."""
        msg = f"cannot convert the {'key' if self.is_key else 'value'} to JSON for topic {topic}: {exc}"
        return RecordError(msg)

    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        if value is None:
            return None
        try:
            if schema is None:
                if not self.schemas_enable:
                    return to_json_bytes(_to_base64_decimals(value) if self.decimal_format == "BASE64" else value)
                schema = self._inferred.schema(topic, value)
            writer = self._writers.get(schema)
            body = writer(value) if writer is not None else self._warm_payload(schema, value)
        except (s.SchemaError, TypeError) as exc:
            raise self._refused(topic, exc) from exc
        if not self.schemas_enable:
            return body
        return b'{"schema":' + self._envelope_schema(schema) + b',"payload":' + body + b"}"

    def from_connect_batch(self, topic: str, schema: Schema | None, values: t.Sequence[t.Any]) -> list[bytes | None]:
        writer = self._writers.get(schema) if schema is not None else None
        if writer is None:  # schemaless, or a schema not yet warmed up: value by value
            return [self.from_connect_data(topic, schema, value) for value in values]
        try:
            bodies = [None if value is None else writer(value) for value in values]
        except (s.SchemaError, TypeError) as exc:
            raise self._refused(topic, exc) from exc
        if not self.schemas_enable:
            return bodies
        assert schema is not None
        head = b'{"schema":' + self._envelope_schema(schema) + b',"payload":'
        return [None if body is None else head + body + b"}" for body in bodies]

    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return NULL
        if self.schemas_enable and data.startswith(_ENVELOPE_START):
            known = self._known_envelope(data)
            if known is not None:
                return known
        try:
            # Decimals must survive exactly, so numbers are parsed as Decimal when the
            # schema says a Decimal is inside (orjson has no Decimal parsing); the schema
            # then turns float fields back into floats.
            if self.schemas_enable and DECIMAL_SCHEMA_NAME.encode() in data:
                document = loads_exact(data)
            else:
                try:
                    document = parse_json(data)
                except orjson.JSONDecodeError:
                    document = loads_exact(data)  # NaN, Infinity, numbers beyond a double
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"{'key' if self.is_key else 'value'} on topic {topic} is not valid JSON: {exc}"
            raise RecordError(msg, raw=data) from exc
        if not self.schemas_enable:
            return SchemaAndValue(None, document)
        if not (isinstance(document, dict) and set(document) == {"schema", "payload"}):
            msg = (
                f"JSON on topic {topic} has no schema/payload envelope; "
                f"set {self.prefix}.schemas.enable=false for plain JSON"
            )
            raise RecordError(msg, raw=data)
        try:
            if document["schema"] is None:
                return SchemaAndValue(None, document["payload"])
            schema = s.from_connect_json(document["schema"])
            decode = s.json_decoder(schema)
            value = decode(document["payload"])
        except (s.SchemaError, ArithmeticError, ValueError, TypeError) as exc:
            # Also decimal.InvalidOperation, bad base64, a non-numeric scale: the record
            # cannot be read, the next one can.
            msg = f"JSON on topic {topic} does not match its schema: {exc}"
            raise RecordError(msg, raw=data) from exc
        self._remember_envelope(data, document["schema"], schema, decode)
        return SchemaAndValue(schema, value)

    def to_connect_batch(self, topic: str, data: t.Sequence[bytes | None]) -> tuple[list[Schema | None], list[t.Any]]:
        """Plain JSON (``schemas.enable=false``) in one pass; envelopes, and any batch with a
        document orjson refuses (a bad record) or may misread (a long run of digits: see
        :func:`parse_json`), record by record."""
        if self.schemas_enable or _any_long_digit_run(data):
            return super().to_connect_batch(topic, data)
        parse = orjson.loads
        try:
            values = [None if item is None else parse(item) for item in data]
        except ValueError:  # orjson.JSONDecodeError, also for bytes that are not UTF-8
            return super().to_connect_batch(topic, data)
        return [None] * len(values), values

    def _known_envelope(self, data: bytes) -> SchemaAndValue | None:
        """Records of one schema share its bytes: with those seen before, parse only the payload."""
        end = data.find(_PAYLOAD_KEY)
        known = self._parsed.get(data[len(_ENVELOPE_START) : end]) if end > 0 else None
        if known is None:
            return None
        schema, decode, exact = known
        payload = data[end + len(_PAYLOAD_KEY) : -1]
        try:
            return SchemaAndValue(schema, decode(loads_exact(payload) if exact else orjson.loads(payload)))
        except (ValueError, s.SchemaError):
            return None  # the full parse names the problem

    def _remember_envelope(self, data: bytes, document: t.Any, schema: Schema, decode: s.Encoder) -> None:
        # A JSON value is self-delimiting: bytes that parse to this schema document and are
        # followed by the payload key are the schema of any record that starts with them.
        end = data.find(_PAYLOAD_KEY)
        if end <= 0:
            return
        candidate = data[len(_ENVELOPE_START) : end]
        try:
            if orjson.loads(candidate) != document:
                return
        except orjson.JSONDecodeError:
            return
        if len(self._parsed) >= self._cache_size:
            self._parsed.clear()
        self._parsed[candidate] = (schema, decode, DECIMAL_SCHEMA_NAME.encode() in candidate)


def _to_base64_decimals(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return base64.b64encode(s.unscaled_bytes(value, scale)).decode()
    if isinstance(value, t.Mapping):
        return {key: _to_base64_decimals(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_base64_decimals(item) for item in value]
    return value


class StringConverter(Converter):
    """UTF-8 text; non-string data is written as its ``str()``."""

    name = "string"
    aliases = ("org.apache.kafka.connect.storage.StringConverter",)
    settings = frozenset({"encoding", "converter.encoding"})

    def __init__(
        self, config: t.Mapping[str, str] | None = None, *, is_key: bool = False, prefix: str | None = None
    ) -> None:
        super().__init__(config, is_key=is_key, prefix=prefix)
        setting = "converter.encoding" if "converter.encoding" in self.config else "encoding"
        self.encoding = self.config.get(setting, "UTF-8")
        try:
            "".encode(self.encoding)
        except LookupError:
            self.invalid(setting, f"unknown encoding {self.encoding!r}")

    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        if value is None:
            return None
        try:
            return str(value).encode(self.encoding)
        except UnicodeEncodeError as exc:
            msg = f"record on topic {topic} cannot be written as {self.encoding}: {exc}"
            raise RecordError(msg) from exc

    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return NULL
        try:
            return SchemaAndValue(s.STRING.optional(), data.decode(self.encoding))
        except UnicodeDecodeError as exc:
            msg = f"record on topic {topic} is not {self.encoding}: {exc}"
            raise RecordError(msg, raw=data) from exc

    def to_connect_batch(self, topic: str, data: t.Sequence[bytes | None]) -> tuple[list[Schema | None], list[t.Any]]:
        """One pass; a batch with bytes that do not decode goes record by record."""
        encoding = self.encoding
        try:
            values = [None if item is None else item.decode(encoding) for item in data]
        except UnicodeDecodeError:
            return super().to_connect_batch(topic, data)
        return _schemas_of(s.STRING.optional(), data), values


class ByteArrayConverter(Converter):
    """Raw bytes both ways."""

    name = "bytes"
    aliases = ("org.apache.kafka.connect.converters.ByteArrayConverter",)

    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        msg = f"bytes converter got {type(value).__name__} for topic {topic}; use a json or string converter"
        raise RecordError(msg)

    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        return NULL if data is None else SchemaAndValue(s.BYTES.optional(), data)

    def to_connect_batch(self, topic: str, data: t.Sequence[bytes | None]) -> tuple[list[Schema | None], list[t.Any]]:
        return _schemas_of(s.BYTES.optional(), data), list(data)


def _schemas_of(schema: Schema, data: t.Sequence[bytes | None]) -> list[Schema | None]:
    """``schema`` for each record, None for each absent one (as ``to_connect_data`` gives)."""
    if None in data:
        return [None if item is None else schema for item in data]
    return [schema] * len(data)


_BUILTIN: dict[str, str] = {
    "json": "headwater.codecs.converters:JsonConverter",
    "string": "headwater.codecs.converters:StringConverter",
    "bytes": "headwater.codecs.converters:ByteArrayConverter",
    "avro": "headwater.connectors.converters:AvroConverter",
    "json-schema": "headwater.connectors.converters:JsonSchemaConverter",
}
"""The built-in converters, also found when the package's entry points are not installed."""


def converter_classes() -> dict[str, str]:
    """Every converter name (and nothing else yet) to its ``module:Class`` reference."""
    found = dict(_BUILTIN)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def _load(reference: str) -> type[Converter]:
    module, _, attribute = reference.partition(":")
    loaded = getattr(importlib.import_module(module), attribute)
    if not (isinstance(loaded, type) and issubclass(loaded, Converter)):
        msg = f"{reference} is not a headwater Converter"
        raise TypeError(msg)
    return loaded


def find_converter(name: str) -> type[Converter] | None:
    """The converter class called ``name`` (a plugin name or a Kafka Connect class alias)."""
    classes = converter_classes()
    if name in classes:
        return _load(classes[name])
    for reference in classes.values():
        try:
            candidate = _load(reference)
        except (ImportError, AttributeError, TypeError):
            continue
        if name in candidate.aliases:
            return candidate
    return None


def make_converter(name: str, options: t.Mapping[str, str], *, key: str) -> Converter:
    """Build the converter ``name`` with its ``<key>.*`` options.

    Called by the worker's ``build_converters`` once per connector and side; ``key`` is
    ``key.converter`` or ``value.converter`` and decides ``is_key``.

    Raises:
        ConfigError: naming ``key`` for an unknown converter, or ``<key>.<option>`` for a
            bad or unknown option.
    """
    try:
        cls = find_converter(name)
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError([FieldError(key, f"converter {name!r} cannot be loaded: {exc}")]) from exc
    if cls is None:
        known = ", ".join(sorted(converter_classes()))
        raise ConfigError([FieldError(key, f"unknown converter {name!r} (use {known} or a Kafka Connect class name)")])
    return cls(options, is_key=key.startswith("key"), prefix=key)
