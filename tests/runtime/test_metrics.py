"""Issue 14 section 3: the metrics Kafka Connect dashboards use, and task progress.

Unit tests drive :class:`WorkerMetrics` and :class:`TaskReport` with a fake clock and
parse the Prometheus text a scrape returns; the end-to-end check of the dashboard against
a running worker is in ``test_dashboard.py``.
"""

from __future__ import annotations

import typing as t

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from headwater.connectors.api import SourceTaskContext
from headwater.connectors.runtime.metrics import ConnectorView, RebalanceStats, TaskView, WorkerMetrics
from headwater.connectors.runtime.status import TaskReport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: t.Mapping[t.Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_error_series_exist_at_zero_before_any_error() -> None:
    metrics = WorkerMetrics()
    metrics.for_task("src", 0, "source")
    metrics.for_task("snk", 1, "sink")
    samples = _samples(metrics)
    for connector, task in (("src", "0"), ("snk", "1")):
        for name in (
            "kafka_connect_task_error_metrics_total_record_errors_total",
            "kafka_connect_task_error_metrics_total_records_skipped_total",
            "kafka_connect_task_error_metrics_total_retries_total",
            "kafka_connect_task_error_metrics_total_errors_logged_total",
            "kafka_connect_task_error_metrics_deadletterqueue_produce_requests_total",
            "kafka_connect_task_error_metrics_deadletterqueue_produce_failures_total",
            "kafka_connect_connector_task_metrics_offset_commit_failure_total",
            "kafka_connect_connector_task_metrics_task_restarts_total",
        ):
            assert _value(samples, name, connector=connector, task=task) == 0, name
    assert ("kafka_connect_source_task_metrics_source_record_poll_total", (("connector", "src"), ("task", "0"))) in (
        samples
    )
    assert not any(
        name.startswith("kafka_connect_sink_task") and ("connector", "src") in labels for name, labels in samples
    )


def test_rates_averages_and_batch_sizes_follow_connect_names() -> None:
    clock = Clock()
    metrics = WorkerMetrics(clock=clock)
    source = metrics.for_task("src", 0, "source")
    for size in (100, 300):  # two polls in the first 10 s
        clock.now += 5
        source.source_record_poll.inc(size)
        source.poll_batch_time.observe(2.0 if size == 100 else 6.0)
    source.source_record_write.inc(400)
    source.offset_commit_success.inc()
    source.offset_commit_time.observe(12.0)
    source.active = 37
    sink = metrics.for_task("snk", 0, "sink")
    sink.sink_record_read.inc(50)
    sink.sink_record_send.inc(50)
    sink.put_batch_time.observe(8.0)
    sink.set_lag("orders", 0, 5)
    sink.set_lag("orders", 1, 42)
    samples = _samples(metrics)
    src = {"connector": "src", "task": "0"}
    assert _value(samples, "kafka_connect_source_task_metrics_source_record_poll_rate", **src) == 400 / 10
    assert _value(samples, "kafka_connect_source_task_metrics_source_record_write_rate", **src) == 400 / 10
    assert _value(samples, "kafka_connect_connector_task_metrics_batch_size_avg", **src) == 200
    assert _value(samples, "kafka_connect_connector_task_metrics_batch_size_max", **src) == 300
    assert _value(samples, "kafka_connect_source_task_metrics_poll_batch_avg_time_ms", **src) == 4.0
    assert _value(samples, "kafka_connect_connector_task_metrics_offset_commit_avg_time_ms", **src) == 12.0
    assert _value(samples, "kafka_connect_connector_task_metrics_offset_commit_success_percentage", **src) == 1.0
    assert _value(samples, "kafka_connect_source_task_metrics_source_record_active_count", **src) == 37
    snk = {"connector": "snk", "task": "0"}
    assert _value(samples, "kafka_connect_sink_task_metrics_put_batch_avg_time_ms", **snk) == 8.0
    assert _value(samples, "kafka_connect_sink_task_metrics_sink_record_lag_max", **snk) == 42
    assert (
        _value(samples, "kafka_connect_sink_task_metrics_sink_record_lag", **snk, topic="orders", partition="1") == 42
    )
    clock.now += 120  # the window has passed: rates and averages fall back, totals stay
    samples = _samples(metrics)
    assert _value(samples, "kafka_connect_source_task_metrics_source_record_poll_rate", **src) == 0
    assert _value(samples, "kafka_connect_source_task_metrics_source_record_poll_total", **src) == 400
    sink.forget_lag([("orders", 1)])
    assert _value(_samples(metrics), "kafka_connect_sink_task_metrics_sink_record_lag_max", **snk) == 5


def test_worker_counts_connector_status_with_class_and_version_and_progress() -> None:
    clock = Clock()
    metrics = WorkerMetrics(clock=clock)
    report = TaskReport(clock=clock)
    report.progress(0, 1000, "rows", "table MARA")
    clock.now += 10
    report.progress(250, 1000, "rows", "table MARA")
    metrics.view = lambda: (
        [ConnectorView("sap", "RUNNING", "headwater.connectors.sap.SapRfcTableConnector", "1.2.3", "source")],
        [TaskView("sap", 0, "RUNNING", report), TaskView("sap", 1, "FAILED", None)],
    )
    metrics.connector_startup_success.inc()
    metrics.task_startup_failure.inc()
    samples = _samples(metrics)
    assert _value(samples, "kafka_connect_connect_worker_metrics_connector_count") == 1
    assert _value(samples, "kafka_connect_connect_worker_metrics_task_count") == 2
    assert _value(samples, "kafka_connect_connect_worker_metrics_connector_failed_task_count", connector="sap") == 1
    assert _value(samples, "kafka_connect_connect_worker_metrics_connector_running_task_count", connector="sap") == 1
    assert _value(samples, "kafka_connect_connect_worker_metrics_connector_startup_success_total") == 1
    assert _value(samples, "kafka_connect_connect_worker_metrics_task_startup_failure_total") == 1
    labels = {
        "connector": "sap",
        "connector_class": "headwater.connectors.sap.SapRfcTableConnector",
        "connector_version": "1.2.3",
        "connector_type": "source",
    }
    assert _value(samples, "kafka_connect_connector_metrics_status", **labels, status="running") == 1
    assert _value(samples, "kafka_connect_connector_metrics_status", **labels, status="failed") == 0
    assert (
        _value(samples, "kafka_connect_connector_task_metrics_status", connector="sap", task="1", status="failed") == 1
    )
    task = {"connector": "sap", "task": "0", "unit": "rows"}
    assert _value(samples, "headwater_task_progress_done", **task) == 250
    assert _value(samples, "headwater_task_progress_expected", **task) == 1000
    assert _value(samples, "headwater_task_progress_rate_per_second", **task) == 25
    assert _value(samples, "headwater_task_progress_eta_seconds", **task) == 30


def test_rebalance_metrics_of_a_distributed_worker() -> None:
    clock = Clock()
    metrics = WorkerMetrics(clock=clock)
    assert not any(name.startswith("kafka_connect_connect_worker_rebalance") for name, _l in _samples(metrics))
    metrics.rebalance = RebalanceStats(clock=clock)
    metrics.rebalance.started()
    clock.now += 0.5
    metrics.rebalance.completed()
    metrics.rebalance.started()
    assert _value(_samples(metrics), "kafka_connect_connect_worker_rebalance_metrics_rebalancing") == 1
    clock.now += 1.5
    metrics.rebalance.completed()
    clock.now += 3
    samples = _samples(metrics)
    assert _value(samples, "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total") == 2
    assert _value(samples, "kafka_connect_connect_worker_rebalance_metrics_rebalance_max_time_ms") == 1500
    assert _value(samples, "kafka_connect_connect_worker_rebalance_metrics_rebalance_avg_time_ms") == 1000
    assert _value(samples, "kafka_connect_connect_worker_rebalance_metrics_time_since_last_rebalance_ms") == 3000
    assert _value(samples, "kafka_connect_connect_worker_rebalance_metrics_rebalancing") == 0


def test_progress_rate_eta_and_a_new_load() -> None:
    clock = Clock()
    report = TaskReport(clock=clock)
    assert report.to_json() == {}
    report.progress(0, None, "bytes", None)
    clock.now += 4
    report.progress(4000, None, "bytes", "file A")
    assert report.to_json()["progress"] == {
        "done": 4000,
        "total": None,
        "unit": "bytes",
        "rate_per_s": 1000.0,
        "eta_s": None,
        "what": "file A",
    }
    clock.now += 60  # rate is over the last 30 s: an old start does not dilute it
    report.progress(34_000, 40_000, "bytes", "file A")
    progress = report.to_json()["progress"]
    assert progress["rate_per_s"] == pytest.approx(30_000 / 60, rel=0.01)
    clock.now += 30
    report.progress(49_000, 60_000, "bytes", "file B")
    progress = report.to_json()["progress"]
    assert progress["rate_per_s"] == 500.0 and progress["eta_s"] == 22.0
    clock.now += 31  # no report for a whole window: stalled, no ETA
    assert report.to_json()["progress"] | {"what": None} == {
        "done": 49_000,
        "total": 60_000,
        "unit": "bytes",
        "rate_per_s": 0,
        "eta_s": None,
        "what": None,
    }
    report.progress(100, 200, "rows", None)  # another unit: a new load, its rate starts over
    assert report.to_json()["progress"]["rate_per_s"] == 0 and report.to_json()["progress"]["eta_s"] is None
    report.progress(200, 200, "rows", None)
    assert report.to_json()["progress"]["eta_s"] == 0


def test_warning_counts_repeats_and_expires() -> None:
    clock = Clock()
    report = TaskReport(clock=clock)
    report.warn("Kafka client error _TRANSPORT: 127.0.0.1:9092 refused")
    clock.now += 1
    report.warn("Kafka client error _ALL_BROKERS_DOWN: 1/1 brokers are down")
    warning = report.to_json()["warning"]
    assert warning.startswith("Kafka client error _TRANSPORT: 127.0.0.1:9092 refused (since ")
    assert warning.endswith(", 2 errors; latest: Kafka client error _ALL_BROKERS_DOWN: 1/1 brokers are down)")
    report.clear_warning()
    assert "warning" not in report.to_json()
    report.warn("again")
    clock.now += 61
    assert "warning" not in report.to_json(), "a warning no error renews expires"


def test_task_context_progress_and_details_outside_a_worker_are_safe() -> None:
    context = SourceTaskContext("c", 0, offsets=t.cast(t.Any, None))
    context.progress(5, 10, "rows", what="table T")
    assert context.last_progress == (5, 10, "rows", "table T")
    context.status_detail("quarantined", [{"file": "x"}])  # no worker: nothing to do, no error
    with pytest.raises(ValueError, match="belongs to the runtime"):
        context.status_detail("state", "RUNNING")
    report = TaskReport()
    inside = SourceTaskContext("c", 0, offsets=t.cast(t.Any, None), status=report)
    inside.status_detail("quarantined", [{"file": "x"}])
    inside.progress(1, None)
    assert report.to_json()["quarantined"] == [{"file": "x"}]
    assert report.to_json()["progress"]["unit"] == "records"
    inside.status_detail("quarantined", None)
    assert "quarantined" not in report.to_json()
