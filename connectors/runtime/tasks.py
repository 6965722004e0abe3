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

import typing as t
from pathlib import Path

from headwater.codecs.converters import Converter
from headwater.connectors.api import PluginMetrics, TaskContext
from headwater.connectors.config import PluginConfig
from headwater.connectors.runtime.active_topics import TaskTopics
from headwater.connectors.runtime.dlq import ErrorHandler
from headwater.connectors.runtime.logs import CLIENT_LOG
from headwater.connectors.runtime.metrics import TaskMetrics
from headwater.connectors.runtime.offsets import OffsetStore
from headwater.connectors.runtime.retry import RetryPolicy
from headwater.connectors.runtime.status import TaskReport
from headwater.connectors.runtime.topics import TopicCreator
from headwater.connectors.settings import ConnectorConfig
from headwater.connectors.transforms import TransformChain

__all__ = ["CLIENT_LOG", "StateListener", "TaskEnvironment", "TaskFactory", "build_task", "client_hooks"]


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
    report: TaskReport | None = None
    """The task's status extras: progress, a warning, plugin details (see :mod:`.status`)."""
    topic_creator: TopicCreator | None = None
    """Sources with ``topic.creation.*``: creates each topic before its first record."""
    flush_timeout_s: float = 60.0
    """Sources: how long an offset flush waits for acknowledgements (``offset.flush.timeout.ms``)."""
    topics: TaskTopics | None = None
    """Where the runner reports the topics the task writes or reads (KIP-558 active topics)."""

    def make_task(self, context: TaskContext) -> t.Any:
        """Build the task with ``context``: through ``task_factory`` when one is set."""
        task_class = self.plugin_class.task_class
        if self.task_factory is not None:
            return self.task_factory(task_class, self.task_config, context)
        return task_class(self.task_config, context)

    def client_hooks(self) -> dict[str, t.Any]:
        """The ``logger`` and ``error_cb`` every Kafka client of this task gets (see :func:`client_hooks`)."""
        return client_hooks(self.report)

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
            client_hooks=self.client_hooks(),
        )


def client_hooks(report: TaskReport | None) -> dict[str, t.Any]:
    """Client settings that route librdkafka's log lines and errors.

    ``logger``: librdkafka's own lines go to the ``librdkafka`` logger, so they pass the
    worker's formatter, its connector/task context and its repeat filter. ``error_cb``:
    librdkafka calls it (from the thread polling the client, the task's own) for errors
    it retries by itself, a broker unreachable above all: they become the task status
    ``warning`` (the task stays RUNNING, as in Kafka Connect) instead of being lost; a
    fatal one is logged at ERROR (the client call that meets it then fails the task).
    """

    def on_error(error: t.Any) -> None:
        try:
            if error.fatal():
                CLIENT_LOG.error("fatal client error: %s", error.str())
            if report is not None:
                report.warn(f"Kafka client error {error.name()}: {error.str()}")
        except Exception:  # a callback must never raise into librdkafka
            CLIENT_LOG.exception("error callback failed")

    return {"logger": CLIENT_LOG, "error_cb": on_error}
