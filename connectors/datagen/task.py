"""The ``datagen`` task: replays each table's generator to its stored offset, then emits."""

from __future__ import annotations

import time
import typing as t

from headwater.codecs.envelope import to_messages
from headwater.connectors.api import SourceRecord, SourceTask, SourceTaskContext
from headwater.connectors.datagen.client import TableGenerator
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.schemas import table_schemas


class DatagenTask(SourceTask[DatagenConfig]):
    """Emits each table's events in sequence; partition ``{"table": T}``, offset ``{"seq": n}``."""

    def __init__(self, config: DatagenConfig, context: SourceTaskContext) -> None:
        super().__init__(config, context)
        self._streams: list[tuple[dict[str, str], TableGenerator, int, str]] = []
        for table in config.own_tables():
            partition = {"table": table}
            generator = TableGenerator(
                table, seed=config.seed, keys=config.keys, initial_rows=config.initial_rows, name=config.topic_prefix
            )
            stored = context.offsets.offset(partition)
            if stored is not None:
                generator.skip_to(int(t.cast(int, stored["seq"])))
            self._streams.append((partition, generator, config.table_count(table), f"{config.topic_prefix}.{table}"))
        self._started = time.monotonic()
        self._emitted = 0

    def poll(self) -> list[SourceRecord]:
        """Up to ``batch.size`` events, round-robin over tables, paced by ``rate``."""
        budget = self.config.batch_size
        if self.config.rate > 0:
            elapsed = time.monotonic() - self._started
            allowed = int(elapsed * self.config.rate) - self._emitted
            if allowed <= 0:
                # Ask to be polled again when the next event is due, instead of sleeping here.
                due_s = (self._emitted + 1) / self.config.rate - elapsed
                self.context.next_poll_in(max(1, int(due_s * 1000) + 1))
                return []
            budget = min(budget, allowed)
        records: list[SourceRecord] = []
        live = [stream for stream in self._streams if stream[2] < 0 or stream[1].sequence < stream[2]]
        if not live:
            return records
        share = max(1, budget // len(live))
        for partition, generator, limit, topic in live:
            for _ in range(share if limit < 0 else min(share, limit - generator.sequence)):
                event = generator.next_event()
                offset = {"seq": generator.sequence}
                for key, value in to_messages(event, tombstone_on_delete=self.config.tombstones_on_delete):
                    # The Kafka timestamp is left to the producer: the synthetic ts_ms lies in
                    # the past, and the broker's time-based retention would delete it.
                    key_schema, value_schema = table_schemas(self.config.topic_prefix, generator.table)
                    records.append(SourceRecord(partition, offset, topic, key, value, key_schema=key_schema,
                                                value_schema=value_schema if value is not None else None))  # fmt: skip
        self._emitted += len(records)
        return records
