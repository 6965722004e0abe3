"""The standard source tests (see :mod:`headwater.conformance.standard`)."""

from __future__ import annotations

import json
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.runtime import in_process_worker
from headwater.conformance.standard import (
    SourceHarness,
    _fold_records,
    _json_safe_scalar_map,
    _normalise,
    drain,
)
from headwater.connectors.api import (
    SourceRecord,
    SourceTaskContext,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key

__all__ = ["get_source_test_class"]


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
            assert got == expected, "committed records plus the resumed run must equal one uninterrupted run"

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
