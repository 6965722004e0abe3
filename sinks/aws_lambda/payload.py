"""The invocation payloads: one JSON fragment per record, joined into a batch without re-encoding.

Sizes are exact: :meth:`PayloadFormat.size` of a batch is ``len`` of the bytes
:meth:`PayloadFormat.join` builds, so batches can be cut by serialized bytes.
"""

from __future__ import annotations

import base64
import typing as t

import orjson

from headwater.codecs.converters import to_json_bytes
from headwater.connectors.api import SinkRecord, TopicPartition

if t.TYPE_CHECKING:
    from headwater.sinks.aws_lambda.config import LambdaSinkConfig

__all__ = ["PayloadFormat", "esm_record", "raw_bytes"]


def raw_bytes(value: t.Any) -> bytes | None:
    """The bytes a key or value stands for: bytes as they are, text as UTF-8, None as
    None, anything else (a converter's structured value) as JSON."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return to_json_bytes(value)


_ESM_TIMESTAMP_TYPES = {
    "CreateTime": "CREATE_TIME",
    "LogAppendTime": "LOG_APPEND_TIME",
    "NoTimestampType": "NO_TIMESTAMP_TYPE",
}
"""Kafka's timestamp type names as the event source mapping writes them (Java's enum names)."""


def esm_record(record: SinkRecord) -> dict[str, t.Any]:
    """One record as Lambda's Kafka event source mapping delivers it (key and value base64,
    left out when null; header values as lists of byte values; ``timestampType`` the
    Kafka message's own: ``CREATE_TIME`` or ``LOG_APPEND_TIME``)."""
    item: dict[str, t.Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp_ms if record.timestamp_ms is not None else -1,
        "timestampType": _ESM_TIMESTAMP_TYPES[record.timestamp_type]
        if record.timestamp_ms is not None
        else "NO_TIMESTAMP_TYPE",
    }
    key = raw_bytes(record.key)
    if key is not None:
        item["key"] = base64.b64encode(key).decode()
    value = raw_bytes(record.value)
    if value is not None:
        item["value"] = base64.b64encode(value).decode()
    item["headers"] = [{name: list(raw or b"")} for name, raw in record.headers]
    return item


class PayloadFormat:
    """Encodes records for ``aws.lambda.payload.format`` and joins them into one payload."""

    def __init__(self, config: LambdaSinkConfig) -> None:
        self.kind = config.aws_lambda_payload_format
        self._head = orjson.dumps({"eventSource": config.aws_lambda_event_source})[:-1]
        if config.aws_lambda_event_source_arn:
            self._head += b',"eventSourceArn":' + orjson.dumps(config.aws_lambda_event_source_arn)
        self._head += b',"bootstrapServers":' + orjson.dumps(config.aws_lambda_bootstrap_servers)

    @property
    def max_records(self) -> int | None:
        """1 for ``single``; None when the config's batch size decides."""
        return 1 if self.kind == "single" else None

    def fragment(self, record: SinkRecord) -> bytes:
        """The record's part of a payload.

        Raises:
            TypeError: the key or value cannot be written as JSON.
        """
        if self.kind == "esm":
            return orjson.dumps(esm_record(record))
        return to_json_bytes(record.value)

    def _prefix(self, tp: TopicPartition) -> bytes:
        return self._head + b',"records":{' + orjson.dumps(f"{tp[0]}-{tp[1]}") + b":["

    def size(self, tp: TopicPartition, fragment_bytes: int, count: int) -> int:
        """Bytes of a payload of ``count`` fragments of ``fragment_bytes`` bytes in all."""
        separators = max(0, count - 1)
        if self.kind == "esm":
            return len(self._prefix(tp)) + fragment_bytes + separators + 3
        if self.kind == "records":
            return 2 + fragment_bytes + separators
        return fragment_bytes

    def join(self, tp: TopicPartition, fragments: t.Sequence[bytes]) -> bytes:
        """The payload of one batch of ``tp``'s records."""
        body = b",".join(fragments)
        if self.kind == "esm":
            return self._prefix(tp) + body + b"]}}"
        if self.kind == "records":
            return b"[" + body + b"]"
        return body
