"""The ``datagen`` task: replays each table's generator to its stored offset, then emits."""

from __future__ import annotations

import time
import typing as t

from headwater.codecs.envelope import to_messages
from headwater.connectors.api import SourceRecord, SourceTask, SourceTaskContext
from headwater.connectors.datagen.client import TableGenerator, table_schemas
from headwater.connectors.datagen.config import DatagenConfig


class DatagenTask(SourceTask[DatagenConfig]):
    """Emits each table's events in sequence; partition ``{"table": T}``, offset ``{"seq": n}``."""

    def __init__(self, config: DatagenConfig, context: SourceTaskContext) -> None:
        super().__init__(config, context)
        self._streams: list[tuple[dict[str, str], TableGenerator, int, str]] = []
        self._schemas: dict[str, tuple[t.Any, t.Any]] = {}
        for table in config.own_tables():
            partition = {"table": table}
            generator = TableGenerator(table, seed=config.seed, keys=config.keys)
            stored = context.offsets.offset(partition)
            if stored is not None:
                generator.skip_to(int(t.cast(int, stored["seq"])))
            topic = f"{config.topic_prefix}.{table}"
            self._streams.append((partition, generator, config.table_count(table), topic))
            self._schemas[topic] = table_schemas(table, topic)
        self._started = time.monotonic()
        self._emitted = 0

    def poll(self) -> list[SourceRecord]:
        """Up to ``batch.size`` events, round-robin over tables, paced by ``rate``."""
        budget = self.config.batch_size
        if self.config.rate > 0:
            allowed = int((time.monotonic() - self._started) * self.config.rate) - self._emitted
            if allowed <= 0:
                time.sleep(min(0.1, 1 / self.config.rate))
                return []
            budget = min(budget, allowed)
        records: list[SourceRecord] = []
        live = [stream for stream in self._streams if stream[2] < 0 or stream[1].sequence < stream[2]]
        if not live:
            return records
        share = max(1, budget // len(live))
        for partition, generator, limit, topic in live:
            key_schema, value_schema = self._schemas[topic]
            for _ in range(share if limit < 0 else min(share, limit - generator.sequence)):
                event = generator.next_event()
                offset = {"seq": generator.sequence}
                for key, value in to_messages(event, tombstone_on_delete=self.config.tombstones_on_delete):
                    # The Kafka timestamp is left to the producer: the synthetic ts_ms lies in
                    # the past, and the broker's time-based retention would delete it.
                    records.append(
                        SourceRecord(
                            partition, offset, topic, key, value, key_schema=key_schema, value_schema=value_schema
                        )
                    )
        self._emitted += len(records)
        return records
