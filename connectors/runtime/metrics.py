"""Prometheus metrics named after Kafka Connect's JMX metrics.

Naming (the rule the common JMX-exporter configurations for Kafka Connect apply, so
dashboards built on them port over; ``docs/metrics.md`` lists every series):

- Connect's metric ``<name>`` of group ``<group>`` becomes ``kafka_connect_<group>_<name>``
  with dashes as underscores: ``source-record-poll-rate`` of ``source-task-metrics`` is
  ``kafka_connect_source_task_metrics_source_record_poll_rate``.
- Connect's cumulative ``*-total`` metrics are Prometheus counters (``..._total``);
  ``*-rate``, ``*-avg``, ``*-max``, counts and ratios are gauges, computed when
  ``/metrics`` is scraped over the last :data:`WINDOW_S` seconds (Connect's two 30 s
  samples). Rates are per second; times keep Connect's ``_ms`` unit in the name. An
  average or maximum over a window with no event is 0.
- Connect's tags become labels: ``connector`` and ``task`` on task series, ``connector``
  on connector series; sink lag adds ``topic`` and ``partition``.
- Series Connect does not have are named ``headwater_*`` (task progress, plugin metrics).

Every series of a task exists from the task's start, errors included (at 0), so an
alert on ``increase(..._total_record_errors_total[5m]) > 0`` works before the first error.
Counters are incremented once per batch, not per record, to keep them off the hot path.
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
import typing as t

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if t.TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from headwater.connectors.runtime.status import TaskReport

__all__ = [
    "CONNECTOR_STATES",
    "TASK_STATES",
    "WINDOW_S",
    "ConnectorView",
    "PluginTaskMetrics",
    "TaskMetrics",
    "TaskView",
    "WorkerMetrics",
]

_LABELS = ("connector", "task")
WINDOW_S = 60.0
"""Rates, averages and maxima are over this many seconds (Connect: 2 samples of 30 s)."""
CONNECTOR_STATES = ("RUNNING", "PAUSED", "STOPPED", "FAILED", "UNASSIGNED", "RESTARTING")
TASK_STATES = ("RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING")


class ConnectorView(t.NamedTuple):
    """One connector as the worker metrics see it."""

    name: str
    state: str
    plugin_class: str
    version: str
    type: str


class TaskView(t.NamedTuple):
    """One task hosted by this worker as the worker metrics see it."""

    connector: str
    task: int
    state: str
    report: TaskReport | None


WorkerView: t.TypeAlias = t.Callable[[], tuple[list[ConnectorView], list[TaskView]]]
"""Returns the connectors and tasks of the worker now; called at each scrape (REST thread)."""


class _Window:
    """Events of the last :data:`WINDOW_S` seconds: count, sum and max. Thread-safe."""

    def __init__(self, clock: t.Callable[[], float]) -> None:
        self._clock = clock
        self._events: collections.deque[tuple[float, float]] = collections.deque()
        self._lock = threading.Lock()
        self.created = clock()

    def record(self, value: float) -> None:
        now = self._clock()
        with self._lock:
            self._events.append((now, value))
            self._prune(now)

    def _prune(self, now: float) -> None:
        while self._events and now - self._events[0][0] > WINDOW_S:
            self._events.popleft()

    def rate(self) -> float:
        """Per second over the window (over the time since creation while that is shorter, at least 1 s)."""
        _count, total, _largest = self.stats()
        return total / min(WINDOW_S, max(1.0, self._clock() - self.created))

    def stats(self) -> tuple[int, float, float]:
        """(count, sum, max) of the events in the window."""
        now = self._clock()
        with self._lock:
            self._prune(now)
            values = [value for _t, value in self._events]
        return len(values), math.fsum(values), max(values, default=0.0)


class _CountedSeries:
    """A bound counter that also feeds a window (for Connect's ``*-rate`` and batch sizes)."""

    def __init__(self, child: t.Any, window: _Window) -> None:
        self._child = child
        self.window = window

    def inc(self, amount: float = 1) -> None:
        self._child.inc(amount)
        self.window.record(amount)


class _TimedSeries:
    """A bound summary that also feeds a window (for Connect's ``*-avg-time-ms``/``*-max-time-ms``)."""

    def __init__(self, child: t.Any, window: _Window) -> None:
        self._child = child
        self.window = window

    def observe(self, amount: float) -> None:
        self._child.observe(amount)
        self.window.record(amount)


_COMMON = (
    "offset_commit_success",
    "offset_commit_failure",
    "offset_commit_time",
    "task_restarts",
    "task_running",
    "total_record_errors",
    "total_records_skipped",
    "total_retries",
    "total_errors_logged",
    "deadletterqueue_produce_requests",
    "deadletterqueue_produce_failures",
)
_BY_KIND = {
    "source": ("source_record_poll", "source_record_write", "poll_batch_time"),
    "sink": (
        "sink_record_read",
        "sink_record_send",
        "put_batch_time",
        "offset_commit_completion",
        "offset_commit_skip",
    ),
}


class WorkerMetrics:
    """All series of one worker process, in its own registry (served at ``/metrics``)."""

    def __init__(self, clock: t.Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.clock = clock or time.monotonic
        self._plugin_families: dict[str, Counter | Gauge] = {}
        self._plugin_lock = threading.Lock()
        self._tasks: dict[tuple[str, str], TaskMetrics] = {}
        self._tasks_lock = threading.Lock()
        self.view: WorkerView | None = None
        """Set by the worker (or distributed herder): what the worker-level gauges count."""
        self.rebalance: RebalanceStats | None = None
        """Set by a distributed herder: the ``connect-worker-rebalance-metrics`` series."""

        def counter(group: str, name: str, doc: str, labels: t.Sequence[str] = _LABELS) -> Counter:
            return Counter(f"kafka_connect_{group}_{name}", doc, labels, registry=self.registry)

        def summary(group: str, name: str, doc: str) -> Summary:
            return Summary(f"kafka_connect_{group}_{name}", doc, _LABELS, registry=self.registry)

        self.source_record_poll = counter(
            "source_task_metrics", "source_record_poll", "Records polled from source tasks."
        )
        self.source_record_write = counter(
            "source_task_metrics", "source_record_write", "Records produced to Kafka and acknowledged."
        )
        self.sink_record_read = counter(
            "sink_task_metrics", "sink_record_read", "Records read from Kafka by sink tasks."
        )
        self.sink_record_send = counter("sink_task_metrics", "sink_record_send", "Records handed to sink tasks' put().")
        self.offset_commit_completion = counter(
            "sink_task_metrics", "offset_commit_completion", "Offset commits that completed."
        )
        self.offset_commit_skip = counter(
            "sink_task_metrics", "offset_commit_skip", "Offset commits skipped because nothing was safe to commit."
        )
        self.offset_commit_success = counter(
            "connector_task_metrics", "offset_commit_success", "Successful source or sink offset commits."
        )
        self.offset_commit_failure = counter(
            "connector_task_metrics", "offset_commit_failure", "Failed source or sink offset commits."
        )
        self.total_record_errors = counter("task_error_metrics", "total_record_errors", "Records that failed.")
        self.total_records_skipped = counter(
            "task_error_metrics", "total_records_skipped", "Bad records skipped under errors.tolerance=all."
        )
        self.total_retries = counter("task_error_metrics", "total_retries", "Retries of retriable errors.")
        self.total_errors_logged = counter(
            "task_error_metrics", "total_errors_logged", "Bad records logged (errors.log.enable=true)."
        )
        self.deadletterqueue_produce_requests = counter(
            "task_error_metrics", "deadletterqueue_produce_requests", "Records written to the dead-letter topic."
        )
        self.deadletterqueue_produce_failures = counter(
            "task_error_metrics", "deadletterqueue_produce_failures", "Dead-letter writes that failed."
        )
        self.task_restarts = counter("connector_task_metrics", "task_restarts", "Automatic restarts of failed tasks.")
        self.offset_commit_time = summary(
            "connector_task_metrics", "offset_commit_time_ms", "Time to make offsets durable, in milliseconds."
        )
        self.put_batch_time = summary(
            "sink_task_metrics", "put_batch_time_ms", "Time spent in a sink task's put(), in milliseconds."
        )
        self.poll_batch_time = summary(
            "source_task_metrics", "poll_batch_time_ms", "Time spent in a source task's poll(), in milliseconds."
        )
        self.task_running = Gauge(
            "kafka_connect_connector_task_metrics_status_running",
            "1 while the task is RUNNING, else 0.",
            _LABELS,
            registry=self.registry,
        )

        def worker_counter(name: str, doc: str) -> Counter:
            return counter("connect_worker_metrics", name, doc, ())

        self.connector_startup_attempts = worker_counter("connector_startup_attempts", "Connector starts attempted.")
        self.connector_startup_success = worker_counter("connector_startup_success", "Connector starts that succeeded.")
        self.connector_startup_failure = worker_counter("connector_startup_failure", "Connector starts that failed.")
        self.task_startup_attempts = worker_counter("task_startup_attempts", "Task starts attempted (restarts too).")
        self.task_startup_success = worker_counter(
            "task_startup_success", "Task starts that reached RUNNING or PAUSED."
        )
        self.task_startup_failure = worker_counter("task_startup_failure", "Task starts that failed before running.")
        self.registry.register(_Computed(self))

    def for_task(self, connector: str, task_id: int, kind: t.Literal["source", "sink"] | None = None) -> TaskMetrics:
        """The bound series of one task (the same object for the same task).

        With ``kind``, every series of that kind and the error series are created now, at
        0, so that they exist before the first event.
        """
        key = (connector, str(task_id))
        with self._tasks_lock:
            metrics = self._tasks.get(key)
            if metrics is None:
                metrics = self._tasks[key] = TaskMetrics(self, connector, str(task_id))
        if kind is not None:
            metrics.kind = kind
            for name in (*_COMMON, *_BY_KIND[kind]):
                getattr(metrics, name)
        return metrics

    def forget_task(self, connector: str, task_id: int) -> None:
        """Drop a task's computed series (it stopped here for good: moved, deleted, stopped)."""
        with self._tasks_lock:
            self._tasks.pop((connector, str(task_id)), None)

    def tasks(self) -> list[TaskMetrics]:
        with self._tasks_lock:
            return list(self._tasks.values())

    def for_plugin(self, plugin: str, connector: str, task_id: int) -> PluginTaskMetrics:
        """The series a plugin defines for itself, bound to one task's labels."""
        return PluginTaskMetrics(self, plugin, connector, str(task_id))

    def _plugin_family(self, kind: type[Counter] | type[Gauge], name: str, doc: str) -> t.Any:
        """One family per (kind, name) in this registry, created on first use; thread-safe."""
        with self._plugin_lock:
            family = self._plugin_families.get(name)
            if family is None:
                family = self._plugin_families[name] = kind(name, doc, _LABELS, registry=self.registry)
            elif not isinstance(family, kind):
                msg = f"plugin metric {name} is already a {type(family).__name__}"
                raise ValueError(msg)
            return family


class TaskMetrics:
    """One task's series, each bound to its labels on first use.

    Counters and summaries also feed sliding windows, from which ``/metrics`` computes
    Connect's rates, averages and maxima. The runners set :attr:`active` (records polled
    or read and not yet written or committed) and :meth:`set_lag` (sinks); those are read
    at scrape time. Safe from any thread.
    """

    def __init__(self, metrics: WorkerMetrics, connector: str, task: str) -> None:
        self._metrics = metrics
        self._labels = {"connector": connector, "task": task}
        self.connector = connector
        self.task = task
        self.kind: str | None = None
        self.active = 0
        """Records in flight: polled and not yet acknowledged (source), read and not yet committed (sink)."""
        self.lags: dict[tuple[str, int], int] = {}
        """Sink: records behind the end of each assigned partition, as of the last fetch."""
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("_"):
            raise AttributeError(name)
        family = getattr(self._metrics, name)
        if not isinstance(family, (Counter, Summary, Gauge)):
            raise AttributeError(name)
        child: t.Any = family.labels(**self._labels)
        if isinstance(family, Counter):
            child = _CountedSeries(child, _Window(self._metrics.clock))
        elif isinstance(family, Summary):
            child = _TimedSeries(child, _Window(self._metrics.clock))
        with self._lock:
            existing = self.__dict__.get(name)
            if existing is not None:
                return existing
            setattr(self, name, child)
        return child

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lags[(topic, partition)] = max(0, lag)

    def forget_lag(self, partitions: t.Iterable[tuple[str, int]]) -> None:
        for tp in partitions:
            self.lags.pop(tp, None)

    def window(self, name: str) -> _Window | None:
        """The window of a series already bound, or None."""
        series = self.__dict__.get(name)
        return getattr(series, "window", None)


class RebalanceStats:
    """Kafka Connect's ``connect-worker-rebalance-metrics`` of a distributed worker.

    The herder calls :meth:`started` when the group takes its slots back (or it joins)
    and :meth:`completed` when it gets its new assignment; both from the group thread.
    """

    def __init__(self, clock: t.Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self.completed_total = 0
        self.rebalancing = False
        self.leader_name = ""
        self._since: float | None = None
        self._last_end: float | None = None
        self._max_ms = 0.0
        self._sum_ms = 0.0

    def started(self) -> None:
        if not self.rebalancing:
            self.rebalancing, self._since = True, self._clock()

    def completed(self) -> None:
        now = self._clock()
        if self._since is not None:
            elapsed = (now - self._since) * 1000
            self._max_ms = max(self._max_ms, elapsed)
            self._sum_ms += elapsed
        self.completed_total += 1
        self.rebalancing, self._since, self._last_end = False, None, now

    def families(self) -> list[Metric]:
        group = "kafka_connect_connect_worker_rebalance_metrics_"
        now = self._clock()
        since_last = -1.0 if self._last_end is None else (now - self._last_end) * 1000
        average = self._sum_ms / self.completed_total if self.completed_total else 0.0
        completed = CounterMetricFamily(group + "completed_rebalances", "Rebalances this worker completed.")
        completed.add_metric([], float(self.completed_total))
        out: list[Metric] = [completed]
        values = (
            ("rebalancing", "1 while this worker is in a rebalance.", 1 if self.rebalancing else 0),
            ("rebalance_avg_time_ms", "Average time of this worker's rebalances, in milliseconds.", average),
            ("rebalance_max_time_ms", "Longest rebalance of this worker, in milliseconds.", self._max_ms),
            ("time_since_last_rebalance_ms", "Milliseconds since the last rebalance ended (-1: none yet).", since_last),
        )
        for name, doc, value in values:
            family = GaugeMetricFamily(group + name, doc)
            family.add_metric([], float(value))
            out.append(family)
        return out


def _gauge(name: str, doc: str, labels: t.Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class _Computed(Collector):
    """The series computed at scrape time: Connect's rates and averages, worker counts,
    connector and task status, sink lag, progress."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> t.Iterable[Metric]:
        return []  # computed on every scrape: nothing to check against at registration

    def collect(self) -> t.Iterable[Metric]:
        yield from self._task_families()
        yield from self._worker_families()
        if self.metrics.rebalance is not None:
            yield from self.metrics.rebalance.families()

    def _task_families(self) -> t.Iterable[Metric]:
        source = "kafka_connect_source_task_metrics_"
        sink = "kafka_connect_sink_task_metrics_"
        task = "kafka_connect_connector_task_metrics_"
        specs: list[tuple[str, str, str, str]] = [
            # (family, doc, series, statistic)
            (source + "source_record_poll_rate", "Records polled per second.", "source_record_poll", "rate"),
            (
                source + "source_record_write_rate",
                "Records written to Kafka per second.",
                "source_record_write",
                "rate",
            ),
            (source + "poll_batch_avg_time_ms", "Average poll() time, ms.", "poll_batch_time", "avg"),
            (source + "poll_batch_max_time_ms", "Longest poll() time, ms.", "poll_batch_time", "max"),
            (sink + "sink_record_read_rate", "Records read from Kafka per second.", "sink_record_read", "rate"),
            (sink + "sink_record_send_rate", "Records put() per second.", "sink_record_send", "rate"),
            (sink + "put_batch_avg_time_ms", "Average put() time, ms.", "put_batch_time", "avg"),
            (sink + "put_batch_max_time_ms", "Longest put() time, ms.", "put_batch_time", "max"),
            (task + "offset_commit_avg_time_ms", "Average offset commit time, ms.", "offset_commit_time", "avg"),
            (task + "offset_commit_max_time_ms", "Longest offset commit time, ms.", "offset_commit_time", "max"),
        ]
        families = {name: _gauge(name, doc, _LABELS) for name, doc, _s, _k in specs}
        batch_avg = _gauge(task + "batch_size_avg", "Average records per poll() (source) or put() (sink).", _LABELS)
        batch_max = _gauge(task + "batch_size_max", "Most records in one poll() (source) or put() (sink).", _LABELS)
        success_pct = _gauge(
            task + "offset_commit_success_percentage", "Share of offset commits that succeeded.", _LABELS
        )
        failure_pct = _gauge(task + "offset_commit_failure_percentage", "Share of offset commits that failed.", _LABELS)
        source_active = _gauge(source + "source_record_active_count", "Records polled, not yet written.", _LABELS)
        sink_active = _gauge(sink + "sink_record_active_count", "Records read, not yet committed.", _LABELS)
        lag = _gauge(sink + "sink_record_lag", "Records behind the partition's end.", (*_LABELS, "topic", "partition"))
        lag_max = _gauge(sink + "sink_record_lag_max", "Largest lag of the task's partitions.", _LABELS)
        for metrics in self.metrics.tasks():
            labels = [metrics.connector, metrics.task]
            for name, _doc, series, statistic in specs:
                window = metrics.window(series)
                if window is None:
                    continue
                count, total, largest = window.stats()
                if statistic == "rate":
                    value = window.rate()
                elif statistic == "avg":
                    value = total / count if count else 0.0
                else:
                    value = largest
                families[name].add_metric(labels, value)
            batches = metrics.window("sink_record_send" if metrics.kind == "sink" else "source_record_poll")
            if batches is not None:
                count, total, largest = batches.stats()
                batch_avg.add_metric(labels, total / count if count else 0.0)
                batch_max.add_metric(labels, largest)
            succeeded, failed = metrics.window("offset_commit_success"), metrics.window("offset_commit_failure")
            if succeeded is not None and failed is not None:
                ok, bad = succeeded.stats()[0], failed.stats()[0]
                success_pct.add_metric(labels, ok / (ok + bad) if ok + bad else 0.0)
                failure_pct.add_metric(labels, bad / (ok + bad) if ok + bad else 0.0)
            if metrics.kind == "source":
                source_active.add_metric(labels, metrics.active)
            elif metrics.kind == "sink":
                sink_active.add_metric(labels, metrics.active)
                lags = dict(metrics.lags)
                for (topic, partition), behind in sorted(lags.items()):
                    lag.add_metric([*labels, topic, str(partition)], behind)
                lag_max.add_metric(labels, max(lags.values(), default=0))
        yield from families.values()
        yield from (batch_avg, batch_max, success_pct, failure_pct, source_active, sink_active, lag, lag_max)

    def _worker_families(self) -> t.Iterable[Metric]:
        view = self.metrics.view
        if view is None:
            return
        connectors, tasks = view()
        group = "kafka_connect_connect_worker_metrics_"
        connector_count = _gauge(group + "connector_count", "Connectors this worker runs.", ())
        connector_count.add_metric([], len(connectors))
        task_count = _gauge(group + "task_count", "Tasks this worker runs.", ())
        task_count.add_metric([], len(tasks))
        yield connector_count
        yield task_count
        per_state = {
            state: _gauge(
                f"{group}connector_{state.lower()}_task_count",
                f"Tasks of the connector in state {state}.",
                ["connector"],
            )
            for state in TASK_STATES
        }
        total = _gauge(group + "connector_total_task_count", "Tasks of the connector on this worker.", ["connector"])
        names = sorted({c.name for c in connectors} | {task.connector for task in tasks})
        for name in names:
            mine = [task for task in tasks if task.connector == name]
            total.add_metric([name], len(mine))
            for state, family in per_state.items():
                family.add_metric([name], sum(1 for task in mine if task.state == state))
        yield total
        yield from per_state.values()
        status = _gauge(
            "kafka_connect_connector_metrics_status",
            "1 for the connector's current state (label status), 0 for the others; with its class and version.",
            ["connector", "connector_class", "connector_version", "connector_type", "status"],
        )
        for connector in connectors:
            for state in CONNECTOR_STATES:
                value = 1 if connector.state == state else 0
                labels = [connector.name, connector.plugin_class, connector.version, connector.type, state.lower()]
                status.add_metric(labels, value)
        yield status
        task_status = _gauge(
            "kafka_connect_connector_task_metrics_status",
            "1 for the task's current state (label status), 0 for the others.",
            [*_LABELS, "status"],
        )
        for task in tasks:
            for state in TASK_STATES:
                task_status.add_metric([task.connector, str(task.task), state.lower()], 1 if task.state == state else 0)
        yield task_status
        yield from _progress_families(tasks)


def _progress_families(tasks: t.Sequence[TaskView]) -> t.Iterable[Metric]:
    labels = (*_LABELS, "unit")
    done = _gauge("headwater_task_progress_done", "Units a long load has done (context.progress).", labels)
    expected = _gauge("headwater_task_progress_expected", "Units the load expects in all (absent: unknown).", labels)
    rate = _gauge("headwater_task_progress_rate_per_second", "Units per second over the last 30 s.", labels)
    eta = _gauge("headwater_task_progress_eta_seconds", "Seconds the load still needs at that rate.", labels)
    for task in tasks:
        snapshot = task.report.snapshot() if task.report is not None else None
        if snapshot is None:
            continue
        values = [task.connector, str(task.task), snapshot.unit]
        done.add_metric(values, snapshot.done)
        rate.add_metric(values, snapshot.rate_per_s)
        if snapshot.total is not None:
            expected.add_metric(values, snapshot.total)
        if snapshot.eta_s is not None:
            eta.add_metric(values, snapshot.eta_s)
    yield from (done, expected, rate, eta)


_METRIC_NAME = re.compile(r"[^a-zA-Z0-9_]")


class PluginTaskMetrics:
    """A plugin's own metrics (:class:`headwater.connectors.api.PluginMetrics`) for one task.

    ``counter("rows_read", doc)`` is the series ``headwater_plugin_<plugin>_rows_read``
    labelled with the task's connector and task id. Safe from any thread.
    """

    def __init__(self, metrics: WorkerMetrics, plugin: str, connector: str, task: str) -> None:
        self._metrics = metrics
        self._prefix = "headwater_plugin_" + _METRIC_NAME.sub("_", plugin) + "_"
        self._labels = {"connector": connector, "task": task}

    def counter(self, name: str, doc: str) -> t.Any:
        """A counter bound to this task (``inc(amount)``)."""
        family = self._metrics._plugin_family(Counter, self._prefix + _METRIC_NAME.sub("_", name), doc)
        return family.labels(**self._labels)

    def gauge(self, name: str, doc: str) -> t.Any:
        """A gauge bound to this task (``set(value)``)."""
        family = self._metrics._plugin_family(Gauge, self._prefix + _METRIC_NAME.sub("_", name), doc)
        return family.labels(**self._labels)
