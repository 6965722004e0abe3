"""Standard plugin tests: one line gives a plugin the whole suite.

In a test module::

    from headwater.conformance.standard import SourceHarness, get_source_test_class

    TestMySource = get_source_test_class(SourceHarness(
        connector_class=MySourceConnector,
        make_config=lambda tmp_path, topic: {"my.folder": str(tmp_path), "topic": topic},
        final_state=my_expected_state,
    ))

pytest collects the returned class. Tests that need Kafka use the real broker from the
``kafka_bootstrap_servers`` fixture, which this package's pytest plugin provides (it
starts a local KRaft broker, or uses ``$HEADWATER_BOOTSTRAP_SERVERS``). Tests gated on a
:class:`~headwater.connectors.api.Capability` skip themselves when the plugin does not
declare it.

Source suite: the config schema exports; a bad config is rejected per field; task
configs stay within ``tasks.max``; records carry JSON-safe partitions and offsets;
offsets round-trip through JSON; a resume after an abort loses nothing (duplicates only
from the uncommitted window); an idle poll returns quickly; the state check (folding
the change stream by key reproduces the source's final state); and the same through a
real Kafka and the real runtime.

Sink suite: put and flush write everything; a sink flushed twice writes once; a
replay is idempotent (if declared); a tombstone deletes (if declared); a bad record
is reported and the rest lands; and through a real Kafka and the real runtime, the
target equals the folded stream while a malformed message reaches the dead-letter topic
with Kafka Connect's ``__connect.errors.*`` headers.
"""

from __future__ import annotations

import json
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold, to_messages
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.api import (
    Capability,
    ErrantSourceRecord,
    SinkConnector,
    SinkRecord,
    SinkTaskContext,
    SourceConnector,
    SourceRecord,
    SourceTaskContext,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key

__all__ = ["SinkHarness", "SourceHarness", "drain", "get_sink_test_class", "get_source_test_class"]

State: t.TypeAlias = dict[str, dict[str, t.Any]]
"""Topic -> canonical key -> row."""


@dataclass(frozen=True)
class SourceHarness:
    """How to run one source plugin under the standard tests.

    Attributes:
        connector_class: the plugin.
        make_config: plugin keys (no framework keys) for a test, given a temp folder and
            a topic name (or prefix) unique to the test; it may write input data there.
        final_state: the state each topic must fold to, for a config built by
            ``make_config`` (the emulator's "final state").
        bad_config: plugin keys that must be rejected, and ``bad_keys`` the dotted keys
            the rejection must name.
        drain_timeout: seconds a drain may take before the test fails.
    """

    connector_class: type[SourceConnector[t.Any]]
    make_config: t.Callable[[Path, str], dict[str, str]]
    final_state: t.Callable[[PluginConfig], State]
    bad_config: t.Mapping[str, str] | None = None
    bad_keys: frozenset[str] = frozenset()
    drain_timeout: float = 120.0


@dataclass(frozen=True)
class SinkHarness:
    """How to run one sink plugin under the standard tests.

    Attributes:
        connector_class: the plugin.
        make_config: plugin keys for a test, given a temp folder and a name unique to
            the test (use it for a file, table or collection name).
        read_state: what the target holds for ``topic``, as canonical key -> row, given
            the validated plugin config.
        count_writes: optional; how many writes (lines, rows, invocations) the target has
            for ``topic``, to check that a second flush writes nothing.
        bad_value: a record value the sink must reject as a record error (None: skip).
    """

    connector_class: type[SinkConnector[t.Any]]
    make_config: t.Callable[[Path, str], dict[str, str]]
    read_state: t.Callable[[PluginConfig, str], dict[str, t.Any]]
    count_writes: t.Callable[[PluginConfig, str], int] | None = None
    bad_value: t.Any = None


def _requires(capability: Capability, plugin: type[t.Any]) -> None:
    if capability not in plugin.capabilities:
        pytest.skip(f"{plugin.name} does not declare {capability.value}")


def _json_safe_scalar_map(mapping: t.Any) -> bool:
    return isinstance(mapping, t.Mapping) and all(
        isinstance(key, str) and (value is None or isinstance(value, (str, int, bool))) and not isinstance(value, float)
        for key, value in mapping.items()
    )


def drain(task: t.Any, *, timeout: float, idle_polls: int = 5) -> list[SourceRecord | ErrantSourceRecord]:
    """Poll ``task`` until ``idle_polls`` polls in a row return nothing."""
    records: list[SourceRecord | ErrantSourceRecord] = []
    empty = 0
    deadline = time.monotonic() + timeout
    while empty < idle_polls:
        batch = task.poll()
        if batch:
            records.extend(batch)
            empty = 0
        else:
            empty += 1
            time.sleep(0.02)
        if time.monotonic() > deadline:
            msg = f"source did not go idle within {timeout} s ({len(records)} records so far)"
            raise AssertionError(msg)
    return records


def _fold_records(records: t.Iterable[SourceRecord | ErrantSourceRecord]) -> State:
    by_topic: dict[str, list[tuple[t.Any, t.Any]]] = {}
    for record in records:
        if isinstance(record, SourceRecord):
            by_topic.setdefault(record.topic, []).append((record.key, record.value))
    return {topic: fold(messages) for topic, messages in by_topic.items()}


def _normalise(state: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Compare rows as JSON would carry them (exact decimals as strings)."""
    return {key: json.loads(json.dumps(row, default=str, sort_keys=True)) for key, row in state.items()}


def get_source_test_class(harness: SourceHarness) -> type:
    """Build the standard source test class for ``harness``."""
    plugin = harness.connector_class

    class SourceStandardTests:
        __test__ = True

        def _config(self, tmp_path: Path, topic: str | None = None) -> PluginConfig:
            raw = harness.make_config(tmp_path, topic or f"conformance-{uuid.uuid4().hex[:8]}")
            return plugin.config_class.model_validate(raw)

        def _task(self, config: PluginConfig, store: MemoryOffsetStore, name: str = "conformance") -> t.Any:
            task_config = plugin(config).task_configs(1)[0]
            return plugin.task_class(task_config, SourceTaskContext(name, 0, ConnectorOffsets(store, name)))

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
                task.close()
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
                task.close()
            for record in records:
                assert json.loads(json.dumps(dict(record.offset))) == dict(record.offset)
                assert json.loads(json.dumps(dict(record.partition))) == dict(record.partition)

        def test_resume_after_abort_loses_nothing(self, tmp_path: Path) -> None:
            config = self._config(tmp_path)
            full_task = self._task(config, MemoryOffsetStore(), name="full")
            try:
                full = [r for r in drain(full_task, timeout=harness.drain_timeout) if isinstance(r, SourceRecord)]
            finally:
                full_task.close()
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
            first.close()  # abort: what was read after the commit is not durable
            resumed_task = self._task(config, store)
            try:
                resumed = [r for r in drain(resumed_task, timeout=harness.drain_timeout) if isinstance(r, SourceRecord)]
            finally:
                resumed_task.close()

            def stream(records: t.Iterable[SourceRecord]) -> dict[str, list[t.Any]]:
                out: dict[str, list[t.Any]] = {}
                for r in records:
                    out.setdefault(canonical_key(dict(r.partition)), []).append((r.topic, r.key, r.value))
                return out

            expected = stream(full)
            got = stream(seen[:committed])
            for partition, items in stream(resumed).items():
                got.setdefault(partition, []).extend(items)
            assert got == expected, "committed records plus the resumed run must equal one uninterrupted run"

        def test_idle_poll_returns_quickly(self, tmp_path: Path) -> None:
            task = self._task(self._config(tmp_path), MemoryOffsetStore())
            try:
                drain(task, timeout=harness.drain_timeout)
                started = time.monotonic()
                assert list(task.poll()) == []
                assert time.monotonic() - started < 2.0, "an idle poll must return within about a second"
            finally:
                task.close()

        def test_state_check(self, tmp_path: Path) -> None:
            config = self._config(tmp_path)
            task = self._task(config, MemoryOffsetStore())
            try:
                records = drain(task, timeout=harness.drain_timeout)
            finally:
                task.close()
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

    SourceStandardTests.__name__ = f"Test{plugin.__name__}Standard"
    SourceStandardTests.__qualname__ = SourceStandardTests.__name__
    return SourceStandardTests


def _source_idle(worker: t.Any, name: str, window: float = 1.5) -> bool:
    """True when the connector's polled count has not moved for ``window`` seconds."""
    metrics = worker.metrics
    counter = metrics.source_record_poll.labels(connector=name, task="0")
    before = counter._value.get()
    time.sleep(window)
    return bool(counter._value.get() == before)


def _test_stream(count: int = 400, keys: int = 40, seed: int = 3) -> list[tuple[t.Any, t.Any]]:
    """A change stream with creates, updates, deletes and tombstones."""
    from headwater.connectors.datagen.client import TableGenerator

    generator = TableGenerator("customers", seed=seed, keys=keys)
    messages: list[tuple[t.Any, t.Any]] = []
    for _ in range(count):
        messages.extend(to_messages(generator.next_event()))
    return messages


def _as_sink_records(topic: str, messages: t.Sequence[tuple[t.Any, t.Any]], start: int = 0) -> list[SinkRecord]:
    """Records as the runtime hands them over: through the JSON converter and back."""
    converter = JsonConverter()
    return [
        SinkRecord(
            topic,
            0,
            start + i,
            converter.from_bytes(topic, converter.to_bytes(topic, key)),
            converter.from_bytes(topic, converter.to_bytes(topic, value)),
            (),
            1_700_000_000_000 + i,
        )
        for i, (key, value) in enumerate(messages)
    ]


def get_sink_test_class(harness: SinkHarness) -> type:
    """Build the standard sink test class for ``harness``."""
    plugin = harness.connector_class

    class SinkStandardTests:
        __test__ = True

        def _setup(self, tmp_path: Path) -> tuple[PluginConfig, str, t.Any, list[tuple[SinkRecord, BaseException]]]:
            name = f"conformance_{uuid.uuid4().hex[:8]}"
            config = plugin.config_class.model_validate(harness.make_config(tmp_path, name))
            reported: list[tuple[SinkRecord, BaseException]] = []
            task_config = plugin(config).task_configs(1)[0]
            task = plugin.task_class(
                task_config, SinkTaskContext("conformance", 0, report=lambda r, e: reported.append((r, e)))
            )
            return config, name, task, reported

        def test_put_flush_writes_all(self, tmp_path: Path) -> None:
            config, topic, task, reported = self._setup(tmp_path)
            messages = _test_stream()
            try:
                task.put(_as_sink_records(topic, messages))
                task.flush()
            finally:
                task.close()
            assert not reported
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        def test_flush_twice_writes_once(self, tmp_path: Path) -> None:
            config, topic, task, _ = self._setup(tmp_path)
            messages = _test_stream(count=50)
            try:
                task.put(_as_sink_records(topic, messages))
                task.flush()
                state = harness.read_state(config, topic)
                writes = harness.count_writes(config, topic) if harness.count_writes else None
                task.flush()
            finally:
                task.close()
            assert harness.read_state(config, topic) == state
            if harness.count_writes is not None:
                assert harness.count_writes(config, topic) == writes

        def test_empty_flush_is_a_noop(self, tmp_path: Path) -> None:
            config, topic, task, reported = self._setup(tmp_path)
            try:
                task.put([])
                task.flush()
            finally:
                task.close()
            assert not reported
            assert harness.read_state(config, topic) == {}

        def test_replay_is_idempotent(self, tmp_path: Path) -> None:
            _requires(Capability.IDEMPOTENT_WRITES, plugin)
            config, topic, task, _ = self._setup(tmp_path)
            messages = _test_stream()
            records = _as_sink_records(topic, messages)
            try:
                task.put(records)
                task.flush()
                task.put(records[len(records) // 3 :])
                task.flush()
            finally:
                task.close()
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        def test_tombstone_deletes(self, tmp_path: Path) -> None:
            _requires(Capability.DELETES, plugin)
            config, topic, task, _ = self._setup(tmp_path)
            from headwater.connectors.datagen.client import TableGenerator

            generator = TableGenerator("customers", seed=11, keys=5)
            create = generator.next_event()
            key = create.key
            row = dict(create.after or {})
            delete_value = {"before": row, "after": None, "source": {}, "op": "d", "ts_ms": 0}
            messages = [(key, create.value()), (key, delete_value), (key, None)]
            try:
                task.put(_as_sink_records(topic, messages[:1]))
                task.flush()
                assert canonical_key(key) in harness.read_state(config, topic)
                task.put(_as_sink_records(topic, messages[1:], start=1))
                task.flush()
            finally:
                task.close()
            assert canonical_key(key) not in harness.read_state(config, topic)

        def test_bad_record_is_reported_and_the_rest_lands(self, tmp_path: Path) -> None:
            if harness.bad_value is None:
                pytest.skip("harness gives no bad value")
            config, topic, task, reported = self._setup(tmp_path)
            messages = _test_stream(count=40, keys=1000)
            half = len(messages) // 2
            before = _as_sink_records(topic, messages[:half])
            bad = SinkRecord(topic, 0, half, {"id": -1}, harness.bad_value, (), 0)
            after = _as_sink_records(topic, messages[half:], start=half + 1)
            try:
                task.put([*before, bad, *after])
                task.flush()
            finally:
                task.close()
            assert [r.offset for r, _ in reported] == [bad.offset]
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        @pytest.mark.kafka
        def test_state_and_dead_letters_through_kafka(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            from confluent_kafka import Producer

            from headwater.conformance.kafka import consume_all, create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            topic = name
            dlq = f"{name}-dlq"
            create_topic(kafka_bootstrap_servers, topic)
            messages = _test_stream()
            converter = JsonConverter()
            producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
            bad_offset = len(messages) // 2
            for i, (key, value) in enumerate(messages):
                if i == bad_offset:
                    producer.produce(topic, value=b"{not json", key=converter.to_bytes(topic, {"id": -1}))
                producer.produce(topic, value=converter.to_bytes(topic, value), key=converter.to_bytes(topic, key))
            assert producer.flush(30) == 0
            raw = harness.make_config(tmp_path, name)
            connector = parse_connector(
                {
                    "name": f"sink-{name}",
                    "config": {
                        "connector.class": f"{plugin.__module__}:{plugin.__qualname__}",
                        "topics": topic,
                        "errors.tolerance": "all",
                        "errors.deadletterqueue.topic.name": dlq,
                        **raw,
                    },
                }
            )
            worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
            expected = _normalise(fold(messages))
            worker.start()
            try:
                deadline = time.monotonic() + 90
                while _normalise(harness.read_state(connector.plugin_config, topic)) != expected:
                    status = worker.status(connector.framework.name)
                    assert all(task["state"] != "FAILED" for task in status["tasks"]), status
                    assert time.monotonic() < deadline, "sink did not reach the folded state in time"
                    time.sleep(0.3)
            finally:
                assert worker.stop(30)
            dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=1)
            assert len(dead) == 1
            headers = dict(dead[0].headers() or [])
            assert dead[0].value() == b"{not json"
            assert headers["__connect.errors.topic"] == topic.encode()
            assert headers["__connect.errors.offset"] == str(bad_offset).encode()
            assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
            assert b"RecordError" in headers["__connect.errors.exception.class.name"]

    SinkStandardTests.__name__ = f"Test{plugin.__name__}Standard"
    SinkStandardTests.__qualname__ = SinkStandardTests.__name__
    return SinkStandardTests
