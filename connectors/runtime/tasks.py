"""What every task runner gets: its environment and the state-listener callback type.

Commit order is what makes a ``kill -9`` harmless:

- source (:mod:`.source_runner`): ``poll`` -> convert -> produce (idempotent,
  ``acks=all``) -> ``flush`` until every record is acknowledged -> dead-letter writes
  acknowledged -> offsets stored -> the task's ``commit`` hook;
- sink (:mod:`.sink_runner`): consume -> convert -> ``put`` -> ``pre_commit`` (which
  flushes) -> emitted records and dead-letter writes acknowledged -> the offsets
  ``pre_commit`` returned committed.

A crash anywhere replays the uncommitted window; nothing is skipped.
"""

from __future__ import annotations

import logging
import typing as t
from pathlib import Path

from headwater.codecs.converters import Converter
from headwater.connectors.api import PluginMetrics, TaskContext
from headwater.connectors.config import PluginConfig
from headwater.connectors.runtime.active_topics import TaskTopics
from headwater.connectors.runtime.dlq import ErrorHandler
from headwater.connectors.runtime.metrics import TaskMetrics
from headwater.connectors.runtime.offsets import OffsetStore
from headwater.connectors.runtime.retry import RetryPolicy
from headwater.connectors.settings import ConnectorConfig
from headwater.connectors.transforms import TransformChain

__all__ = ["CLIENT_LOG", "StateListener", "TaskEnvironment", "TaskFactory", "build_task"]

CLIENT_LOG = logging.getLogger("librdkafka")
"""The logger librdkafka's own lines go to (passed to every client as ``logger``)."""

StateListener: t.TypeAlias = t.Callable[[str], None]
"""Called from the task's thread with ``"RUNNING"`` or ``"PAUSED"`` each time the task
actually turns so (once at start, then on every pause or resume it has carried out)."""


TaskFactory: t.TypeAlias = t.Callable[[type[t.Any], PluginConfig, TaskContext], t.Any]
"""``(task_class, task_config, context) -> task``: how a worker builds a task (the default
is ``task_class(task_config, context)``); called on the task's thread at each (re)start."""


def build_task(task_class: type[t.Any], config: PluginConfig, context: TaskContext) -> t.Any:
    """The default :data:`TaskFactory`: the plugin's own constructor."""
    return task_class(config, context)


class TaskEnvironment(t.NamedTuple):
    """Everything a runner needs that does not change between restarts of a task."""

    framework: ConnectorConfig
    plugin_class: type[t.Any]
    task_config: PluginConfig
    task_id: int
    producer_config: dict[str, str]
    consumer_config: dict[str, str]
    key_converter: Converter
    value_converter: Converter
    offset_store: OffsetStore
    metrics: TaskMetrics
    flush_interval_s: float
    transactional_id: str | None = None
    """Set for exactly-once sources: records and offsets go in one transaction per poll."""
    scratch_dir: Path | None = None
    """The task's private folder (``context.scratch_dir``), created on first use."""
    plugin_metrics: PluginMetrics | None = None
    """The plugin's own metrics (``context.metrics``), labelled with this task."""
    transforms: TransformChain | None = None
    """The connector's single message transforms (source: after poll; sink: before put)."""
    task_factory: TaskFactory | None = None
    """Builds the task instead of ``plugin_class.task_class(config, context)`` (the
    conformance suite wraps tasks or injects an emulator client through it)."""
    topics: TaskTopics | None = None
    """Where the runner reports the topics the task writes or reads (KIP-558 active topics)."""

    def make_task(self, context: TaskContext) -> t.Any:
        """Build the task with ``context``: through ``task_factory`` when one is set."""
        task_class = self.plugin_class.task_class
        if self.task_factory is not None:
            return self.task_factory(task_class, self.task_config, context)
        return task_class(self.task_config, context)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.framework.errors_retry_timeout, self.framework.errors_retry_delay_max_ms)

    def error_handler(self) -> ErrorHandler:
        return ErrorHandler(
            self.framework,
            task_id=self.task_id,
            plugin_class=f"{self.plugin_class.__module__}.{self.plugin_class.__qualname__}",
            producer_config=self.producer_config,
            metrics=self.metrics,
        )
