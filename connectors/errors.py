"""Errors named for the remedy.

The runtime decides what to do from the class alone:

- :class:`RetriableError`: back off and try the same operation again, up to
  ``errors.retry.timeout``; then the task fails (and may restart on its own).
- :class:`RecordError`: one record is bad. With ``errors.tolerance=all`` it goes to the
  dead-letter topic and the pipeline goes on; with ``none`` the task fails with an error
  that names the record.
- :class:`ConfigError`: the configuration is wrong; raised before any task starts, with
  one entry per field.
- :class:`FatalError` (and any other exception): the task fails.

Driver exceptions are wrapped once, at the client adapter, with ``raise ... from exc``.
This module has no dependencies so that ``headwater.codecs`` can raise these too.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "FatalError",
    "FieldError",
    "HeadwaterError",
    "RecordError",
    "RetriableError",
]


class HeadwaterError(Exception):
    """Base class of every error Headwater raises on purpose."""


class RetriableError(HeadwaterError):
    """A transient failure (network, timeout, failover, throttling): retrying the same call may succeed.

    Attributes:
        retry_after_ms: when the system said how long to wait (an HTTP 429's
            ``Retry-After``), the runtime waits at least this long before the retry.
        partitions: for a sink, the ``(topic, partition)`` pairs the failure concerns; the
            runtime pauses only those (default: every partition of the failed batch).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_ms: int | None = None,
        partitions: t.Collection[tuple[str, int]] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms
        self.partitions = frozenset(partitions) if partitions is not None else None


class FatalError(HeadwaterError):
    """A failure that retrying cannot fix: the task stops in the FAILED state."""


class RecordError(HeadwaterError):
    """One record cannot be processed; the others can.

    Attributes:
        record: the record (a ``SinkRecord`` for sinks, the raw bytes or a source record
            for sources), when the raiser has it.
        location: a human description of where the bad data is (file, record number,
            byte offset, field), included in the message.
        raw: the raw bytes of the bad record, when known; they go to the dead-letter topic.
    """

    def __init__(
        self,
        message: str,
        *,
        record: t.Any = None,
        location: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.record = record
        self.location = location
        self.raw = raw


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid or missing configuration key and why."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(HeadwaterError):
    """The configuration is invalid; ``errors`` has one entry per bad field."""

    def __init__(self, errors: t.Sequence[FieldError], *, source: str | None = None) -> None:
        self.errors = list(errors)
        self.source = source
        where = f"{source}: " if source else ""
        lines = "; ".join(str(error) for error in self.errors)
        super().__init__(f"{where}invalid configuration: {lines}")
