"""Hierarchical multisegment files: one nested record per root segment (Cobrix ``segment-children``).

With ``DecodeOptions.segment_children`` (parent REDEFINES -> child REDEFINES names, all of
them alternatives chosen by ``segment_map``), the physical records of a file are grouped
into hierarchies: a root segment record followed by its descendants, up to the next root
segment record. :class:`HierarchyAssembler` takes the decoded records in file order and
yields one :class:`Hierarchy` per root.

Output shape (the placement follows Cobrix):

* the root is its decoded record without the REDEFINES alternatives of the other segments
  (which would be null): the fields outside the segment group (segment id, keys...) and its
  own group;
* a parent's children sit *inside the parent's REDEFINES group*, one key per child segment
  (the child group's name with ``-`` -> ``_``, like every key), each a list of entries in
  file order, present and empty when the parent has none of that child;
* a child entry is the content of the child's REDEFINES group (plus its own children, and
  ``_errors`` when ``on_error="null"`` nulled fields of that record); the fields outside the
  group are the common header and are not repeated per child.

Strict rules (Cobrix silently drops what does not fit; here each is an error naming the
file, record number, byte offset and segment id, :class:`SegmentHierarchyError`):

* a segment record before the first root record;
* a child whose parent segment is not open: its parent is neither the record just read
  nor one of that record's ancestors (e.g. an employee after a contact closed its
  department);
* a segment id that ``segment_map`` does not name;
* a child whose parent record was left out (see below).

The offending record is left out and assembly goes on with the next record, so a caller
may report it and continue. A record fed without a decoded row (dropped by
``segment_filter``, or invalid and reported by the caller) is *left out*: it still closes
the records it follows like any record of its segment (a left-out root completes the
open hierarchy), but its descendants are errors rather than being attached to an
earlier record of the same segment. So filtering out a parent segment makes its children
errors; filter only segments that are leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from headwater.codecs.copybook.decoder import DecodePlan, decode_record
from headwater.codecs.copybook.errors import SegmentHierarchyError
from headwater.codecs.copybook.layout import Field, Layout
from headwater.connectors.errors import ConfigError, FieldError

__all__ = ["Hierarchy", "HierarchyAssembler", "SegmentTree", "assemble_hierarchies", "segment_tree"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SegmentTree:
    """The parent/child structure of the segments, resolved against a layout.

    Attributes:
        children_of: parent REDEFINES name -> its child REDEFINES names (COBOL spelling).
        parent_of: child REDEFINES name -> its parent.
        roots: the mapped REDEFINES names that are nobody's child.
        paths: REDEFINES name (every member of a segment-controlled chain) -> the keys
            leading to its value in a decoded record.
    """

    children_of: Mapping[str, tuple[str, ...]]
    parent_of: Mapping[str, str]
    roots: frozenset[str]
    paths: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """One root segment record with its descendants nested (see the module docstring).

    Attributes:
        row: the nested record.
        record_number: 1-based number of the root record in the source.
        byte_offset: file offset of the root record's data.
        record_count: physical records from the root up to the record before the next
            root (or the last record fed), including filtered-out and invalid records in
            between: the next hierarchy starts at ``record_number + record_count``.
        segment_id: the root record's segment id.
    """

    row: Record
    record_number: int
    byte_offset: int
    record_count: int
    segment_id: str


def _output_paths(layout: Layout) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Key path of every named item outside OCCURS, and the names of the items inside one."""
    paths: dict[str, tuple[str, ...]] = {}
    in_occurs: set[str] = set()

    def walk(items: Iterable[Field], trail: tuple[str, ...], repeated: bool) -> None:
        for item in items:
            if item.is_filler:
                continue
            inside = repeated or item.occurs is not None
            if inside:
                in_occurs.add(item.name)
            else:
                paths.setdefault(item.name, (*trail, item.key))
            walk(item.children, (*trail, item.key), inside)

    walk(layout.output_roots, (), False)
    return paths, frozenset(in_occurs - set(paths))


def segment_tree(plan: DecodePlan) -> SegmentTree:
    """Resolve ``plan.options.segment_children`` against the plan's layout.

    Raises:
        ConfigError: (key ``segment_children``) a name is not in the copybook, a parent or
            child is not a group, sits inside an OCCURS, or a child's key collides with a
            field of its parent's group.
    """
    layout = plan.layout
    errors: list[str] = []

    def resolve(name: str) -> Field | None:
        try:
            return layout.find(name)
        except KeyError as exc:
            errors.append(str(exc.args[0]))
            return None

    paths, in_occurs = _output_paths(layout)
    children_of: dict[str, tuple[str, ...]] = {}
    parent_of: dict[str, str] = {}
    for parent_name, child_names in plan.options.segment_children:
        parent = resolve(parent_name)
        children = [child for child in map(resolve, child_names) if child is not None]
        if parent is None:
            continue
        for item in (parent, *children):
            if not item.is_group:
                errors.append(f"{item.name} is not a group: segments must be REDEFINES groups")
            if item.name in in_occurs:
                errors.append(f"{item.name} is inside an OCCURS: segments must not repeat within a record")
        taken = {child.key for child in parent.children if not child.is_filler}
        for child in children:
            if child.key in taken:
                errors.append(f"child {child.name} would overwrite the field {child.key} of its parent {parent.name}")
            parent_of[child.name] = parent.name
        children_of[parent.name] = tuple(child.name for child in children)
    if errors:
        raise ConfigError([FieldError("segment_children", message) for message in dict.fromkeys(errors)])
    chain_paths = {name: paths[name] for name in plan.controlled if name in paths}
    roots = frozenset(name for name in plan.segment_map.values() if name not in parent_of)
    return SegmentTree(children_of, parent_of, roots, chain_paths)


@dataclass(slots=True)
class _OpenSegment:
    """A record of the open hierarchy that may still receive children.

    ``left_out`` is the record number of a record fed without a row: it takes its place
    in the hierarchy, but its children are errors.
    """

    segment: str
    children: dict[str, list[Record]] = field(default_factory=dict)
    left_out: int | None = None


class HierarchyAssembler:
    """Groups decoded segment records, fed in file order, into :class:`Hierarchy` records.

    Incremental: :meth:`feed` returns the previous hierarchy when a root record starts a
    new one; :meth:`finish` returns the last one (call it only when no more of its
    children can follow, e.g. at the end of a complete file). Used by
    :func:`assemble_hierarchies` and by the mainframe source, which holds the open
    hierarchy back until it is complete.

    Args:
        plan: a plan whose options have ``segment_children``.
        source: file name used in error messages.

    Raises:
        ConfigError: the plan has no ``segment_children`` or they do not fit the layout.
    """

    def __init__(self, plan: DecodePlan, *, source: str | None = None) -> None:
        if not plan.options.segment_children:
            raise ConfigError([FieldError("segment_children", "required to assemble hierarchies")])
        self.plan = plan
        self.tree = segment_tree(plan)
        self.source = source
        self._root: Record | None = None
        self._root_number = 0
        self._root_offset = 0
        self._root_segment_id = ""
        self._open: list[_OpenSegment] = []
        self._last_number = 0

    @property
    def open_root(self) -> int | None:
        """Record number of the root whose hierarchy is being assembled (None when none is)."""
        return self._root_number if self._root is not None else None

    def feed(self, number: int, offset: int, data: bytes, row: Record | None) -> Hierarchy | None:
        """Add the next physical record; return the hierarchy it completes, if any.

        Args:
            number: the record's 1-based number (records are fed in increasing order).
            offset: file offset of ``data[0]``.
            data: the record's bytes (the segment id is read from them).
            row: the decoded record, or None when it is not part of the output (dropped
                by ``segment_filter``, or reported as invalid by the caller); it still
                counts in the open hierarchy's ``record_count``.

        Raises:
            SegmentHierarchyError: the record has no place in the hierarchy; it is left
                out and the assembler stays ready for the next record.
        """
        self._last_number = number
        segment_id = self.plan.segment_id(data)
        segment = self.plan.segment_map.get(segment_id) if segment_id is not None else None
        if row is None:
            return self._leave_out(number, segment)
        if segment is None:
            self._fail("the segment id has no segment_map entry", number, offset, segment_id, data)
        if segment in self.tree.roots:
            completed = self._close(number - self._root_number)
            self._root, self._root_number, self._root_offset, self._root_segment_id = (
                self._prune(row, segment),
                number,
                offset,
                segment_id,
            )
            self._open = [self._open_segment(self._root, segment)]
            return completed
        if not self._open:
            self._fail(f"{segment} record before the first root segment record", number, offset, segment_id, data)
        depth = self._parent_depth(segment)
        if depth is None:
            self._fail(
                f"{segment} record whose parent {self.tree.parent_of[segment]} is not open (the open segments "
                f"are {' > '.join(s.segment for s in self._open)})",
                number,
                offset,
                segment_id,
                data,
            )
        parent = self._open[depth]
        del self._open[depth + 1 :]
        if parent.left_out is not None:
            self._open.append(_OpenSegment(segment, left_out=number))
            self._fail(
                f"{segment} record whose parent {parent.segment} record {parent.left_out} was left out "
                "(filtered or invalid)",
                number,
                offset,
                segment_id,
                data,
            )
        entry = self._child_entry(row, segment)
        parent.children[segment].append(entry)
        self._open.append(self._open_segment(entry, segment, nested=True))
        return None

    def finish(self) -> Hierarchy | None:
        """Close and return the open hierarchy (None when none is open)."""
        return self._close(self._last_number - self._root_number + 1)

    # ---------------------------------------------------------------- helpers

    def _parent_depth(self, segment: str) -> int | None:
        """Index in the open chain of the segment's parent, nearest first (None: not open)."""
        parent = self.tree.parent_of[segment]
        return next((i for i in range(len(self._open) - 1, -1, -1) if self._open[i].segment == parent), None)

    def _leave_out(self, number: int, segment: str | None) -> Hierarchy | None:
        """Give a record without a row its place, so that its children are not misattached."""
        if segment is None:
            return None
        if segment in self.tree.roots:
            completed = self._close(number - self._root_number)
            self._open = [_OpenSegment(segment, left_out=number)]
            return completed
        depth = self._parent_depth(segment) if self._open else None
        if depth is not None:
            del self._open[depth + 1 :]
            self._open.append(_OpenSegment(segment, left_out=number))
        return None

    def _close(self, record_count: int) -> Hierarchy | None:
        self._open = []
        if self._root is None:
            return None
        done = Hierarchy(self._root, self._root_number, self._root_offset, record_count, self._root_segment_id)
        self._root = None
        return done

    def _fail(self, reason: str, number: int, offset: int, segment_id: str | None, data: bytes) -> NoReturn:
        raise SegmentHierarchyError(
            reason,
            source=self.source,
            record_number=number,
            byte_offset=offset,
            segment_id=segment_id,
            raw=bytes(data),
        )

    def _prune(self, row: Record, segment: str) -> Record:
        """Drop the other segments' REDEFINES alternatives (always null in this record)."""
        for name, path in self.tree.paths.items():
            if name == segment:
                continue
            holder: Any = row
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(holder, dict):
                holder.pop(path[-1], None)
        return row

    def _group(self, row: Record, segment: str) -> Record:
        value: Any = row
        for key in self.tree.paths[segment]:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, dict) else {}

    def _child_entry(self, row: Record, segment: str) -> Record:
        entry = self._group(row, segment)
        if "_errors" in row:
            entry["_errors"] = row["_errors"]
        return entry

    def _open_segment(self, record: Record, segment: str, *, nested: bool = False) -> _OpenSegment:
        """Register ``record`` as open, with an empty list per child segment in its group."""
        group = record if nested else self._group(record, segment)
        opened = _OpenSegment(segment)
        for child in self.tree.children_of.get(segment, ()):
            opened.children[child] = group[self.plan.layout.find(child).key] = []
        return opened


def assemble_hierarchies(
    plan: DecodePlan,
    records: Iterable[tuple[int, int, bytes | bytearray | memoryview]],
    *,
    source: str | None = None,
) -> Iterator[Hierarchy]:
    """Decode ``(record_number, byte_offset, data)`` triples of a complete file into hierarchies.

    The last hierarchy is yielded when ``records`` is exhausted.

    Raises:
        DecodeError: invalid field data with ``on_error="fail"``.
        SegmentHierarchyError: a record has no place in the hierarchy.
        ConfigError: the plan's ``segment_children`` do not fit its layout.
    """
    assembler = HierarchyAssembler(plan, source=source)
    for number, offset, data in records:
        raw = bytes(data)
        row = decode_record(plan, raw, record_number=number, byte_offset=offset, source=source)
        completed = assembler.feed(number, offset, raw, row)
        if completed is not None:
            yield completed
    last = assembler.finish()
    if last is not None:
        yield last
