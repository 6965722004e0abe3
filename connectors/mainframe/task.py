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

  The offset also holds the file's identity (``device``, ``inode``): a file found under a
  stored name with another identity (or shorter than the stored position) is a new
  generation, read from its start (``replaced.file.action``). A file replaced while it is
  read is finished through the handle already open on the old file first.

  A framing error (bad BDW/RDW, garbage, a truncated last record) never stops the file:
  the records before it are emitted, then the unreadable bytes (as bad records naming the
  file and byte offset, at most 256 KiB each) once everything emitted before them is
  stored, so that under ``errors.tolerance=none`` the task fails on them with nothing to
  replay. Splitting then resumes at the next valid BDW/RDW; with none until the file's end,
  the file is quarantined (``failed.file.action``; offset ``"failed": true``).

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
from pathlib import Path

from headwater.codecs.envelope import ChangeEvent, Op, canonical_key, source_block, to_messages
from headwater.connectors.api import (
    ErrantSourceRecord,
    SourceOffset,
    SourcePartition,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.errors import FatalError, RecordError
from headwater.connectors.initial_load import InitialLoad
from headwater.connectors.mainframe.client import DatasetReader, FileInfo, LocalDatasetReader
from headwater.connectors.mainframe.config import MainframeCopybookConfig, key_path
from headwater.connectors.mainframe.field_types import FieldTypes
from headwater.connectors.mainframe.schema import record_schemas
from headwater.connectors.version import HEADWATER_VERSION

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

__all__ = ["MainframeCopybookTask", "owns"]

log = logging.getLogger(__name__)

Row: t.TypeAlias = dict[str, t.Any]
Output: t.TypeAlias = "list[SourceRecord | ErrantSourceRecord]"
_POLL_BUDGET_S = 0.5
_DLQ_PIECE = 256 * 1024
"""Unreadable bytes go to the dead-letter topic in pieces of at most this size."""
_RESYNC_WINDOW = 16 * 1024 * 1024
"""Bytes after a framing error searched for a resync point before the file is quarantined."""
_CONNECTOR = "mainframe-copybook"


def _source(config: MainframeCopybookConfig, ts_ms: int, **fields: t.Any) -> dict[str, t.Any]:
    """The ``source`` block: Debezium's common fields (``name`` is the topic), then the file position."""
    return source_block(version=HEADWATER_VERSION, connector=_CONNECTOR, name=config.topic, ts_ms=ts_ms, **fields)


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
    identity: tuple[int, int] = (0, 0)
    """(device, inode) of the file read; (0, 0) when the store has no identities."""
    broken: FramingError | None = None
    """A framing error whose resync point is not in the bytes read yet (more must come, or the file end)."""
    waiting: bool = False
    """Bad bytes of this file wait in the task's ``_errant`` list; nothing more is read until they go out."""
    final_split: bool = False
    """The waiting bad bytes came from the file's end-of-data check: split the rest as final too."""
    quarantine: bool = False
    """No record can be delimited up to the file's end: quarantine it once its bad bytes are stored."""
    quarantine_why: tuple[int, str] = (0, "")
    """(byte offset, reason) of the framing error that quarantines the file."""
    successor: FileInfo | None = None
    """A new file now has this name: read it from its start once this one is done."""
    caught_up_logged: bool = False
    """``finished.file.action=keep``: "read to its end" was logged since the file last grew."""

    def id_fields(self) -> dict[str, int]:
        return {"device": self.identity[0], "inode": self.identity[1]}


def _inside(folder: Path, root: Path) -> str | None:
    """``folder`` relative to ``root`` as a name prefix (``failed/``), or None when it is elsewhere."""
    try:
        return folder.resolve().relative_to(root.resolve()).as_posix().rstrip("/") + "/"
    except ValueError:
        return None


def _stored_identity(stored: SourceOffset) -> tuple[int, int] | None:
    if "inode" not in stored:
        return None  # stored before identities were tracked
    return int(t.cast(int, stored.get("device") or 0)), int(t.cast(int, stored["inode"]))


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
        self._field_types = FieldTypes(config.field_types, layout)
        self._chunk = max(64 * 1024, min(16 * 1024 * 1024, config.batch_size * (self._plan.record_length + 8)))
        self._interval = config.poll_interval_ms / 1000
        self._next_scan = 0.0
        self._quiet = config.file_quiet_ms / 1000
        self._streams: dict[str, _Stream] = {}
        self._released: dict[str, tuple[int, int]] = {}
        """Files moved, deleted or quarantined (by name: the identity they had)."""
        self._errant: list[tuple[_Stream, list[ErrantSourceRecord]]] = []
        """Unreadable bytes waiting until every record emitted before them is stored."""
        input_dir = Path(config.input_dir)
        self._failed_dir = Path(config.failed_dir) if config.failed_dir else input_dir / "failed"
        self._excluded = tuple(
            prefix
            for folder in (self._failed_dir, config.finished_dir)
            if folder and (prefix := _inside(Path(folder), input_dir)) is not None
        )
        self._turn = 0
        self._snapshot = _SnapshotState(self) if config.mode == "snapshot-diff" else None
        self._fatal: FramingError | None = None
        """snapshot-diff: a framing error, raised once ``_unstored`` is false."""
        self._unstored = False
        """snapshot-diff: events were returned that the runtime has not stored yet."""
        self._bytes_read = 0
        """Bytes read since the task started (append mode's progress)."""
        self._quarantined: list[dict[str, t.Any]] = []
        """The files quarantined since the task started, as the task status lists them."""

    # ------------------------------------------------------------------ shared helpers

    def _open_stream(
        self, name: str, partition: dict[str, t.Any], start: SplitPosition | None, skip_through: int = 0
    ) -> _Stream:
        from headwater.codecs.copybook import RecordSplitter

        splitter = RecordSplitter.for_plan(self._plan, self._format, start=start, source=name)
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
        decoded = self._decode_records(raws, source)
        return self._field_types.apply(decoded, source) if self._field_types else decoded

    def _decode_records(
        self, raws: list[RawRecord], source: str
    ) -> Iterator[tuple[RawRecord, Row | None, DecodeError | None]]:
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
        # The emitters of the common paths build their records with the schemas already
        # (a dataclasses.replace per record cost about as much as the rest of the poll).
        return [
            replace(r, key_schema=key_schema, value_schema=value_schema)
            if type(r) is SourceRecord and r.value_schema is not value_schema
            else r
            for r in self._poll_records()
        ]

    def _poll_records(self) -> Output:
        """Records from the owned files (append) or the current generation's diff (snapshot-diff).

        Lists the folder at most every ``poll.interval.ms``, reads until about
        ``batch.size`` records are ready or half a second has passed, and returns ``[]``
        when there is nothing new. A framing error in append mode is never raised: see the
        module docstring.

        Raises:
            FramingError: snapshot-diff only: a generation's record structure is broken (a
                gap would turn its missing keys into deletes). Raised once every event
                returned before is stored, so a restart loop re-sends none.
        """
        if self._snapshot is not None:
            return self._poll_snapshot(self._snapshot)
        out: Output = []
        self._release_errant(out)
        self._poll_append(out)
        return out

    def _poll_snapshot(self, snapshot: _SnapshotState) -> Output:
        if self._fatal is not None:
            if self._unstored:
                return []  # wait until the runtime stored what was returned before
            raise self._fatal
        out = snapshot.poll()  # sets _fatal after the events before a framing error
        self._unstored = self._unstored or bool(out)
        return out

    def _poll_append(self, out: Output) -> None:
        try:
            self._poll_streams(out)
        finally:
            self._report_progress()

    def _report_progress(self) -> None:
        """Bytes read since the start, of those read plus those still to read in the owned files."""
        streams = list(self._streams.values())
        left = sum(max(0, stream.size - stream.read_pos) for stream in streams if not stream.quarantine)
        busy = [stream.name for stream in streams if stream.read_pos < stream.size]
        what = f"file {busy[0]}" if len(busy) == 1 else f"{len(busy)} files" if busy else "waiting for files"
        self.context.progress(self._bytes_read, self._bytes_read + left, "bytes", what=what)

    def _poll_streams(self, out: Output) -> None:
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
            while len(out) < self.config.batch_size and time.monotonic() < deadline and not stream.waiting:
                if not self._read_append(stream, out):
                    break
            if len(out) >= self.config.batch_size or time.monotonic() >= deadline:
                break

    def _read_append(self, stream: _Stream, out: Output) -> bool:
        """Split and emit the next chunk of ``stream``; False when nothing was left to read."""
        if stream.quarantine:
            return False
        if stream.read_pos < stream.size:
            data = self.reader.read(stream.name, stream.read_pos, min(self._chunk, stream.size - stream.read_pos))
            if data:
                stream.read_pos += len(data)
                self._bytes_read += len(data)
                self._split(stream, data, out)
            else:
                stream.size = stream.read_pos  # shorter than listed: wait for the next listing
        else:
            data = b""
        if stream.read_pos >= stream.size and stream.splitter.undecided and not stream.waiting:
            # Caught up with a short V/VB file that may still grow: decide its descriptor
            # convention on the bytes there are (a later contradiction is a framing error).
            self._split(stream, None, out, settle=True)
        return bool(data)

    def _split(self, stream: _Stream, data: bytes | None, out: Output, *, settle: bool = False) -> None:
        """Feed ``data`` (None: the file's data ended) to the splitter and emit the records.

        ``settle`` (with ``data`` None): every byte there is now was read, but the file may
        still grow: the splitter decides an auto-detected descriptor convention on them (see
        :meth:`RecordSplitter.settle`) instead of being fed. A framing error emits the
        records split before it, then hands the bad bytes to :meth:`_framing_error`.
        """
        from headwater.codecs.copybook.errors import FramingError

        splitter = stream.splitter
        try:
            read = splitter.settle if settle else splitter.finish
            raws = read() if data is None else splitter.feed(data)
        except FramingError as exc:
            self._emit_append(stream, exc.records_before, out)
            self._framing_error(stream, exc, out, final=data is None and not settle)
            return
        self._emit_append(stream, raws, out)

    def _framing_error(self, stream: _Stream, exc: FramingError, out: Output, *, final: bool) -> None:
        """Take the unreadable bytes out of ``stream`` and queue them as bad records.

        ``final``: the file's data ended (it is quiet), so bytes with no resync point after
        them are unreadable up to the end and the file is quarantined. Otherwise, when the
        bytes read so far cannot tell where records resume, the error waits in
        ``stream.broken`` for more bytes (at most ``_RESYNC_WINDOW``) or for the end.
        """
        splitter = stream.splitter
        unresolved = stream.read_pos - splitter.position.offset
        bad = splitter.resync(final=final or unresolved > _RESYNC_WINDOW)
        if bad is None:
            stream.broken = exc
            return
        stream.broken = None
        data_end = stream.read_pos - self._format.file_end_offset
        end = bad.offset + len(bad.data)
        quarantine = end >= data_end and not splitter.skipped_tail
        stream.anchor = _resume_fields(splitter.position)
        if bad.number <= stream.skip_through:
            # Reported before a restart (a later record is stored): split on.
            self._split(stream, None if final else b"", out)
            return
        if stream.assembler is not None:
            self._close_hierarchy(stream, out)  # the gap ends the open hierarchy
        if quarantine:
            what = "no record can be delimited after them: the file is quarantined"
        elif splitter.skipped_tail:
            what = "the file ended inside this record"
        else:
            what = f"records resume at byte {end}"
        offset: dict[str, t.Any] = {"record": bad.number, "byte": end, **stream.anchor, **stream.id_fields()}
        if quarantine:
            offset["failed"] = True
            stream.quarantine_why = (bad.offset, exc.reason)
        message = f"{exc.reason}; {len(bad.data)} unreadable bytes {bad.offset}-{end} skipped, {what}"
        records = []
        for at in range(0, max(len(bad.data), 1), _DLQ_PIECE):
            piece = bad.data[at : at + _DLQ_PIECE]
            location = f"{stream.name}: record {bad.number} at byte offset {bad.offset + at}"
            error = RecordError(message, location=location, raw=piece)
            error.__cause__ = exc
            records.append(ErrantSourceRecord(stream.partition, offset, error, piece))
        log.warning("%s: %s: %s", self.context.connector_name, records[0].error.location, message)
        self._queue_errant(stream, records, final=final, quarantine=quarantine)

    def _queue_errant(
        self, stream: _Stream, records: list[ErrantSourceRecord], *, final: bool, quarantine: bool = False
    ) -> None:
        stream.waiting, stream.final_split, stream.quarantine = True, final, quarantine
        self._errant.append((stream, records))

    def _release_errant(self, out: Output) -> None:
        """Emit the queued bad bytes once every record emitted before them is stored.

        Under ``errors.tolerance=none`` the task then fails on them, and a restart has
        nothing to send again: the restart loop of a broken file duplicates no record.
        """
        if not self._errant or any(s.last_committed < s.last_emitted for s in self._streams.values()):
            return
        queued, self._errant = self._errant, []
        for stream, records in queued:
            out.extend(records)
            stream.last_emitted = max(stream.last_emitted, int(t.cast(int, records[-1].offset["record"])))
            stream.waiting = False
        for stream, _records in queued:
            if not stream.quarantine and self._streams.get(stream.name) is stream:
                self._split(stream, None if stream.final_split else b"", out)
                if stream.final_split and not stream.waiting:
                    self._close_hierarchy(stream, out)  # the file ended: no more children can come

    def _scan(self, now: float, out: Output) -> None:
        config = self.config
        for info in self.reader.list(config.input_glob):
            name = info.name
            if name.startswith(self._excluded) or not owns(name, config.task_index, config.task_count):
                continue
            released = self._released.get(name)
            if released is not None and (released == info.identity or info.identity == (0, 0)):
                continue
            stream = self._streams.get(name)
            if stream is None:
                opened = self._open(info)
                if opened is not None:
                    self._streams[name] = opened
                continue
            if stream.successor is not None:
                stream.successor = info
                continue
            if self._replaced(stream, info):
                self._replace(stream, info, now)
                continue
            if (info.size, info.mtime_ms) != (stream.size, stream.mtime_ms):
                stream.changed_at = now
                stream.caught_up_logged = False
                if stream.finished:
                    log.warning("%s changed after it was finished; the new bytes are ignored", name)
            stream.size, stream.mtime_ms = info.size, info.mtime_ms
        for stream in list(self._streams.values()):
            quiet = now - stream.changed_at >= self._quiet
            if stream.waiting or stream.quarantine or not quiet or stream.read_pos < stream.size:
                continue
            if stream.broken is not None:
                self._framing_error(stream, stream.broken, out, final=True)
            elif stream.successor is not None or config.finished_file_action != "keep":
                if not stream.finished:
                    self._finish(stream, out)
                if stream.successor is not None and not stream.waiting:
                    self._next_generation(stream)
            else:
                if stream.splitter.undecided:
                    # A short V/VB file: decide its descriptor convention on what is there.
                    self._split(stream, None, out, settle=True)
                if not stream.waiting and self._leftover(stream):
                    self._split(stream, None, out)  # reports a truncated last record
                if config.segment_children and not stream.waiting:
                    self._close_hierarchy(stream, out)
                if not stream.waiting and not stream.caught_up_logged:
                    stream.caught_up_logged = True
                    log.info("%s: finished reading %s: %d records, %d bytes (kept; read on if it grows)",
                             self.context.connector_name, stream.name, stream.last_emitted,
                             stream.read_pos)  # fmt: skip

    def _leftover(self, stream: _Stream) -> bool:
        """Bytes after the last whole record (a truncated record, or a last text line)."""
        return stream.splitter.position.offset < stream.read_pos - self._format.file_end_offset

    def _replaced(self, stream: _Stream, info: FileInfo) -> bool:
        """Whether ``info`` is another file than the one ``stream`` reads (or the same one rewritten shorter)."""
        other = stream.identity != (0, 0) and info.identity != (0, 0) and info.identity != stream.identity
        return other or info.size < stream.read_pos

    def _replace(self, stream: _Stream, info: FileInfo, now: float) -> None:
        """``stream``'s name now holds the file ``info``: finish the old file, then read ``info`` from its start."""
        name = stream.name
        if info.identity == stream.identity or info.identity == (0, 0):
            change = f"shrank from {stream.read_pos} to {info.size} bytes while being read"
        else:
            change = f"was replaced by another file (inode {stream.identity[1]} -> {info.inode}) while being read"
        if self.config.replaced_file_action == "fail":
            msg = f"{name} {change}; files must only grow (write a new file under a new name)"
            raise FatalError(msg)
        opened = getattr(self.reader, "opened", None)
        old = opened(name) if opened is not None else None
        if old is not None and old.identity == stream.identity and old.identity != info.identity:
            stream.size = old.size  # read the rest of the old file through the handle still open on it
            log.warning("%s %s; reading the old file to its end (%d bytes), then the new one from its start",
                        name, change, old.size)  # fmt: skip
        else:
            lost = f"{stream.read_pos}-{stream.size}" if stream.size > stream.read_pos else "none known"
            log.warning("%s %s; the old file can no longer be read (bytes %s of it unread); "
                        "reading the new one from its start", name, change, lost)  # fmt: skip
            if stream.size > stream.read_pos:
                error = RecordError(f"{change} before bytes {lost} of the old file were read; they are lost",
                                    location=f"{name}: byte offset {stream.read_pos}")  # fmt: skip
                offset = {"record": stream.last_emitted, "byte": stream.read_pos, **stream.anchor, **stream.id_fields()}
                self._queue_errant(stream, [ErrantSourceRecord(stream.partition, offset, error)], final=True)
            stream.size = stream.read_pos
        stream.successor = info
        stream.changed_at = now - self._quiet  # the old file will not change any more

    def _next_generation(self, stream: _Stream) -> None:
        """The old file under ``stream``'s name is done: read its successor from the start."""
        info = stream.successor
        assert info is not None
        forget = getattr(self.reader, "forget", None)
        if forget is not None:
            forget(stream.name)
        new = self._open_stream(stream.name, stream.partition, None)
        new.identity, new.size, new.mtime_ms = info.identity, info.size, info.mtime_ms
        self._streams[stream.name] = new

    def _open(self, info: FileInfo) -> _Stream | None:
        """A stream for a newly listed file, resumed from its stored offset when that is this file's.

        None when the stored offset quarantined this very file (it is moved away again if
        the move did not happen before a restart).
        """
        name = info.name
        partition = {"file": name}
        stored = self.context.offsets.offset(partition)
        if stored is not None:
            identity = _stored_identity(stored)
            # The inode alone: a device number may change when a share is mounted again.
            if identity is not None and identity[1] and info.inode and identity[1] != info.inode:
                log.warning("%s is another file than the one its stored offset belongs to (inode %d, now %d); "
                            "reading it from its start", name, identity[1], info.inode)  # fmt: skip
                stored = None
            elif int(t.cast(int, stored["resume.byte"])) > info.size:
                log.warning("%s is shorter (%d bytes) than its stored position (%s); reading it from its start",
                            name, info.size, stored["resume.byte"])  # fmt: skip
                stored = None
        if stored is not None and stored.get("failed"):
            at = int(t.cast(int, stored.get("byte") or 0))
            self._quarantine(name, info.identity, at, "quarantined before a restart (its stored offset is failed)")
            return None
        if stored is None:
            stream = self._open_stream(name, partition, None)
            log.info("%s: reading %s (%d bytes)", self.context.connector_name, name, info.size)
        else:
            stream = self._open_stream(name, partition, _stored_position(stored), int(t.cast(int, stored["record"])))
            log.info("%s: reading %s (%d bytes) from byte %d after record %d", self.context.connector_name, name,
                     info.size, stream.read_pos, stream.skip_through)  # fmt: skip
        stream.size, stream.mtime_ms, stream.identity = info.size, info.mtime_ms, info.identity
        return stream

    def _quarantine(self, name: str, identity: tuple[int, int], at: int, reason: str) -> None:
        """Move (or, with ``failed.file.action=keep``, just stop reading) a file no record can be read from.

        The task status lists it under ``quarantined`` (``file`` relative to ``input.dir``,
        the ``byte`` offset where reading broke off, the ``reason``, the ``action``).
        """
        forget = getattr(self.reader, "forget", None)
        if forget is not None:
            forget(name)
        if self.config.failed_file_action == "move":
            self.reader.move(name, str(self._failed_dir))
            where = f"moved to {self._failed_dir}"
        else:
            where = "left in place and not read again"
        self._released[name] = identity
        log.warning("%s: %s is quarantined (its unreadable bytes are in the dead-letter topic): %s",
                    self.context.connector_name, name, where)  # fmt: skip
        action = "moved" if self.config.failed_file_action == "move" else "kept"
        entry = {"file": name, "byte": at, "reason": reason, "action": action}
        self._quarantined = [*[e for e in self._quarantined if e["file"] != name][-19:], entry]
        self.context.status_detail("quarantined", list(self._quarantined))

    def _emit_append(self, stream: _Stream, raws: list[RawRecord], out: Output) -> None:
        if stream.assembler is not None:
            self._emit_hierarchies(stream, stream.assembler, raws, out)
            return
        raws, anchor, end = self._chunk_records(stream, raws)
        if not raws:
            return
        topic, name, partition = self.config.topic, stream.name, stream.partition
        ts_ms, key_paths, identity = stream.mtime_ms, self._key_paths, stream.id_fields()
        key_schema, value_schema = self._schemas
        # Every record's source block is this one with its own record number and byte offset.
        template = _source(self.config, ts_ms, file=name, record=0, offset=0, generation=None)
        record_end = self._format.record_end_offset
        last = raws[-1].number
        within, at_end = {**anchor, **identity}, {**end, **identity}  # the tail of every offset
        # A key of one top-level field (the usual case) is read directly, not by _key's walk.
        single = key_paths[0][0] if len(key_paths) == 1 and len(key_paths[0]) == 1 else None
        for raw, row, error in self._decode(raws, name):
            number = raw.number
            offset = {
                "record": number,
                "byte": raw.offset + len(raw.data) + record_end,
                **(at_end if number == last else within),
            }
            if error is not None:
                out.append(ErrantSourceRecord(partition, offset, error, raw.data))
            elif row is not None:
                if single is not None:
                    key = {single: row.get(single)}
                else:
                    key = self._key(row) if key_paths else {"file": name, "record": number}
                source = {**template, "record": number, "offset": raw.offset}
                value = {"before": None, "after": row, "source": source, "op": "c", "ts_ms": ts_ms}
                out.append(
                    SourceRecord(partition, offset, topic, key, value, key_schema=key_schema, value_schema=value_schema)
                )
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
        offset = {"record": number, "byte": byte_end, **resume, **stream.id_fields()}
        row = hierarchy.row
        key = self._key(row) if self._key_paths else {"file": stream.name, "record": hierarchy.record_number}
        source = _source(self.config, stream.mtime_ms, file=stream.name, record=hierarchy.record_number,
                         offset=hierarchy.byte_offset, generation=None)  # fmt: skip
        value = {"before": None, "after": row, "source": source, "op": "c", "ts_ms": stream.mtime_ms}
        out.append(SourceRecord(stream.partition, offset, self.config.topic, key, value))
        stream.last_emitted = number

    def _emit_held(self, stream: _Stream, out: Output) -> None:
        if not stream.held:
            return
        number, byte_end, resume = stream.last_fed
        offset = {"record": number, "byte": byte_end, **resume, **stream.id_fields()}
        out.extend(ErrantSourceRecord(stream.partition, offset, error, data) for error, data in stream.held)
        stream.held.clear()
        stream.last_emitted = number

    def _close_hierarchy(self, stream: _Stream, out: Output) -> None:
        """No more children can follow: emit the open hierarchy (and its held bad records)."""
        if stream.assembler is not None:
            self._emit_hierarchy(stream, stream.assembler.finish(), out)

    def _finish(self, stream: _Stream, out: Output) -> None:
        """The file is complete: take a last text line, reject a truncated record, then maybe release it."""
        self._split(stream, None, out)
        if not stream.waiting:
            self._close_hierarchy(stream, out)
        stream.finished = True
        log.info("%s: finished reading %s: %d records, %d bytes", self.context.connector_name, stream.name,
                 stream.last_emitted, stream.read_pos)  # fmt: skip
        self._maybe_release(stream)

    def _maybe_release(self, stream: _Stream) -> None:
        """Release (or quarantine) a finished file once every record of it is stored."""
        if (
            stream.waiting
            or stream.last_committed < stream.last_emitted
            or self._streams.get(stream.name) is not stream
        ):
            return
        if stream.quarantine:
            self._quarantine(stream.name, stream.identity, *stream.quarantine_why)
            del self._streams[stream.name]
        elif stream.finished and stream.successor is None:
            self._release(stream.name, stream.identity)
            del self._streams[stream.name]

    def _release(self, name: str, identity: tuple[int, int] = (0, 0)) -> None:
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
        self._released[name] = identity
        log.info(
            "%s: %s is durable in Kafka; %s",
            self.context.connector_name,
            name,
            "moved" if action == "move" else "deleted",
        )

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Move or delete files whose records are all durable now (``finished.file.action``)."""
        if self._snapshot is not None:
            self._unstored = False
            self._snapshot.commit(offsets)
            return
        for partition, offset in offsets:
            stream = self._streams.get(t.cast(str, partition.get("file")))
            stored = _stored_identity(offset)
            if stream is not None and stored is not None and stored != stream.identity:
                continue  # an older generation of the file under this name
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
        self.initial_load = InitialLoad()
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
            log.info("%s: comparing generation %s (%d bytes) with %s", self.task.context.connector_name, info.name,
                     info.size, self.base or "nothing (initial load)")  # fmt: skip
        assert self.gen is not None
        if self.base is not None and self.base_rows is None:
            self.base_rows = self._load(self.base)
        if self.phase == "scan":
            self._scan(out, deadline)
            stream = self.stream
            if stream is not None and stream.size:
                self.task.context.progress(stream.read_pos, stream.size, "bytes", what=f"generation {self.gen}")
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
        key_schema, value_schema = task._schemas
        topic, partition, ts_ms = self.config.topic, self.partition, stream.mtime_ms
        from headwater.codecs.copybook.errors import FramingError

        while len(out) < self.config.batch_size and time.monotonic() < deadline:
            broken: FramingError | None = None
            try:
                raws = task._read_chunk(stream)
                finished = raws is None
                if raws is None:
                    raws = stream.splitter.finish()
            except FramingError as exc:
                # The events before the break go out; the task fails once they are stored.
                raws, finished, broken = exc.records_before, False, exc
            raws, anchor, end = task._chunk_records(stream, raws)
            last = raws[-1].number if raws else 0
            for raw, row, error in task._decode(raws, gen):
                number = raw.number
                offset = self._offset("scan", number, end if number == last else anchor)
                if error is not None:
                    out.extend(self.initial_load.other(ErrantSourceRecord(partition, offset, error, raw.data)))
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
                source = _source(self.config, ts_ms, file=gen, record=number, offset=raw.offset, generation=gen)
                event = ChangeEvent(op, key, previous[1] if previous else None, row, source, ts_ms)
                if self.base is None:  # the first generation is the initial load: reads
                    out.extend(self.initial_load.read(partition, offset, topic, event))
                    continue
                out.append(SourceRecord(partition, offset, topic, key, event.value(), key_schema=key_schema,
                                        value_schema=value_schema))  # fmt: skip
            if broken is not None:
                # Every read before the break goes out (none is the load's last): the
                # failure waits until they are stored.
                out.extend(self.initial_load.interrupt())
                task._fatal = broken
                return
            if finished:
                out.extend(self.initial_load.finish())
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
            source = _source(self.config, ts_ms, file=gen, record=None, offset=None, generation=gen)
            event = ChangeEvent(Op.DELETE, key, row, None, source, ts_ms)
            for message_key, value in to_messages(event, tombstone_on_delete=self.config.tombstones_on_delete):
                out.append(SourceRecord(partition, offset, topic, message_key, value))
        if self.deleted >= len(self.deletes):
            log.info("%s: generation %s compared: %d keys, %d deleted", self.task.context.connector_name, gen,
                     len(self.gen_rows), len(self.deletes))  # fmt: skip
            # The generation is complete: it becomes the base of the next one.
            self.base, self.base_rows = gen, self.gen_rows
            self.gen, self.gen_rows, self.deletes, self.stream, self.phase = None, {}, None, None, "idle"

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Release generations that no restart can need any more."""
        for _partition, offset in offsets:
            needed = offset["generation"] if offset["phase"] == "done" else offset.get("base")
            if needed:
                self._release_before(str(needed))
