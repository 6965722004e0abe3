"""COBOL copybooks and mainframe record data: parse, split, decode and encode.

Pure byte/format code (no file or network I/O). The usual flow::

    layout = parse_copybook(text)                       # once per copybook
    plan = compile_plan(layout, DecodeOptions(...))     # once per option set
    splitter = RecordSplitter(RecordFormatOptions(...), record_length=layout.record_length)
    for record in decode_records(plan, splitter.feed(chunk), source=name): ...
    records = decode_batch(plan, buffer, record_length)  # fixed records, vectorised
    for hierarchy in assemble_hierarchies(plan, splitter.feed(data)): ...  # segment_children
"""

from __future__ import annotations

from headwater.codecs.copybook.decoder import (
    DecodePlan,
    compile_plan,
    decode_batch,
    decode_record,
    decode_records,
)
from headwater.codecs.copybook.encoder import (
    encode_record,
    frame_fb,
    frame_text,
    frame_v,
    frame_vb,
    frame_vbs,
    rdw,
)
from headwater.codecs.copybook.errors import CopybookSyntaxError, DecodeError, FramingError, SegmentHierarchyError
from headwater.codecs.copybook.hierarchy import Hierarchy, HierarchyAssembler, assemble_hierarchies
from headwater.codecs.copybook.layout import Field, Layout, Occurs
from headwater.codecs.copybook.options import (
    DecodeOptions,
    FloatFormat,
    OnError,
    RecordFormat,
    RecordFormatOptions,
    Trim,
)
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.copybook.records import RawRecord, RecordSplitter, SplitPosition, split_records

__all__ = [
    "CopybookSyntaxError",
    "DecodeError",
    "DecodeOptions",
    "DecodePlan",
    "Field",
    "FloatFormat",
    "FramingError",
    "Hierarchy",
    "HierarchyAssembler",
    "Layout",
    "Occurs",
    "OnError",
    "RawRecord",
    "RecordFormat",
    "RecordFormatOptions",
    "RecordSplitter",
    "SegmentHierarchyError",
    "SplitPosition",
    "Trim",
    "assemble_hierarchies",
    "compile_plan",
    "decode_batch",
    "decode_record",
    "decode_records",
    "encode_record",
    "frame_fb",
    "frame_text",
    "frame_v",
    "frame_vb",
    "frame_vbs",
    "parse_copybook",
    "rdw",
    "split_records",
]
