"""The standard source tests (see :mod:`headwater.conformance.standard`)."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.conformance.standard import (
    SourceHarness,
    _fold_records,
    _json_safe_scalar_map,
    _normalise,
    _requires,
    drain,
)
from headwater.connectors.api import (
    Capability,
    OffsetMarker,
    SourceRecord,
    SourceTaskContext,
    TransactionContext,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError, RetriableError
from headwater.connectors.loading import ConnectorFile, parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key
from headwater.connectors.runtime.worker import Worker

__all__ = ["get_source_test_class"]


def get_source_test_class(harness: SourceHarness) -> type:
    """Build the standard source test class for ``harness``."""
    plugin = harness.connector_class

    class SourceStandardTests:
        __test__ = True

        def _config(self, tmp_path: Path, topic: str | None = None) -> PluginConfig:
            raw = harness.make_config(tmp_path, topic or f"conformance-{uuid.uuid4().hex[:8]}")
            return plugin.config_class.model_validate(raw)

        def _task(
            self,
            config: PluginConfig,
            store: MemoryOffsetStore,
            name: str = "conformance",
            transactions: TransactionContext | None = None,
        ) -> t.Any:
            connector = plugin(config)
            connector.start()
            try:
                task_config = connector.task_configs(1)[0]
            finally:
                connector.stop()
            context = SourceTaskContext(name, 0, ConnectorOffsets(store, name), transactions=transactions)
            return harness.build_task(task_config, context)

        @contextlib.contextmanager
        def _running(
            self,
            tmp_path: Path,
            bootstrap: str,
            topic: str,
            observed: _Observed,
            *,
            connector_keys: t.Mapping[str, str] | None = None,
            before_poll: t.Callable[[int], None] | None = None,
            plugin_class: type[t.Any] | None = None,
            **worker_settings: t.Any,
        ) -> t.Iterator[tuple[Worker, ConnectorFile]]:
            """The connector in a started in-process worker, its tasks built through the
            harness and observed; stopped (cleanly) on exit."""
            raw = harness.make_config(tmp_path, topic)
            connector = parse_connector(
                {
                    "name": f"src-{topic}",
                    "config": {
                        "connector.class": f"{plugin.__module__}:{plugin.__qualname__}",
                        **raw,
                        **(connector_keys or {}),
                    },
                }
            )
            if plugin_class is not None:
                connector = connector._replace(plugin_class=plugin_class)
            factory = _observing_factory(harness, observed, before_poll)
            worker = in_process_worker(bootstrap, tmp_path, [connector], task_factory=factory, **worker_settings)
            worker.start()
            try:
                yield worker, connector
            finally:
                assert worker.stop(30), "the worker did not stop within 30 s"

        def test_config_schema_exports(self) -> None:
            schema = plugin.config_class.model_json_schema(by_alias=True)
            assert json.loads(json.dumps(schema)) == schema
            aliases = {info.alias or name for name, info in plugin.config_class.model_fields.items()}
            assert set(schema["properties"]) == aliases

        def test_bad_config_rejected_per_field(self) -> None:
            if harness.bad_config is None:
                pytest.skip("harness gives no bad config")
            document = {
                "name": "bad",
                "config": {"connector.class": f"{plugin.__module__}:{plugin.__qualname__}", **harness.bad_config},
            }
            with pytest.raises(ConfigError) as caught:
                parse_connector(document)
            named = {error.key for error in caught.value.errors}
            assert harness.bad_keys <= named, f"rejection named {named}, expected at least {set(harness.bad_keys)}"

        def test_task_configs_within_max_tasks(self, tmp_path: Path) -> None:
            connector = plugin(self._config(tmp_path))
            for max_tasks in (1, 2, 4):
                configs = connector.task_configs(max_tasks)
                assert 1 <= len(configs) <= max_tasks
                assert all(isinstance(config, plugin.config_class) for config in configs)

        def test_records_carry_partition_and_offset(self, tmp_path: Path) -> None:
            task = self._task(self._config(tmp_path), MemoryOffsetStore())
            try:
                records = drain(task, timeout=harness.drain_timeout)
            finally:
                task.stop()
            assert records, "the source returned no records"
            for record in records:
                assert _json_safe_scalar_map(record.partition), (
                    f"partition is not a JSON-scalar map: {record.partition!r}"
                )
                assert _json_safe_scalar_map(record.offset), f"offset is not a JSON-scalar map: {record.offset!r}"
                if isinstance(record, SourceRecord):
                    assert record.topic

        def test_offsets_json_roundtrip(self, tmp_path: Path) -> None:
            task = self._task(self._config(tmp_path), MemoryOffsetStore())
            try:
                records = drain(task, timeout=harness.drain_timeout)
            finally:
                task.stop()
            for record in records:
                assert json.loads(json.dumps(dict(record.offset))) == dict(record.offset)
                assert json.loads(json.dumps(dict(record.partition))) == dict(record.partition)

        def test_resume_after_abort_loses_nothing(self, tmp_path: Path) -> None:
            config = self._config(tmp_path)
            full_task = self._task(config, MemoryOffsetStore(), name="full")
            try:
                full = [r for r in drain(full_task, timeout=harness.drain_timeout) if isinstance(r, SourceRecord)]
            finally:
                full_task.stop()
            assert len(full) >= 2, "need at least two records to abort in between"
            store = MemoryOffsetStore()
            first = self._task(config, store)
            seen: list[SourceRecord] = []
            committed = 0
            while len(seen) < len(full) // 2:
                batch = [r for r in first.poll() if isinstance(r, SourceRecord)]
                if not batch:
                    continue
                seen.extend(batch)
                if committed == 0:
                    # Commit after the first batch, as the runtime would after the acks.
                    committed = len(seen)
                    latest = {offset_key("conformance", r.partition): r.offset for r in seen}
                    store.put_many(latest)
            first.stop()  # abort: what was read after the commit is not durable
            resumed_task = self._task(config, store)
            try:
                resumed = [r for r in drain(resumed_task, timeout=harness.drain_timeout) if isinstance(r, SourceRecord)]
            finally:
                resumed_task.stop()

            def stream(records: t.Iterable[SourceRecord]) -> dict[str, list[t.Any]]:
                out: dict[str, list[t.Any]] = {}
                for r in records:
                    out.setdefault(canonical_key(dict(r.partition)), []).append((r.topic, r.key, r.value))
                return out

            expected = stream(full)
            got = stream(seen[:committed])
            for partition, items in stream(resumed).items():
                got.setdefault(partition, []).extend(items)
            if harness.resume_repeats is None:
                assert got == expected, "committed records plus the resumed run must equal one uninterrupted run"
                return
            # At least once (harness.resume_repeats says why): nothing lost, in order per
            # source partition, and the same last record per key.
            for partition, items in expected.items():
                remaining = iter(got.get(partition, []))
                missing = [item for item in items if not any(item == other for other in remaining)]
                assert not missing, f"{partition}: {len(missing)} record(s) lost or out of order, first {missing[0]}"
            last_expected = {
                (topic, canonical_key(key)): value for items in expected.values() for topic, key, value in items
            }
            last_got = {(topic, canonical_key(key)): value for items in got.values() for topic, key, value in items}
            assert last_got == last_expected, "the resumed run must end in the same record per key"

        def test_idle_poll_returns_quickly(self, tmp_path: Path) -> None:
            task = self._task(self._config(tmp_path), MemoryOffsetStore())
            try:
                drain(task, timeout=harness.drain_timeout)
                started = time.monotonic()
                assert list(task.poll()) == []
                assert time.monotonic() - started < 2.0, "an idle poll must return within about a second"
            finally:
                task.stop()

        def test_state_check(self, tmp_path: Path) -> None:
            config = self._config(tmp_path)
            task = self._task(config, MemoryOffsetStore())
            try:
                records = drain(task, timeout=harness.drain_timeout)
            finally:
                task.stop()
            folded = _fold_records(records)
            expected = harness.final_state(config)
            assert set(folded) >= {topic for topic, rows in expected.items() if rows}
            for topic, rows in expected.items():
                assert _normalise(folded.get(topic, {})) == _normalise(rows), (
                    f"topic {topic} folds to a different state"
                )

        @pytest.mark.kafka
        def test_state_check_through_kafka(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            from headwater.conformance.kafka import consume_all

            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            raw = harness.make_config(tmp_path, topic)
            connector = parse_connector(
                {
                    "name": f"src-{topic}",
                    "config": {"connector.class": f"{plugin.__module__}:{plugin.__qualname__}", **raw},
                }
            )
            expected = harness.final_state(connector.plugin_config)
            worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
            worker.start()
            try:
                deadline = time.monotonic() + harness.drain_timeout
                while True:
                    status = worker.status(connector.framework.name)
                    assert all(task["state"] != "FAILED" for task in status["tasks"]), status
                    stored = ConnectorOffsets(worker.offset_store, connector.framework.name).all()
                    if stored and _source_idle(worker, connector.framework.name):
                        break
                    assert time.monotonic() < deadline, "source did not finish in time"
                    time.sleep(0.5)
            finally:
                assert worker.stop(30)
            converter = JsonConverter()
            for out_topic, rows in expected.items():
                messages = consume_all(kafka_bootstrap_servers, out_topic, min_messages=1 if rows else 0)
                folded = fold(
                    (converter.from_bytes(out_topic, m.key()), converter.from_bytes(out_topic, m.value()))
                    for m in messages
                )
                assert _normalise(folded) == _normalise(rows), f"topic {out_topic} folds to a different state"

        @pytest.mark.kafka
        def test_offset_markers_advance_offsets_through_kafka(
            self, tmp_path: Path, kafka_bootstrap_servers: str
        ) -> None:
            """An OffsetMarker ending a partition is stored as its offset; no record is written for it."""
            from headwater.conformance.kafka import consume_all

            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            config = plugin.config_class.model_validate(harness.make_config(_folder(tmp_path / "direct"), topic))
            task = self._task(config, MemoryOffsetStore())
            try:
                items = drain(task, timeout=harness.drain_timeout)
            finally:
                task.stop()
            last: dict[str, t.Any] = {}
            records_per_topic: dict[str, int] = {}
            for item in items:
                last[canonical_key(dict(item.partition))] = item
                if isinstance(item, SourceRecord):
                    records_per_topic[item.topic] = records_per_topic.get(item.topic, 0) + 1
            ending = {key: item for key, item in last.items() if isinstance(item, OffsetMarker)}
            if not ending:
                pytest.skip(f"{plugin.name} ends no partition with an OffsetMarker for this config")
            observed = _Observed()
            with self._running(tmp_path, kafka_bootstrap_servers, topic, observed) as (worker, connector):
                stored = ConnectorOffsets(worker.offset_store, connector.framework.name)

                def markers_stored() -> bool:
                    return all(stored.offset(m.partition) == dict(m.offset) for m in ending.values())

                wait_for(markers_stored, timeout=harness.drain_timeout, what="the markers' offsets", worker=worker)
            for out_topic, count in records_per_topic.items():
                messages = consume_all(kafka_bootstrap_servers, out_topic, min_messages=count)
                assert len(messages) == count, f"{out_topic}: {len(messages)} records for {count} SourceRecords"

        @pytest.mark.kafka
        def test_connector_transactions_whole_or_nothing(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            """transaction.boundary=connector: a read_committed consumer sees each committed
            transaction whole and once, never an aborted one, even after a crash inside one."""
            from headwater.conformance.kafka import consume_all

            _requires(Capability.TRANSACTION_BOUNDARIES, plugin)
            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            config = plugin.config_class.model_validate(harness.make_config(_folder(tmp_path / "direct"), topic))
            recorder = _RecordingTransactions()
            task = self._task(config, MemoryOffsetStore(), transactions=recorder)
            committed: list[list[SourceRecord]] = []
            aborted: list[list[SourceRecord]] = []
            open_after: list[bool] = []
            closed_after: list[dict[str, int]] = []
            """Per poll: the records of the transactions committed by its end, per topic."""
            current: list[SourceRecord] = []
            try:
                empty, deadline = 0, time.monotonic() + harness.drain_timeout
                while empty < 5:
                    batch = list(task.poll())
                    after, at_end = recorder.take()
                    for item in batch:
                        if isinstance(item, SourceRecord):
                            current.append(item)
                        action = after.pop(id(item), None)
                        if action is not None:
                            (committed if action == "commit" else aborted).append(current)
                            current = []
                    if at_end is not None:
                        (committed if at_end == "commit" else aborted).append(current)
                        current = []
                    assert not after, "a transaction mark named a record that poll() did not return"
                    open_after.append(bool(current))
                    closed_after.append(_count_topics(r for transaction in committed for r in transaction))
                    empty = 0 if batch else empty + 1
                    assert time.monotonic() < deadline, "source did not go idle in time"
            finally:
                task.stop()
            if not any(committed):
                pytest.skip(f"{plugin.name} marked no transaction for this config")
            # Crash in a poll while a transaction spans polls (records sent, not yet committed).
            crash_at = next((index + 1 for index, spans in enumerate(open_after) if spans), 1)
            crashed: list[int] = []
            visible_at_crash: dict[str, int] = {}

            def crash(index: int) -> None:
                if index == crash_at and not crashed:
                    crashed.append(index)
                    # What a read_committed consumer sees now: the transactions closed so far, no more.
                    for out_topic in closed_after[-1]:
                        visible_at_crash[out_topic] = len(consume_all(kafka_bootstrap_servers, out_topic, idle=0.2))
                    msg = "conformance: injected crash inside an open transaction"
                    raise RuntimeError(msg)

            expected: dict[str, list[tuple[t.Any, t.Any]]] = {}
            for transaction in committed:
                for record in transaction:
                    expected.setdefault(record.topic, []).append(_as_json(record.key, record.value))
            never = {_dumps(_as_json(r.key, r.value)) for transaction in aborted for r in transaction}
            prefix = uuid.uuid4().hex[:8]
            observed = _Observed()
            converter = JsonConverter()
            with self._running(
                tmp_path,
                kafka_bootstrap_servers,
                topic,
                observed,
                connector_keys={"transaction.boundary": "connector", "task.restart.backoff.initial.ms": "100"},
                before_poll=crash,
                exactly_once_source_support="enabled",
                offset_storage_topic=f"conformance-offsets-{prefix}",
                transactional_id_prefix=f"conformance-{prefix}",
            ):
                got = {}
                for out_topic, messages in expected.items():
                    read = consume_all(
                        kafka_bootstrap_servers, out_topic, timeout=harness.drain_timeout, min_messages=len(messages)
                    )
                    got[out_topic] = [
                        _as_json(converter.from_bytes(out_topic, m.key()), converter.from_bytes(out_topic, m.value()))
                        for m in read
                    ]
            assert crashed, "the injected crash never happened"
            closed = {topic: closed_after[crash_at - 1].get(topic, 0) for topic in visible_at_crash}
            assert visible_at_crash == closed, (
                f"inside an open transaction a read_committed consumer saw {visible_at_crash} records; only the "
                f"{closed} of the transactions committed before may be visible"
            )
            for out_topic, messages in expected.items():
                seen = got[out_topic]
                assert not {_dumps(m) for m in seen} & never - {_dumps(m) for m in messages}, (
                    f"{out_topic}: a record of an aborted transaction is visible"
                )
                assert _dumps(seen) == _dumps(messages), (
                    f"{out_topic}: read_committed sees {len(seen)} records, expected the {len(messages)} of the "
                    "committed transactions, each once and whole"
                )

        @pytest.mark.kafka
        def test_runtime_waits_as_next_poll_in_asks(
            self, tmp_path: Path, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
        ) -> None:
            """No poll sleeps; the runtime waits what next_poll_in asked; no busy loop when idle."""
            observed = _Observed()
            real_sleep = time.sleep

            def spy(seconds: float) -> None:
                if getattr(observed.polling, "active", False):
                    observed.sleeps.append(seconds)
                real_sleep(seconds)

            monkeypatch.setattr(time, "sleep", spy)
            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            with self._running(tmp_path, kafka_bootstrap_servers, topic, observed) as (worker, _connector):
                wait_for(lambda: observed.idle_for(2.0), timeout=harness.drain_timeout, what="idle", worker=worker)
            polls = list(observed.polls)
            assert not observed.sleeps, (
                f"poll() slept {observed.sleeps[:3]} s: call context.next_poll_in(ms) and return instead"
            )
            slow = [p for p in polls if p.count == 0 and p.ended - p.started > 1.0]
            assert not slow, f"an idle poll took {slow[0].ended - slow[0].started:.2f} s (at most about a second)"
            asked = [(a, b) for a, b in itertools.pairwise(polls) if a.delay_ms > 0 and a.instance == b.instance]
            for before, after in asked:
                gap = after.started - before.ended
                assert gap >= before.delay_ms / 1000 * 0.9 - 0.01, (
                    f"the task asked next_poll_in({before.delay_ms}) but was polled again after {gap * 1000:.0f} ms"
                )
            last_busy = max((p.ended for p in polls if p.count), default=polls[0].started)
            idle = [p for p in polls if p.started > last_busy]
            window = idle[-1].ended - idle[0].started if len(idle) > 1 else 0.0
            if window > 0.5:
                assert len(idle) / window <= 25, f"{len(idle)} idle polls in {window:.1f} s: a busy loop"

        @pytest.mark.kafka
        def test_retry_after_respected(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            """A poll raising RetriableError(retry_after_ms=800) is not retried sooner."""
            observed = _Observed()

            def throttle(index: int) -> None:
                if index == 0:
                    msg = "conformance: throttled, retry in 800 ms"
                    raise RetriableError(msg, retry_after_ms=800)

            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            with self._running(tmp_path, kafka_bootstrap_servers, topic, observed, before_poll=throttle) as (
                worker,
                _connector,
            ):
                wait_for(lambda: len(observed.attempts) >= 2, timeout=30, what="the retried poll", worker=worker)
            gap = observed.attempts[1] - observed.attempts[0]
            assert gap >= 0.8, f"retried after {gap * 1000:.0f} ms although the error said 800 ms"

        @pytest.mark.kafka
        def test_scratch_dir_and_plugin_metrics(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            """The task's scratch folder is under the worker's scratch.dir; its metrics are on /metrics."""
            from prometheus_client import generate_latest

            observed = _Observed()
            scratch = tmp_path / "scratch"
            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            with self._running(tmp_path, kafka_bootstrap_servers, topic, observed, scratch_dir=str(scratch)) as (
                worker,
                connector,
            ):
                wait_for(lambda: observed.idle_for(1.0), timeout=harness.drain_timeout, what="idle", worker=worker)
                exposition = generate_latest(worker.metrics.registry).decode()
            name = connector.framework.name
            folder = Path(observed.contexts[0].scratch_dir)
            assert folder.is_relative_to(scratch / name), f"scratch dir {folder} is not under {scratch / name}"
            assert folder.is_dir()
            if not observed.metric_names:
                pytest.skip(f"{plugin.name} defines no plugin metrics")
            for metric in sorted(observed.metric_names):
                pattern = re.compile(
                    rf'^headwater_plugin_\w*{re.escape(metric)}(_total)?\{{[^}}]*connector="{re.escape(name)}"'
                    rf'[^}}]*task="0"',
                    re.MULTILINE,
                )
                assert pattern.search(exposition), f"plugin metric {metric} of {name} task 0 is not on /metrics"

        @pytest.mark.kafka
        def test_connector_lifecycle_and_reconfiguration(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            """start() before task_configs, stop() on STOPPED and worker stop; a reconfiguration
            request restarts the tasks with the new list."""
            calls: list[str] = []
            instances: list[t.Any] = []
            limit = [1]

            class Probe(plugin):  # type: ignore[valid-type,misc]
                def start(self) -> None:
                    calls.append("start")
                    instances.append(self)
                    super().start()

                def task_configs(self, max_tasks: int) -> list[t.Any]:
                    calls.append("task_configs")
                    return list(super().task_configs(min(max_tasks, limit[0])))

                def stop(self) -> None:
                    calls.append("stop")
                    super().stop()

            observed = _Observed()
            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            with self._running(
                tmp_path,
                kafka_bootstrap_servers,
                topic,
                observed,
                connector_keys={"tasks.max": "2"},
                plugin_class=Probe,
            ) as (worker, connector):
                name = connector.framework.name
                assert calls[:2] == ["start", "task_configs"], f"lifecycle calls: {calls}"
                assert len(worker.status(name)["tasks"]) == 1
                probe = plugin(connector.plugin_config)
                probe.start()
                try:
                    can_split = len(probe.task_configs(2)) >= 2
                finally:
                    probe.stop()
                if can_split:
                    limit[0] = 2
                    instances[-1].context.request_task_reconfiguration()

                    def two_running() -> bool:
                        tasks = worker.status(name)["tasks"]
                        return len(tasks) == 2 and all(task["state"] == "RUNNING" for task in tasks)

                    wait_for(two_running, timeout=30, what="the reconfigured tasks", worker=worker)
                worker.stop_connector(name)
                assert calls[-1] == "stop", f"the connector was not stopped with STOPPED: {calls}"
                worker.resume(name)
                assert calls.count("start") == 2, f"a resumed connector must be started again: {calls}"
            assert calls[-1] == "stop", f"worker stop must stop the connector: {calls}"
            assert calls.count("stop") == 2, f"one stop per start: {calls}"
            if not can_split:
                pytest.skip(f"{plugin.name} gives one task config only; reconfiguration not exercised")

        @pytest.mark.kafka
        def test_alter_offsets_refuses_bad_offsets(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            """alter_offsets refuses the harness's bad offsets with a ConfigError; nothing is written."""
            from headwater.connectors.runtime.admin import StandaloneAdmin

            if harness.bad_offsets is None:
                pytest.skip("harness gives no bad offsets")
            observed = _Observed()
            topic = f"conformance-{uuid.uuid4().hex[:8]}"
            with self._running(tmp_path, kafka_bootstrap_servers, topic, observed) as (worker, connector):
                name = connector.framework.name
                admin = StandaloneAdmin(worker)
                worker.stop_connector(name)
                before = admin.offsets(name)
                with pytest.raises(ConfigError):
                    admin.alter_offsets(name, {"offsets": [dict(entry) for entry in harness.bad_offsets]})
                with pytest.raises(ConfigError):
                    admin.alter_offsets(name, {"offsets": [*before, *harness.bad_offsets]})
                assert admin.offsets(name) == before, "a refused alter wrote offsets"

    SourceStandardTests.__name__ = f"Test{plugin.__name__}Standard"
    SourceStandardTests.__qualname__ = SourceStandardTests.__name__
    return SourceStandardTests


@dataclass
class _Poll:
    """One poll the runtime made, as the suite's task wrapper saw it."""

    instance: int
    started: float
    ended: float
    count: int
    delay_ms: int


class _Observed:
    """What the suite saw of the tasks the runtime built (all instances, restarts included)."""

    def __init__(self) -> None:
        self.polls: list[_Poll] = []
        self.attempts: list[float] = []
        """The start of every poll, including those that raised."""
        self.contexts: list[SourceTaskContext] = []
        self.metric_names: set[str] = set()
        self.sleeps: list[float] = []
        self.polling = threading.local()
        """``active`` is set on a task's thread while it is inside ``poll()``."""

    def idle_for(self, seconds: float) -> bool:
        """True when polls returned nothing for ``seconds`` (and at least two did)."""
        polls = list(self.polls)
        if not polls:
            return False
        last_busy = max((p.ended for p in polls if p.count), default=polls[0].started)
        after = [p for p in polls if p.started > last_busy]
        return len(after) >= 2 and time.monotonic() - last_busy >= seconds


class _RecordingMetrics:
    """Passes a plugin's metric definitions on, remembering their names."""

    def __init__(self, inner: t.Any, names: set[str]) -> None:
        self._inner = inner
        self._names = names

    def counter(self, name: str, doc: str) -> t.Any:
        self._names.add(name)
        return self._inner.counter(name, doc)

    def gauge(self, name: str, doc: str) -> t.Any:
        self._names.add(name)
        return self._inner.gauge(name, doc)


class _ObservedTask:
    """A task wrapper that records each poll and may inject a failure before one."""

    def __init__(
        self, inner: t.Any, context: SourceTaskContext, observed: _Observed, before: t.Callable[[int], None] | None
    ) -> None:
        self._inner = inner
        self._context = context
        self._observed = observed
        self._before = before
        self._instance = len(observed.contexts)

    def poll(self) -> t.Any:
        observed = self._observed
        started = time.monotonic()
        index = len(observed.attempts)
        observed.attempts.append(started)
        if self._before is not None:
            self._before(index)
        observed.polling.active = True
        try:
            result = self._inner.poll()
        finally:
            observed.polling.active = False
        delay = getattr(self._context, "next_poll_delay_ms", 0)
        observed.polls.append(_Poll(self._instance, started, time.monotonic(), len(result), delay))
        return result

    def commit(self, offsets: t.Any) -> None:
        self._inner.commit(offsets)

    def stop(self) -> None:
        self._inner.stop()


def _observing_factory(
    harness: SourceHarness, observed: _Observed, before: t.Callable[[int], None] | None
) -> t.Callable[[type[t.Any], PluginConfig, t.Any], t.Any]:
    """The worker's task factory: the harness's ``make_task``, wrapped to observe the task."""

    def build(task_class: type[t.Any], config: PluginConfig, context: t.Any) -> t.Any:
        context.metrics = _RecordingMetrics(context.metrics, observed.metric_names)
        task = harness.make_task(task_class, config, context) if harness.make_task else task_class(config, context)
        wrapped = _ObservedTask(task, context, observed, before)
        observed.contexts.append(context)
        return wrapped

    return build


class _RecordingTransactions:
    """A TransactionContext that records the marks of each poll (for a direct run)."""

    def __init__(self) -> None:
        self.after: dict[int, str] = {}
        self.at_end: str | None = None

    def commit_transaction(self, record: t.Any = None) -> None:
        self._mark("commit", record)

    def abort_transaction(self, record: t.Any = None) -> None:
        self._mark("abort", record)

    def _mark(self, action: str, record: t.Any) -> None:
        if record is None:
            self.at_end = action
        else:
            self.after[id(record)] = action

    def take(self) -> tuple[dict[int, str], str | None]:
        after, at_end = self.after, self.at_end
        self.after, self.at_end = {}, None
        return after, at_end


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _count_topics(records: t.Iterable[SourceRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.topic] = counts.get(record.topic, 0) + 1
    return counts


def _as_json(key: t.Any, value: t.Any) -> t.Any:
    """A (key, value) pair as JSON carries it, for comparing polled and consumed records."""
    return json.loads(json.dumps([key, value], default=str))


def _dumps(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _source_idle(worker: t.Any, name: str, window: float = 1.5) -> bool:
    """True when the connector's polled count has not moved for ``window`` seconds."""
    metrics = worker.metrics
    counter = metrics.source_record_poll.labels(connector=name, task="0")
    before = counter._value.get()
    time.sleep(window)
    return bool(counter._value.get() == before)
