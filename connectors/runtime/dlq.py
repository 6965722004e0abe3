"""Bad records: tolerate or fail, and the dead-letter topic.

Every bad record, whatever stage found it (conversion, a source's input, a sink's
``put``), comes here. With ``errors.tolerance=none`` the task fails with an error that
names the record; with ``all`` the record is skipped and, when
``errors.deadletterqueue.topic.name`` is set, written there with its original key and
value bytes and Kafka Connect's ``__connect.errors.*`` headers. Dead-letter writes are
acknowledged (:meth:`ErrorHandler.flush`) before the offsets that skip the record are
committed, so a bad record is never lost.
"""

from __future__ import annotations

import enum
import logging
import traceback
import typing as t

from headwater.connectors.errors import FatalError
from headwater.connectors.runtime.metrics import TaskMetrics
from headwater.connectors.runtime.topics import connection_settings, ensure_topic
from headwater.connectors.settings import ConnectorConfig

__all__ = ["ErrorHandler", "Stage"]

log = logging.getLogger(__name__)
HEADER_PREFIX = "__connect.errors."


class Stage(enum.StrEnum):
    """Where a record failed (Kafka Connect's ``Stage`` names)."""

    TASK_POLL = "TASK_POLL"
    TASK_PUT = "TASK_PUT"
    TRANSFORMATION = "TRANSFORMATION"
    KEY_CONVERTER = "KEY_CONVERTER"
    VALUE_CONVERTER = "VALUE_CONVERTER"


class ErrorHandler:
    """Applies one connector's error policy for one task."""

    def __init__(
        self,
        framework: ConnectorConfig,
        *,
        task_id: int,
        plugin_class: str,
        producer_config: t.Mapping[str, t.Any],
        metrics: TaskMetrics,
        client_hooks: t.Mapping[str, t.Any] | None = None,
    ) -> None:
        """``client_hooks``: ``logger``/``error_cb`` for the dead-letter producer (see
        :func:`~headwater.connectors.runtime.tasks.client_hooks`)."""
        self.framework = framework
        self.task_id = task_id
        self.plugin_class = plugin_class
        self.metrics = metrics
        self.topic = framework.errors_deadletterqueue_topic_name
        self._failures: list[str] = []
        self._producer: t.Any = None
        if self.topic and framework.errors_tolerance == "all":
            from confluent_kafka import Producer

            ensure_topic(
                connection_settings(producer_config),
                self.topic,
                purpose="dead-letter topic",
                replication_factor=framework.errors_deadletterqueue_topic_replication_factor,
            )
            self._producer = Producer(
                {**producer_config, **(client_hooks or {}), "acks": "all", "enable.idempotence": "true"}
            )

    def handle(
        self,
        error: BaseException,
        *,
        stage: Stage,
        where: str,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: t.Sequence[tuple[str, bytes]] = (),
        class_name: str | None = None,
    ) -> None:
        """Deal with one bad record found at ``stage``; ``where`` names it for people.

        ``class_name`` is what failed when it was not the plugin (a transformation's
        class); it goes to ``__connect.errors.class.name``.

        Raises:
            FatalError: under ``errors.tolerance=none``, naming the record and chained
                from ``error``.
        """
        self.metrics.total_record_errors.inc()
        if self.framework.errors_tolerance == "none":
            msg = f"{where} failed in {stage.value}: {error} (set errors.tolerance=all to skip bad records)"
            raise FatalError(msg) from error
        self.metrics.total_records_skipped.inc()
        if self.framework.errors_log_enable:
            log.warning("skipping bad record %s (%s): %s", where, stage.value, error)
            self.metrics.total_errors_logged.inc()
        if self._producer is None:
            return
        context: list[tuple[str, bytes]] = list(headers)
        if self.framework.errors_deadletterqueue_context_headers_enable:
            trace = "".join(traceback.format_exception(error))
            fields = {
                "topic": topic or "",
                "partition": "" if partition is None else str(partition),
                "offset": "" if offset is None else str(offset),
                "connector.name": self.framework.name,
                "task.id": str(self.task_id),
                "stage": stage.value,
                "class.name": class_name or self.plugin_class,
                "exception.class.name": f"{type(error).__module__}.{type(error).__qualname__}",
                "exception.message": str(error),
                "exception.stacktrace": trace,
                "record": where,
            }
            context.extend((HEADER_PREFIX + name, text.encode()) for name, text in fields.items())
        self._producer.produce(self.topic, value=value, key=key, headers=context, on_delivery=self._on_delivery)
        self._producer.poll(0)
        self.metrics.deadletterqueue_produce_requests.inc()

    def _on_delivery(self, error: t.Any, _message: t.Any) -> None:
        if error is not None:
            self._failures.append(str(error))
            self.metrics.deadletterqueue_produce_failures.inc()

    def flush(self) -> None:
        """Wait until every dead-letter record is acknowledged.

        Raises:
            FatalError: if any was not; the caller must not commit offsets past them.
        """
        if self._producer is None:
            return
        remaining = self._producer.flush(60)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            msg = f"dead-letter topic {self.topic} did not take {remaining or len(failures)} records: {failures[:3]}"
            raise FatalError(msg)

    def close(self) -> None:
        """Flush what is left; called when the task stops."""
        if self._producer is not None:
            self._producer.flush(10)
