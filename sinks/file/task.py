"""The ``file`` sink task: appends lines in ``put``, flushes and fsyncs them in ``flush``."""

from __future__ import annotations

import contextlib
import os
import typing as t
from pathlib import Path

from headwater.codecs.converters import to_json_line, to_json_lines
from headwater.connectors.api import SinkRecord, SinkTask, SinkTaskContext
from headwater.connectors.errors import RecordError, RetriableError
from headwater.sinks.file.config import FileSinkConfig


class FileSinkTask(SinkTask[FileSinkConfig]):
    """Appends; a replay after a crash appends the replayed lines again (at-least-once).

    ``put`` writes each batch's lines to the topic's open file (so output appears as it
    is read and memory stays flat); ``flush`` pushes them to the OS and, with
    ``file.fsync``, to the disk, before the runtime commits their offsets. Called on the
    task thread only, as every sink hook.
    """

    def __init__(self, config: FileSinkConfig, context: SinkTaskContext) -> None:
        super().__init__(config, context)
        self.folder = Path(config.file_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, t.BinaryIO] = {}

    def path(self, topic: str) -> Path:
        """The file of ``topic``."""
        return self.folder / f"{topic}.jsonl"

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Write each record as a line; one that cannot be written as JSON is reported."""
        by_topic: dict[str, list[SinkRecord]] = {}
        topics = [record.topic for record in records]
        if topics and topics.count(topics[0]) == len(topics):
            by_topic[topics[0]] = list(records)
        else:
            for record in records:
                by_topic.setdefault(record.topic, []).append(record)
        for topic, topic_records in by_topic.items():
            lines = self._lines(topic_records)
            try:
                data = to_json_lines(lines)
            except TypeError:
                data = b"".join(self._each(topic_records, lines))
            self._write(topic, data)

    def _lines(self, records: t.Sequence[SinkRecord]) -> list[dict[str, t.Any]]:
        """What each record's line holds: key and value, then its coordinates with
        ``file.include.metadata``."""
        if not self.config.file_include_metadata:
            return [{"key": record.key, "value": record.value} for record in records]
        return [
            {
                "key": record.key,
                "value": record.value,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp_ms,
            }
            for record in records
        ]

    def _each(self, records: t.Sequence[SinkRecord], lines: t.Sequence[dict[str, t.Any]]) -> t.Iterator[bytes]:
        """The lines one by one, after the batch path refused one; each record that cannot
        be written as JSON is reported and left out."""
        for record, line in zip(records, lines, strict=True):
            try:
                yield to_json_line(line)
            except TypeError as exc:
                self.context.report(record, RecordError(f"cannot write as JSON: {exc}", record=record))

    def flush(self) -> None:
        """Flush every open file to the OS, then fsync it when ``file.fsync`` is set."""
        for topic, handle in list(self._files.items()):
            try:
                handle.flush()
                if self.config.file_fsync:
                    os.fsync(handle.fileno())
            except OSError as exc:
                self._forget(topic)
                msg = f"cannot write {self.path(topic)}: {exc.strerror}"
                raise RetriableError(msg) from exc

    def stop(self) -> None:
        """Close the files (what was not flushed is replayed after a restart anyway)."""
        for topic in list(self._files):
            self._forget(topic)

    def _write(self, topic: str, data: bytes) -> None:
        handle = self._files.get(topic)
        try:
            if handle is None:
                handle = self._files[topic] = self._open(self.path(topic))
            handle.write(data)
        except OSError as exc:
            # The batch is put again after the retry; a torn line it left is cut on reopening.
            self._forget(topic)
            msg = f"cannot write {self.path(topic)}: {exc.strerror}"
            raise RetriableError(msg) from exc

    def _forget(self, topic: str) -> None:
        handle = self._files.pop(topic, None)
        if handle is not None:
            # What it held and failed to write is replayed: its offsets were not committed.
            with contextlib.suppress(OSError):
                handle.close()

    @staticmethod
    def _open(path: Path) -> t.BinaryIO:
        """Open for appending, first cutting a torn last line a crash left (its record is replayed)."""
        handle = path.open("ab+")
        end = handle.seek(0, os.SEEK_END)
        if end:
            handle.seek(end - 1)
            if handle.read(1) != b"\n":
                # Look back for the last complete line, a block at a time.
                cut = 0
                while end > 0:
                    start = max(0, end - 65536)
                    handle.seek(start)
                    newline = handle.read(end - start).rfind(b"\n")
                    if newline >= 0:
                        cut = start + newline + 1
                        break
                    end = start
                handle.truncate(cut)
            handle.seek(0, os.SEEK_END)
        return t.cast(t.BinaryIO, handle)
