"""Schema-registry converters: Avro and JSON Schema in Confluent's wire format.

``avro`` (``io.confluent.connect.avro.AvroConverter``) and ``json-schema``
(``io.confluent.connect.json.JsonSchemaConverter``) write a magic byte 0, the 4-byte
schema id and the body, through confluent-kafka's ``AvroSerializer`` / ``JSONSerializer``
and ``SchemaRegistryClient``. Any Confluent-compatible registry serves (Confluent Schema
Registry, Apicurio's ``/apis/ccompat/v7``; ``headwater registry start`` runs one locally).

Settings (Confluent's names, under ``key.converter.`` / ``value.converter.``):

- ``schema.registry.url`` (required), ``basic.auth.credentials.source`` (``USER_INFO`` or
  ``URL``), ``basic.auth.user.info`` (``user:password``, a secret),
- ``key.subject.name.strategy`` / ``value.subject.name.strategy``: ``TopicNameStrategy``
  (``<topic>-key``/``<topic>-value``, the default), ``RecordNameStrategy``,
  ``TopicRecordNameStrategy``, bare or as Confluent's class names,
- ``auto.register.schemas`` (default true), ``use.latest.version`` (default false),
- ``schema.registry.request.timeout.ms`` (default 10000): every registry request is
  bounded, so a lost answer fails the record as retriable instead of hanging the task;
  ``latest.cache.ttl.sec``, ``schemas.cache.size``.

The Connect schema comes from the record (``SourceRecord.value_schema``), else it is
inferred. A changed source schema (a column added, optional or with a default) is
registered as a new version of the subject, which the registry checks for compatibility;
an incompatible one fails the record with the registry's answer.
"""

from __future__ import annotations

import json
import typing as t
from collections import OrderedDict

from headwater.codecs import avro as avro_codec
from headwater.codecs import json_schema as json_schema_codec
from headwater.codecs import schema as s
from headwater.codecs.converters import Converter, SchemaAndValue, TopicSchemas, loads_exact, to_json_bytes
from headwater.codecs.schema import Schema
from headwater.connectors.errors import RecordError, RetriableError

__all__ = ["AvroConverter", "JsonSchemaConverter", "RegistryConverter"]

_STRATEGIES = {
    "topicnamestrategy": "topic",
    "topic": "topic",
    "recordnamestrategy": "record",
    "record": "record",
    "topicrecordnamestrategy": "topic-record",
    "topic-record": "topic-record",
}
MAGIC = 0


class _Lru(OrderedDict[t.Any, t.Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: t.Any, value: t.Any) -> t.Any:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class RegistryConverter(Converter):
    """What the Avro and JSON Schema converters share: settings, client, subjects, caches."""

    schema_type: t.ClassVar[str]
    settings = frozenset(
        {
            "schema.registry.url",
            "basic.auth.credentials.source",
            "basic.auth.user.info",
            "key.subject.name.strategy",
            "value.subject.name.strategy",
            "auto.register.schemas",
            "use.latest.version",
            "schema.registry.request.timeout.ms",
            "schemas.cache.size",
            "latest.cache.ttl.sec",
        }
    )

    def __init__(
        self, config: t.Mapping[str, str] | None = None, *, is_key: bool = False, prefix: str | None = None
    ) -> None:
        super().__init__(config, is_key=is_key, prefix=prefix)
        url = self.config.get("schema.registry.url", "").strip()
        if not url:
            self.invalid("schema.registry.url", "required (e.g. http://127.0.0.1:8081)")
        self.url = url.split(",")[0].rstrip("/")
        self.auto_register = self.bool_setting("auto.register.schemas", True)
        self.use_latest = self.bool_setting("use.latest.version", False)
        if self.use_latest and self.auto_register and "auto.register.schemas" in self.config:
            self.invalid("use.latest.version", "cannot be combined with auto.register.schemas=true")
        if self.use_latest:
            self.auto_register = False
        strategy_key = "key.subject.name.strategy" if is_key else "value.subject.name.strategy"
        strategy = self.config.get(strategy_key, "TopicNameStrategy").rsplit(".", 1)[-1].strip().lower()
        if strategy not in _STRATEGIES:
            raise self.setting_error(
                strategy_key, "must be TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"
            )
        self.strategy = _STRATEGIES[strategy]
        self.timeout_s = self.int_setting("schema.registry.request.timeout.ms", 10_000) / 1000
        self.cache_size = self.int_setting("schemas.cache.size", 1000)
        source = self.config.get("basic.auth.credentials.source", "USER_INFO").upper()
        if source not in ("USER_INFO", "URL", "SASL_INHERIT"):
            self.invalid("basic.auth.credentials.source", "must be USER_INFO or URL")
        client_conf: dict[str, t.Any] = {"url": self.url, "timeout": self.timeout_s, "max.retries": 1}
        if "latest.cache.ttl.sec" in self.config:
            client_conf["cache.latest.ttl.sec"] = self.int_setting("latest.cache.ttl.sec", -1)
        if source == "USER_INFO" and self.config.get("basic.auth.user.info"):
            client_conf["basic.auth.user.info"] = self.config["basic.auth.user.info"]
        from confluent_kafka.schema_registry import SchemaRegistryClient

        try:
            self.client = SchemaRegistryClient(client_conf)
        except ValueError as exc:
            self.invalid("schema.registry.url", str(exc))
        self._inferred = TopicSchemas(self.cache_size)
        self._serializers: _Lru = _Lru(self.cache_size)
        self._readers: _Lru = _Lru(self.cache_size)
        self._deserializer: t.Any = None

    @property
    def side(self) -> str:
        return "key" if self.is_key else "value"

    def subject_strategy(self) -> t.Callable[[t.Any, str | None], str | None]:
        """The subject name callable the confluent-kafka serializers take (never the
        associations lookup of confluent-kafka >= 2.16, which Apicurio does not serve)."""
        suffix = "-key" if self.is_key else "-value"
        strategy = self.strategy

        def subject(ctx: t.Any, record_name: str | None) -> str | None:
            if strategy == "topic":
                return f"{ctx.topic}{suffix}"
            if strategy == "record":
                return record_name
            return f"{ctx.topic}-{record_name}"

        return subject

    def serializer_conf(self) -> dict[str, t.Any]:
        return {
            "auto.register.schemas": self.auto_register,
            "use.latest.version": self.use_latest,
            "subject.name.strategy": self.subject_strategy(),
        }

    def _context(self, topic: str) -> t.Any:
        from confluent_kafka.serialization import MessageField, SerializationContext

        return SerializationContext(topic, MessageField.KEY if self.is_key else MessageField.VALUE)

    def _fail(self, topic: str, exc: Exception, what: str, raw: bytes | None = None) -> t.NoReturn:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        cause: BaseException | None = exc
        while cause is not None:
            # httpx's TransportError covers refused connections and timeouts; matched by name
            # because confluent-kafka vendors its own httpx build.
            transport = any(kind.__name__ == "TransportError" for kind in type(cause).__mro__)
            if transport or isinstance(cause, (TimeoutError, ConnectionError)):
                msg = f"schema registry {self.url} unreachable while {what} on topic {topic}: {cause}"
                raise RetriableError(msg) from exc
            if isinstance(cause, SchemaRegistryError) and cause.http_status_code >= 500:
                msg = f"schema registry {self.url} failed while {what} on topic {topic}: {cause}"
                raise RetriableError(msg) from exc
            cause = cause.__cause__ or cause.__context__
        msg = f"cannot {what} the {self.side} on topic {topic} ({self.schema_type}, registry {self.url}): {exc}"
        raise RecordError(msg, raw=raw) from exc

    def schema_for(self, topic: str, schema: Schema | None, value: t.Any) -> Schema:
        return schema if schema is not None else self._inferred.schema(topic, value)

    def close(self) -> None:
        """Close the registry client's HTTP session."""
        import contextlib

        with contextlib.suppress(Exception):
            self.client.close()

    def _writer_schema(self, data: bytes) -> t.Any:
        """The registered schema a message names in its wire header (cached by id)."""
        if len(data) < 5 or data[0] != MAGIC:
            msg = "not in the Confluent wire format (magic byte 0 and a 4-byte schema id)"
            raise ValueError(msg)
        schema_id = int.from_bytes(data[1:5], "big")
        cached = self._readers.get(schema_id)
        if cached is None:
            registered = self.client.get_schema(schema_id)
            cached = self._readers.remember(schema_id, self.read_schema(registered.schema_str or ""))
        return cached

    def read_schema(self, schema_str: str) -> t.Any:
        raise NotImplementedError


class AvroConverter(RegistryConverter):
    """Confluent's AvroConverter: Connect schema -> annotated Avro schema, registered, binary body."""

    name = "avro"
    aliases = ("io.confluent.connect.avro.AvroConverter", "io.apicurio.registry.utils.converter.AvroConverter")
    schema_type = "AVRO"

    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        if value is None:
            return None
        schema = self.schema_for(topic, schema, value)
        cached = self._serializers.get(schema)
        if cached is None:
            from confluent_kafka.schema_registry.avro import AvroSerializer

            schema_str = json.dumps(avro_codec.to_avro_schema(schema))
            serializer = AvroSerializer(self.client, schema_str, conf=self.serializer_conf())
            cached = self._serializers.remember(schema, (serializer, avro_codec.avro_encoder(schema)))
        serializer, encode = cached
        try:
            datum = encode(value)
        except s.SchemaError as exc:
            msg = f"the {self.side} on topic {topic} does not fit its schema: {exc}"
            raise RecordError(msg) from exc
        try:
            return t.cast(bytes, serializer(datum, self._context(topic)))
        except Exception as exc:
            self._fail(topic, exc, "serialise")

    def read_schema(self, schema_str: str) -> t.Any:
        import fastavro

        avro = json.loads(schema_str)
        schema = avro_codec.to_connect_schema(avro)
        return schema, fastavro.parse_schema(avro), avro_codec.avro_decoder(schema)

    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return SchemaAndValue(None, None)
        import io

        import fastavro

        try:
            schema, parsed, decode = self._writer_schema(data)
            value = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None)
        except Exception as exc:  # the serde raises many kinds; _fail classifies them
            self._fail(topic, exc, "deserialise", raw=data)
        return SchemaAndValue(schema, decode(value))


class JsonSchemaConverter(RegistryConverter):
    """Confluent's JsonSchemaConverter: Connect schema -> JSON Schema with ``connect.*`` keywords."""

    name = "json-schema"
    aliases = ("io.confluent.connect.json.JsonSchemaConverter",)
    schema_type = "JSON"

    def from_connect_data(self, topic: str, schema: Schema | None, value: t.Any) -> bytes | None:
        if value is None:
            return None
        schema = self.schema_for(topic, schema, value)
        cached = self._serializers.get(schema)
        if cached is None:
            from confluent_kafka.schema_registry.json_schema import JSONSerializer

            # Defaults are exact: a Decimal default is written as a JSON number, every digit kept.
            schema_str = to_json_bytes(json_schema_codec.to_json_schema(schema)).decode()
            # The payload is checked against the Connect schema on the way; validating the
            # JSON Schema again would cost ten times the conversion.
            conf = {**self.serializer_conf(), "validate": False}
            serializer = JSONSerializer(schema_str, self.client, conf=conf, json_encode=to_json_bytes)
            encoder = s.json_encoder(schema, decimal_format="NUMERIC", map_entries=True)
            cached = self._serializers.remember(schema, (serializer, encoder))
        serializer, encode = cached
        try:
            payload = encode(value)
        except s.SchemaError as exc:
            msg = f"the {self.side} on topic {topic} does not fit its schema: {exc}"
            raise RecordError(msg) from exc
        try:
            return t.cast(bytes, serializer(payload, self._context(topic)))
        except Exception as exc:
            self._fail(topic, exc, "serialise")

    def read_schema(self, schema_str: str) -> t.Any:
        return json_schema_codec.to_connect_schema(loads_exact(schema_str))

    def to_connect_data(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return SchemaAndValue(None, None)
        from headwater.codecs.converters import loads_exact

        try:
            schema = self._writer_schema(data)
            value = s.value_from_json(schema, loads_exact(data[5:]))
        except Exception as exc:
            self._fail(topic, exc, "deserialise", raw=data)
        return SchemaAndValue(schema, value)
