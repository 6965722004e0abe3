"""The optional compiled core of the fixed-record batch decoder.

:func:`native_program` compiles a :class:`DecodePlan` into a program for the C extension
``headwater.codecs.copybook._cdecode`` (built by ``pip install`` when a C compiler is
there; the package works without it). The program walks each record once and builds the
record dict directly: text through the code page table, zoned, packed and binary numbers
up to 18 digits, IEEE and IBM floats natively; any other field (national, numeric-edited,
relaxed signs, wider numbers, raw-hex binary) calls the field's Python converter, so
values are those of :mod:`headwater.codecs.copybook.fields` by construction.

Rows with invalid data come back as None and are re-decoded on the per-record path by the
caller (``headwater.codecs.copybook.decoder._decode_fixed``), which raises or
lists the errors exactly as :func:`decode_record` does.

The extension also splits V and VB streams (:data:`split_rdw`, called by
``RecordSplitter._variable`` for the plainly valid records of a block).

Selection: the compiled path is used whenever the extension imports, unless the
environment variable ``HEADWATER_COPYBOOK_NATIVE`` is ``0`` at import time (or
:data:`ENABLED` is set to False, as the differential tests do). A plan the program cannot
express (``debug_hex``, a code page table with undefined bytes, an ODO count that is not a
single elementary field decoded before its array) returns None: the numpy path decodes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from headwater.codecs.copybook.decoder import DecodePlan, Node
from headwater.codecs.copybook.fields import InvalidField, zoned_tables
from headwater.codecs.copybook.options import FloatFormat, Trim
from headwater.codecs.copybook.picture import Category, Usage
from headwater.codecs.ebcdic import CodePage, code_page

try:
    from headwater.codecs.copybook import _cdecode
except ImportError:  # no C compiler at install time: the numpy path decodes everything
    _cdecode = None

__all__ = ["AVAILABLE", "ENABLED", "native_program", "split_rdw"]

#: True when the compiled extension is installed.
AVAILABLE: bool = _cdecode is not None
#: Set to False to decode with the numpy path only (tests, or a suspected bug).
ENABLED: bool = AVAILABLE and os.environ.get("HEADWATER_COPYBOOK_NATIVE", "1") != "0"

#: The compiled V/VB splitter (``_cdecode.split_rdw``; see RecordSplitter._variable), or None.
split_rdw: Callable[..., Any] | None = _cdecode.split_rdw if _cdecode is not None else None

# Op kinds and flags: the enums at the top of _cdecode.c.
_GROUP, _ARRAY, _TEXT, _ZONED, _PACKED, _BINARY, _FLOAT, _CALL = range(8)
_SIGNED, _SEPARATE, _LEADING, _ZERO_NULL, _HAS_SIGN, _RELAXED, _LITTLE, _IBM = (1 << bit for bit in range(8))
_TRIMS = {Trim.NONE: 0, Trim.BOTH: 1, Trim.LEFT: 2, Trim.RIGHT: 3}
_MAX_DIGITS = 18
_MAX_SCALE = 60
_BINARY_USAGES = (Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE, Usage.INDEX, Usage.POINTER)

_PROGRAMS: dict[tuple[int, bool, object], tuple[DecodePlan, Any]] = {}
_MAX_CACHED = 64


class _Unsupported(Exception):
    """The plan needs the numpy path."""


class _Compiler:
    """Turns the plan's output tree into the flat pre-order op list of ``_cdecode.Program``."""

    def __init__(self, plan: DecodePlan) -> None:
        self.plan = plan
        self.ops: list[tuple[Any, ...]] = []
        self.texts: list[str] = []
        self.zoned: list[tuple[bytes, bytes, bytes, int, int, int]] = []
        self.families: dict[str, int] = {}
        self.slots: dict[str, int] = {}  # ODO count field name -> slot
        self.span = 0
        options = plan.options
        self.pages = {
            plan.layout.find(name).name: code_page(page) for name, page in options.field_code_pages
        }  # as compile_plan builds them

    def op(
        self,
        kind: int,
        key: str | None,
        *,
        offset: int = 0,
        length: int = 0,
        children: int = 0,
        slot_in: int = -1,
        slot_out: int = -1,
        minimum: int = 0,
        maximum: int = 0,
        flags: int = 0,
        scale: int = 0,
        table: int = 0,
        trim: int = 0,
        obj: object = None,
    ) -> int:
        self.ops.append(
            (kind, key, offset, length, children, slot_in, slot_out, minimum, maximum, flags, scale, table, trim, obj)
        )
        if kind not in (_GROUP, _ARRAY):
            self.span = max(self.span, offset + length)
        return len(self.ops) - 1

    def group(self, nodes: tuple[Node, ...], key: str | None, delta: int) -> None:
        visible = [node for node in nodes if not node.hidden]
        self.op(_GROUP, key, children=len(visible))
        for node in visible:
            self.item(node, delta)

    def item(self, node: Node, delta: int) -> None:
        item = node.item
        occurs = item.occurs
        if occurs is None:
            self.element(node, node.key, delta, inside_array=False)
            return
        slot_in, minimum, maximum = -1, 0, occurs.maximum
        if occurs.depending_on is not None:
            if occurs.depending_on not in self.slots:
                raise _Unsupported  # the count is decoded after the array, or inside one
            slot_in, minimum = self.slots[occurs.depending_on], occurs.minimum
        self.op(_ARRAY, node.key, children=occurs.maximum, slot_in=slot_in, minimum=minimum, maximum=maximum)
        for index in range(occurs.maximum):
            self.element(node, None, delta + index * item.length, inside_array=True)

    def element(self, node: Node, key: str | None, delta: int, *, inside_array: bool) -> None:
        item = node.item
        if node.converter is None:
            self.nested(node, key, delta, inside_array=inside_array)
            return
        slot_out = -1
        if item.name in self.plan.depending_fields:
            if inside_array or item.name in self.slots or self.arrays_open:
                raise _Unsupported  # which occurrence counts is the per-record path's call
            slot_out = self.slots[item.name] = len(self.slots)
        self.field(node, key, item.offset + delta, slot_out)

    arrays_open = 0

    def nested(self, node: Node, key: str | None, delta: int, *, inside_array: bool) -> None:
        if inside_array:
            self.arrays_open += 1
        self.group(node.children, key, delta)
        if inside_array:
            self.arrays_open -= 1

    def field(self, node: Node, key: str | None, offset: int, slot_out: int) -> None:
        item = node.item
        picture = item.picture
        page = self.pages.get(item.name, self.plan.code_page)
        options = self.plan.options
        zero_null = (
            _ZERO_NULL
            if options.zero_bytes_null and item.usage not in (*_BINARY_USAGES, Usage.FLOAT, Usage.DOUBLE)
            else 0
        )
        if item.length <= 0:
            raise _Unsupported
        common = {"offset": offset, "length": item.length, "slot_out": slot_out}
        usage = item.usage
        scale = picture.scale if picture is not None and picture.is_numeric else 0
        factor = 10**-scale if scale < 0 else None
        if abs(scale) > _MAX_SCALE:
            pass  # the converter handles any scale
        elif (
            usage is Usage.DISPLAY
            and picture is not None
            and picture.category
            in (
                Category.ALPHANUMERIC,
                Category.ALPHABETIC,
            )
        ):
            self.op(_TEXT, key, **common, flags=zero_null, table=self.text_table(page), trim=_TRIMS[options.trim])
            return
        elif usage is Usage.DISPLAY and picture is not None and picture.category is Category.NUMERIC:
            signed = picture.signed
            separate = item.sign_separate and signed
            width = item.length - 1 if separate else item.length
            if not options.relaxed_sign and 1 <= width <= _MAX_DIGITS:
                flags = zero_null | (_SIGNED if signed else 0) | (_SEPARATE if separate else 0)
                flags |= _LEADING if item.sign_leading else 0
                table = self.zoned_set(page)
                self.op(_ZONED, key, **common, flags=flags, scale=scale, table=table, obj=factor)
                return
        elif usage in (Usage.PACKED, Usage.PACKED_UNSIGNED):
            has_sign = usage is Usage.PACKED
            digits = item.length * 2 - (1 if has_sign else 0)
            if 1 <= digits <= _MAX_DIGITS:
                flags = zero_null | (_HAS_SIGN if has_sign else 0) | (_RELAXED if options.relaxed_sign else 0)
                flags |= _SIGNED if picture is not None and picture.signed else 0
                self.op(_PACKED, key, **common, flags=flags, scale=scale, obj=factor)
                return
        elif usage in _BINARY_USAGES and (picture is None or picture.is_numeric) and 1 <= item.length <= 8:
            if usage in (Usage.INDEX, Usage.POINTER):
                picture = None  # fields._binary: unsigned, scale 0, whatever the picture says
            flags = (_SIGNED if picture is not None and picture.signed else 0) | (
                _LITTLE if usage is Usage.BINARY_LE else 0
            )
            binary_scale = picture.scale if picture is not None else 0
            binary_factor = 10**-binary_scale if binary_scale < 0 else None
            if abs(binary_scale) <= _MAX_SCALE:
                self.op(_BINARY, key, **common, flags=flags, scale=binary_scale, obj=binary_factor)
                return
        elif (usage, item.length) in ((Usage.FLOAT, 4), (Usage.DOUBLE, 8)):
            self.op(_FLOAT, key, **common, flags=_IBM if options.float_format is FloatFormat.IBM else 0)
            return
        self.op(_CALL, key, **common, obj=node.converter)

    def text_table(self, page: CodePage) -> int:
        if "\ufffe" in page.table:
            raise _Unsupported  # charmap_decode refuses such bytes: the pure path's error stands
        if page.table not in self.texts:
            self.texts.append(page.table)
        return self.texts.index(page.table)

    def zoned_set(self, page: CodePage) -> int:
        family = page.family
        if family not in self.families:
            tables = zoned_tables(family)

            def signed_bytes(values: tuple[int, ...]) -> bytes:
                return bytes(value & 0xFF for value in values)

            self.families[family] = len(self.zoned)
            self.zoned.append(
                (
                    signed_bytes(tables.plain),
                    signed_bytes(tables.over_digit),
                    signed_bytes(tables.over_sign),
                    tables.space,
                    tables.plus,
                    tables.minus,
                )
            )
        return self.families[family]


def native_program(
    plan: DecodePlan, *, fast_decimal: bool = True, decimal_text: Callable[[str], Any] | None = None
) -> Any | None:
    """The compiled program of a fixed plan (cached per plan), or None (numpy path).

    Called by the decoder's batch functions on the decoding thread; the program is immutable,
    so concurrent batches may share it. ``fast_decimal=False`` builds every Decimal
    through ``Decimal(str)`` (tests compare both). ``decimal_text``: see
    :func:`headwater.codecs.copybook.decoder.decode_records`.
    """
    if not ENABLED or _cdecode is None:
        return None
    key = (id(plan), fast_decimal, decimal_text)
    cached = _PROGRAMS.get(key)
    if cached is not None and cached[0] is plan:
        return cached[1]
    program = None
    if not plan.options.debug_hex and plan.vectorizable:
        compiler = _Compiler(plan)
        try:
            compiler.group(plan.roots, None, 0)
        except _Unsupported:
            pass
        else:
            program = _cdecode.Program(
                compiler.ops,
                compiler.texts,
                compiler.zoned,
                len(compiler.slots),
                compiler.span,
                Decimal,
                InvalidField,
                fast_decimal,
                decimal_text,
            )
    if len(_PROGRAMS) > _MAX_CACHED:
        _PROGRAMS.clear()  # plans are few; this bounds a process that compiles many
    _PROGRAMS[key] = (plan, program)
    return program
