"""Record splitters: F, FB, V, VB, T, endianness, adjustments, offsets, length field, resume."""

from __future__ import annotations

import pytest

from headwater.codecs.copybook.decoder import compile_plan
from headwater.codecs.copybook.encoder import frame_fb, frame_text, frame_v, frame_vb, frame_vbs, rdw
from headwater.codecs.copybook.errors import FramingError
from headwater.codecs.copybook.options import RecordFormat, RecordFormatOptions
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.copybook.records import RawRecord, RecordSplitter, split_records

RECORDS = [b"AAAAA", b"BBBBBBBB", b"CCC"]


def _split(data: bytes, **options: object) -> list[RawRecord]:
    return list(split_records(data, RecordFormatOptions(**options)))  # type: ignore[arg-type]


def _bytewise(data: bytes, **options: object) -> list[RawRecord]:
    splitter = RecordSplitter(RecordFormatOptions(**options))  # type: ignore[arg-type]
    out: list[RawRecord] = []
    for index in range(len(data)):
        out += splitter.feed(data[index : index + 1])
    return out + splitter.finish()


@pytest.mark.parametrize(
    ("data", "options"),
    [
        (frame_v(RECORDS), {"record_format": RecordFormat.V}),
        (frame_v(RECORDS, big_endian=False), {"record_format": RecordFormat.V, "rdw_big_endian": False}),
        (frame_v(RECORDS, adjustment=4), {"record_format": RecordFormat.V, "rdw_adjustment": 4}),
        (frame_vb(RECORDS, records_per_block=2), {"record_format": RecordFormat.VB}),
        (
            frame_vb(RECORDS, records_per_block=2, rdw_big_endian=False, bdw_big_endian=False),
            {"record_format": RecordFormat.VB, "rdw_big_endian": False, "bdw_big_endian": False},
        ),
        (frame_text(RECORDS), {"record_format": RecordFormat.T}),
        (frame_text(RECORDS, crlf=True)[:-2], {"record_format": RecordFormat.T}),
    ],
)
def test_variable_formats(data: bytes, options: dict[str, object]) -> None:
    records = _split(data, **options)
    assert [r.data for r in records] == RECORDS
    assert [r.number for r in records] == [1, 2, 3]
    assert all(data[r.offset : r.offset + len(r.data)] == r.data for r in records)
    assert _bytewise(data, **options) == records


def test_fixed_and_fixed_blocked() -> None:
    fixed = [b"%05d" % i for i in range(5)]
    assert [r.data for r in _split(b"".join(fixed), record_length=5)] == fixed
    bdw = frame_fb(fixed, records_per_block=2)
    assert [r.data for r in _split(bdw, record_format=RecordFormat.FB, record_length=5)] == fixed
    padded = b"0000000001xx0000200003xx00004"
    result = _split(padded, record_format=RecordFormat.FB, record_length=5, block_length=12)
    assert [r.data for r in result] == fixed
    assert [r.offset for r in result] == [0, 5, 12, 17, 24]
    per_block = _split(b"".join(fixed), record_format=RecordFormat.FB, record_length=5, records_per_block=2)
    assert [r.data for r in per_block] == fixed


def test_file_and_record_offsets() -> None:
    data = b"HDR" + b"<1234>" + b"<5678>" + b"TRAILER"
    records = _split(
        data, record_length=6, file_start_offset=3, file_end_offset=7, record_start_offset=1, record_end_offset=1
    )
    assert [(r.offset, r.data) for r in records] == [(4, b"1234"), (10, b"5678")]


def test_record_length_field() -> None:
    layout = parse_copybook("01 R.\n  05 LEN PIC 9(2).\n  05 BODY PIC X(10).\n")
    plan = compile_plan(layout)
    data = b"\xf0\xf4AB" + b"\xf0\xf6ABCD" + b"\xf0\xf3A"
    options = RecordFormatOptions(record_length_field="LEN")
    records = list(
        split_records(data, options, length_reader=lambda head: plan.read_field("LEN", head), length_field_end=2)
    )
    assert [r.data for r in records] == [b"\xf0\xf4AB", b"\xf0\xf6ABCD", b"\xf0\xf3A"]


def test_resume_inside_a_block_and_follow_appended_data() -> None:
    data = frame_vb(RECORDS * 2, records_per_block=2)
    # Explicit conventions: with auto detection 15 bytes cannot settle them yet (the
    # splitter waits until no later byte can change the verdict), and this is about resuming.
    options = RecordFormatOptions(record_format=RecordFormat.VB, rdw_includes_header=True, bdw_includes_header=True)
    splitter = RecordSplitter(options)
    first = splitter.feed(data[:15])  # the first record of the first block
    position = splitter.position
    assert [r.data for r in first] == [b"AAAAA"]
    assert position.block_end is not None
    resumed = RecordSplitter(options, start=position)
    rest = resumed.feed(data[position.offset : 40]) + resumed.feed(data[40:]) + resumed.finish()
    assert [r.data for r in first + rest] == RECORDS * 2
    assert [r.number for r in rest] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("data", "options", "reason"),
    [
        (b"\x00\x09\x00\x01ABCDE", {"record_format": RecordFormat.V}, "RDW bytes 3-4 must be zero"),
        (b"\x00\x00\x00\x00", {"record_format": RecordFormat.V}, "RDW length 0"),
        (rdw(5) + b"ABC", {"record_format": RecordFormat.V}, "truncated record"),
        (b"\x00\x08\x00\x00" + rdw(5) + b"ABCDE", {"record_format": RecordFormat.VB}, "past the end of its block"),
        (b"12345678", {"record_length": 5}, "truncated record"),
    ],
)
def test_framing_errors(data: bytes, options: dict[str, object], reason: str) -> None:
    framed = frame_v([b"OK"]) + data if options.get("record_format") is RecordFormat.V else data
    with pytest.raises(FramingError) as caught:
        list(split_records(framed, RecordFormatOptions(**options), source="x.dat"))  # type: ignore[arg-type]
    message = str(caught.value)
    assert reason in message
    assert "x.dat" in message
    assert "record" in message
    assert "byte offset" in message
    assert caught.value.raw


@pytest.mark.parametrize("record_format", [RecordFormat.V, RecordFormat.VB])
def test_records_before_a_broken_rdw_come_out_first(record_format: RecordFormat) -> None:
    good = frame_v(RECORDS) if record_format is RecordFormat.V else frame_vb(RECORDS, records_per_block=3)
    broken = b"\x00\x09\x00\x01ABCDE"
    data = good + (broken if record_format is RecordFormat.V else rdw(len(broken) + 4) + broken)
    seen: list[RawRecord] = []
    with pytest.raises(FramingError) as caught:
        seen.extend(split_records(data, RecordFormatOptions(record_format=record_format), source="x.dat"))
    assert [r.data for r in seen] == RECORDS
    assert caught.value.record_number == 4
    assert caught.value.byte_offset == data.index(broken)


SPANNING = [b"A" * 150, b"BB", b"", b"C" * 61, b"D" * 300]


@pytest.mark.parametrize("block_length", [40, 64, 1000])
def test_vbs_records_span_blocks_and_split_bytewise_alike(block_length: int) -> None:
    data = frame_vbs(SPANNING, block_length=block_length)
    records = _split(data, record_format=RecordFormat.VBS)
    assert [r.data for r in records] == SPANNING
    assert [r.number for r in records] == [1, 2, 3, 4, 5]
    assert _bytewise(data, record_format=RecordFormat.VBS) == records


def test_vbs_resumes_between_logical_records() -> None:
    data = frame_vbs(SPANNING, block_length=40)
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VBS))
    # Stop in the middle of the fourth record's segments: only three whole records come out.
    first = splitter.feed(data[: data.index(b"C" * 20) + 5])
    assert [r.data for r in first] == SPANNING[:3]
    resumed = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.VBS), start=splitter.position)
    rest = resumed.feed(data[splitter.position.offset :]) + resumed.finish()
    assert [r.data for r in rest] == SPANNING[3:]
    assert [r.number for r in rest] == [4, 5]


@pytest.mark.parametrize(
    ("segments", "reason"),
    [
        ([(3, b"xx")], "without a first"),
        ([(1, b"xx"), (0, b"yy")], "a new record where the previous record's segments should go on"),
        ([(5, b"xx")], "segment code 0-3"),
        ([(1, b"xx")], "truncated record"),
    ],
)
def test_vbs_framing_errors(segments: list[tuple[int, bytes]], reason: str) -> None:
    block = b"".join((len(body) + 4).to_bytes(2, "big") + bytes([code, 0]) + body for code, body in segments)
    data = frame_vbs([b"OK"]) + rdw(len(block)) + block
    with pytest.raises(FramingError, match=reason) as caught:
        list(split_records(data, RecordFormatOptions(record_format=RecordFormat.VBS), source="x.vbs"))
    assert "x.vbs" in str(caught.value)
    assert caught.value.record_number == 2


def test_a_vbs_file_read_as_vb_says_so() -> None:
    with pytest.raises(FramingError, match="use record format VBS"):
        list(
            split_records(frame_vbs([b"X" * 100], block_length=40), RecordFormatOptions(record_format=RecordFormat.VB))
        )


def test_descriptor_convention_is_detected_again_after_a_resume() -> None:
    """Payload-only lengths (no header counted) are found from the resume point too."""
    from headwater.codecs.copybook.records import RecordSplitter

    records = [b"abc", b"defgh", b"ij"] * 4
    blocks = []
    for start in range(0, len(records), 3):
        body = b"".join(len(r).to_bytes(2, "big") + b"\x00\x00" + r for r in records[start : start + 3])
        blocks.append(len(body).to_bytes(2, "big") + b"\x00\x00" + body)
    data = b"".join(blocks)
    options = RecordFormatOptions(record_format=RecordFormat.VB)
    first = RecordSplitter(options)
    assert [r.data for r in first.split([data])] == records
    # Resume inside the second block, before its second record (as a restarted source does).
    from headwater.codecs.copybook.records import SplitPosition

    second = len(blocks[0])
    position = SplitPosition(offset=second + 4 + 4 + 3, record_number=5, block_end=second + len(blocks[1]))
    resumed = RecordSplitter(options, start=position)
    rest = [r.data for r in resumed.split([data[position.offset :]])]
    assert rest == records[4:]


def _payload_only_v(records: list[bytes]) -> bytes:
    """V records whose RDWs hold the payload length only (Cobrix's default convention)."""
    return b"".join(len(r).to_bytes(2, "big") + b"\x00\x00" + r for r in records)


def test_a_short_growing_file_settles_its_convention_on_the_bytes_at_hand() -> None:
    """Three payload-only records: feed cannot decide for good, settle does; a cut record waits."""
    records = [b"A" * 20, b"B" * 30, b"C" * 25]
    data = _payload_only_v(records)
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V))
    assert splitter.feed(data[:-10]) == []  # fewer than 8 descriptors: auto detection waits
    assert splitter.undecided
    assert [r.data for r in splitter.settle()] == records[:2]
    assert not splitter.undecided
    assert splitter.options.rdw_includes_header is False
    assert [r.data for r in splitter.feed(data[-10:])] == records[2:]
    assert splitter.finish() == []


def test_bytes_that_contradict_a_settled_convention_are_a_framing_error_naming_the_option() -> None:
    """Settled on IBM's convention (it fits the first records), then payload-only records arrive."""
    ibm = frame_v([b"\x40" * 20, b"\x40" * 30])
    splitter = RecordSplitter(RecordFormatOptions(record_format=RecordFormat.V), source="GROW.V")
    assert splitter.feed(ibm) == []
    assert [len(r.data) for r in splitter.settle()] == [20, 30]
    assert splitter.options.rdw_includes_header is True
    with pytest.raises(FramingError, match=r"set rdw\.includes\.header explicitly") as caught:
        splitter.feed(_payload_only_v([b"\x40" * 40, b"\x40" * 40]))
    # The first later RDW still reads (as 36 bytes of payload); the one after it cannot.
    assert caught.value.byte_offset == len(ibm) + 4 + 36
    assert "GROW.V" in str(caught.value)
    assert "first 58 bytes" in str(caught.value)
