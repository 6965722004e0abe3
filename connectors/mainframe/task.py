"""The ``mainframe-copybook`` task: split, decode and emit the records of dataset files.

Offsets (JSON scalars only; the runtime stores them after Kafka acknowledged the records):

* append mode, partition ``{"file": <name relative to input.dir>}``, offset::

      {"record": n, "byte": e, "resume.byte": b, "resume.record": m, "resume.block.end": x|None}

  ``record`` is the number of the last record emitted (1-based) and ``byte`` the file
  offset just past it (for people reading the offsets; for a VBS record spanning blocks,
  its first segment's data offset plus its length, which only resume.* must be exact). The ``resume.*`` triple is a
  :class:`~headwater.codecs.copybook.SplitPosition` at or before that record (the start
  of the chunk it was split from, or exactly after it for the last record of a poll):
  a restarted task splits again from there and skips records numbered ``<= record``. That
  keeps every record's offset exact without recomputing block boundaries per record.

  With ``segment.children`` an event is a whole hierarchy (a root record and its
  descendants) and ``record`` is the last physical record before the next root, so a
  restart starts assembling at a root. A hierarchy is held back until the next root (or
  the quiet end of the file); bad records inside it are held with it and carry its offset,
  so that committing them can never skip the part of the hierarchy read before them.
* snapshot-diff mode, partition ``{"dataset": <input.glob>}``, offset::

      {"generation": g, "base": p, "phase": "scan"|"deletes"|"done", "record": n, "deleted": k,
       "resume.byte": ..., "resume.record": ..., "resume.block.end": ...}

  ``g`` is the file being compared with the previous generation ``p`` ("" for the first).
  The diff state is never stored by the plugin: on start the task re-reads generation
  ``p`` (which is kept until ``g`` is completely durable) and continues ``g`` from the
  offset. ``done`` marks the last event of ``g``; after it, ``g`` is the base of the next
  generation and ``p`` may be moved or deleted.
"""

from __future__ import annotations

import logging
import time
import typing as t
import zlib
from dataclasses import dataclass, field, replace

from headwater.codecs.envelope import ChangeEvent, Op, canonical_key, to_messages
from headwater.connectors.api import (
    ErrantSourceRecord,
    SourceOffset,
    SourcePartition,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.errors import FatalError
from headwater.connectors.mainframe.client import DatasetReader, FileInfo, LocalDatasetReader
from headwater.connectors.mainframe.config import MainframeCopybookConfig, key_path
from headwater.connectors.mainframe.schema import record_schemas

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from headwater.codecs.copybook import (
        DecodeError,
        DecodePlan,
        Hierarchy,
        HierarchyAssembler,
        RawRecord,
        RecordSplitter,
        SplitPosition,
    )
    from headwater.codecs.copybook.errors import FramingError
    from headwater.connectors.errors import RecordError

__all__ = ["MainframeCopybookTask", "owns"]

log = logging.getLogger(__name__)

Row: t.TypeAlias = dict[str, t.Any]
Output: t.TypeAlias = "list[SourceRecord | ErrantSourceRecord]"
_POLL_BUDGET_S = 0.5
_CONNECTOR = "mainframe-copybook"


def owns(name: str, task_index: int, task_count: int) -> bool:
    """True when file ``name`` belongs to task ``task_index`` of ``task_count`` (stable hash)."""
    return task_count <= 1 or zlib.crc32(name.encode()) % task_count == task_index


@dataclass
class _Stream:
    """The read state of one file."""

    name: str
    partition: dict[str, t.Any]
    splitter: RecordSplitter
    read_pos: int
    anchor: dict[str, t.Any]
    """Resume point at the start of the next chunk (after the last record split so far)."""
    skip_through: int = 0
    """Records numbered up to this were emitted before a restart: split again, drop them."""
    size: int = 0
    mtime_ms: int = 0
    changed_at: float = field(default_factory=time.monotonic)
    finished: bool = False
    last_emitted: int = 0
    last_committed: int = 0
    assembler: HierarchyAssembler | None = None
    """segment.children: assembles the records into hierarchies, holding the open one back."""
    held: list[tuple[RecordError, bytes]] = field(default_factory=list)
    """segment.children: bad records read while a hierarchy is open, emitted with it."""
    last_fed: tuple[int, int, dict[str, t.Any]] = (0, 0, {})
    """segment.children: number, end byte and resume point of the last record fed to the assembler."""


def _resume_fields(position: SplitPosition) -> dict[str, t.Any]:
    return {
        "resume.byte": position.offset,
        "resume.record": position.record_number,
        "resume.block.end": position.block_end,
    }


def _stored_position(stored: SourceOffset) -> SplitPosition:
    from headwater.codecs.copybook import SplitPosition

    block_end = stored.get("resume.block.end")
    return SplitPosition(
        int(t.cast(int, stored["resume.byte"])),
        int(t.cast(int, stored["resume.record"])),
        None if block_end is None else int(t.cast(int, block_end)),
    )


class MainframeCopybookTask(SourceTask[MainframeCopybookConfig]):
    """Reads the files of ``input.dir`` this task owns; see the module docstring for offsets."""

    def __init__(
        self,
        config: MainframeCopybookConfig,
        context: SourceTaskContext,
        reader: DatasetReader | None = None,
    ) -> None:
        super().__init__(config, context)
        self.reader: DatasetReader = reader or LocalDatasetReader(config.input_dir)
        self._plan: DecodePlan = config.plan()
        self._format = config.format_options()
        self._fast = self._plan.vectorizable and not config.segment_filter
        layout = config.layout()
        self._key_paths = [key_path(layout, name) for name in config.key_fields_list()]
        self._schemas = record_schemas(config, self._plan, self._key_paths)
        self._length_reader, self._length_field_end = self._make_length_reader()
        self._chunk = max(64 * 1024, min(16 * 1024 * 1024, config.batch_size * (self._plan.record_length + 8)))
        self._interval = config.poll_interval_ms / 1000
        self._next_scan = 0.0
        self._quiet = config.file_quiet_ms / 1000
        self._streams: dict[str, _Stream] = {}
        self._released: set[str] = set()
        self._turn = 0
        self._snapshot = _SnapshotState(self) if config.mode == "snapshot-diff" else None
        self._broken: FramingError | None = None

    # ------------------------------------------------------------------ shared helpers

    def _make_length_reader(self) -> tuple[t.Callable[[bytes], int] | None, int]:
        name = self.config.record_length_field
        if not name:
            return None, 0
        from headwater.codecs.copybook.fields import InvalidField

        item = self._plan.layout.find(name)
        plan = self._plan

        def read_length(head: bytes) -> int:
            try:
                return int(plan.read_field(name, head))
            except (InvalidField, TypeError) as exc:
                raise ValueError(str(exc)) from exc

        return read_length, item.offset + item.length

    def _open_stream(
        self, name: str, partition: dict[str, t.Any], start: SplitPosition | None, skip_through: int = 0
    ) -> _Stream:
        from headwater.codecs.copybook import RecordSplitter

        splitter = RecordSplitter(
            self._format,
            record_length=self._plan.record_length,
            length_reader=self._length_reader,
            length_field_end=self._length_field_end,
            start=start,
            source=name,
        )
        position = splitter.position
        stream = _Stream(
            name, partition, splitter, position.offset if start else 0, _resume_fields(position), skip_through
        )
        stream.last_emitted = stream.last_committed = skip_through
        if self.config.segment_children:
            from headwater.codecs.copybook import HierarchyAssembler

            stream.assembler = HierarchyAssembler(self._plan, source=name)
            stream.last_fed = (skip_through, position.offset, stream.anchor)
        return stream

    def _key(self, row: Row) -> dict[str, t.Any]:
        key = {}
        for path in self._key_paths:
            value: t.Any = row
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            key[path[-1]] = value
        return key

    def _decode(self, raws: list[RawRecord], source: str) -> Iterator[tuple[RawRecord, Row | None, DecodeError | None]]:
        """Each split record with its decoded row (None: dropped by the segment filter) or its error."""
        from headwater.codecs.copybook import DecodeError, decode_record, decode_records

        rest = raws
        if self._fast:
            done = 0
            try:
                for row in decode_records(self._plan, raws, source=source):
                    yield raws[done], row, None
                    done += 1
                return
            except DecodeError as exc:
                # decode_records yields every record before the bad one, then raises.
                yield raws[done], None, exc
                rest = raws[done + 1 :]
        for raw in rest:
            try:
                row = decode_record(
                    self._plan, raw.data, record_number=raw.number, byte_offset=raw.offset, source=source
                )
            except DecodeError as exc:
                yield raw, None, exc
                continue
            yield raw, row, None

    def _read_chunk(self, stream: _Stream) -> list[RawRecord] | None:
        """Feed the next chunk of ``stream`` to its splitter; None when nothing was left to read."""
        if stream.read_pos >= stream.size:
            return None
        data = self.reader.read(stream.name, stream.read_pos, min(self._chunk, stream.size - stream.read_pos))
        if not data:
            stream.size = stream.read_pos  # shorter than listed: wait for the next listing
            return None
        stream.read_pos += len(data)
        return stream.splitter.feed(data)

    def _chunk_records(
        self, stream: _Stream, raws: list[RawRecord]
    ) -> tuple[list[RawRecord], dict[str, t.Any], dict[str, t.Any]]:
        """Drop records emitted before a restart; return the rest with the chunk's start and end resume points."""
        anchor = stream.anchor
        end = _resume_fields(stream.splitter.position)
        stream.anchor = end
        if stream.skip_through:
            raws = [raw for raw in raws if raw.number > stream.skip_through]
            if raws or stream.splitter.position.record_number > stream.skip_through:
                stream.skip_through = 0
        return raws, anchor, end

    # ------------------------------------------------------------------ append mode

    def poll(self) -> Output:
        """The records of :meth:`_poll_records`, with the key and value schemas of the layout."""
        key_schema, value_schema = self._schemas
        if value_schema is None:
            return self._poll_records()
        return [
            replace(r, key_schema=key_schema, value_schema=value_schema) if type(r) is SourceRecord else r
            for r in self._poll_records()
        ]

    def _poll_records(self) -> Output:
        """Records from the owned files (append) or the current generation's diff (snapshot-diff).

        Lists the folder at most every ``poll.interval.ms``, reads until about
        ``batch.size`` records are ready or half a second has passed, and returns ``[]``
        when there is nothing new.

        Raises:
            FramingError: a file's record structure is broken (fatal for the task). The
                records before the break are returned by one poll first, so they are
                delivered and their offsets stored; the next poll raises.
        """
        from headwater.codecs.copybook.errors import FramingError

        if self._broken is not None:
            raise self._broken
        if self._snapshot is not None:
            return self._snapshot.poll()
        out: Output = []
        try:
            self._poll_append(out)
        except FramingError as exc:
            if not exc.records_before:
                raise
            self._broken = exc
            self._emit_append(self._streams[t.cast(str, exc.source)], exc.records_before, out)
        return out

    def _poll_append(self, out: Output) -> None:
        now = time.monotonic()
        if now >= self._next_scan:
            self._scan(now, out)
            self._next_scan = now + self._interval
        deadline = now + _POLL_BUDGET_S
        streams = list(self._streams.values())
        if not streams:
            return
        # Rotate the starting file so that one big file does not starve the others.
        self._turn = (self._turn + 1) % len(streams)
        for stream in streams[self._turn :] + streams[: self._turn]:
            while len(out) < self.config.batch_size and time.monotonic() < deadline:
                raws = self._read_chunk(stream)
                if raws is None:
                    break
                self._emit_append(stream, raws, out)
            if len(out) >= self.config.batch_size or time.monotonic() >= deadline:
                break

    def _scan(self, now: float, out: Output) -> None:
        config = self.config
        for info in self.reader.list(config.input_glob):
            if info.name in self._released or not owns(info.name, config.task_index, config.task_count):
                continue
            stream = self._streams.get(info.name)
            if stream is None:
                stream = self._open(info)
                self._streams[info.name] = stream
            elif (info.size, info.mtime_ms) != (stream.size, stream.mtime_ms):
                if info.size < stream.read_pos:
                    msg = (
                        f"{info.name} shrank from {stream.read_pos} to {info.size} bytes while being read; "
                        "files must only grow (write a new file instead of rewriting one)"
                    )
                    raise FatalError(msg)
                stream.changed_at = now
                if stream.finished:
                    log.warning("%s changed after it was finished; the new bytes are ignored", info.name)
            stream.size, stream.mtime_ms = info.size, info.mtime_ms
        if config.finished_file_action != "keep":
            for stream in list(self._streams.values()):
                quiet = now - stream.changed_at >= self._quiet
                if not stream.finished and quiet and stream.read_pos >= stream.size:
                    self._finish(stream, out)
        elif config.segment_children:
            for stream in self._streams.values():
                if now - stream.changed_at >= self._quiet and stream.read_pos >= stream.size:
                    self._close_hierarchy(stream, out)

    def _open(self, info: FileInfo) -> _Stream:
        partition = {"file": info.name}
        stored = self.context.offsets.offset(partition)
        if stored is None:
            stream = self._open_stream(info.name, partition, None)
        else:
            stream = self._open_stream(
                info.name, partition, _stored_position(stored), int(t.cast(int, stored["record"]))
            )
        stream.size, stream.mtime_ms = info.size, info.mtime_ms
        return stream

    def _emit_append(self, stream: _Stream, raws: list[RawRecord], out: Output) -> None:
        if stream.assembler is not None:
            self._emit_hierarchies(stream, stream.assembler, raws, out)
            return
        raws, anchor, end = self._chunk_records(stream, raws)
        if not raws:
            return
        topic, name, partition = self.config.topic, stream.name, stream.partition
        ts_ms, key_paths = stream.mtime_ms, self._key_paths
        record_end = self._format.record_end_offset
        last = raws[-1].number
        for raw, row, error in self._decode(raws, name):
            number = raw.number
            offset = {
                "record": number,
                "byte": raw.offset + len(raw.data) + record_end,
                **(end if number == last else anchor),
            }
            if error is not None:
                out.append(ErrantSourceRecord(partition, offset, error, raw.data))
            elif row is not None:
                key = self._key(row) if key_paths else {"file": name, "record": number}
                source = {"connector": _CONNECTOR, "file": name, "record": number, "offset": raw.offset,
                          "generation": None, "snapshot": "false"}  # fmt: skip
                value = {"before": None, "after": row, "source": source, "op": "c", "ts_ms": ts_ms}
                out.append(SourceRecord(partition, offset, topic, key, value))
            else:
                continue  # dropped by segment.filter: nothing to make durable
            stream.last_emitted = number

    def _emit_hierarchies(
        self, stream: _Stream, assembler: HierarchyAssembler, raws: list[RawRecord], out: Output
    ) -> None:
        """Feed a chunk's records to the assembler; emit the hierarchies they complete."""
        from headwater.codecs.copybook import SegmentHierarchyError

        raws, anchor, end = self._chunk_records(stream, raws)
        if not raws:
            return
        record_end = self._format.record_end_offset
        last = raws[-1].number
        for raw, row, error in self._decode(raws, stream.name):
            problem: RecordError | None = error
            try:
                completed = assembler.feed(raw.number, raw.offset, raw.data, row)
            except SegmentHierarchyError as exc:
                problem, completed = exc, None
            if completed is not None:
                self._emit_hierarchy(stream, completed, out)  # stream.last_fed is still its last record
            if problem is not None:
                stream.held.append((problem, raw.data))
            resume = end if raw.number == last else anchor
            stream.last_fed = (raw.number, raw.offset + len(raw.data) + record_end, resume)
            if assembler.open_root is None:
                self._emit_held(stream, out)  # nothing open: the bad records cannot cut into a hierarchy

    def _emit_hierarchy(self, stream: _Stream, hierarchy: Hierarchy | None, out: Output) -> None:
        """Emit the held bad records, then ``hierarchy``, at the offset of the last record fed."""
        self._emit_held(stream, out)
        if hierarchy is None:
            return
        number, byte_end, resume = stream.last_fed
        offset = {"record": number, "byte": byte_end, **resume}
        row = hierarchy.row
        key = self._key(row) if self._key_paths else {"file": stream.name, "record": hierarchy.record_number}
        source = {"connector": _CONNECTOR, "file": stream.name, "record": hierarchy.record_number,
                  "offset": hierarchy.byte_offset, "generation": None, "snapshot": "false"}  # fmt: skip
        value = {"before": None, "after": row, "source": source, "op": "c", "ts_ms": stream.mtime_ms}
        out.append(SourceRecord(stream.partition, offset, self.config.topic, key, value))
        stream.last_emitted = number

    def _emit_held(self, stream: _Stream, out: Output) -> None:
        if not stream.held:
            return
        number, byte_end, resume = stream.last_fed
        offset = {"record": number, "byte": byte_end, **resume}
        out.extend(ErrantSourceRecord(stream.partition, offset, error, data) for error, data in stream.held)
        stream.held.clear()
        stream.last_emitted = number

    def _close_hierarchy(self, stream: _Stream, out: Output) -> None:
        """No more children can follow: emit the open hierarchy (and its held bad records)."""
        if stream.assembler is not None:
            self._emit_hierarchy(stream, stream.assembler.finish(), out)

    def _finish(self, stream: _Stream, out: Output) -> None:
        """The file is complete: take a last text line, reject a truncated record, then maybe release it."""
        self._emit_append(stream, stream.splitter.finish(), out)
        self._close_hierarchy(stream, out)
        stream.finished = True
        self._maybe_release(stream)

    def _maybe_release(self, stream: _Stream) -> None:
        if stream.finished and stream.last_committed >= stream.last_emitted:
            self._release(stream.name)
            del self._streams[stream.name]

    def _release(self, name: str) -> None:
        action = self.config.finished_file_action
        if action == "keep" or name in self._released:
            return
        forget = getattr(self.reader, "forget", None)
        if forget is not None:
            forget(name)
        if action == "move":
            assert self.config.finished_dir is not None
            self.reader.move(name, self.config.finished_dir)
        else:
            self.reader.delete(name)
        self._released.add(name)
        log.info(
            "%s: %s is durable in Kafka; %s",
            self.context.connector_name,
            name,
            "moved" if action == "move" else "deleted",
        )

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Move or delete files whose records are all durable now (``finished.file.action``)."""
        if self._snapshot is not None:
            self._snapshot.commit(offsets)
            return
        for partition, offset in offsets:
            stream = self._streams.get(t.cast(str, partition.get("file")))
            if stream is not None:
                stream.last_committed = max(stream.last_committed, int(t.cast(int, offset["record"])))
                self._maybe_release(stream)

    def stop(self) -> None:
        """Close open file handles."""
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


KeyedRows: t.TypeAlias = dict[str, tuple[dict[str, t.Any], Row]]
"""Canonical key -> (key, row), in file order."""


class _SnapshotState:
    """snapshot-diff: compares each generation with the previous one (see the module docstring).

    Generations are the files matching ``input.glob``, ordered by name (or mtime); each
    must be complete when it appears under a matching name (write it elsewhere, then
    rename). Rows are held in memory: the previous generation's and the current one's.
    """

    def __init__(self, task: MainframeCopybookTask) -> None:
        self.task = task
        self.config = task.config
        self.partition = {"dataset": task.config.input_glob}
        self.base: str | None = None
        self.base_rows: KeyedRows | None = None
        self.gen: str | None = None
        self.gen_rows: KeyedRows = {}
        self.keys_complete = True
        self.phase = "idle"
        self.stream: _Stream | None = None
        self.deletes: list[tuple[dict[str, t.Any], Row]] | None = None
        self.deleted = 0
        self.next_scan = 0.0
        self.history: list[str] = []
        self.end: dict[str, t.Any] = {"resume.byte": 0, "resume.record": 1, "resume.block.end": None}
        stored = task.context.offsets.offset(self.partition)
        if stored is not None:
            generation = str(stored["generation"])
            base = str(stored.get("base") or "") or None
            phase = str(stored["phase"])
            if phase == "done":
                self.base = generation
                self.history = [name for name in (base, generation) if name]
                self._release_before(generation)
            else:
                self.base, self.gen, self.phase = base, generation, phase
                self.history = [name for name in (base, generation) if name]
                self.keys_complete = False
                if phase == "scan":
                    self.stream = task._open_stream(generation, self.partition, _stored_position(stored),
                                                    int(t.cast(int, stored["record"])))  # fmt: skip
                else:
                    self.deleted = int(t.cast(int, stored["deleted"]))
                    self.end = {k: stored.get(k) for k in ("resume.byte", "resume.record", "resume.block.end")}

    # ---------------------------------------------------------------- helpers

    def _order(self, info: FileInfo) -> tuple[t.Any, ...]:
        return (info.mtime_ms, info.name) if self.config.generation_order == "mtime" else (info.name,)

    def _load(self, name: str) -> KeyedRows:
        """Every decodable row of a whole generation file, by key (bad records skipped: reported before)."""
        task = self.task
        if task.reader.stat(name) is None:
            msg = (
                f"generation {name} is gone but is needed to compute the changes of the next generation; "
                "it must stay until the next generation is durable in Kafka"
            )
            raise FatalError(msg)
        stream = task._open_stream(name, self.partition, None)
        info = task.reader.stat(name)
        stream.size = info.size if info else 0
        rows: KeyedRows = {}
        while True:
            raws = task._read_chunk(stream)
            final = raws is None
            for _raw, row, _error in task._decode(stream.splitter.finish() if raws is None else raws, name):
                if row is not None:
                    key = task._key(row)
                    rows[canonical_key(key)] = (key, row)
            if final:
                break
        forget = getattr(task.reader, "forget", None)
        if forget is not None:
            forget(name)
        return rows

    def _next_generation(self) -> FileInfo | None:
        task = self.task
        files = [info for info in task.reader.list(self.config.input_glob) if info.name not in task._released]
        after: tuple[t.Any, ...] | None = None
        if self.base is not None:
            base_info = next((info for info in files if info.name == self.base), None)
            if base_info is None:
                msg = f"generation {self.base} is gone but is needed to compute the changes of the next generation"
                raise FatalError(msg)
            after = self._order(base_info)
        candidates = sorted((self._order(info), info) for info in files if after is None or self._order(info) > after)
        return candidates[0][1] if candidates else None

    def _release_before(self, needed: str) -> None:
        if needed not in self.history:
            return
        for name in self.history[: self.history.index(needed)]:
            self.task._release(name)
        self.history = self.history[self.history.index(needed) :]

    def _offset(self, phase: str, record: int, resume: dict[str, t.Any]) -> dict[str, t.Any]:
        return {"generation": self.gen, "base": self.base or "", "phase": phase, "record": record,
                "deleted": self.deleted, **resume}  # fmt: skip

    # ---------------------------------------------------------------- poll

    def poll(self) -> Output:
        """The next events of the current generation's diff, or [] when no new generation is there."""
        out: Output = []
        now = time.monotonic()
        deadline = now + _POLL_BUDGET_S
        if self.gen is None:
            if now < self.next_scan:
                return out
            self.next_scan = now + self.task._interval
            info = self._next_generation()
            if info is None:
                return out
            self.gen, self.phase, self.keys_complete, self.deleted = info.name, "scan", True, 0
            self.gen_rows = {}
            self.stream = self.task._open_stream(info.name, self.partition, None)
            self.history.append(info.name)
        assert self.gen is not None
        if self.base is not None and self.base_rows is None:
            self.base_rows = self._load(self.base)
        if self.phase == "scan":
            self._scan(out, deadline)
        if self.phase == "deletes":
            self._deletes(out)
        return out

    def _scan(self, out: Output, deadline: float) -> None:
        task, stream, gen = self.task, self.stream, self.gen
        assert stream is not None
        assert gen is not None
        if stream.size == 0:
            info = task.reader.stat(gen)
            stream.size, stream.mtime_ms = (info.size, info.mtime_ms) if info else (0, 0)
        base_rows = self.base_rows or {}
        topic, partition, ts_ms = self.config.topic, self.partition, stream.mtime_ms
        while len(out) < self.config.batch_size and time.monotonic() < deadline:
            raws = task._read_chunk(stream)
            finished = raws is None
            if raws is None:
                raws = stream.splitter.finish()
            raws, anchor, end = task._chunk_records(stream, raws)
            last = raws[-1].number if raws else 0
            for raw, row, error in task._decode(raws, gen):
                number = raw.number
                offset = self._offset("scan", number, end if number == last else anchor)
                if error is not None:
                    out.append(ErrantSourceRecord(partition, offset, error, raw.data))
                    continue
                if row is None:
                    continue
                key = task._key(row)
                canonical = canonical_key(key)
                previous = self.gen_rows.get(canonical) or base_rows.get(canonical)
                self.gen_rows[canonical] = (key, row)
                if previous is not None and previous[1] == row:
                    continue  # unchanged since the last generation
                op = Op.CREATE if previous is None else Op.UPDATE
                source = {"connector": _CONNECTOR, "file": gen, "record": number, "offset": raw.offset,
                          "generation": gen, "snapshot": "false"}  # fmt: skip
                event = ChangeEvent(op, key, previous[1] if previous else None, row, source, ts_ms)
                out.append(SourceRecord(partition, offset, topic, key, event.value()))
            if finished:
                self.phase = "deletes"
                self.end = end
                return

    def _deletes(self, out: Output) -> None:
        gen = self.gen
        assert gen is not None
        if self.deletes is None:
            if not self.keys_complete:
                self.gen_rows = self._load(gen)
                self.keys_complete = True
            gone = [pair for canonical, pair in (self.base_rows or {}).items() if canonical not in self.gen_rows]
            self.deletes = gone
        info = self.task.reader.stat(gen)
        ts_ms = info.mtime_ms if info else 0
        end = self.end
        topic, partition = self.config.topic, self.partition
        while self.deleted < len(self.deletes) and len(out) < self.config.batch_size:
            key, row = self.deletes[self.deleted]
            self.deleted += 1
            phase = "done" if self.deleted == len(self.deletes) else "deletes"
            offset = self._offset(phase, 0, end)
            source = {"connector": _CONNECTOR, "file": gen, "record": None, "offset": None,
                      "generation": gen, "snapshot": "false"}  # fmt: skip
            event = ChangeEvent(Op.DELETE, key, row, None, source, ts_ms)
            for message_key, value in to_messages(event, tombstone_on_delete=self.config.tombstones_on_delete):
                out.append(SourceRecord(partition, offset, topic, message_key, value))
        if self.deleted >= len(self.deletes):
            # The generation is complete: it becomes the base of the next one.
            self.base, self.base_rows = gen, self.gen_rows
            self.gen, self.gen_rows, self.deletes, self.stream, self.phase = None, {}, None, None, "idle"

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Release generations that no restart can need any more."""
        for _partition, offset in offsets:
            needed = offset["generation"] if offset["phase"] == "done" else offset.get("base")
            if needed:
                self._release_before(str(needed))
