"""The ``file`` sink task: buffers lines in ``put``, appends and fsyncs them in ``flush``."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from headwater.codecs.converters import to_json_bytes
from headwater.connectors.api import SinkRecord, SinkTask, SinkTaskContext
from headwater.connectors.errors import RecordError, RetriableError
from headwater.sinks.file.config import FileSinkConfig


class FileSinkTask(SinkTask[FileSinkConfig]):
    """Appends; a replay after a crash appends the replayed lines again (at-least-once)."""

    def __init__(self, config: FileSinkConfig, context: SinkTaskContext) -> None:
        super().__init__(config, context)
        self.folder = Path(config.file_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._buffers: dict[str, list[bytes]] = {}
        self._repaired: set[str] = set()

    def path(self, topic: str) -> Path:
        """The file of ``topic``."""
        return self.folder / f"{topic}.jsonl"

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Serialise each record to a line; one that cannot be written as JSON is reported."""
        metadata = self.config.file_include_metadata
        for record in records:
            line: dict[str, t.Any] = {"key": record.key, "value": record.value}
            if metadata:
                line.update(
                    topic=record.topic, partition=record.partition, offset=record.offset, timestamp=record.timestamp_ms
                )
            try:
                data = to_json_bytes(line)
            except TypeError as exc:
                self.context.report(record, RecordError(f"cannot write as JSON: {exc}", record=record))
                continue
            self._buffers.setdefault(record.topic, []).append(data + b"\n")

    def flush(self) -> None:
        """Append every buffered topic's lines to its file, then fsync."""
        for topic, lines in list(self._buffers.items()):
            path = self.path(topic)
            try:
                self._repair_once(topic, path)
                with path.open("ab") as handle:
                    handle.write(b"".join(lines))
                    handle.flush()
                    if self.config.file_fsync:
                        os.fsync(handle.fileno())
                del self._buffers[topic]
            except OSError as exc:
                msg = f"cannot write {path}: {exc.strerror}"
                raise RetriableError(msg) from exc

    def _repair_once(self, topic: str, path: Path) -> None:
        """Cut a torn last line left by a crash mid-write; its record is replayed anyway."""
        if topic in self._repaired:
            return
        self._repaired.add(topic)
        if not path.exists() or path.stat().st_size == 0:
            return
        with path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            handle.truncate(data.rfind(b"\n") + 1)
