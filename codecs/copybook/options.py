"""Options of the copybook codec: how records are delimited and how fields are decoded.

Two frozen dataclasses, shared by the CLI (``headwater copybook``) and the mainframe
source connector (which builds them from its dotted config keys). Defaults are chosen for
z/OS data and differ from Cobrix on purpose (see ``/work/shared/reference/mainframe.md``):

* code page ``cp037`` (Cobrix: ``common``), RDW/BDW big-endian (Cobrix: little-endian);
* strict sign overpunching; invalid data raises :class:`DecodeError` instead of becoming
  a silent null (``on_error="null"`` nulls the field and lists the error in ``_errors``);
* strings trimmed at both ends (``trim="both"``), where "blank" is any character up to
  U+0020 (spaces, NUL and other C0 controls, like Java's ``String.trim`` used by Cobrix);
  control characters inside a value are kept;
* ``OCCURS DEPENDING ON`` arrays occupy their maximum size (Cobrix ``max_size``) unless
  ``variable_size_occurs`` is set (the following fields shift, Cobrix ``shift_record``);
* a numeric DISPLAY field that is entirely spaces decodes to ``None`` (COBOL ``MOVE
  SPACES``: no value), not to 0 and not to an error; any other non-digit is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from headwater.connectors.errors import ConfigError, FieldError

__all__ = [
    "FILLER_NAMING",
    "DecodeOptions",
    "FloatFormat",
    "OnError",
    "RecordFormat",
    "RecordFormatOptions",
    "Trim",
]


FILLER_NAMING = ("sequence_numbers", "previous_field_name")


class Trim(StrEnum):
    """Which ends of a text field lose their blanks (characters <= U+0020)."""

    NONE = "none"
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


class FloatFormat(StrEnum):
    """Encoding of COMP-1/COMP-2: IBM hexadecimal floating point or IEEE 754 (big-endian)."""

    IBM = "ibm"
    IEEE = "ieee"


class OnError(StrEnum):
    """What an invalid field does: ``fail`` raises, ``null`` sets None and records the error."""

    FAIL = "fail"
    NULL = "null"


class RecordFormat(StrEnum):
    """How records are delimited in the file (z/OS RECFM, plus T for text lines)."""

    F = "F"  # fixed length, no headers
    FB = "FB"  # fixed length in blocks (BDW, or block_length / records_per_block)
    V = "V"  # 4-byte RDW before each record
    VB = "VB"  # 4-byte BDW before each block of RDW records
    VBS = "VBS"  # VB whose records may span blocks as segments (SDW control codes 0-3)
    T = "T"  # text lines ending in LF or CRLF


@dataclass(frozen=True, slots=True)
class RecordFormatOptions:
    """How to split a byte stream into records.

    Attributes:
        record_format: F, FB, V, VB, VBS or T.
        record_length: bytes of a fixed record; ``None`` takes the copybook's length
            (plus ``record_start_offset`` and ``record_end_offset``).
        block_length: FB without BDW: bytes per block (a short last block is allowed).
        records_per_block: FB without BDW: records per block (alternative to block_length).
        fb_has_bdw: FB blocks start with a BDW (the default when neither block_length nor
            records_per_block is given).
        rdw_big_endian / bdw_big_endian: byte order of the lengths in the headers. Big:
            ``LL LL 00 00`` (IBM). Little: Cobrix's reversed word ``00 00 LL LL`` (length
            low byte first in bytes 3-4), or ``LL LL 00 00`` with the length low byte
            first; both forms are accepted.
        rdw_includes_header / bdw_includes_header: whether the header's length value
            counts its own 4 bytes (True: IBM; False: the value is the payload length, as
            many transferred files and Cobrix's default). None (default) detects it from
            the first descriptors of the file when only one convention fits them, else
            takes IBM's (see :mod:`headwater.codecs.copybook.descriptors`).
        rdw_adjustment / bdw_adjustment: added to the payload length after the convention
            above (payload = value - 4 + adjustment with IBM's convention).
        allow_short_records: an FB block may end with a record shorter than the record
            length (Cobrix decodes it with the missing fields null); otherwise such a
            block is a framing error.
        record_length_field: name of a numeric field holding the record's total length
            (records without RDW; used with F).
        file_start_offset / file_end_offset: bytes skipped at the start / end of the file.
        record_start_offset / record_end_offset: bytes skipped at the start / end of each
            record before decoding.
    """

    record_format: RecordFormat = RecordFormat.F
    record_length: int | None = None
    block_length: int | None = None
    records_per_block: int | None = None
    rdw_big_endian: bool = True
    bdw_big_endian: bool = True
    rdw_adjustment: int = 0
    bdw_adjustment: int = 0
    rdw_includes_header: bool | None = None
    bdw_includes_header: bool | None = None
    allow_short_records: bool = False
    record_length_field: str | None = None
    file_start_offset: int = 0
    file_end_offset: int = 0
    record_start_offset: int = 0
    record_end_offset: int = 0

    def __post_init__(self) -> None:
        errors: list[FieldError] = []
        for name in (
            "file_start_offset", "file_end_offset", "record_start_offset", "record_end_offset",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                errors.append(FieldError(name, "must be >= 0"))
        for name in ("record_length", "block_length", "records_per_block"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                errors.append(FieldError(name, "must be > 0"))
        if self.block_length is not None and self.records_per_block is not None:
            errors.append(FieldError("block_length", "give block_length or records_per_block, not both"))
        if self.record_length_field and self.record_format not in (RecordFormat.F,):
            errors.append(FieldError("record_length_field", "only applies to record_format F"))
        if errors:
            raise ConfigError(errors)

    @property
    def rdw_payload_adjustment(self) -> int:
        """Added to the RDW value to get the payload length (convention and adjustment)."""
        return self.rdw_adjustment - (0 if self.rdw_includes_header is False else 4)

    @property
    def bdw_payload_adjustment(self) -> int:
        """Added to the BDW value to get the block payload length."""
        return self.bdw_adjustment - (0 if self.bdw_includes_header is False else 4)

    @property
    def fb_has_bdw(self) -> bool:
        """FB blocks carry a BDW unless a block size is given."""
        return self.block_length is None and self.records_per_block is None


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to turn record bytes into values.

    Attributes:
        code_page: name of the code page of text fields (``cp037``, ``cp1047``, ``ascii``...).
        custom_code_page: a 256-character table that replaces ``code_page`` (the caller
            reads the file).
        field_code_pages: per-field overrides as ``(field_name, code_page_name)`` pairs.
        trim: which blanks to cut from text fields.
        relaxed_sign: accept overpunched signs in unsigned fields (positive only), sign
            zones on any digit, and leading spaces in zoned numbers.
        float_format: COMP-1/COMP-2 encoding.
        debug_hex: add ``<NAME>_hex`` with the raw bytes of every elementary field.
        on_error: ``fail`` (default) raises DecodeError; ``null`` sets the field to None and
            appends ``{"field", "offset", "reason", "raw"}`` to the record's ``_errors``.
        variable_size_occurs: ODO arrays take only their actual size; later fields shift.
        zero_bytes_null: a DISPLAY or packed field of only 0x00 bytes is None (Cobrix's
            ``improved_null_detection``, on by default there); otherwise text decodes to
            "" and a number is invalid.
        allow_short_records: fields past the end of a short record are None (Cobrix);
            otherwise each is an error ("record truncated").
        drop_group_fillers: FILLER groups are left out of the output (default). When
            False they are output as groups named by ``filler_naming`` (Cobrix's default).
        drop_value_fillers: elementary FILLERs are left out (default, as Cobrix). When
            False they are output, named by ``filler_naming``.
        filler_naming: ``sequence_numbers`` (``FILLER_1``... for groups, ``FILLER_P1``...
            for values, numbered in record order) or ``previous_field_name``
            (``FILLER_AFTER_<previous item>``), as Cobrix's ``filler_naming_policy``.
            A group whose children are all dropped FILLERs is left out too (Cobrix).
        segment_field: field holding the segment id (multisegment files).
        segment_map: ``(segment_id, redefine_name)`` pairs: decode only that REDEFINES
            alternative for records of that segment (the other alternatives become None).
        segment_filter: keep only records whose segment id is listed (empty: keep all).
        segment_children: ``(parent, (child, ...))`` pairs of REDEFINES names from
            ``segment_map`` (Cobrix ``segment-children``): records are assembled into one
            hierarchy per root segment, each child segment's records nested as a list
            under its parent (see :mod:`headwater.codecs.copybook.hierarchy`). A segment
            that is nobody's child is a root. Checked here: every name is mapped, a child
            has one parent, no segment is its own ancestor.
    """

    code_page: str = "cp037"
    custom_code_page: str | None = None
    field_code_pages: tuple[tuple[str, str], ...] = ()
    trim: Trim = Trim.BOTH
    relaxed_sign: bool = False
    float_format: FloatFormat = FloatFormat.IBM
    debug_hex: bool = False
    on_error: OnError = OnError.FAIL
    variable_size_occurs: bool = False
    zero_bytes_null: bool = False
    allow_short_records: bool = False
    drop_group_fillers: bool = True
    drop_value_fillers: bool = True
    filler_naming: str = "sequence_numbers"
    segment_field: str | None = None
    segment_map: tuple[tuple[str, str], ...] = ()
    segment_filter: tuple[str, ...] = field(default=())
    segment_children: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.filler_naming not in FILLER_NAMING:
            choices = ", ".join(FILLER_NAMING)
            raise ConfigError([FieldError("filler_naming", f"must be one of {choices}, got {self.filler_naming!r}")])
        if (self.segment_map or self.segment_filter) and not self.segment_field:
            raise ConfigError([FieldError("segment_field", "required with segment_map or segment_filter")])
        if self.segment_children:
            errors = _segment_children_errors(self.segment_children, self.segment_field, self.segment_map)
            if errors:
                raise ConfigError([FieldError("segment_children", message) for message in errors])


def _cobol_name(name: str) -> str:
    """``Seg_Dept`` and ``SEG-DEPT`` name the same item (as :meth:`Layout.find` reads names)."""
    return name.strip().upper().replace("_", "-")


def _segment_children_errors(
    children: tuple[tuple[str, tuple[str, ...]], ...],
    segment_field: str | None,
    segment_map: tuple[tuple[str, str], ...],
) -> list[str]:
    """What is wrong with a ``segment_children`` tree (empty when it is a valid forest)."""
    if not segment_field or not segment_map:
        return ["needs segment_field and segment_map (the children are REDEFINES chosen by segment id)"]
    mapped = {_cobol_name(redefine) for _, redefine in segment_map}
    errors: list[str] = []
    parent_of: dict[str, str] = {}
    seen_parents: set[str] = set()
    for parent, kids in children:
        parent_name = _cobol_name(parent)
        if parent_name in seen_parents:
            errors.append(f"{parent} is listed as a parent twice; give all its children in one entry")
        seen_parents.add(parent_name)
        if not kids:
            errors.append(f"{parent} has no children")
        for name in (parent, *kids):
            if _cobol_name(name) not in mapped:
                errors.append(f"{name} is not a REDEFINES named in segment_map")
        for kid in kids:
            kid_name = _cobol_name(kid)
            if kid_name == parent_name:
                errors.append(f"{kid} cannot be its own child")
            elif kid_name in parent_of and parent_of[kid_name] != parent_name:
                errors.append(f"{kid} has two parents: {parent_of[kid_name]} and {parent_name}")
            else:
                parent_of[kid_name] = parent_name
    in_reported_cycle: set[str] = set()
    for start in parent_of:
        ancestors = [start]
        while ancestors[-1] in parent_of and start not in in_reported_cycle:
            ancestor = parent_of[ancestors[-1]]
            if ancestor in ancestors:
                cycle = ancestors[ancestors.index(ancestor) :]
                in_reported_cycle.update(cycle)
                errors.append(f"segments form a cycle: {' -> '.join([*cycle, ancestor])}")
                break
            ancestors.append(ancestor)
    return list(dict.fromkeys(errors))
