"""Prometheus metrics named after Kafka Connect's task metrics.

Kafka Connect's JMX names (``source-record-poll-total`` in group ``source-task-metrics``)
become ``kafka_connect_<group>_<name>`` with dashes as underscores, the names the
common JMX-exporter rules produce, so existing dashboards port over. Every series is
labelled by ``connector`` and ``task``. Counters are incremented once per batch, not
per record, to keep them off the hot path.
"""

from __future__ import annotations

import re
import threading
import typing as t

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

__all__ = ["PluginTaskMetrics", "TaskMetrics", "WorkerMetrics"]

_LABELS = ("connector", "task")


class WorkerMetrics:
    """All series of one worker process, in its own registry (served at ``/metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._plugin_families: dict[str, Counter | Gauge] = {}
        self._plugin_lock = threading.Lock()

        def counter(group: str, name: str, doc: str) -> Counter:
            return Counter(f"kafka_connect_{group}_{name}", doc, _LABELS, registry=self.registry)

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
        self.deadletterqueue_produce_requests = counter(
            "task_error_metrics", "deadletterqueue_produce_requests", "Records written to the dead-letter topic."
        )
        self.deadletterqueue_produce_failures = counter(
            "task_error_metrics", "deadletterqueue_produce_failures", "Dead-letter writes that failed."
        )
        self.task_restarts = counter("connector_task_metrics", "task_restarts", "Automatic restarts of failed tasks.")
        self.offset_commit_time = Summary(
            "kafka_connect_connector_task_metrics_offset_commit_time_ms",
            "Time to make offsets durable, in milliseconds.",
            _LABELS,
            registry=self.registry,
        )
        self.put_batch_time = Summary(
            "kafka_connect_sink_task_metrics_put_batch_time_ms",
            "Time spent in a sink task's put(), in milliseconds.",
            _LABELS,
            registry=self.registry,
        )
        self.poll_batch_time = Summary(
            "kafka_connect_source_task_metrics_poll_batch_time_ms",
            "Time spent in a source task's poll(), in milliseconds.",
            _LABELS,
            registry=self.registry,
        )
        self.task_running = Gauge(
            "kafka_connect_connector_task_metrics_status_running",
            "1 while the task is RUNNING, else 0.",
            _LABELS,
            registry=self.registry,
        )

    def for_task(self, connector: str, task_id: int) -> TaskMetrics:
        """The bound series of one task."""
        return TaskMetrics(self, connector, str(task_id))

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

    Binding lazily means a source task exposes only source series, a sink only sink
    series.
    """

    def __init__(self, metrics: WorkerMetrics, connector: str, task: str) -> None:
        self._metrics = metrics
        self._labels = {"connector": connector, "task": task}

    def __getattr__(self, name: str) -> t.Any:
        family = getattr(self._metrics, name)
        if not isinstance(family, (Counter, Summary, Gauge)):
            raise AttributeError(name)
        child = family.labels(**self._labels)
        setattr(self, name, child)
        return child


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
