"""TimestampConverter (``$Key`` / ``$Value``) and TimestampRouter.

Time values are Python's: a Connect ``Timestamp`` is a UTC :class:`datetime.datetime`, a
``Date`` a :class:`datetime.date`, a ``Time`` a :class:`datetime.time`; ``unix`` is an
integer count of ``unix.precision`` units since the epoch; ``string`` is text in the Java
``format`` pattern (see :mod:`headwater.codecs.javatime`).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from pydantic import Field, field_validator, model_validator

from headwater.codecs import schema as s
from headwater.codecs.javatime import JavaDateFormat
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError
from headwater.connectors.transforms import schemas
from headwater.connectors.transforms.base import AnyRecord, Record, Transformation, replace, require_map
from headwater.connectors.transforms.fields import FieldTransform

__all__ = ["TimestampConverter", "TimestampRouter", "to_datetime"]

_CONNECT = "org.apache.kafka.connect.transforms."
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TargetType: t.TypeAlias = t.Literal["string", "unix", "Date", "Time", "Timestamp"]
Precision: t.TypeAlias = t.Literal["seconds", "milliseconds", "microseconds", "nanoseconds"]
_TARGET_SCHEMAS = {"string": s.STRING, "unix": s.INT64, "Date": s.DATE, "Time": s.TIME, "Timestamp": s.TIMESTAMP}
_PER_SECOND = {"seconds": 1, "milliseconds": 1_000, "microseconds": 1_000_000, "nanoseconds": 1_000_000_000}


def _pattern(value: str) -> str:
    """Compile a pattern once to validate it (raises ValueError naming the bad letter)."""
    if value:
        JavaDateFormat(value)
    return value


class TimestampConverterConfig(PluginConfig):
    target_type: TargetType
    """``string``, ``unix``, ``Date``, ``Time`` or ``Timestamp``."""
    field: str = ""
    """The field to convert; empty converts the whole key or value."""
    format: str = ""
    """Java ``SimpleDateFormat`` pattern for ``string`` input or output, e.g. ``yyyy-MM-dd``."""
    unix_precision: Precision = "milliseconds"
    """Unit of ``unix`` values: seconds, milliseconds, microseconds or nanoseconds."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        return _pattern(value)

    @model_validator(mode="after")
    def _format_for_strings(self) -> TimestampConverterConfig:
        if self.target_type == "string" and not self.format:
            msg = "target.type=string needs format (a SimpleDateFormat pattern)"
            raise ValueError(msg)
        return self


def to_datetime(value: t.Any, *, fmt: JavaDateFormat | None, per_second: int) -> dt.datetime:
    """Any supported time value as a UTC datetime.

    Raises:
        RecordError: for a type that holds no time, or text that does not match ``fmt``.
    """
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, dt.time):
        return dt.datetime.combine(_EPOCH.date(), value.replace(tzinfo=None), tzinfo=dt.UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        seconds, remainder = divmod(value, per_second)
        return _EPOCH + dt.timedelta(seconds=seconds, microseconds=remainder * 1_000_000 // per_second)
    if isinstance(value, str):
        if fmt is None:
            msg = "a string timestamp needs the format setting (a SimpleDateFormat pattern)"
            raise RecordError(msg)
        try:
            return fmt.parse(value)
        except ValueError as exc:
            raise RecordError(str(exc)) from exc
    msg = f"cannot read a timestamp from a {type(value).__name__}"
    raise RecordError(msg)


class TimestampConverter(FieldTransform):
    """Converts a timestamp between text, unix time and Connect's Date, Time and Timestamp."""

    config_class = TimestampConverterConfig
    purpose = "converting timestamp formats"

    def __init__(self, config: TimestampConverterConfig) -> None:
        super().__init__(config)
        self.target: TargetType = config.target_type
        self.field = config.field
        self.format = JavaDateFormat(config.format) if config.format else None
        self.per_second = _PER_SECOND[config.unix_precision]

    def convert(self, value: t.Any) -> t.Any:
        if value is None:
            return None
        moment = to_datetime(value, fmt=self.format, per_second=self.per_second)
        if self.target == "Timestamp":
            return moment
        if self.target == "Date":
            return moment.date()
        if self.target == "Time":
            return moment.timetz().replace(tzinfo=None)
        if self.target == "unix":
            delta = moment - _EPOCH
            micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            return micros * self.per_second // 1_000_000
        assert self.format is not None  # the config requires it for target.type=string
        return self.format.format(moment)

    def with_schema(self, data: t.Any, schema: s.Schema, record: AnyRecord) -> tuple[t.Any, s.Schema]:
        target = _TARGET_SCHEMAS[self.target]
        if not self.field:
            return self.convert(data), schemas.keep_optional(schema, target)
        field_schema = schemas.field_schema(schema, self.field, self.purpose)
        pairs = [
            (item.name, schemas.keep_optional(field_schema, target) if item.name == self.field else item.schema)
            for item in schema.fields
        ]
        return self.schemaless(data, record), schemas.with_fields(schema, pairs)

    def schemaless(self, data: t.Any, record: AnyRecord) -> t.Any:
        if not self.field:
            return self.convert(data)
        value = require_map(data, self.purpose)
        if self.field in value:
            value[self.field] = self.convert(value[self.field])
        return value


class TimestampConverterKey(TimestampConverter):
    part = "key"
    aliases = (_CONNECT + "TimestampConverter$Key", "TimestampConverter$Key")


class TimestampConverterValue(TimestampConverter):
    part = "value"
    aliases = (_CONNECT + "TimestampConverter$Value", "TimestampConverter$Value")


class TimestampRouterConfig(PluginConfig):
    topic_format: str = Field(default="${topic}-${timestamp}", min_length=1)
    """The new topic; ``${topic}`` and ``${timestamp}`` are replaced."""
    timestamp_format: str = "yyyyMMdd"
    """Java ``SimpleDateFormat`` pattern of ``${timestamp}`` (UTC)."""

    @field_validator("timestamp_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        return _pattern(value)


class TimestampRouter(Transformation):
    """Routes a record to a topic named from its topic and its Kafka timestamp."""

    config_class = TimestampRouterConfig
    aliases = (_CONNECT + "TimestampRouter", "TimestampRouter")

    def __init__(self, config: TimestampRouterConfig) -> None:
        super().__init__(config)
        self.topic_format = config.topic_format
        self.format = JavaDateFormat(config.timestamp_format)

    def apply(self, record: Record) -> Record | None:
        if record.timestamp_ms is None:
            msg = "timestamp missing on record (a source record routed by TimestampRouter must set timestamp_ms)"
            raise RecordError(msg)
        stamp = self.format.format(_EPOCH + dt.timedelta(milliseconds=record.timestamp_ms))
        topic = self.topic_format.replace("${topic}", record.topic).replace("${timestamp}", stamp)
        return replace(record, topic=topic)
