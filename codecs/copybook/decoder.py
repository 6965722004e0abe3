"""Decode record bytes into dicts, driven by a layout compiled once into a :class:`DecodePlan`.

Output shape: keys are COBOL names with ``-`` replaced by ``_``; groups are dicts; OCCURS
items are lists (only the present elements for OCCURS DEPENDING ON); FILLER items are
dropped; a single 01 record is collapsed (its children are the keys). With ``debug_hex``,
every elementary field ``X`` is followed by ``X_hex`` (its raw bytes in hex).

Errors: by default an invalid field raises :class:`DecodeError` (file, record number, byte
offset, field, raw bytes). With ``on_error="null"`` the field is ``None`` and the record
gets ``_errors``: a list of ``{"field", "offset", "reason", "raw"}`` dicts.

Multisegment records: with ``segment_field`` and ``segment_map``, a record whose segment
id maps to a REDEFINES alternative gets only that alternative decoded; the other members
of that REDEFINES chain are ``None`` (so every record has the same keys). Records whose id
is not in ``segment_filter`` (when given) are skipped: :func:`decode_record` returns None.

Two decoding paths give identical results: the per-record path here (any layout) and the
vectorised batch path in :mod:`headwater.codecs.copybook.vectorized` (fixed layouts),
which :func:`decode_batch` picks automatically.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.codecs.copybook.errors import DecodeError
from headwater.codecs.copybook.fields import Converter, InvalidField, make_converter
from headwater.codecs.copybook.layout import Field, Layout, output_name
from headwater.codecs.copybook.options import DecodeOptions, OnError
from headwater.codecs.copybook.picture import Usage
from headwater.codecs.ebcdic import CodePage, code_page, custom_code_page

__all__ = [
    "DecodePlan",
    "Node",
    "compile_plan",
    "decode_batch",
    "decode_record",
    "decode_records",
]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Node:
    """One layout item prepared for decoding.

    Attributes:
        item: the layout field.
        key: output key (``-`` -> ``_``).
        converter: bytes -> value for elementary items, None for groups.
        children: prepared children of a group (FILLERs included: they take space).
        chain: names of the REDEFINES chain the item belongs to (empty when none).
        hidden: not output (a dropped FILLER, or a group whose children are all hidden);
            its bytes still take space and are never validated.
    """

    item: Field
    key: str
    converter: Converter | None
    children: tuple[Node, ...] = ()
    chain: frozenset[str] = frozenset()
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class DecodePlan:
    """A layout compiled for one set of decode options (build it once per copybook).

    Attributes:
        layout: the source layout.
        options: the decode options.
        code_page: the default code page of text fields.
        roots: the prepared output roots.
        record_length: bytes of the longest record.
        depending_fields: names of the items OCCURS DEPENDING ON refers to.
        segment_node: the node of the segment id field, if any.
        segment_map: segment id -> name of the REDEFINES alternative to decode.
        controlled: names of REDEFINES alternatives the segment map chooses between.
        shifting: True when ODO arrays shift the following fields.
    """

    layout: Layout
    options: DecodeOptions
    code_page: CodePage
    roots: tuple[Node, ...]
    record_length: int
    depending_fields: frozenset[str]
    segment_node: Node | None
    segment_map: dict[str, str] = field(default_factory=dict)
    controlled: frozenset[str] = frozenset()
    shifting: bool = False

    @property
    def vectorizable(self) -> bool:
        """True when every record has the same field offsets (batch path applies)."""
        return not self.shifting and self.segment_node is None

    def segment_id(self, data: bytes | bytearray | memoryview) -> str | None:
        """The segment id of a record's bytes, as text; None without ``segment_field`` or when unreadable."""
        node = self.segment_node
        if node is None or node.converter is None:
            return None
        item = node.item
        try:
            value = node.converter(bytes(data[item.offset : item.offset + item.length]))
        except InvalidField:
            return None
        return None if value is None else str(value)

    def read_field(self, name: str, data: bytes) -> Any:
        """Decode the (first occurrence of the) named field at its static offset.

        Used for record-length fields and segment ids; raises ``InvalidField``.
        """
        node = _find_node(self.roots, self.layout.find(name).name)
        assert node.converter is not None
        item = node.item
        if len(data) < item.offset + item.length:
            msg = "record too short for the field"
            raise InvalidField(msg)
        return node.converter(bytes(data[item.offset : item.offset + item.length]))


def _find_node(nodes: Iterable[Node], name: str) -> Node:
    for node in nodes:
        if node.item.name == name:
            return node
        if node.children:
            try:
                return _find_node(node.children, name)
            except KeyError:
                pass
    raise KeyError(name)


def _chains(layout: Layout) -> dict[str, frozenset[str]]:
    """Map each REDEFINES participant to the names of its whole chain."""
    chains: dict[str, set[str]] = {}
    for item in layout.fields():
        group = [item, *item.children] if item.children else []
        for child in group[1:] if group else []:
            if child.redefines:
                chain = chains.setdefault(child.redefines, {child.redefines})
                chain.add(child.name)
                chains[child.name] = chain
    for root in layout.roots:
        if root.redefines:
            chain = chains.setdefault(root.redefines, {root.redefines})
            chain.add(root.name)
            chains[root.name] = chain
    return {name: frozenset(chain) for name, chain in chains.items()}


class _FillerNames:
    """Output keys of FILLER items under a ``filler_naming`` policy (Cobrix's names)."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.groups = 0
        self.values = 0

    def key(self, item: Field, previous: str) -> str:
        if not item.is_filler:
            return item.key
        if self.policy == "previous_field_name":
            return output_name(f"FILLER_AFTER_{previous}") if previous else "FILLER"
        if item.children:
            self.groups += 1
            return f"FILLER_{self.groups}"
        self.values += 1
        return f"FILLER_P{self.values}"


def compile_plan(
    layout: Layout, options: DecodeOptions | None = None, *, custom_table: str | bytes | None = None
) -> DecodePlan:
    """Compile ``layout`` for ``options``.

    Args:
        layout: the parsed copybook.
        options: decode options (defaults: cp037, strict, fail on error).
        custom_table: a 256-entry code page table, overriding ``options.code_page`` and
            ``options.custom_code_page``.

    Raises:
        KeyError: a field named in the options does not exist.
        UnknownCodePageError: a code page name is unknown.
    """
    options = options or DecodeOptions()
    table = custom_table if custom_table is not None else options.custom_code_page
    default_page = custom_code_page(table) if table is not None else code_page(options.code_page)
    overrides = {layout.find(name).name: code_page(page) for name, page in options.field_code_pages}
    chains = _chains(layout)
    names = _FillerNames(options.filler_naming)

    def prepare(item: Field, previous: str) -> Node:
        chain = chains.get(item.name, frozenset())
        if item.children:
            children = []
            last = item.name  # Cobrix: the first child's "previous field" is its parent
            for child in item.children:
                prepared = prepare(child, last)
                children.append(prepared)
                last = prepared.key if child.is_filler else child.name
            hidden = (item.is_filler and options.drop_group_fillers) or all(c.hidden for c in children)
            # Groups are numbered after their contents, and only when output (as Cobrix).
            key = item.key if hidden else names.key(item, previous)
            return Node(item, key, None, tuple(children), chain, hidden)
        hidden = item.is_filler and options.drop_value_fillers
        key = item.key if hidden else names.key(item, previous)
        converter = make_converter(
            item,
            code_page=overrides.get(item.name, default_page),
            trim=options.trim,
            relaxed_sign=options.relaxed_sign,
            float_format=options.float_format,
            zero_bytes_null=options.zero_bytes_null,
        )
        return Node(item, key, converter, (), chain, hidden)

    prepared_roots = []
    records = [root for root in layout.roots if root.level == 1]
    last_root = records[0].name if len(records) == 1 and records[0].is_group else ""  # the collapsed 01
    for root in layout.output_roots:
        prepared_roots.append(prepare(root, last_root))
        last_root = prepared_roots[-1].key if root.is_filler else root.name
    roots = tuple(prepared_roots)
    depending = frozenset(
        item.occurs.depending_on
        for item in layout.fields()
        if item.occurs is not None and item.occurs.depending_on is not None
    )
    segment_node = None
    segment_map: dict[str, str] = {}
    controlled: set[str] = set()
    if options.segment_field:
        segment_node = _find_node(roots, layout.find(options.segment_field).name)
        for segment_id, redefine in options.segment_map:
            name = layout.find(redefine).name
            segment_map[segment_id] = name
            controlled |= chains.get(name, frozenset({name}))
    return DecodePlan(
        layout=layout,
        options=options,
        code_page=default_page,
        roots=roots,
        record_length=layout.record_length,
        depending_fields=depending,
        segment_node=segment_node,
        segment_map=segment_map,
        controlled=frozenset(controlled),
        shifting=options.variable_size_occurs and layout.variable,
    )


class _RecordDecoder:
    """Walks the plan over one record, tracking positions (static or shifting)."""

    __slots__ = ("counts", "data", "errors", "offset", "plan", "record_number", "selected", "source")

    def __init__(self, plan: DecodePlan, data: bytes, record_number: int, offset: int, source: str | None) -> None:
        self.plan = plan
        self.data = data
        self.record_number = record_number
        self.offset = offset
        self.source = source
        self.errors: list[dict[str, Any]] = []
        self.counts: dict[str, Any] = {}
        self.selected: str | None = None

    def fail(self, reason: str, name: str, position: int, raw: bytes) -> None:
        if self.plan.options.on_error is OnError.FAIL:
            raise DecodeError(
                reason,
                source=self.source,
                record_number=self.record_number,
                byte_offset=self.offset + position,
                field=name,
                raw=raw,
                record=self.data,
            )
        self.errors.append(
            {"field": name, "offset": self.offset + position, "reason": reason, "raw": raw.hex().upper()}
        )

    def group(self, nodes: tuple[Node, ...], start: int, out: Record, subscript: str) -> int:
        """Decode ``nodes`` (siblings) from ``start``; return the end position."""
        position = start
        starts: dict[str, int] = {}
        for node in nodes:
            item = node.item
            begin = starts.get(item.redefines, position) if item.redefines else position
            starts[item.name] = begin
            if node.chain and item.name in self.plan.controlled and item.name != self.selected:
                if not node.hidden:
                    out[node.key] = None
                if not self.plan.shifting:
                    position = max(position, begin + item.total_length)
                continue
            end = self.item(node, begin, out, subscript)
            position = max(position, end)
        return position

    def item(self, node: Node, start: int, out: Record, subscript: str) -> int:
        item = node.item
        occurs = item.occurs
        if occurs is None:
            value, end = self.element(node, start, subscript)
            if not node.hidden:
                out[node.key] = value
                if self.plan.options.debug_hex and node.converter is not None:
                    out[f"{node.key}_hex"] = self.data[start : start + item.length].hex().upper()
            return end
        count = occurs.maximum
        if occurs.depending_on is not None:
            count = self.occurs_count(item, occurs.depending_on, start, subscript)
        values = []
        hexes = []
        position = start
        for index in range(count):
            inner = f"{subscript}, {index + 1}" if subscript else str(index + 1)
            value, position = self.element(node, position, inner)
            values.append(value)
            if self.plan.options.debug_hex and node.converter is not None:
                hexes.append(self.data[position - item.length : position].hex().upper())
        if not self.plan.shifting:
            position = start + item.total_length
        if not node.hidden:
            out[node.key] = values
            if self.plan.options.debug_hex and node.converter is not None:
                out[f"{node.key}_hex"] = hexes
        return position

    def occurs_count(self, item: Field, depending_on: str, start: int, subscript: str) -> int:
        occurs = item.occurs
        assert occurs is not None
        count = self.counts.get(depending_on)
        if not isinstance(count, int) or not occurs.minimum <= count <= occurs.maximum:
            self.fail(
                f"OCCURS DEPENDING ON {depending_on} = {count!r} is outside {occurs.minimum} to {occurs.maximum}",
                item.name,
                start,
                b"",
            )
            return 0
        return count

    def element(self, node: Node, start: int, subscript: str) -> tuple[Any, int]:
        item = node.item
        if node.converter is None:
            out: Record = {}
            end = self.group(node.children, start, out, subscript)
            return out, (end if self.plan.shifting else start + item.length)
        end = start + item.length
        if node.hidden:
            return None, end  # hidden FILLER bytes are never output, so never validated
        raw = self.data[start:end]
        name = f"{item.name}({subscript})" if subscript else item.name
        if end > len(self.data):
            if self.plan.options.allow_short_records:
                # Past the end of a short record (Cobrix): text keeps the bytes that are
                # there, anything else has no value.
                picture = item.picture
                is_text = item.usage is Usage.DISPLAY and picture is not None and not picture.is_numeric
                if is_text and start < len(self.data):
                    try:
                        return node.converter(bytes(raw)), end
                    except InvalidField:
                        pass
                return None, end
            self.fail(
                f"record truncated: the field needs bytes {start}-{end - 1} of the record, which has {len(self.data)}",
                name,
                start,
                bytes(raw),
            )
            return None, end
        try:
            value = node.converter(bytes(raw))
        except InvalidField as exc:
            self.fail(str(exc), name, start, bytes(raw))
            value = None
        if item.name in self.plan.depending_fields:
            self.counts[item.name] = value
        return value, end


def decode_record(
    plan: DecodePlan,
    data: bytes | bytearray | memoryview,
    *,
    record_number: int = 1,
    byte_offset: int = 0,
    source: str | None = None,
) -> Record | None:
    """Decode one record.

    Args:
        plan: from :func:`compile_plan`.
        data: the record's bytes (without RDW; start/end offsets already removed).
        record_number: 1-based number used in error messages.
        byte_offset: file offset of ``data[0]``, used in error messages.
        source: file name used in error messages.

    Returns:
        The record dict, or None when the segment filter drops the record.

    Raises:
        DecodeError: invalid data and ``on_error="fail"``.
    """
    raw = bytes(data)
    decoder = _RecordDecoder(plan, raw, record_number, byte_offset, source)
    if plan.segment_node is not None:
        segment = plan.segment_id(raw)
        if plan.options.segment_filter and segment not in plan.options.segment_filter:
            return None
        decoder.selected = plan.segment_map.get(segment) if segment is not None else None
    out: Record = {}
    decoder.group(plan.roots, 0, out, "")
    if decoder.errors:
        out["_errors"] = decoder.errors
    return out


def decode_records(
    plan: DecodePlan,
    records: Iterable[tuple[int, int, bytes | bytearray | memoryview]],
    *,
    source: str | None = None,
    decimal_text: Callable[[str], Any] | None = None,
) -> Iterator[Record]:
    """Decode ``(record_number, byte_offset, data)`` triples (as the splitters yield them).

    Records are decoded in batches of 4096; batches of equal-length records on a fixed
    plan take the vectorised path. Records dropped by the segment filter are skipped.

    ``decimal_text`` is for a caller that only prints the records (``copybook decode``
    passes ``orjson.Fragment``): on the compiled path, a decimal value whose ``str()`` is
    plain notation comes as ``decimal_text(str(value))`` instead of a ``Decimal``; every
    other value, and every value of the other paths, is unchanged.
    """
    if isinstance(records, list):  # a splitter's list: batches are slices of it
        for start in range(0, len(records), _BATCH_RECORDS):
            yield from _decode_list(plan, records[start : start + _BATCH_RECORDS], source, decimal_text)
        return
    batch: list[tuple[int, int, bytes | bytearray | memoryview]] = []
    for triple in records:
        batch.append(triple)
        if len(batch) >= _BATCH_RECORDS:
            yield from _decode_list(plan, batch, source, decimal_text)
            batch = []
    if batch:
        yield from _decode_list(plan, batch, source, decimal_text)


_BATCH_RECORDS = 4096


_DATA = operator.itemgetter(2)
_LOCATION = operator.itemgetter(0, 1)


def _decode_list(
    plan: DecodePlan,
    batch: list[tuple[int, int, bytes | bytearray | memoryview]],
    source: str | None,
    decimal_text: Callable[[str], Any] | None = None,
) -> Iterable[Record]:
    """Decode split records, vectorised when they all have the plan's fixed length."""
    length = len(batch[0][2])
    datas = list(map(_DATA, batch))  # map/itemgetter: no Python call per record
    if plan.vectorizable and length >= plan.record_length and all(map(length.__eq__, map(len, datas))):
        joined = memoryview(b"".join(datas))
        try:
            return _decode_fixed(
                plan,
                joined,
                length,
                len(batch),
                first_record_number=batch[0][0],
                base_offset=0,
                record_start_offset=0,
                source=source,
                locations=list(map(_LOCATION, batch)),
                decimal_text=decimal_text,
            )
        except DecodeError:
            # Re-run record by record so the records before the bad one are yielded first.
            return _one_by_one(plan, batch, source)
    return _one_by_one(plan, batch, source)


def _one_by_one(
    plan: DecodePlan,
    batch: list[tuple[int, int, bytes | bytearray | memoryview]],
    source: str | None,
) -> Iterator[Record]:
    for number, offset, data in batch:
        record = decode_record(plan, data, record_number=number, byte_offset=offset, source=source)
        if record is not None:
            yield record


def decode_batch(
    plan: DecodePlan,
    buffer: bytes | bytearray | memoryview,
    record_length: int | None = None,
    *,
    first_record_number: int = 1,
    base_offset: int = 0,
    record_start_offset: int = 0,
    source: str | None = None,
) -> list[Record]:
    """Decode a buffer of consecutive fixed-length records.

    Fixed layouts are decoded column by column with numpy; rows with invalid data are
    re-decoded on the per-record path so errors are reported identically. Variable
    layouts (shifting ODO, segment selection) use the per-record path.

    Args:
        plan: from :func:`compile_plan`.
        buffer: ``n * record_length`` bytes (a trailing partial record is an error).
        record_length: bytes per physical record (default: the layout's length plus
            ``record_start_offset``).
        first_record_number: number of the first record in the buffer.
        base_offset: file offset of ``buffer[0]``.
        record_start_offset: bytes to skip at the start of each record.
        source: file name for error messages.

    Raises:
        DecodeError: invalid data with ``on_error="fail"``, or a trailing partial record.
    """
    length = record_length or plan.record_length + record_start_offset
    view = memoryview(buffer).cast("B")
    count, rest = divmod(len(view), length)
    if rest:
        msg = f"buffer of {len(view)} bytes is not a whole number of {length}-byte records"
        raise DecodeError(
            msg,
            source=source,
            record_number=first_record_number + count,
            byte_offset=base_offset + count * length,
            field="(record)",
            raw=bytes(view[count * length :]),
        )
    usable = length - record_start_offset
    if plan.vectorizable and usable >= plan.record_length and count > 0:
        return _decode_fixed(
            plan,
            view,
            length,
            count,
            first_record_number=first_record_number,
            base_offset=base_offset,
            record_start_offset=record_start_offset,
            source=source,
        )
    records = []
    for index in range(count):
        begin = index * length + record_start_offset
        record = decode_record(
            plan,
            view[begin : (index + 1) * length],
            record_number=first_record_number + index,
            byte_offset=base_offset + begin,
            source=source,
        )
        if record is not None:
            records.append(record)
    return records


def _decode_fixed(
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
    decimal_text: Callable[[str], Any] | None = None,
) -> list[Record]:
    """Decode ``count`` fixed records: the compiled core when it is built and can express the
    plan, else the numpy columns (imported only then); invalid rows on the per-record path."""
    from headwater.codecs.copybook.native import native_program

    program = native_program(plan, decimal_text=decimal_text)
    if program is not None and plan.record_length <= record_length - record_start_offset:
        decoded: tuple[list[Record], list[int]] = program.decode(view, record_length, count, record_start_offset)
        records, bad_rows = decoded
        if bad_rows:
            fixed = redecode_rows(plan, view, record_length, bad_rows, first_record_number,
                                  base_offset, record_start_offset, source, locations)  # fmt: skip
            for row, record in zip(bad_rows, fixed, strict=True):
                records[row] = record
        return records
    from headwater.codecs.copybook.vectorized import decode_fixed_batch

    return decode_fixed_batch(
        plan,
        view,
        record_length,
        count,
        first_record_number=first_record_number,
        base_offset=base_offset,
        record_start_offset=record_start_offset,
        source=source,
        locations=locations,
    )


def redecode_rows(
    plan: DecodePlan,
    view: memoryview,
    record_length: int,
    rows: Iterable[int],
    first_record_number: int,
    base_offset: int,
    record_start_offset: int,
    source: str | None,
    locations: list[tuple[int, int]] | None,
) -> list[Record]:
    """Rows of a fixed batch decoded one by one (the batch paths' fallback for invalid rows),
    so they raise or list errors exactly as :func:`decode_record` does."""
    out: list[Record] = []
    for row in rows:
        begin = row * record_length + record_start_offset
        number, offset = (
            locations[row] if locations is not None
            else (first_record_number + row, base_offset + begin)
        )  # fmt: skip
        record = decode_record(
            plan,
            view[begin : (row + 1) * record_length],
            record_number=number,
            byte_offset=offset,
            source=source,
        )
        assert record is not None  # no segment filter on the batch paths
        out.append(record)
    return out
