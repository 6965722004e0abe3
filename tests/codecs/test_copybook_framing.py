"""Record framing under hostile bytes: resynchronisation, a short first chunk, and a fuzzer.

The fuzzer frames random records (V, VB, VBS, FB with BDW, F with a length field), breaks
the bytes (overwrites, inserts, cuts), and feeds them in random chunks, and again from
random resume positions. Whatever it feeds, the splitter raises nothing but
``FramingError``, and a caller that resynchronises gets the same records and the same
skipped bytes however the stream was chunked or resumed, with every byte accounted for.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.codecs.copybook import native
from headwater.codecs.copybook.decoder import compile_plan
from headwater.codecs.copybook.encoder import frame_fb, frame_v, frame_vb, frame_vbs
from headwater.codecs.copybook.errors import FramingError
from headwater.codecs.copybook.options import RecordFormat, RecordFormatOptions
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.copybook.records import RawRecord, RecordSplitter, SplitPosition

Entry: t.TypeAlias = tuple[str, RawRecord]

LENGTH_FIELD_CPY = """\
       01  REC.
           05  LEN      PIC 9(3).
           05  BODY     PIC X(60).
"""


def _drive(
    splitter: RecordSplitter, pieces: t.Sequence[bytes], positions: list[tuple[SplitPosition, int]] | None = None
) -> list[Entry]:
    """Feed ``pieces``, then finish; resynchronise after every framing error (errors.tolerance=all)."""
    out: list[Entry] = []

    def pump(first: bytes | None, *, final: bool) -> None:
        chunk = first
        while True:
            try:
                records = splitter.finish() if final else splitter.feed(chunk or b"")
                out.extend(("record", raw) for raw in records)
                return
            except FramingError as exc:
                out.extend(("record", raw) for raw in exc.records_before)
                chunk = None
                bad = splitter.resync(final=final)
                if bad is None:
                    return
                out.append(("bad", bad))

    for piece in pieces:
        pump(piece, final=False)
        if positions is not None:
            positions.append((splitter.position, len(out)))
    pump(None, final=True)
    return out


def _cut(data: bytes, cuts: t.Iterable[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# ---------------------------------------------------------------------------- item 9


def test_file_start_offset_beyond_a_short_first_chunk_loses_no_bytes() -> None:
    """A growing file first seen shorter than its header: the bytes after the header still frame."""
    records = [bytes([65 + n]) * 10 for n in range(50)]
    data = b"H" * 100 + frame_v(records)
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V, file_start_offset=100))
    out: list[RawRecord] = []
    for piece in (data[:50], data[50:130], data[130:]):
        out += splitter.feed(piece)
    out += splitter.finish()
    assert [raw.data for raw in out] == records
    assert out[0].offset == 104


# ---------------------------------------------------------------------------- resynchronisation


def test_a_bad_rdw_inside_a_block_skips_to_the_next_block() -> None:
    records = [bytes([65 + n]) * 12 for n in range(9)]
    data = bytearray(frame_vb(records, records_per_block=3))
    block = 4 + 3 * 16
    data[block + 4 + 16 + 2] = 0x7F  # record 5's RDW: bytes 3-4 must be zero
    out = _drive(RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VB)), [bytes(data)])
    kinds = [(kind, raw.number) for kind, raw in out]
    assert kinds == [("record", n) for n in range(1, 5)] + [("bad", 5)] + [("record", n) for n in range(6, 9)]
    bad = out[4][1]
    assert bad.offset == block + 4 + 16  # the broken RDW and the rest of its block
    assert bad.data == bytes(data[block + 4 + 16 : 2 * block])
    assert [raw.data for kind, raw in out if kind == "record"] == records[:4] + records[6:]


def test_garbage_between_v_records_is_skipped_once() -> None:
    records = [bytes([65 + n]) * 20 for n in range(6)]
    framed = frame_v(records)
    garbage = b"README: this is not a dataset\n"
    data = framed[: 3 * 24] + garbage + framed[3 * 24 :]
    out = _drive(RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V)), _cut(data, range(0, 200, 7)))
    assert [raw.data for kind, raw in out if kind == "record"] == records
    assert [(raw.offset, raw.data) for kind, raw in out if kind == "bad"] == [(3 * 24, garbage)]


def test_a_truncated_last_record_is_returned_whole_and_not_searched() -> None:
    records = [bytes([65 + n]) * 20 for n in range(3)]
    tail = frame_v([b"\x00\x00\x00\x00" * 10])[:-5]
    data = frame_v(records) + tail
    out = _drive(RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V)), [data])
    assert [raw.data for kind, raw in out if kind == "record"] == records
    assert [(raw.offset, raw.data) for kind, raw in out if kind == "bad"] == [(72, tail)]


def test_resync_waits_for_bytes_that_decide() -> None:
    """A candidate that needs more bytes is not passed over: resync says None until they come."""
    records = [bytes([65 + n]) * 20 for n in range(5)]
    framed = frame_v(records)
    data = b"\xff\xff\xff\xff" + framed
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V))
    with pytest.raises(FramingError):
        splitter.feed(data[:30])
    assert splitter.resync(final=False) is None
    with pytest.raises(FramingError):
        splitter.feed(data[30:])
    bad = splitter.resync(final=False)
    assert bad is not None
    assert (bad.number, bad.offset, bad.data) == (1, 0, b"\xff\xff\xff\xff")
    assert [raw.data for raw in splitter.feed(b"") + splitter.finish()] == records


def test_a_file_of_text_read_as_vb_is_one_bad_region() -> None:
    text = b"This folder holds the CUST.MASTER extracts.\nDo not edit.\n" * 3
    out = _drive(RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VB)), [text])
    assert [(kind, raw.offset, raw.data) for kind, raw in out] == [("bad", 0, text)]


def test_vbs_broken_segment_takes_its_record_whole() -> None:
    records = [bytes([65 + n]) * 50 for n in range(6)]
    data = bytearray(frame_vbs(records, block_length=64))
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VBS))
    first = splitter.feed(bytes(data))
    assert [raw.data for raw in first] == records
    # Break the SDW of a middle segment: its record is skipped whole, the later records come back.
    at = data.index(b"\x00\x00\x03\x00") if b"\x00\x00\x03\x00" in data else data.index(b"\x02\x00", 70) - 2
    data[at + 2] = 0x09
    out = _drive(RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VBS)), [bytes(data)])
    good = [raw.data for kind, raw in out if kind == "record"]
    bad = [raw for kind, raw in out if kind == "bad"]
    assert len(bad) == 1
    assert set(good) < set(records)
    assert len(good) >= len(records) - 2
    assert good == [r for r in records if r in good]  # in order, none twice


# ---------------------------------------------------------------------------- the fuzzer


@st.composite
def _streams(draw: st.DrawFn) -> tuple[RecordFormatOptions, int | None, bytes, list[int], int]:
    kind = draw(st.sampled_from(["V", "VB", "VBS", "FB", "F-length"]))
    count = draw(st.integers(min_value=0, max_value=12))
    if kind == "F-length":
        lengths = [draw(st.integers(min_value=3, max_value=63)) for _ in range(count)]
        records = [f"{n:03d}".encode("cp037") + bytes([0x40 + i % 60]) * (n - 3) for i, n in enumerate(lengths)]
        options = RecordFormatOptions(record_format=RecordFormat.F, record_length_field="LEN")
        record_length = None
        data = b"".join(records)
    elif kind == "FB":
        width = draw(st.integers(min_value=1, max_value=12))
        records = [bytes([i % 256]) * width for i in range(count)]
        data = frame_fb(records, records_per_block=draw(st.integers(min_value=1, max_value=4)))
        options = RecordFormatOptions(record_format=RecordFormat.FB)
        record_length = width
    else:
        records = [draw(st.binary(min_size=1, max_size=40)) for _ in range(count)]
        if kind == "V":
            data = frame_v(records)
        elif kind == "VB":
            data = frame_vb(records, records_per_block=draw(st.integers(min_value=1, max_value=4)))
        else:
            data = frame_vbs(records, block_length=draw(st.integers(min_value=12, max_value=64)))
        options = RecordFormatOptions(record_format=RecordFormat[kind])
        record_length = None
    header = draw(st.binary(max_size=12))  # file.start.offset bytes, possibly longer than the first chunk
    if header:
        options = dataclasses.replace(options, file_start_offset=len(header))
    buffer = bytearray(header + data)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        action = draw(st.sampled_from(["overwrite", "insert", "cut"]))
        at = draw(st.integers(min_value=0, max_value=len(buffer)))
        if action == "overwrite" and buffer:
            at = min(at, len(buffer) - 1)
            buffer[at] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=12))
        else:
            del buffer[at : at + draw(st.integers(min_value=1, max_value=12))]
    if len(buffer) < len(header):
        buffer += bytes(len(header) - len(buffer))  # the header is never cut short (that is no framing)
    cuts = draw(st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
    resume_choice = draw(st.integers(min_value=0, max_value=100))
    return options, record_length, bytes(buffer), cuts, resume_choice


_PLAN = compile_plan(parse_copybook(LENGTH_FIELD_CPY))


def _splitter(options: RecordFormatOptions, record_length: int | None, start: SplitPosition | None) -> RecordSplitter:
    if options.record_length_field:
        return RecordSplitter.for_plan(_PLAN, options, start=start, source="fuzz")
    return RecordSplitter(options, record_length=record_length, start=start, source="fuzz")


def _check_framing(stream: tuple[RecordFormatOptions, int | None, bytes, list[int], int]) -> None:
    options, record_length, data, cuts, resume_choice = stream
    whole = _drive(_splitter(options, record_length, None), [data])
    positions: list[tuple[SplitPosition, int]] = []
    chunked = _drive(_splitter(options, record_length, None), _cut(data, cuts), positions)
    assert chunked == whole
    # Every byte is in a record, a header or a skipped region; the regions and records do not overlap.
    spans = sorted((raw.offset, raw.offset + len(raw.data)) for _kind, raw in whole)
    for (_a, end), (begin, _b) in itertools.pairwise(spans):
        assert begin >= end
    numbers = [raw.number for _kind, raw in whole]
    assert numbers == list(range(1, len(numbers) + 1))
    bad_bytes = sum(len(raw.data) for kind, raw in whole if kind == "bad")
    good_bytes = sum(len(raw.data) for kind, raw in whole if kind == "record")
    assert good_bytes + bad_bytes <= len(data)
    # A restart from any stored position gives exactly the rest.
    if positions:
        position, emitted = positions[resume_choice % len(positions)]
        resumed = _drive(_splitter(options, record_length, position), _cut(data[position.offset :], cuts))
        assert resumed == whole[emitted:]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_streams())
def test_framing_fuzz_only_framing_errors_and_chunking_does_not_matter(
    stream: tuple[RecordFormatOptions, int | None, bytes, list[int], int],
) -> None:
    _check_framing(stream)


@pytest.mark.sweep
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_streams())
def test_framing_fuzz_long(stream: tuple[RecordFormatOptions, int | None, bytes, list[int], int]) -> None:
    _check_framing(stream)


@st.composite
def _variable_streams(draw: st.DrawFn) -> tuple[RecordFormatOptions, int | None, bytes, list[int], int]:
    """V and VB streams (framed or mangled as above) read with any RDW byte order,
    adjustment, record offsets and trailer: whether the frames agree with the options or not."""
    options, record_length, data, cuts, resume = draw(
        _streams().filter(lambda s: s[0].record_format in (RecordFormat.V, RecordFormat.VB))
    )
    options = dataclasses.replace(
        options,
        rdw_big_endian=draw(st.booleans()),
        rdw_adjustment=draw(st.sampled_from([0, 0, 4, -4, 1])),
        record_start_offset=draw(st.sampled_from([0, 0, 1, 5])),
        record_end_offset=draw(st.sampled_from([0, 0, 2, 50])),
        file_end_offset=draw(st.sampled_from([0, 0, 3])),
    )
    return options, record_length, data, cuts, resume


@pytest.mark.skipif(not native.AVAILABLE, reason="the copybook extension is not built")
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_variable_streams())
def test_the_compiled_v_splitter_splits_and_resynchronises_as_the_python_loop(
    stream: tuple[RecordFormatOptions, int | None, bytes, list[int], int],
) -> None:
    """V and VB records are split a block at a time by compiled code when it is built; the
    Python loop takes each record that is not plainly valid and names its error. Both must
    give the same records, skipped regions and resume positions, however the bytes arrive."""
    options, record_length, data, cuts, _ = stream
    runs = []
    for enabled in (True, False):
        saved, native.ENABLED = native.ENABLED, enabled
        try:
            positions: list[tuple[SplitPosition, int]] = []
            runs.append((_drive(_splitter(options, record_length, None), _cut(data, cuts), positions), positions))
        finally:
            native.ENABLED = saved
    assert runs[0] == runs[1]
