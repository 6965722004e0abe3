"""Log lines as Kafka Connect writes them: each names its connector and task.

Kafka Connect puts ``connector.context`` (``[name|task-0] ``) in its MDC on every thread
that works for a connector. Here a :class:`contextvars.ContextVar` plays that part:

- :func:`bind` is called first thing on every thread that runs connector or task code
  (a task's supervisor thread, a sink task's plugin thread, the connectors' lifecycle
  thread around each call). A new thread starts with no binding, so a thread never
  inherits another connector's name by accident.
- :class:`ContextFilter` (installed on the handler by :func:`configure`) copies the
  binding into each record as ``connector`` and ``task``; the text format shows
  ``[name|task-0]``, the JSON format has both as fields.

librdkafka's own lines reach the logger ``librdkafka`` (every client gets it as
``logger``); confluent-kafka calls it from the thread that polls the client, which is the
task's own thread, so those lines carry the task too and go through the same formatter.

:class:`RepeatFilter` keeps a failing dependency from flooding the log: of identical
WARNING-or-worse lines (numbers ignored, per connector and task) the first passes, the
repeats within ``window_s`` are counted, and the first one after the window says how many
were held back.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import re
import sys
import threading
import time
import traceback
import typing as t

import orjson

__all__ = [
    "CLIENT_LOG",
    "LEVELS",
    "BatchTally",
    "ContextFilter",
    "JsonFormatter",
    "RepeatFilter",
    "TextFormatter",
    "bind",
    "bound",
    "configure",
    "current",
]

CLIENT_LOG = logging.getLogger("librdkafka")
"""The logger librdkafka's own lines go to: every Kafka client the runtime builds gets it as ``logger``."""

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL")
"""What ``--log-level`` accepts (case-insensitive); TRACE and WARN as Kafka Connect spells them."""

_CONTEXT: contextvars.ContextVar[tuple[str, int | None] | None] = contextvars.ContextVar(
    "headwater_connector_context", default=None
)


def bind(connector: str | None, task: int | None = None) -> None:
    """Name the connector (and task) the calling thread works for, until it ends or rebinds.

    Call it first thing in a thread's target; ``None`` clears the binding.
    """
    _CONTEXT.set(None if connector is None else (connector, task))


@contextlib.contextmanager
def bound(connector: str, task: int | None = None) -> t.Iterator[None]:
    """Bind for the duration of a ``with`` block (a call made on a shared thread)."""
    token = _CONTEXT.set((connector, task))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current() -> tuple[str, int | None] | None:
    """The calling thread's (connector, task) binding, or None."""
    return _CONTEXT.get()


class ContextFilter(logging.Filter):
    """Adds ``connector``, ``task`` and ``log_context`` (``"[name|task-0] "`` or ``""``) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        if not hasattr(record, "connector"):
            record.connector = context[0] if context else None
            record.task = context[1] if context else None
        connector, task = getattr(record, "connector", None), getattr(record, "task", None)
        if connector is None:
            record.log_context = ""
        elif task is None:
            record.log_context = f"[{connector}] "
        else:
            record.log_context = f"[{connector}|task-{task}] "
        return True


_NUMBERS = re.compile(r"\d+")


class RepeatFilter(logging.Filter):
    """Holds back identical WARNING-or-worse lines repeated within ``window_s`` seconds.

    Lines are identical when logger, level, connector, task and message agree; in
    librdkafka's lines numbers are ignored (``after 0ms`` / ``after 1ms``, its own
    ``N identical error(s) suppressed``). Headwater's own lines must match exactly, so
    that each bad record logged under ``errors.log.enable`` is still written.
    The first line of a burst passes; the first one after the window passes with
    ``[repeated N more times in the last 30 s]`` appended. Thread-safe.
    """

    def __init__(
        self, window_s: float = 30.0, level: int = logging.WARNING, clock: t.Callable[[], float] | None = None
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.level = level
        self._clock = clock or time.monotonic
        self._seen: dict[tuple[t.Any, ...], list[float]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        message = record.getMessage()
        context = _CONTEXT.get()
        text = _NUMBERS.sub("#", message) if record.name == CLIENT_LOG.name else message
        key = (record.name, record.levelno, context, text)
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.window_s:
                entry[1] += 1
                return False
            held = int(entry[1]) if entry is not None else 0
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
            self._seen[key] = [now, 0]
        if held:
            record.msg = f"{message} [repeated {held} more times in the last {self.window_s:.0f} s]"
            record.args = None
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-01 03:00:47,123 INFO [thread] logger: [name|task-0] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(log_context)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "log_context"):
            ContextFilter().filter(record)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers.

    Fields: ``time`` (ISO 8601, milliseconds, the zone's offset), ``level``, ``logger``,
    ``thread``, ``connector`` and ``task`` (null outside a connector's threads),
    ``message``; with an exception also ``exception`` (``Type: message``) and
    ``traceback`` (the whole text), never inside ``message``.
    """

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "log_context"):
            ContextFilter().filter(record)
        moment = dt.datetime.fromtimestamp(record.created).astimezone()
        entry: dict[str, t.Any] = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "connector": getattr(record, "connector", None),
            "task": getattr(record, "task", None),
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["exception"] = "".join(traceback.format_exception_only(type(error), error)).strip()
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


class BatchTally:
    """Counts a task's batches; logs one DEBUG summary per ``interval_s``, never one per batch.

    Used by one thread (the task's); :meth:`add` costs a clock read when DEBUG is off.
    """

    def __init__(
        self, logger: logging.Logger, what: str, interval_s: float = 10.0, clock: t.Callable[[], float] | None = None
    ) -> None:
        self._logger = logger
        self._what = what
        self._interval_s = interval_s
        self._clock = clock or time.monotonic
        self._since = self._clock()
        self.batches = 0
        self.records = 0

    def add(self, records: int) -> None:
        """One batch of ``records`` (0 for an empty poll)."""
        self.batches += 1
        self.records += records
        now = self._clock()
        if now - self._since < self._interval_s:
            return
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "%s %d records in %d batches over the last %.0f s",
                self._what,
                self.records,
                self.batches,
                now - self._since,
            )
        self._since, self.batches, self.records = now, 0, 0


def parse_level(level: str) -> int:
    """The :mod:`logging` level of a ``--log-level`` value.

    Raises:
        ValueError: naming the accepted levels.
    """
    name = level.strip().upper()
    if name not in LEVELS:
        msg = f"unknown log level {level!r}; use one of {', '.join(LEVELS)}"
        raise ValueError(msg)
    return {"TRACE": logging.DEBUG, "WARN": logging.WARNING}.get(name) or t.cast(int, logging.getLevelName(name))


def configure(
    level: str = "INFO",
    log_format: t.Literal["text", "json"] = "text",
    *,
    stream: t.TextIO | None = None,
    repeat_window_s: float = 30.0,
) -> logging.Handler:
    """Send every log line (librdkafka's too) to ``stream`` (stderr) in ``log_format``.

    Replaces the root logger's handlers; returns the one installed.

    Raises:
        ValueError: ``level`` is not a log level (see :func:`parse_level`).
    """
    numeric = parse_level(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RepeatFilter(repeat_window_s))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    return handler
