"""The ``csv-changes`` task: partition ``{"file": name}``, offset ``{"line": n}``."""

from __future__ import annotations

import typing as t
import zlib

from headwater.codecs.envelope import ChangeEvent, Op, to_messages
from headwater.connectors.api import ErrantSourceRecord, SourceRecord, SourceTask, SourceTaskContext
from headwater.connectors.errors import RecordError

from headwater_csv_changes.client import ChangeLogReader, LocalChangeLogReader, Row
from headwater_csv_changes.config import CsvChangesConfig


class CsvChangesTask(SourceTask[CsvChangesConfig]):
    """Emits the rows of the files it owns after their last durable line.

    The runtime stores the offsets after Kafka acknowledged the records; the task only
    reads them back (``context.offsets``) when it starts, so a crash replays nothing
    that was durable and skips nothing that was not.
    """

    def __init__(
        self, config: CsvChangesConfig, context: SourceTaskContext, reader: ChangeLogReader | None = None
    ) -> None:
        super().__init__(config, context)
        self.reader = reader or LocalChangeLogReader(config.csv_dir)
        self._done: dict[str, int] = {}

    def _owns(self, name: str) -> bool:
        return zlib.crc32(name.encode()) % self.config.task_count == self.config.task_index

    def poll(self) -> list[SourceRecord | ErrantSourceRecord]:
        """Up to ``batch.size`` change events from the owned files, in line order per file."""
        out: list[SourceRecord | ErrantSourceRecord] = []
        for name in filter(self._owns, self.reader.files()):
            partition = {"file": name}
            if name not in self._done:
                stored = self.context.offsets.offset(partition)
                self._done[name] = int(t.cast(int, stored["line"])) if stored else 1
            for line, row in self.reader.rows(name, self._done[name]):
                offset = {"line": line}
                try:
                    event = self._event(name, line, row)
                except RecordError as exc:
                    out.append(ErrantSourceRecord(partition, offset, exc, repr(row).encode()))
                else:
                    out.extend(
                        SourceRecord(partition, offset, self.config.topic, key, value)
                        for key, value in to_messages(event)
                    )
                self._done[name] = line
                if len(out) >= self.config.batch_size:
                    return out
        return out

    def _event(self, name: str, line: int, row: Row) -> ChangeEvent:
        """The change event of one row; a row that cannot be one is a record error naming file and line."""
        where = f"{name} line {line}"
        op_text = row.pop("op", None)
        try:
            op = Op(op_text or "")
        except ValueError:
            msg = f"op must be c, u or d, got {op_text!r}"
            raise RecordError(msg, location=where) from None
        missing = [column for column in self.config.key_column_list() if not row.get(column)]
        if missing:
            msg = f"key column(s) {', '.join(missing)} empty or absent"
            raise RecordError(msg, location=where)
        key = {column: row[column] for column in self.config.key_column_list()}
        deleted = op is Op.DELETE
        source = {"connector": "csv-changes", "file": name, "line": line}
        ts_ms = self.reader.modified_ms(name)
        return ChangeEvent(op, key, row if deleted else None, None if deleted else row, source, ts_ms)
