"""The Headwater side of the differential tests: decode a case given in Cobrix's option names.

:func:`headwater_decode` maps Cobrix options onto :class:`RecordFormatOptions` and
:class:`DecodeOptions` (the mapping is the README's option table, executed) and decodes the
whole file with ``on_error="null"``, the mode in which Headwater and Cobrix both keep going
after a bad field. :func:`compare` walks both outputs field by field and returns the
differences, after removing the deliberate ones listed in the README's mainframe section.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from headwater.codecs.copybook import (
    DecodeOptions,
    FloatFormat,
    OnError,
    RecordFormat,
    RecordFormatOptions,
    Trim,
    compile_plan,
    decode_records,
    parse_copybook,
)
from headwater.codecs.copybook.records import split_records

__all__ = ["Outcome", "compare", "headwater_decode", "headwater_options"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Headwater's records for a case, or the error it raised."""

    records: list[dict[str, Any]] | None
    error: Exception | None


def _flag(options: dict[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    return value if isinstance(value, bool) else str(value).lower() == "true"


def headwater_options(options: dict[str, Any]) -> tuple[RecordFormatOptions, DecodeOptions]:
    """Translate Cobrix option names into Headwater's options (the README table)."""
    record_format = RecordFormat(str(options.get("record_format", "F")))
    format_options = RecordFormatOptions(
        record_format=record_format,
        rdw_big_endian=_flag(options, "is_rdw_big_endian", False),
        bdw_big_endian=_flag(options, "is_bdw_big_endian", False),
        # Cobrix: length = descriptor value + adjustment; the value excludes the header
        # (unless is_rdw_part_of_record_length, which Cobrix takes as adjustment -4).
        rdw_includes_header=_flag(options, "is_rdw_part_of_record_length", False),
        bdw_includes_header=False,
        rdw_adjustment=int(options.get("rdw_adjustment", 0)),
        bdw_adjustment=int(options.get("bdw_adjustment", 0)),
        allow_short_records=_flag(options, "allow_short_records", False),
    )
    trim = {"both": Trim.BOTH, "none": Trim.NONE, "left": Trim.LEFT, "right": Trim.RIGHT}
    field_pages: list[tuple[str, str]] = []
    for key, value in options.items():
        if key.startswith("field_code_page:"):
            page = key.split(":", 1)[1]
            field_pages.extend((name.strip(), page) for name in str(value).split(","))
    decode_options = DecodeOptions(
        code_page=str(options.get("ebcdic_code_page", "common")),
        field_code_pages=tuple(field_pages),
        trim=trim[str(options.get("string_trimming_policy", "both"))],
        relaxed_sign=not _flag(options, "strict_sign_overpunching", True),
        float_format=FloatFormat.IEEE
        if "IEEE" in str(options.get("floating_point_format", "IBM"))
        else FloatFormat.IBM,
        on_error=OnError.NULL,
        variable_size_occurs=_flag(options, "variable_size_occurs", False),
        allow_short_records=_flag(options, "allow_short_records", False),
        zero_bytes_null=_flag(options, "improved_null_detection", True),
        drop_group_fillers=_flag(options, "drop_group_fillers", False),
        drop_value_fillers=_flag(options, "drop_value_fillers", True),
        filler_naming=str(options.get("filler_naming_policy", "sequence_numbers")),
    )
    return format_options, decode_options


def headwater_decode(copybook: str, data: bytes, options: dict[str, Any]) -> Outcome:
    """Decode a whole file as ``headwater copybook decode`` does, with Cobrix's option names."""
    try:
        format_options, decode_options = headwater_options(options)
        layout = parse_copybook(copybook)
        plan = compile_plan(layout, decode_options)
        records = split_records(data, format_options, record_length=plan.record_length, source="data.bin")
        return Outcome(list(decode_records(plan, records, source="data.bin")), None)
    except Exception as exc:  # the caller asserts on the type
        return Outcome(None, exc)


def _same_number(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) or isinstance(theirs, float):
        return abs(float(ours) - float(theirs)) <= 1e-6 * max(1.0, abs(float(theirs)))
    if isinstance(theirs, Decimal) and isinstance(ours, int | Decimal):
        return Decimal(ours) == theirs
    return bool(ours == theirs)


def compare(ours: Any, theirs: Any, path: str = "", errors: frozenset[str] = frozenset()) -> list[str]:
    """Differences between a Headwater value and a Cobrix value (empty when equal).

    ``errors`` are the fields Headwater listed in ``_errors``: there Headwater's ``None``
    (an invalid value) matches Cobrix's ``None`` (its silent null for the same bytes).
    """
    if isinstance(theirs, dict) and isinstance(ours, dict):
        diffs: list[str] = []
        for key in sorted(set(theirs) | set(ours) - {"_errors"}):
            if key not in ours:
                diffs.append(f"{path}{key}: missing in Headwater (Cobrix {theirs[key]!r})")
            elif key not in theirs:
                diffs.append(f"{path}{key}: extra in Headwater ({ours[key]!r})")
            else:
                diffs.extend(compare(ours[key], theirs[key], f"{path}{key}.", errors))
        return diffs
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(ours) != len(theirs):
            return [f"{path[:-1]}: {len(ours)} items, Cobrix {len(theirs)}: {ours!r} vs {theirs!r}"]
        diffs = []
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            diffs.extend(compare(mine, other, f"{path[:-1]}[{index}].", errors))
        return diffs
    if ours is None and theirs is None:
        return []
    if isinstance(theirs, Decimal | int | float) and isinstance(ours, Decimal | int | float):
        if _same_number(ours, theirs) and not isinstance(ours, bool):
            return []
    elif ours == theirs:
        return []
    return [f"{path[:-1]}: Headwater {ours!r}, Cobrix {theirs!r}"]
