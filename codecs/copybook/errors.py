"""Errors raised by the copybook codec, each naming where the problem is.

* :class:`CopybookSyntaxError` - the copybook text is wrong (line and column).
* :class:`DecodeError` - one field of one record holds invalid data (file, record number,
  byte offset, field name, raw bytes as hex). It is a :class:`RecordError`: the other
  records can still be decoded.
* :class:`FramingError` - the record structure itself is broken (bad RDW/BDW, truncated
  last record): later records cannot be located, so it is fatal for the stream.
* :class:`SegmentHierarchyError` - with ``segment_children``, a segment record that has no
  place in the hierarchy (before the first root, or a child whose parent is not open). A
  :class:`RecordError`: the record is left out, the following records are still assembled.
"""

from __future__ import annotations

import typing as t

from headwater.connectors.errors import ConfigError, FatalError, FieldError, RecordError

__all__ = ["CopybookSyntaxError", "DecodeError", "FramingError", "SegmentHierarchyError"]


class CopybookSyntaxError(ConfigError):
    """The copybook cannot be parsed.

    Attributes:
        line: 1-based source line of the problem.
        column: 1-based source column of the problem.
        reason: the message without the position.
    """

    def __init__(self, reason: str, *, line: int, column: int, source: str | None = None) -> None:
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__([FieldError("copybook", f"line {line}, column {column}: {reason}")], source=source)


def _where(source: str | None, record_number: int, byte_offset: int) -> str:
    return f"{source or '<data>'}: record {record_number} at byte offset {byte_offset}"


class DecodeError(RecordError):
    """A field of a record holds data that its PICTURE/USAGE does not allow.

    Attributes:
        source: the file (or other source) name the caller passed in, if any.
        record_number: 1-based number of the record in the source.
        byte_offset: offset of the field's first byte in the source.
        field: the COBOL name of the field (with array indexes, ``AMOUNTS(3)``).
        reason: what is wrong.
        raw: the field's raw bytes (``RecordError.raw``).
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None,
        record_number: int,
        byte_offset: int,
        field: str,
        raw: bytes,
        record: bytes | None = None,
    ) -> None:
        self.source = source
        self.record_number = record_number
        self.byte_offset = byte_offset
        self.field = field
        self.reason = reason
        location = f"{_where(source, record_number, byte_offset)}, field {field}"
        super().__init__(
            f"{reason}; raw bytes {raw.hex(' ').upper() or '(none)'}",
            record=record,
            location=location,
            raw=raw,
        )


class FramingError(FatalError):
    """Records cannot be delimited (bad RDW/BDW, truncated final record, bad length field).

    Attributes:
        source: the file name passed by the caller, if any.
        record_number: the number the next record would have had.
        byte_offset: where the bad header or incomplete record starts.
        raw: the bytes at that position (the header, or the truncated tail, up to 64 bytes).
        records_before: the whole records the same ``feed``/``finish`` call split before
            the broken one (``RawRecord`` objects), so a caller can still use them.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None,
        record_number: int,
        byte_offset: int,
        raw: bytes,
    ) -> None:
        self.source = source
        self.record_number = record_number
        self.byte_offset = byte_offset
        self.reason = reason
        self.raw = raw
        self.records_before: list[t.Any] = []
        super().__init__(
            f"{_where(source, record_number, byte_offset)}: {reason}; raw bytes {raw[:64].hex(' ').upper() or '(none)'}"
        )


class SegmentHierarchyError(RecordError):
    """A segment record cannot be placed in the parent/child hierarchy.

    Attributes:
        source: the file name passed by the caller, if any.
        record_number: 1-based number of the record in the source.
        byte_offset: file offset of the record's first byte.
        segment_id: the record's segment id (None when unreadable).
        reason: what is wrong (e.g. which parent segment is not open).
        raw: the record's bytes (``RecordError.raw``).
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None,
        record_number: int,
        byte_offset: int,
        segment_id: str | None,
        raw: bytes,
    ) -> None:
        self.source = source
        self.record_number = record_number
        self.byte_offset = byte_offset
        self.segment_id = segment_id
        self.reason = reason
        location = f"{_where(source, record_number, byte_offset)}, segment id {segment_id!r}"
        super().__init__(reason, record=raw, location=location, raw=raw)
