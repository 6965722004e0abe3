"""Split a byte stream into records: F, FB, V, VB and T (text lines).

Pure: the caller feeds bytes (whole files or chunks of a growing file) and gets
``RawRecord(number, offset, data)`` triples, where ``offset`` is the file offset of
``data[0]`` (after the RDW and ``record_start_offset``). A :class:`SplitPosition` after
every record lets a connector resume at that exact point later (inside a VB/FB block too:
the position remembers where the current block ends).

Header conventions (IBM):

* RDW/BDW: 2-byte length, then 2 bytes that must be zero. The length counts the 4 header
  bytes, so ``payload = length - 4 + adjustment``; ``*_includes_header=False`` reads
  lengths that exclude the header (Cobrix's default), and when neither is given the
  convention is detected from the first descriptors (see
  :mod:`headwater.codecs.copybook.descriptors`). Big-endian by default; little-endian
  accepts Cobrix's reversed word ``00 00 LL HH`` and ``LL HH 00 00``.
* An extended BDW (high bit of the first byte set) holds a 31-bit length in all 4 bytes.
* FB: blocks start with a BDW, unless ``block_length`` or ``records_per_block`` is given
  (then blocks are plain; a short last block is fine, padding after the last whole record
  of a ``block_length`` block is skipped).
* F with ``record_length_field``: the named field holds the whole record's length.
* T: lines end in LF; a CR before it is removed; empty lines are skipped; a last line
  without LF is a record when the stream is finished.

``file_start_offset`` bytes are skipped at the start, ``file_end_offset`` bytes at the end
are held back (they are a trailer); bytes left over when the stream ends are a
:class:`FramingError` (truncated record).

After a :class:`FramingError` a caller that wants to go on (``errors.tolerance=all``) calls
:meth:`RecordSplitter.resync`: it returns the unreadable bytes as one record and moves
past them to the next point where records split cleanly again (see there).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import typing as t
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from headwater.codecs.copybook.descriptors import descriptor_value, detect_conventions, diagnose
from headwater.codecs.copybook.errors import FramingError
from headwater.codecs.copybook.options import RecordFormat, RecordFormatOptions

if t.TYPE_CHECKING:
    from headwater.codecs.copybook.decoder import DecodePlan

__all__ = ["RawRecord", "RecordSplitter", "SplitPosition", "length_field_reader", "split_records"]

_HEADER = 4
_RESYNC_RECORDS = 3
"""A resynchronisation point must split this many records cleanly (or reach the end of the data)."""
_NATIVE_RUN = 4096
"""Records split by one call of the compiled splitter (a chunk's worth at most)."""


def _native_split() -> t.Callable[..., tuple[list[RawRecord], int, int]] | None:
    """The compiled V/VB splitter when the copybook extension is built and enabled (the
    switch of :mod:`headwater.codecs.copybook.native`, read at each call so tests can flip it)."""
    from headwater.codecs.copybook import native

    return native.split_rdw if native.ENABLED else None


class RawRecord(NamedTuple):
    """One record: 1-based number, file offset of ``data[0]`` and its bytes."""

    number: int
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SplitPosition:
    """Where to resume splitting.

    Attributes:
        offset: file offset of the next record (or of the next header).
        record_number: number the next record gets.
        block_end: file offset where the current block ends, when ``offset`` is inside a
            VB or FB-with-BDW block; None at a block boundary.
    """

    offset: int = 0
    record_number: int = 1
    block_end: int | None = None


class RecordSplitter:
    """Incremental record splitter.

    Usage::

        splitter = RecordSplitter(options, record_length=layout.record_length)
        for chunk in chunks:          # consecutive bytes of the file
            for record in splitter.feed(chunk):
                ...
        for record in splitter.finish():  # end of file: last text line, checks leftovers
            ...
        resume_at = splitter.position

    Args:
        options: the record format options.
        record_length: the copybook's record length (used for F/FB when
            ``options.record_length`` is not given).
        length_reader: for ``record_length_field``: a function of the first
            ``length_field_end`` record bytes that returns the record length
            (see :meth:`DecodePlan.read_field`).
        length_field_end: bytes needed by ``length_reader``.
        start: resume position; the first fed byte is then at ``start.offset``.
        source: file name for error messages.
    """

    def __init__(
        self,
        options: RecordFormatOptions,
        *,
        record_length: int | None = None,
        length_reader: Callable[[bytes], int] | None = None,
        length_field_end: int = 0,
        start: SplitPosition | None = None,
        source: str | None = None,
    ) -> None:
        self.options = options
        self.source = source
        fixed = options.record_length
        if fixed is None and record_length is not None:
            fixed = record_length + options.record_start_offset + options.record_end_offset
        self.fixed_length = fixed
        needs_length = options.record_format in (RecordFormat.F, RecordFormat.FB)
        if needs_length and fixed is None and length_reader is None:
            msg = "record_length is required for F and FB records"
            raise ValueError(msg)
        if options.record_length_field and length_reader is None:
            msg = "record_length_field needs a length_reader"
            raise ValueError(msg)
        self.length_reader = length_reader
        self.length_field_end = length_field_end
        self._buffer = bytearray()
        self._probing = False
        self._tail_error = False
        self.skipped_tail = False
        """Whether the last :meth:`resync` took a truncated last record (not garbage)."""
        # The first bytes of the stream, kept to explain framing errors (descriptors.diagnose).
        self._head = bytearray() if start is None or start.offset == 0 else None
        self._detect = _needs_detection(options)
        # Bytes of the stream the conventions were settled on by :meth:`settle` (None: not so).
        self._settled_at: int | None = None
        if start is None:
            self._buffer_start = 0
            self._cursor = options.file_start_offset
            self._number = 1
            self._block_end: int | None = None
        else:
            self._buffer_start = start.offset
            self._cursor = start.offset
            self._number = start.record_number
            self._block_end = start.block_end

    @classmethod
    def for_plan(
        cls,
        plan: DecodePlan,
        options: RecordFormatOptions,
        *,
        start: SplitPosition | None = None,
        source: str | None = None,
    ) -> RecordSplitter:
        """A splitter for the records ``plan`` decodes: the plan's record length, and its
        ``options.record_length_field`` read through the plan (see :func:`length_field_reader`).

        The one way the connector and ``headwater copybook decode`` build a splitter.
        """
        length_reader, length_field_end = length_field_reader(plan, options.record_length_field)
        return cls(
            options,
            record_length=plan.record_length,
            length_reader=length_reader,
            length_field_end=length_field_end,
            start=start,
            source=source,
        )

    @property
    def position(self) -> SplitPosition:
        """Resume point after the last record returned."""
        return SplitPosition(self._cursor, self._number, self._block_end)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[RawRecord]:
        """Append the next bytes of the stream and return the records now complete.

        Raises:
            FramingError: a record header is broken; the records split before it are on
                the error's ``records_before``, and :attr:`position` is just past them.
        """
        self._buffer += chunk
        if self._head is not None and len(self._head) < _HEAD_BYTES:
            self._head += bytes(chunk[: _HEAD_BYTES - len(self._head)])
        return self._collect(final=False)

    def finish(self) -> list[RawRecord]:
        """Signal the end of the stream; return the last records.

        Raises:
            FramingError: bytes are left that do not form a whole record (or a header is
                broken); the records split before are on the error's ``records_before``.
        """
        return self._collect(final=True)

    @property
    def undecided(self) -> bool:
        """Whether a descriptor length convention left to auto-detection is still open."""
        return self._detect

    def settle(self) -> list[RawRecord]:
        """Decide the open descriptor conventions on the bytes fed so far; return the records now complete.

        Called by a reader that has read all the bytes there are for now, of a stream that
        may still grow (a file being written): a short V/VB file has too few descriptors for
        :meth:`feed` to decide on for good, and without this its records would wait for
        :meth:`finish`. The conventions are decided by the rule :meth:`feed` uses (IBM's
        whenever it fits the bytes at hand, else the one other that fits), taking the
        verdicts as they stand; a record cut by the end of the bytes waits for more. Fewer
        than 8 bytes decide nothing. If later bytes contradict the decision, :meth:`feed`
        raises an ordinary :class:`FramingError` naming the option to set. The decision
        depends on where the stream ended when this was called; :meth:`feed` and
        :meth:`finish` alone never depend on the chunking. A no-op once decided.

        Raises:
            FramingError: as :meth:`feed`.
        """
        if self._detect and self._detect_conventions(final=False, settle=True):
            self._settled_at = self._limit()
        return self._collect(final=False)

    def split(self, chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[RawRecord]:
        """Feed consecutive ``chunks``, then finish; yield each record once split.

        Raises:
            FramingError: after yielding every record that precedes the broken one.
        """
        try:
            for chunk in chunks:
                yield from self.feed(chunk)
            yield from self.finish()
        except FramingError as exc:
            yield from exc.records_before
            raise

    def resync(self, *, final: bool) -> RawRecord | None:
        """After a :class:`FramingError`: take the unreadable bytes at :attr:`position` out.

        Called by a caller that goes on after a framing error (``feed`` or ``finish`` raised
        it; :attr:`position` is at the broken header). Looks, in the bytes fed so far, for the
        first later point where records split cleanly again: for V/VB/VBS and FB with BDWs
        a descriptor (for blocked formats, a block start; the end of the current block is
        tried first) from which ``3`` records split (or the data ends exactly); for F with a
        length field, any offset that does the same. A truncated tail is never searched.
        Candidates are found by their two zero bytes, so an extended (31-bit) BDW is a
        resync point only where the current block ends. VBS: the continuation segments
        at the start of the block found belong to the skipped bytes.

        Args:
            final: no more bytes will come (the file is complete).

        Returns:
            The skipped bytes as one :class:`RawRecord` (it takes the next record number, so
            a restart resumes after it); :attr:`position` is then just past it and ``feed``
            splits on from there. None when the bytes fed so far cannot tell where records
            resume and ``final`` is false: feed more bytes (``feed`` raises the same error
            again) and call this again. With ``final``, bytes with no resync point are
            returned up to the end of the data.
        """
        begin = self._cursor
        limit = self._limit()
        end: int | None = None
        block_end: int | None = None
        if not self._tail_error:
            firsts = [self._block_end] if self._block_end is not None and self._block_end > begin else []
            for candidate in (*firsts, *self._candidates(begin + 1, limit)):
                start = self._record_start(candidate, limit)
                if start is None:
                    continue
                verdict = self._probe(*start, final=final)
                if verdict:
                    end, block_end = start
                    break
                if verdict is None:
                    return None
        if end is None:
            if not final:
                return None
            end, block_end = max(begin, limit), None
        record = RawRecord(self._number, begin, bytes(self._view(begin, end)))
        self._number += 1
        self._cursor = end
        self._block_end = block_end
        self.skipped_tail = self._tail_error
        self._tail_error = False
        self._compact()
        return record

    def _candidates(self, begin: int, limit: int) -> Iterator[int]:
        """Offsets where a record (or block) might start: any, or only before two zero bytes."""
        options = self.options
        descriptors = options.record_format in (RecordFormat.V, RecordFormat.VB, RecordFormat.VBS) or (
            options.record_format is RecordFormat.FB and options.fb_has_bdw
        )
        if not descriptors:
            yield from range(begin, limit)
            return
        base = self._buffer_start
        at = begin + 2 - base
        while True:
            found = self._buffer.find(b"\x00\x00", at, limit - base)
            if found < 0:
                return
            yield base + found - 2
            at = found + 1

    def _record_start(self, at: int, limit: int) -> tuple[int, int | None] | None:
        """Where a record can start from candidate ``at``: ``(offset, block_end)``, or None.

        VBS: ``at`` is a block whose leading segments may continue a record that began
        before it (they belong to the unreadable bytes): the first segment that starts a
        record (code 0 or 1) in that block, or None when the block has none.
        """
        if self.options.record_format is not RecordFormat.VBS or at + _HEADER > limit:
            return at, None
        header = bytes(self._view(at, at + _HEADER))
        if header[0] & 0x80:
            return at, None
        value = descriptor_value(header, self.options.bdw_big_endian)
        if value is None:
            return None
        block_end = at + _HEADER + value + self.options.bdw_payload_adjustment
        order: t.Literal["big", "little"] = "big" if self.options.rdw_big_endian else "little"
        cursor = at + _HEADER
        while cursor + _HEADER <= min(limit, block_end):
            segment = bytes(self._view(cursor, cursor + _HEADER))
            if segment[2] in (0, 1):
                return (cursor, block_end) if cursor > at + _HEADER else (at, None)
            if segment[2] not in (2, 3) or segment[3]:
                return None
            length = int.from_bytes(segment[:2], order) + self.options.rdw_payload_adjustment + _HEADER
            if length < _HEADER:
                return None
            cursor += length
        return None if cursor >= block_end else (at, None)

    def _probe(self, at: int, block_end: int | None = None, *, final: bool) -> bool | None:
        """True when records split cleanly from ``at``; False when not; None: too few bytes to tell."""
        probe = copy.copy(self)  # shares the buffer; _probing keeps it from compacting it
        probe._probing = True
        probe._cursor, probe._block_end = at, block_end
        count = 0
        try:
            for _record in probe._extract(final=final):
                count += 1
                if count >= _RESYNC_RECORDS:
                    return True
        except FramingError:
            return False
        if final:
            return count > 0 and probe._cursor >= self._limit()
        return None

    def _collect(self, *, final: bool) -> list[RawRecord]:
        records: list[RawRecord] = []
        try:
            records.extend(self._extract(final=final))
            if final:
                limit = self._limit()
                if self._cursor < limit:
                    raw = bytes(self._view(self._cursor, limit))
                    self._tail_error = True
                    self._fail(f"truncated record: {limit - self._cursor} bytes left at end of data", raw)
        except FramingError as exc:
            exc.records_before = records
            raise
        return records

    # ------------------------------------------------------------------------ helpers

    def _limit(self) -> int:
        """File offset up to which bytes may be used (the trailer is held back)."""
        return self._buffer_start + len(self._buffer) - self.options.file_end_offset

    def _view(self, begin: int, end: int) -> memoryview:
        return memoryview(self._buffer)[begin - self._buffer_start : end - self._buffer_start]

    def _fail(self, reason: str, raw: bytes) -> t.NoReturn:
        options = self.options
        current = (
            options.record_format.value,
            options.rdw_big_endian,
            options.rdw_includes_header,
            options.bdw_includes_header,
        )
        head = self._head
        hint = diagnose(bytes(head), final=len(head) < _HEAD_BYTES, current=current) if head is not None else None
        if hint:
            reason = f"{reason}; {hint}"
        if self._settled_at is not None:
            keys = ["rdw.includes.header"]
            if options.record_format in (RecordFormat.VB, RecordFormat.VBS):
                keys.append("bdw.includes.header")
            values = {
                "rdw.includes.header": options.rdw_includes_header,
                "bdw.includes.header": options.bdw_includes_header,
            }
            taken = ", ".join(f"{key}={'true' if values[key] else 'false'}" for key in keys)
            reason = (
                f"{reason}; the descriptor length convention was detected on the first {self._settled_at} bytes, "
                f"all there were when they were read ({taken}), and later bytes do not fit it: "
                f"set {' and '.join(keys)} explicitly"
            )
        raise FramingError(reason, source=self.source, record_number=self._number, byte_offset=self._cursor, raw=raw)

    def _detect_conventions(self, final: bool, *, settle: bool = False) -> bool:
        """Settle the descriptor length conventions left open; False while more bytes are needed.

        ``settle`` (see :meth:`settle`): decide on the bytes at hand, taking verdicts that
        more bytes could still change as they stand; False only when fewer than two
        descriptors' bytes are here (or, resumed inside a block, its end is not).
        """
        options = self.options
        blocked = options.record_format in (RecordFormat.VB, RecordFormat.VBS)
        begin = self._cursor
        if blocked and self._block_end is not None:
            # Resumed inside a block: the conventions are read from the next block on.
            if self._block_end > self._limit() and not final:
                return False
            begin = min(self._block_end, self._limit())
        head = bytes(self._view(begin, self._limit()))
        if len(head) < 2 * _HEADER and not final:
            return False
        # The verdict may only look at bytes that cannot change, so that it does not depend
        # on how the data was chunked: the first _HEAD_BYTES once more bytes follow them
        # (a fixed prefix), else everything, and it is taken only on complete verdicts.
        truncated = len(head) > _HEAD_BYTES
        found = detect_conventions(
            head[:_HEAD_BYTES] if truncated else head,
            blocked=blocked,
            rdw_big_endian=options.rdw_big_endian,
            bdw_big_endian=options.bdw_big_endian,
            rdw_adjustment=options.rdw_adjustment,
            bdw_adjustment=options.bdw_adjustment,
            rdw_includes_header=options.rdw_includes_header,
            bdw_includes_header=options.bdw_includes_header,
            final=final,
            truncated=truncated,
        )
        # IBM's convention (lengths count the header) whenever it fits; another one only when
        # IBM's does not and exactly one other does. Wait while a verdict that matters is open.
        ibm = [
            complete
            for c, complete in found
            if c.rdw_includes_header is not False and c.bdw_includes_header is not False
        ]
        others = [
            (c, complete) for c, complete in found if c.rdw_includes_header is False or c.bdw_includes_header is False
        ]
        undecided = (ibm and not ibm[0]) or (not ibm and any(not complete for _, complete in others))
        if undecided and not settle:
            return False  # only without ``final``: with it every verdict is complete
        chosen = others[0][0] if not ibm and len(others) == 1 else None
        self.options = dataclasses.replace(
            options,
            rdw_includes_header=chosen.rdw_includes_header if chosen else options.rdw_includes_header is not False,
            bdw_includes_header=(
                chosen.bdw_includes_header
                if chosen and chosen.bdw_includes_header is not None
                else options.bdw_includes_header is not False
            ),
        )
        self._detect = False
        return True

    def _compact(self) -> None:
        # Drop consumed bytes so a long-running stream keeps a small buffer. The cursor may
        # be past the bytes received so far (file_start_offset beyond a short first chunk):
        # only bytes that are here can be dropped, the rest are skipped as they arrive.
        if self._probing:
            return
        consumed = min(self._cursor - self._buffer_start, len(self._buffer))
        if consumed > 0 and consumed >= len(self._buffer) // 2:
            del self._buffer[:consumed]
            self._buffer_start += consumed

    def _emit(self, begin: int, end: int) -> RawRecord:
        """A record spanning file offsets ``begin``..``end`` (record offsets removed)."""
        options = self.options
        data_begin = begin + options.record_start_offset
        data_end = max(data_begin, end - options.record_end_offset)
        record = RawRecord(self._number, data_begin, bytes(self._view(data_begin, data_end)))
        self._number += 1
        return record

    def _descriptor(self, at: int, big_endian: bool, adjustment: int, what: str, extended: bool) -> int:
        header = bytes(self._view(at, at + _HEADER))
        if extended and header[0] & 0x80:
            return (int.from_bytes(header, "big") & 0x7FFFFFFF) + adjustment
        value = descriptor_value(header, big_endian)
        if value is None:
            if what == "RDW" and header[2] in (1, 2, 3) and header[3] == 0:
                self._fail("RDW byte 3 holds a segment code: records span blocks (use record format VBS)", header)
            if big_endian:
                self._fail(f"{what} bytes 3-4 must be zero (wrong record format or endianness?)", header)
            self._fail(f"{what} is neither 00 00 LL HH nor LL HH 00 00 (wrong record format or endianness?)", header)
        payload = value + adjustment
        if value == 0 or payload < 0:
            self._fail(f"{what} length {value} is invalid (payload adjustment {adjustment})", header)
        return payload

    def _open_block(self, limit: int, *, multiple_of: int | None = None) -> bool:
        """Read the BDW at the cursor and step past it; False when its 4 bytes are not all here.

        ``multiple_of``: FB blocks must hold whole records of this length.
        """
        if self._cursor + _HEADER > limit:
            return False
        options = self.options
        payload = self._descriptor(self._cursor, options.bdw_big_endian, options.bdw_payload_adjustment, "BDW", True)
        if multiple_of is not None and payload % multiple_of and not options.allow_short_records:
            header = bytes(self._view(self._cursor, self._cursor + _HEADER))
            self._fail(f"block of {payload} bytes is not a multiple of the record length {multiple_of}", header)
        self._block_end = self._cursor + _HEADER + payload
        self._cursor += _HEADER
        return True

    def _extract(self, *, final: bool) -> Iterator[RawRecord]:
        record_format = self.options.record_format
        if self._cursor < self._buffer_start:
            msg = "resume position is before the first fed byte"
            raise ValueError(msg)
        if self._detect and not self._detect_conventions(final):
            return
        if record_format is RecordFormat.T:
            yield from self._text(final)
        elif record_format is RecordFormat.V:
            yield from self._variable(block=False)
        elif record_format is RecordFormat.VB:
            yield from self._variable(block=True)
        elif record_format is RecordFormat.VBS:
            yield from self._spanned()
        elif record_format is RecordFormat.FB and self.options.fb_has_bdw:
            yield from self._fixed_blocked()
        else:
            yield from self._fixed()
        self._compact()

    def _fixed(self) -> Iterator[RawRecord]:
        options = self.options
        block_length = options.block_length if options.record_format is RecordFormat.FB else None
        if block_length is None and self.length_reader is None and self.fixed_length:
            yield from self._fixed_run(self.fixed_length)
            return
        while True:
            limit = self._limit()
            length = self.fixed_length
            if self.length_reader is not None:
                length = self._read_length(limit)
                if length is None:
                    return
            assert length is not None
            if block_length is not None:
                if self._block_end is None:
                    self._block_end = self._cursor + block_length
                if self._cursor + length > self._block_end:
                    # Padding after the last whole record of the block.
                    if self._block_end > limit or self._cursor == limit:
                        return
                    self._cursor = self._block_end
                    self._block_end = None
                    continue
            if self._cursor + length > limit:
                return
            begin = self._cursor
            self._cursor += length
            if self._block_end is not None and self._cursor >= self._block_end:
                self._block_end = None
            yield self._emit(begin, self._cursor)

    def _fixed_run(self, length: int) -> list[RawRecord]:
        """Every whole record of ``length`` bytes at the cursor, at once (F: what the loop in
        :meth:`_fixed` would emit one by one, without a Python call per record)."""
        count = (self._limit() - self._cursor) // length
        if count <= 0:
            return []
        options = self.options
        first = self._cursor
        skip = options.record_start_offset
        size = max(0, length - skip - options.record_end_offset)
        start = first - self._buffer_start
        blob = bytes(memoryview(self._buffer)[start : start + count * length])
        begins = range(skip, skip + count * length, length)
        datas = map(blob.__getitem__, map(slice, begins, range(skip + size, skip + size + count * length, length)))
        offsets = range(first + skip, first + skip + count * length, length)
        numbers = range(self._number, self._number + count)
        records = list(map(functools.partial(tuple.__new__, RawRecord), zip(numbers, offsets, datas, strict=True)))
        self._number += count
        self._cursor += count * length
        return records

    def _read_length(self, limit: int) -> int | None:
        """The record length from the length field, or None when more bytes are needed."""
        assert self.length_reader is not None
        field_start = self._cursor + self.options.record_start_offset
        if field_start + self.length_field_end > limit:
            return None
        head = bytes(self._view(field_start, field_start + self.length_field_end))
        try:
            length = self.length_reader(head)
        except ValueError as exc:
            self._fail(f"record length field is invalid: {exc}", head)
        if not isinstance(length, int) or length <= 0:
            self._fail(f"record length field holds {length!r}", head)
        return length

    def _fixed_blocked(self) -> Iterator[RawRecord]:
        length = self.fixed_length
        assert length is not None
        while True:
            limit = self._limit()
            if self._block_end is None and not self._open_block(limit, multiple_of=length):
                return
            if self._cursor >= self._block_end:
                self._block_end = None
                continue
            end = min(self._cursor + length, self._block_end)  # short only with allow_short_records
            if end > limit:
                return
            begin = self._cursor
            self._cursor = end
            if self._cursor >= self._block_end:
                self._block_end = None
            yield self._emit(begin, self._cursor)

    def _variable(self, *, block: bool) -> Iterator[RawRecord]:
        # The hot loop of V/VB files: per-record state lives in locals and each RDW is read
        # straight from the buffer; any RDW that is not plainly valid goes through
        # _descriptor, which raises the error that names it.
        options = self.options
        buffer, base = self._buffer, self._buffer_start
        big_endian = options.rdw_big_endian
        rdw_order: t.Literal["big", "little"] = "big" if big_endian else "little"
        rdw_adjustment = options.rdw_payload_adjustment
        data_skip, data_cut = options.record_start_offset, options.record_end_offset
        limit = self._limit()
        split = _native_split()
        # A probe needs only a few records at each candidate point (resync): no more split ahead.
        most = _RESYNC_RECORDS if self._probing else _NATIVE_RUN
        while True:
            if block and self._block_end is None and not self._open_block(limit):
                break
            block_end = self._block_end
            if block_end is not None and self._cursor >= block_end:
                self._block_end = None
                continue
            if split is not None:
                # The plain records up to the end of the block in one call; anything else
                # (and the error that names it) takes the loop below.
                run, at, number = split(
                    buffer, self._cursor - base, limit - base, -1 if block_end is None else block_end - base,
                    big_endian, rdw_adjustment, data_skip, data_cut, self._number, base, RawRecord, most,
                )  # fmt: skip
                if run:
                    self._number, self._cursor = number, base + at
                    if block_end is not None and self._cursor >= block_end:
                        self._block_end = None
                    yield from run
                    continue
            cursor = self._cursor
            if cursor + _HEADER > limit:
                break
            at = cursor - base
            value = int.from_bytes(buffer[at : at + 2], rdw_order)
            length = value + rdw_adjustment
            if value == 0 or length < 0 or buffer[at + 2] or buffer[at + 3]:
                length = self._descriptor(cursor, options.rdw_big_endian, rdw_adjustment, "RDW", False)
            end = cursor + _HEADER + length
            if block_end is not None and end > block_end:
                header = bytes(buffer[at : at + _HEADER])
                self._fail(f"record of {length} bytes runs past the end of its block at {block_end}", header)
            if end > limit:
                break
            data_begin = cursor + _HEADER + data_skip
            data_end = max(data_begin, end - data_cut)
            record = RawRecord(self._number, data_begin, bytes(buffer[data_begin - base : data_end - base]))
            self._number += 1
            self._cursor = end
            if block_end is not None and end >= block_end:
                self._block_end = None
            yield record

    def _spanned(self) -> Iterator[RawRecord]:
        """RECFM=VBS: a logical record is one complete segment (SDW control code 0), or a
        first (1), middle (3)... and last (2) segment, possibly in different blocks.

        Resume points stay between logical records: a record whose segments are not all
        here yet is split again, from its first segment, once more bytes arrive.
        """
        options = self.options
        order: t.Literal["big", "little"] = "big" if options.rdw_big_endian else "little"
        data_skip, data_cut = options.record_start_offset, options.record_end_offset
        while True:
            limit = self._limit()
            restart = (self._cursor, self._block_end)
            segments: list[bytes] = []
            first_data = -1
            complete = False
            try:
                while not complete:
                    if self._block_end is None and not self._open_block(limit):
                        break
                    if self._cursor >= self._block_end:
                        self._block_end = None
                        continue
                    if self._cursor + _HEADER > limit:
                        break
                    header = bytes(self._view(self._cursor, self._cursor + _HEADER))
                    control = header[2]
                    if header[3] != 0 or control > 3:
                        self._fail("SDW byte 3 must be a segment code 0-3 and byte 4 zero (not a VBS file?)", header)
                    if (control in (2, 3)) == (first_data < 0):
                        what = "a middle or last segment without a first" if first_data < 0 else "a new record"
                        self._fail(f"{what} where the previous record's segments should go on", header)
                    value = int.from_bytes(header[:2], order)
                    length = value + options.rdw_payload_adjustment
                    if value == 0 or length < 0:
                        self._fail(f"SDW length {value} is invalid (adjustment {options.rdw_adjustment})", header)
                    end = self._cursor + _HEADER + length
                    if end > self._block_end:
                        self._fail(
                            f"segment of {length} bytes runs past the end of its block at {self._block_end}", header
                        )
                    if end > limit:
                        break
                    if first_data < 0:
                        first_data = self._cursor + _HEADER
                    segments.append(bytes(self._view(self._cursor + _HEADER, end)))
                    self._cursor = end
                    if self._cursor >= self._block_end:
                        self._block_end = None
                    complete = control in (0, 2)
            except FramingError:
                # The record's earlier segments are unreadable with it: a resync starts there.
                self._cursor, self._block_end = restart
                raise
            if not complete:
                self._cursor, self._block_end = restart
                return
            data = b"".join(segments)
            record = RawRecord(
                self._number, first_data + data_skip, data[data_skip : max(data_skip, len(data) - data_cut)]
            )
            self._number += 1
            yield record

    def _text(self, final: bool) -> Iterator[RawRecord]:
        while True:
            limit = self._limit()
            start = self._cursor - self._buffer_start
            newline = self._buffer.find(b"\n", start, limit - self._buffer_start)
            if newline < 0:
                if final and self._cursor < limit:
                    begin = self._cursor
                    self._cursor = limit
                    yield self._emit(begin, limit)
                return
            begin = self._cursor
            end = self._buffer_start + newline
            self._cursor = end + 1
            line_end = end - 1 if end > begin and self._buffer[newline - 1] == 0x0D else end
            if line_end == begin:
                continue  # empty line
            yield self._emit(begin, line_end)


_HEAD_BYTES = 64 * 1024


def _needs_detection(options: RecordFormatOptions) -> bool:
    """True when a V/VB/VBS descriptor length convention is left to detection."""
    if options.record_format in (RecordFormat.V, RecordFormat.VBS):
        return options.rdw_includes_header is None and options.rdw_adjustment == 0
    if options.record_format is RecordFormat.VB:
        rdw_open = options.rdw_includes_header is None and options.rdw_adjustment == 0
        bdw_open = options.bdw_includes_header is None and options.bdw_adjustment == 0
        return rdw_open or bdw_open
    return False


def split_records(
    data: bytes | bytearray | memoryview,
    options: RecordFormatOptions,
    *,
    record_length: int | None = None,
    length_reader: Callable[[bytes], int] | None = None,
    length_field_end: int = 0,
    source: str | None = None,
) -> Iterator[RawRecord]:
    """Split a whole buffer (a complete file) into records; see :class:`RecordSplitter`."""
    splitter = RecordSplitter(
        options,
        record_length=record_length,
        length_reader=length_reader,
        length_field_end=length_field_end,
        source=source,
    )
    yield from splitter.split([data])


def length_field_reader(plan: DecodePlan, name: str | None) -> tuple[Callable[[bytes], int] | None, int]:
    """The ``length_reader`` and ``length_field_end`` of a :class:`RecordSplitter` for field ``name``.

    The reader decodes the field with ``plan`` from a record's first bytes; bytes the
    field's PICTURE does not allow (or a value that is not a whole number) raise
    ``ValueError``, which the splitter reports as a :class:`FramingError`. ``(None, 0)``
    when ``name`` is empty.
    """
    if not name:
        return None, 0
    from headwater.codecs.copybook.fields import InvalidField

    item = plan.layout.find(name)

    def read_length(head: bytes) -> int:
        try:
            return int(plan.read_field(name, head))
        except (InvalidField, TypeError, ArithmeticError) as exc:
            raise ValueError(str(exc)) from exc

    return read_length, item.offset + item.length
