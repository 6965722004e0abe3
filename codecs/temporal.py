"""Dates and times held in numeric or text fields, declared per field (pure, no I/O).

Mainframe files keep dates as ``PIC 9(8)`` (``20240131``) and times as ``PIC 9(6)``
(``093015``); the copybook says only "number". ``field.types`` declares what they are::

    field.types=CM-OPEN-DATE:date:yyyyMMdd,CM-OPEN-TIME:time:HHmmss,CM-TS:timestamp:yyyyMMddHHmmss

Each entry is ``FIELD:KIND[:PATTERN]`` with KIND ``date``, ``time`` or ``timestamp`` and a
Java ``SimpleDateFormat`` pattern (default ``yyyyMMdd``, ``HHmmss``, ``yyyyMMddHHmmss``).
Values become :class:`datetime.date`, :class:`datetime.time` or UTC :class:`datetime.datetime`,
which carry Kafka Connect's ``Date``, ``Time`` and ``Timestamp`` logical types. A value of
all zeros or blanks (the usual "no date") becomes null; anything else that does not match
the pattern is an error naming the field.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field

from headwater.codecs import schema as s
from headwater.codecs.javatime import JavaDateFormat

__all__ = ["DEFAULT_PATTERNS", "TemporalField", "parse_field_types"]

Kind: t.TypeAlias = t.Literal["date", "time", "timestamp"]
DEFAULT_PATTERNS: dict[str, str] = {"date": "yyyyMMdd", "time": "HHmmss", "timestamp": "yyyyMMddHHmmss"}
_SCHEMAS = {"date": s.DATE, "time": s.TIME, "timestamp": s.TIMESTAMP}


@dataclass(frozen=True)
class TemporalField:
    """One declared field: its name as written, its kind and its pattern."""

    name: str
    kind: Kind
    pattern: str
    format: JavaDateFormat = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", JavaDateFormat(self.pattern))

    @property
    def schema(self) -> s.Schema:
        """Connect's logical type for the field (optional: an empty date is null)."""
        return _SCHEMAS[self.kind].optional()

    def convert(self, value: t.Any) -> dt.date | dt.time | dt.datetime | None:
        """The field's value as a date, time or timestamp; None for null, blanks or zeros.

        Raises:
            ValueError: naming the value and the pattern when they do not match.
        """
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if value == 0:
                return None
            text = str(value).zfill(len(self.pattern)) if self.pattern.isalpha() else str(value)
        elif isinstance(value, str):
            text = value.strip()
            if not text or set(text) <= {"0"}:
                return None
        else:
            msg = f"a {type(value).__name__} cannot hold a {self.kind}"
            raise ValueError(msg)
        moment = self.format.parse(text)
        if self.kind == "date":
            return moment.date()
        if self.kind == "time":
            return moment.time()
        return moment


def parse_field_types(spec: str) -> list[TemporalField]:
    """The entries of a ``field.types`` setting.

    Raises:
        ValueError: naming the first malformed entry (unknown kind, bad pattern, no field).
    """
    out: list[TemporalField] = []
    for entry in (item.strip() for item in spec.split(",")):
        if not entry:
            continue
        name, _, rest = entry.partition(":")
        kind, _, pattern = rest.partition(":")
        if not name or kind not in DEFAULT_PATTERNS:
            msg = f"{entry!r} is not FIELD:KIND[:PATTERN] with KIND date, time or timestamp"
            raise ValueError(msg)
        try:
            out.append(TemporalField(name, t.cast(Kind, kind), pattern or DEFAULT_PATTERNS[kind]))
        except ValueError as exc:
            msg = f"{entry!r}: {exc}"
            raise ValueError(msg) from exc
    return out
