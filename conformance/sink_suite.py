"""The standard sink tests (see :mod:`headwater.conformance.standard`)."""

from __future__ import annotations

import time
import typing as t
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold, to_messages
from headwater.conformance.runtime import in_process_worker
from headwater.conformance.standard import SinkHarness, _normalise, _requires
from headwater.connectors.api import (
    Capability,
    SinkRecord,
    SinkTaskContext,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.loading import parse_connector

__all__ = ["get_sink_test_class"]


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
                task.stop()
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
                task.stop()
            assert harness.read_state(config, topic) == state
            if harness.count_writes is not None:
                assert harness.count_writes(config, topic) == writes

        def test_empty_flush_is_a_noop(self, tmp_path: Path) -> None:
            config, topic, task, reported = self._setup(tmp_path)
            try:
                task.put([])
                task.flush()
            finally:
                task.stop()
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
                task.stop()
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
                task.stop()
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
                task.stop()
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
