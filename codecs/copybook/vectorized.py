"""Vectorised decoding of fixed-length records, column by column with numpy.

The batch is viewed as an ``(n, record_length)`` uint8 matrix. Each numeric column is
decoded for all rows at once (lookup tables for zoned digits, nibble arithmetic for packed
decimals, big-endian views for binary and floats); text columns are sliced from one
``charmap_decode`` of the whole buffer. A per-layout function generated once (and cached
on the plan's identity) assembles the nested dicts. ``Decimal`` objects are built last,
from exact int64 values.

Rows where any column is invalid, or where an OCCURS DEPENDING ON count is out of range,
are re-decoded on the per-record path, so errors and ``_errors`` lists are identical to
:func:`headwater.codecs.copybook.decoder.decode_record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from headwater.codecs.copybook.decoder import DecodePlan, Node, Record
from headwater.codecs.copybook.decoder import redecode_rows as _per_record
from headwater.codecs.copybook.fields import (
    BLANKS,
    DECIMAL_CONTEXT,
    InvalidField,
    ZonedTables,
    zoned_tables,
)
from headwater.codecs.copybook.options import FloatFormat, Trim
from headwater.codecs.copybook.picture import Category, Usage
from headwater.codecs.ebcdic import code_page

__all__ = ["decode_fixed_batch"]

Matrix = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

# int64 holds any 18-digit number; wider numbers use the exact Python path.
_MAX_VECTOR_DIGITS = 18


@dataclass(frozen=True, slots=True)
class _Column:
    """One elementary occurrence decoded column-wise."""

    node: Node
    offset: int  # from the start of the (offset-adjusted) record
    count_check: tuple[int, int] | None = None  # (min, max) when it is an ODO count


@dataclass(frozen=True, slots=True)
class _Program:
    make: Callable[[str, bytes, str], Callable[..., Record]]
    columns: tuple[_Column, ...]


_PROGRAMS: dict[int, tuple[DecodePlan, _Program]] = {}


def _strip_suffix(trim: Trim) -> str:
    return {
        Trim.BOTH: ".strip(B)",
        Trim.LEFT: ".lstrip(B)",
        Trim.RIGHT: ".rstrip(B)",
        Trim.NONE: "",
    }[trim]


class _Generator:
    """Generates the dict-building function for a fixed plan."""

    def __init__(self, plan: DecodePlan) -> None:
        self.plan = plan
        self.columns: list[_Column] = []
        self.column_of_name: dict[str, str] = {}
        self.strip = _strip_suffix(plan.options.trim)

    def is_inline_text(self, node: Node) -> bool:
        picture = node.item.picture
        return (
            node.item.usage is Usage.DISPLAY
            and picture is not None
            and picture.category in (Category.ALPHANUMERIC, Category.ALPHABETIC)
            and node.converter is not None
            and self.plan.code_page is self._page_of(node)
            and not self.plan.options.zero_bytes_null
        )

    def _page_of(self, node: Node) -> object:
        overrides = {n.upper().replace("_", "-") for n, _ in self.plan.options.field_code_pages}
        return None if node.item.name in overrides else self.plan.code_page

    def column(self, node: Node, offset: int, count_check: tuple[int, int] | None = None) -> str:
        name = f"c{len(self.columns)}"
        self.columns.append(_Column(node, offset, count_check))
        return name

    def group(self, nodes: tuple[Node, ...], delta: int) -> str:
        parts: list[str] = []
        for node in nodes:
            if node.hidden:
                continue
            parts.append(f"{node.key!r}: {self.item(node, delta)}")
            if self.plan.options.debug_hex and node.converter is not None:
                parts.append(f"{node.key + '_hex'!r}: {self.hex_expr(node, delta)}")
        return "{" + ", ".join(parts) + "}"

    def hex_expr(self, node: Node, delta: int) -> str:
        item = node.item
        occurs = item.occurs
        if occurs is None:
            start = item.offset + delta
            return f"X[b+{start}:b+{start + item.length}].hex().upper()"
        items = []
        for index in range(occurs.maximum):
            start = item.offset + delta + index * item.length
            items.append(f"X[b+{start}:b+{start + item.length}].hex().upper()")
        return self.sliced("[" + ", ".join(items) + "]", node)

    def sliced(self, expression: str, node: Node) -> str:
        occurs = node.item.occurs
        assert occurs is not None
        if occurs.depending_on is None:
            return expression
        return f"{expression}[:{self.column_of_name[occurs.depending_on]}]"

    def item(self, node: Node, delta: int) -> str:
        item = node.item
        occurs = item.occurs
        if occurs is None:
            return self.element(node, delta)
        elements = [self.element(node, delta + index * item.length) for index in range(occurs.maximum)]
        return self.sliced("[" + ", ".join(elements) + "]", node)

    def element(self, node: Node, delta: int) -> str:
        item = node.item
        if node.converter is None:
            return self.group(node.children, delta)
        start = item.offset + delta
        if self.is_inline_text(node):
            return f"S[b+{start}:b+{start + item.length}]{self.strip}"
        check = None
        if item.name in self.plan.depending_fields:
            check = self._odo_range(item.name)
        name = self.column(node, start, check)
        if item.name in self.plan.depending_fields and item.occurs is None:
            self.column_of_name.setdefault(item.name, name)
        return name

    def _odo_range(self, name: str) -> tuple[int, int]:
        """The counts every array depending on ``name`` accepts (the per-record path checks each)."""
        ranges = [
            (other.occurs.minimum, other.occurs.maximum)
            for other in self.plan.layout.fields()
            if other.occurs is not None and other.occurs.depending_on == name
        ]
        return max(low for low, _ in ranges), min(high for _, high in ranges)


class _NotVectorizable(Exception):
    pass


def _program(plan: DecodePlan) -> _Program | None:
    cached = _PROGRAMS.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    generator = _Generator(plan)
    try:
        body = generator.group(plan.roots, 0)
    except KeyError:
        # An ODO count that is text or inside an array: no column to slice by.
        return None
    arguments = ", ".join(["b", *(f"c{i}" for i in range(len(generator.columns)))])
    # The text buffer S, raw bytes X and blank set B are closure variables of `make`
    # so that concurrent batches never share state.
    source = f"def make(S, X, B):\n    def build({arguments}):\n        return {body}\n    return build\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<copybook batch builder>", "exec"), namespace)
    program = _Program(namespace["make"], tuple(generator.columns))
    _PROGRAMS[id(plan)] = (plan, program)
    return program


# ----------------------------------------------------------------------- column kernels


def _scale_values(values: list[Any], scale: int) -> list[Any]:
    if scale == 0:
        return values
    if scale < 0:
        factor = 10**-scale
        return [value * factor for value in values]
    exponent = -scale
    context = DECIMAL_CONTEXT
    return [Decimal(value).scaleb(exponent, context) for value in values]


def _powers(width: int) -> npt.NDArray[np.int64]:
    return 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)


_TABLE_ARRAYS: dict[str, tuple[Any, ...]] = {}


def _lookup(tables: ZonedTables, family: str) -> tuple[Any, ...]:
    if family not in _TABLE_ARRAYS:
        _TABLE_ARRAYS[family] = (
            np.array(tables.plain, dtype=np.int64),
            np.array(tables.over_digit, dtype=np.int64),
            np.array(tables.over_sign, dtype=np.int64),
            np.array(tables.relaxed_digit, dtype=np.int64),
        )
    return _TABLE_ARRAYS[family]


def _page_family(plan: DecodePlan, name: str) -> str:
    """The code page family of field ``name`` (a per-field code page overrides the plan's)."""
    for field_name, page in reversed(plan.options.field_code_pages):  # the last one wins, as in compile_plan
        if plan.layout.find(field_name).name == name:
            return code_page(page).family
    return plan.code_page.family


def _zoned(plan: DecodePlan, node: Node, column: Matrix) -> tuple[list[Any], Mask] | None:
    item = node.item
    picture = item.picture
    assert picture is not None
    family = _page_family(plan, item.name)
    tables = zoned_tables(family)
    plain, over_digit, over_sign, _relaxed = _lookup(tables, family)
    relaxed = plan.options.relaxed_sign
    if relaxed:
        return None  # spaces around the digits move the sign position: the exact path decides
    digit_table = plain
    rows, width = column.shape
    blank = (column == tables.space).all(axis=1)
    separate = item.sign_separate and picture.signed
    if separate:
        sign_byte = column[:, 0] if item.sign_leading else column[:, -1]
        body = column[:, 1:] if item.sign_leading else column[:, :-1]
        digits = digit_table[body]
        sign = np.where(sign_byte == tables.minus, -1, np.where(sign_byte == tables.plus, 1, 0))
    elif picture.signed or relaxed:
        index = 0 if item.sign_leading else width - 1
        digits = digit_table[column]
        punched = column[:, index]
        digits[:, index] = over_digit[punched]
        sign = over_sign[punched]
    else:
        digits = digit_table[column]
        sign = np.ones(rows, dtype=np.int64)
    if digits.shape[1] > _MAX_VECTOR_DIGITS:
        return None
    bad = (digits < 0).any(axis=1) | (sign == 0)
    if not picture.signed:
        bad |= sign < 0
    bad &= ~blank
    values = (np.where(digits < 0, 0, digits) @ _powers(digits.shape[1])) * sign
    result = _scale_values(values.tolist(), picture.scale)
    if blank.any():
        for row in np.flatnonzero(blank).tolist():
            result[row] = None
    return result, np.asarray(bad, dtype=bool)


def _packed(plan: DecodePlan, node: Node, column: Matrix) -> tuple[list[Any], Mask] | None:
    item = node.item
    picture = item.picture
    rows, width = column.shape
    nibbles = np.empty((rows, width * 2), dtype=np.int64)
    nibbles[:, 0::2] = column >> 4
    nibbles[:, 1::2] = column & 0x0F
    has_sign = item.usage is Usage.PACKED
    digits = nibbles[:, :-1] if has_sign else nibbles
    if digits.shape[1] > _MAX_VECTOR_DIGITS:
        return None
    bad = (digits > 9).any(axis=1)
    values = digits @ _powers(digits.shape[1])
    if has_sign:
        sign_nibble = nibbles[:, -1]
        bad |= sign_nibble < 10
        negative = (sign_nibble == 0x0B) | (sign_nibble == 0x0D)
        signed = picture is not None and picture.signed
        if not signed and not plan.options.relaxed_sign:
            bad |= negative
        values = np.where(negative, -values, values)
    scale = picture.scale if picture is not None and picture.is_numeric else 0
    return _scale_values(values.tolist(), scale), np.asarray(bad, dtype=bool)


def _binary(node: Node, column: Matrix) -> tuple[list[Any], Mask] | None:
    item = node.item
    picture = item.picture
    width = column.shape[1]
    if width not in (1, 2, 4, 8) or (picture is not None and not picture.is_numeric):
        return None
    signed = picture is not None and picture.signed
    order = "<" if item.usage is Usage.BINARY_LE else ">"
    dtype = np.dtype(f"{order}{'i' if signed else 'u'}{width}")
    values = np.ascontiguousarray(column).view(dtype).reshape(-1)
    scale = picture.scale if picture is not None else 0
    return _scale_values(values.tolist(), scale), np.zeros(len(values), dtype=bool)


def _float(plan: DecodePlan, node: Node, column: Matrix) -> tuple[list[Any], Mask]:
    width = column.shape[1]
    contiguous = np.ascontiguousarray(column)
    if plan.options.float_format is FloatFormat.IEEE:
        values = contiguous.view(np.dtype(f">f{width}")).reshape(-1).astype(np.float64)
    else:
        bits = contiguous.view(np.dtype(f">u{width}")).reshape(-1).astype(np.uint64)
        fraction_bits = width * 8 - 8
        sign = np.where(bits >> np.uint64(width * 8 - 1), -1.0, 1.0)
        exponent = ((bits >> np.uint64(fraction_bits)) & np.uint64(0x7F)).astype(np.int64)
        fraction = (bits & np.uint64((1 << fraction_bits) - 1)).astype(np.float64)
        values = sign * np.ldexp(fraction, 4 * (exponent - 64) - fraction_bits)
    return values.tolist(), np.zeros(len(values), dtype=bool)


def _python(node: Node, column: Matrix) -> tuple[list[Any], Mask]:
    converter = node.converter
    assert converter is not None
    rows, width = column.shape
    data = column.tobytes()
    bad = np.zeros(rows, dtype=bool)
    values: list[Any] = []
    for row in range(rows):
        try:
            values.append(converter(data[row * width : (row + 1) * width]))
        except InvalidField:
            values.append(None)
            bad[row] = True
    return values, bad


def _decode_column(plan: DecodePlan, node: Node, column: Matrix) -> tuple[list[Any], Mask]:
    item = node.item
    picture = item.picture
    result: tuple[list[Any], Mask] | None = None
    if item.usage in (Usage.PACKED, Usage.PACKED_UNSIGNED):
        result = _packed(plan, node, column)
    elif item.usage in (Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE, Usage.INDEX, Usage.POINTER):
        result = _binary(node, column)
    elif item.usage in (Usage.FLOAT, Usage.DOUBLE):
        result = _float(plan, node, column)
    elif picture is not None and picture.category is Category.NUMERIC:
        result = _zoned(plan, node, column)
    if result is None:
        return _python(node, column)  # the converter applies zero_bytes_null itself
    if plan.options.zero_bytes_null and item.usage not in _BINARY_USAGES:
        values, bad = result
        zero = (column == 0).all(axis=1)
        for row in np.flatnonzero(zero).tolist():
            values[row] = None
        return values, bad & ~zero
    return result


_BINARY_USAGES = frozenset(
    {Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE, Usage.FLOAT, Usage.DOUBLE, Usage.INDEX, Usage.POINTER}
)


def decode_fixed_batch(
    plan: DecodePlan,
    view: memoryview,
    record_length: int,
    count: int,
    *,
    first_record_number: int,
    base_offset: int,
    record_start_offset: int,
    source: str | None,
    locations: list[tuple[int, int]] | None = None,
) -> list[Record]:
    """Decode ``count`` fixed records of ``record_length`` bytes (see ``decode_batch``).

    ``locations`` gives each row's (record number, file offset) when the rows were not
    contiguous in the file (split records joined for decoding). Called by the decoder
    when the compiled core (:mod:`headwater.codecs.copybook.native`) is not built or
    cannot express the plan.
    """
    program = _program(plan)
    if program is None:
        return _per_record(plan, view, record_length, range(count), first_record_number,
                           base_offset, record_start_offset, source, locations)  # fmt: skip
    matrix: Matrix = np.frombuffer(view, dtype=np.uint8, count=count * record_length).reshape(count, record_length)
    bad = np.zeros(count, dtype=bool)
    columns: list[list[Any]] = []
    for spec in program.columns:
        start = record_start_offset + spec.offset
        column = matrix[:, start : start + spec.node.item.length]
        values, column_bad = _decode_column(plan, spec.node, column)
        bad |= column_bad
        if spec.count_check is not None:
            minimum, maximum = spec.count_check
            bad |= np.fromiter(
                (not isinstance(v, int) or not minimum <= v <= maximum for v in values),
                dtype=bool,
                count=count,
            )
        columns.append(values)
    build = program.make(plan.code_page.decode(view), bytes(view) if plan.options.debug_hex else b"", BLANKS)
    bases = range(record_start_offset, count * record_length, record_length)
    records = list(map(build, bases, *columns))
    if bad.any():
        rows = np.flatnonzero(bad).tolist()
        fixed = _per_record(plan, view, record_length, rows, first_record_number,
                            base_offset, record_start_offset, source, locations)  # fmt: skip
        for row, record in zip(rows, fixed, strict=True):
            records[row] = record
    return records
