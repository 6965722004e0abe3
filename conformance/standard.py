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
real Kafka and the real runtime. Through the real runtime too, the optional hooks:
offset-only markers advance the stored offset with no record; connector-defined
transactions are visible whole or not at all to a ``read_committed`` consumer, even
with a crash inside one (needs ``Capability.TRANSACTION_BOUNDARIES``); the runtime waits
as ``next_poll_in`` asks, no poll sleeps, and a ``retry_after_ms`` is respected; the
task's scratch folder and plugin metrics are the worker's; the connector is started
before ``task_configs`` and stopped, and a reconfiguration request restarts its tasks;
``alter_offsets`` refuses the harness's bad offsets before anything is written.

Sink suite: put and flush write everything; a sink flushed twice writes once; a
replay is idempotent (if declared); a tombstone deletes (if declared); a bad record
is reported and the rest lands; and through a real Kafka and the real runtime (with
the plugin's task wrapped through the runtime's task factory): the target equals the
folded stream while a malformed message reaches the dead-letter topic with Kafka
Connect's ``__connect.errors.*`` headers; three partitions keep their order in small
batches; a retriable error with ``retry_after_ms`` pauses only its partition; a crash
between the write and the offset commit loses nothing (and duplicates nothing for
``OWNS_COMMIT_POINT`` sinks); a restart starts from ``open``'s offsets; lost partitions
are closed with ``lost=True`` and nothing is committed for them; a record reported
after commits that held it back reaches the dead-letter topic with its original bytes.
The sink tests use their own change-stream generator (no ``datagen``).
"""

from __future__ import annotations

import json
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.codecs.envelope import fold
from headwater.connectors.api import (
    Capability,
    ErrantSourceRecord,
    OffsetMarker,
    SinkConnector,
    SinkTask,
    SinkTaskContext,
    SourceConnector,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.config import PluginConfig

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
        make_task: optional; builds a task as ``make_task(task_class, config, context)``,
            e.g. handing it the plugin's emulator or a client pointed at one. The suite
            builds every task through it, also inside the real runtime (as the worker's
            ``task_factory``, wrapped by the suite to observe the task). Default:
            ``task_class(config, context)``.
        bad_offsets: optional; ``PATCH .../offsets`` entries (``{"partition",
            "offset"}``) that the connector's ``alter_offsets`` must refuse.
        resume_repeats: optional; why a run resumed from committed offsets may emit
            again records the aborted run had emitted (an at-least-once stretch the plugin
            documents). The resume test then requires every record of an uninterrupted
            run, in order per source partition, and the same final record per key, instead
            of exactly the same records.
    """

    connector_class: type[SourceConnector[t.Any]]
    make_config: t.Callable[[Path, str], dict[str, str]]
    final_state: t.Callable[[PluginConfig], State]
    bad_config: t.Mapping[str, str] | None = None
    bad_keys: frozenset[str] = frozenset()
    drain_timeout: float = 120.0
    make_task: t.Callable[[type[SourceTask[t.Any]], PluginConfig, SourceTaskContext], SourceTask[t.Any]] | None = None
    bad_offsets: t.Sequence[t.Mapping[str, t.Any]] | None = None
    resume_repeats: str | None = None

    def build_task(self, config: PluginConfig, context: SourceTaskContext) -> SourceTask[t.Any]:
        """A task of the plugin, through ``make_task`` when given."""
        task_class = self.connector_class.task_class
        if self.make_task is not None:
            return self.make_task(task_class, config, context)
        return task_class(config, context)


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
        make_task: see below.
    """

    connector_class: type[SinkConnector[t.Any]]
    make_config: t.Callable[[Path, str], dict[str, str]]
    read_state: t.Callable[[PluginConfig, str], dict[str, t.Any]]
    count_writes: t.Callable[[PluginConfig, str], int] | None = None
    bad_value: t.Any = None
    make_task: t.Callable[[PluginConfig, SinkTaskContext], SinkTask[t.Any]] | None = None
    """Optional: builds a task for a validated config and a context; this is how a plugin
    hands the suite its emulator or client, e.g.
    ``lambda config, context: MySinkTask(config, context, client=EMULATOR)``. The suite
    uses it for the in-memory tests and, wrapped, as the runtime's task factory in the
    Kafka tests. Default: ``connector_class.task_class(config, context)``."""


def _requires(capability: Capability, plugin: type[t.Any]) -> None:
    if capability not in plugin.capabilities:
        pytest.skip(f"{plugin.name} does not declare {capability.value}")


def _json_safe_scalar_map(mapping: t.Any) -> bool:
    return isinstance(mapping, t.Mapping) and all(
        isinstance(key, str) and (value is None or isinstance(value, (str, int, bool))) and not isinstance(value, float)
        for key, value in mapping.items()
    )


def drain(
    task: t.Any, *, timeout: float, idle_polls: int = 5
) -> list[SourceRecord | ErrantSourceRecord | OffsetMarker]:
    """Poll ``task`` until ``idle_polls`` polls in a row return nothing."""
    records: list[SourceRecord | ErrantSourceRecord | OffsetMarker] = []
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


def _fold_records(records: t.Iterable[SourceRecord | ErrantSourceRecord | OffsetMarker]) -> State:
    by_topic: dict[str, list[tuple[t.Any, t.Any]]] = {}
    for record in records:
        if isinstance(record, SourceRecord):
            by_topic.setdefault(record.topic, []).append((record.key, record.value))
    return {topic: fold(messages) for topic, messages in by_topic.items()}


def _normalise(state: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Compare rows as JSON would carry them (exact decimals as strings)."""
    return {key: json.loads(json.dumps(row, default=str, sort_keys=True)) for key, row in state.items()}


def get_source_test_class(harness: SourceHarness) -> type:
    """The standard source tests for ``harness``; assign the result to a ``Test*`` name."""
    from headwater.conformance.source_suite import get_source_test_class as build

    return build(harness)


def get_sink_test_class(harness: SinkHarness) -> type:
    """The standard sink tests for ``harness``; assign the result to a ``Test*`` name."""
    from headwater.conformance.sink_suite import get_sink_test_class as build

    return build(harness)
