"""``/admin/loggers``: read and change Python logging levels at run time, in Kafka Connect's shapes.

Kafka Connect (KIP-495) lists every logger with its effective level and the time its
level was last changed over REST (``last_modified``, epoch milliseconds, null if never),
and ``PUT /admin/loggers/{name}`` sets the level of a logger and all its descendants and
answers the names it changed. Here the loggers are Python's (``headwater.connectors...``,
``confluent_kafka``...); the level names are Connect's (``TRACE``, ``DEBUG``, ``INFO``,
``WARN``, ``ERROR``, ``FATAL``, ``OFF``; Python's ``WARNING`` and ``CRITICAL`` are
accepted too). ``root`` is the root logger.

Called from REST handler threads and, for ``scope=cluster`` in distributed mode, from
the config table's reader thread; :class:`LoggerLevels` serialises the changes.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

__all__ = [
    "CLUSTER_LOGGER_PREFIX",
    "LEVELS",
    "LEVELS_OF_PROCESS",
    "InvalidLevel",
    "LoggerLevels",
    "LoggerNotFound",
    "cluster_logger_listener",
    "level_name",
    "parse_level",
]

TRACE = 5
OFF = logging.CRITICAL + 10
LEVELS: dict[str, int] = {
    "ALL": 1,
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
    "OFF": OFF,
}
"""Level names a ``PUT`` accepts (case-insensitive), Connect's and Python's."""

_NAMES = [(OFF, "OFF"), (logging.CRITICAL, "FATAL"), (logging.ERROR, "ERROR"), (logging.WARNING, "WARN")]
_NAMES += [(logging.INFO, "INFO"), (logging.DEBUG, "DEBUG"), (TRACE, "TRACE"), (0, "ALL")]
ROOT = "root"


class LoggerNotFound(Exception):
    """No logger of that name exists (REST 404, Connect's ``Logger X not found.``)."""


class InvalidLevel(Exception):
    """The level is not a known level name (REST 404 as in Connect, or 400 when missing)."""


def level_name(level: int) -> str:
    """Connect's name of a Python level: the highest named level at or below it."""
    for value, name in _NAMES:
        if level >= value:
            return name
    return "ALL"


def parse_level(text: t.Any) -> int:
    """The Python level of a level name.

    Raises:
        InvalidLevel: not a string naming a level in :data:`LEVELS`.
    """
    if not isinstance(text, str) or text.upper() not in LEVELS:
        msg = f"invalid log level '{text}'."
        raise InvalidLevel(msg)
    return LEVELS[text.upper()]


class LoggerLevels:
    """The process's loggers as the REST API shows and changes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modified: dict[str, int] = {}
        logging.addLevelName(TRACE, "TRACE")

    @staticmethod
    def _loggers() -> dict[str, logging.Logger]:
        """Every logger created so far (placeholders for unused parents left out), and root."""
        found = {
            name: logger
            for name, logger in list(logging.root.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)
        }
        found[ROOT] = logging.root
        return found

    def _entry(self, name: str, logger: logging.Logger) -> dict[str, t.Any]:
        return {"level": level_name(logger.getEffectiveLevel()), "last_modified": self._modified.get(name)}

    def all(self) -> dict[str, dict[str, t.Any]]:
        """``GET /admin/loggers``: ``{name: {"level", "last_modified"}}``, sorted by name."""
        return {name: self._entry(name, logger) for name, logger in sorted(self._loggers().items())}

    def get(self, name: str) -> dict[str, t.Any]:
        """``GET /admin/loggers/{name}``.

        Raises:
            LoggerNotFound: no logger of that name was created in this process.
        """
        logger = self._loggers().get(name)
        if logger is None:
            msg = f"Logger {name} not found."
            raise LoggerNotFound(msg)
        return self._entry(name, logger)

    def set(self, name: str, level_text: t.Any) -> list[str]:
        """``PUT /admin/loggers/{name}``: set the level of ``name`` (created if new) and of
        every logger below it (``root``: every logger); returns the names changed, sorted.

        Raises:
            InvalidLevel: ``level_text`` names no level.
        """
        level = parse_level(level_text)
        now = int(time.time() * 1000)
        with self._lock:
            if name == ROOT:
                targets = self._loggers()
            else:
                logging.getLogger(name)
                targets = {
                    other: logger
                    for other, logger in self._loggers().items()
                    if other == name or other.startswith(name + ".")
                }
            for other, logger in targets.items():
                logger.setLevel(level)
                self._modified[other] = now
        return sorted(targets)


LEVELS_OF_PROCESS = LoggerLevels()
"""The one instance per process (logging is process-wide)."""

CLUSTER_LOGGER_PREFIX = "logger-cluster-"
"""Config-topic key prefix of a cluster-wide level (``scope=cluster``), as Kafka Connect's."""


def cluster_logger_listener(key: str, value: dict[str, t.Any] | None) -> None:
    """A config table listener: apply each ``logger-cluster-<name>`` record as it is read
    (from the table's reader thread). A bad level is logged and skipped."""
    if not key.startswith(CLUSTER_LOGGER_PREFIX) or not isinstance(value, dict):
        return
    name = key[len(CLUSTER_LOGGER_PREFIX) :]
    try:
        LEVELS_OF_PROCESS.set(name, value.get("level"))
    except InvalidLevel:
        logging.getLogger(__name__).warning("ignoring cluster log level %r for %s", value.get("level"), name)
