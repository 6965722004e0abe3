"""What a task's status shows besides its state: progress, a warning, plugin details.

Kafka Connect's task status is ``{"id", "state", "worker_id", "trace"}``, with ``trace``
only for a FAILED task. Headwater adds, each only while it has something to say:

- ``progress``: ``{"done", "total", "unit", "rate_per_s", "eta_s"}`` (``total`` and
  ``eta_s`` may be null; ``what`` names the load when the plugin gave it), from
  ``context.progress(...)``; the rate is over the last :data:`RATE_WINDOW_S` seconds.
- ``warning``: trouble that does not fail the task (Kafka unreachable, the client
  retrying): the task stays RUNNING, as in Connect, and the warning says what is wrong,
  since when and how often. It goes away once the client works again, or
  :data:`WARNING_TTL_S` seconds after the last such error.
- plugin details from ``context.status_detail(key, value)`` (the mainframe source's
  ``quarantined`` list), under the plugin's own keys.

One :class:`TaskReport` per task (it lives as long as the task's status entry, through
restarts). Its methods are called from the task's threads and librdkafka callbacks,
:meth:`TaskReport.to_json` from REST handler threads: every method takes the lock.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
import typing as t

__all__ = ["PUBLISH_INTERVAL_S", "RATE_WINDOW_S", "WARNING_TTL_S", "ProgressSnapshot", "TaskReport"]

RATE_WINDOW_S = 30.0
"""Progress rates are measured over this many seconds (Kafka Connect's sample window)."""
WARNING_TTL_S = 60.0
"""A warning not renewed for this long is dropped from the status."""
PUBLISH_INTERVAL_S = 5.0
"""A distributed worker writes progress and warning changes to the status topic at most this often."""


class ProgressSnapshot(t.NamedTuple):
    """One task's progress as the status and ``/metrics`` show it."""

    done: float
    total: float | None
    unit: str
    rate_per_s: float
    eta_s: float | None
    what: str | None

    def to_json(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "done": _number(self.done),
            "total": None if self.total is None else _number(self.total),
            "unit": self.unit,
            "rate_per_s": round(self.rate_per_s, 3),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }
        if self.what is not None:
            out["what"] = self.what
        return out


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class TaskReport:
    """The live extras of one task's status; see the module docstring."""

    def __init__(self, clock: t.Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._samples: collections.deque[tuple[float, float]] = collections.deque()
        self._progress: tuple[float, float | None, str, str | None] | None = None
        self._warning: str | None = None
        self._warning_wall = ""
        self._warning_last = 0.0
        self._warning_count = 0
        self._warning_latest = ""
        self._details: dict[str, t.Any] = {}

    # -- the task's side (TaskStatusReporter) ---------------------------------------------

    def progress(self, done: float, total: float | None, unit: str, what: str | None) -> None:
        now = self._clock()
        with self._lock:
            previous = self._progress
            if previous is None or done < previous[0] or unit != previous[2]:
                self._samples.clear()
            self._progress = (float(done), None if total is None else float(total), unit, what)
            if len(self._samples) >= 2 and now - self._samples[-2][0] < 0.5:
                self._samples[-1] = (now, float(done))  # one sample per half second is enough
            else:
                self._samples.append((now, float(done)))
            while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
                self._samples.popleft()

    def detail(self, key: str, value: t.Any) -> None:
        with self._lock:
            if value is None:
                self._details.pop(key, None)
            else:
                self._details[key] = value

    # -- the runtime's side -------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Record trouble that does not fail the task.

        One warning lasts while the trouble does: it keeps its first message (with
        librdkafka, the one naming the broker) and time, counts every error and shows
        the latest message when it differs.
        """
        now = self._clock()
        with self._lock:
            if self._warning is None or now - self._warning_last >= WARNING_TTL_S:
                self._warning, self._warning_count = message, 0
                self._warning_wall = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            self._warning_latest = message
            self._warning_last = now
            self._warning_count += 1

    def clear_warning(self) -> None:
        """The trouble is over (a client call succeeded)."""
        with self._lock:
            self._warning = None

    def snapshot(self) -> ProgressSnapshot | None:
        """The current progress with its rate and ETA, or None if the task never reported any."""
        now = self._clock()
        with self._lock:
            if self._progress is None:
                return None
            done, total, unit, what = self._progress
            samples = list(self._samples)
        rate = 0.0
        if len(samples) >= 2:
            (first_t, first_done), (last_t, last_done) = samples[0], samples[-1]
            if last_t > first_t and now - last_t < RATE_WINDOW_S:
                rate = (last_done - first_done) / (max(last_t, now) - first_t)
        eta: float | None = None
        if total is not None:
            eta = 0.0 if done >= total else ((total - done) / rate if rate > 0 else None)
        return ProgressSnapshot(done, total, unit, rate, eta, what)

    def warning(self) -> str | None:
        """The current warning text, or None."""
        now = self._clock()
        with self._lock:
            if self._warning is None or now - self._warning_last >= WARNING_TTL_S:
                return None
            count = self._warning_count
            text = f"{self._warning} (since {self._warning_wall}, {count} error{'s' if count != 1 else ''}"
            if self._warning_latest != self._warning:
                text += f"; latest: {self._warning_latest}"
            return text + ")"

    def to_json(self) -> dict[str, t.Any]:
        """The keys to add to the task's status object (none when there is nothing to say)."""
        out: dict[str, t.Any] = {}
        progress = self.snapshot()
        if progress is not None:
            out["progress"] = progress.to_json()
        warning = self.warning()
        if warning is not None:
            out["warning"] = warning
        with self._lock:
            out.update(self._details)
        return out
