"""The layout of a record: a tree of groups and elementary fields with byte offsets.

A :class:`Layout` is what the parser produces and what the decoder, the encoder and the
record splitters consume. It is immutable. Offsets are static: an ``OCCURS ... DEPENDING
ON`` array always reserves its maximum number of elements here; the decoder shifts the
following fields at run time when ``variable_size_occurs`` is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from headwater.codecs.copybook.picture import Picture, Usage

__all__ = ["Condition", "Field", "Layout", "Occurs", "Renames", "output_name"]


def output_name(name: str) -> str:
    """The record key for a COBOL name: ``-`` becomes ``_`` (case kept)."""
    return name.replace("-", "_")


@dataclass(frozen=True, slots=True)
class Occurs:
    """An OCCURS clause: ``minimum`` to ``maximum`` elements, optionally DEPENDING ON."""

    minimum: int
    maximum: int
    depending_on: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """A level-88 condition name and its values (kept as metadata, never decoded)."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Renames:
    """A level-66 RENAMES entry (metadata: the decoder does not materialise it)."""

    name: str
    start: str
    through: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Field:
    """One copybook entry: a group (``children`` non-empty) or an elementary item.

    Attributes:
        level: 1-49 or 77.
        name: COBOL name as written, upper-cased; ``FILLER`` for unnamed items.
        offset: byte offset of the (first element of the) item from the record start.
        length: bytes of one element (for a group, of one occurrence of the group).
        picture: the parsed PICTURE, ``None`` for groups and COMP-1/COMP-2.
        usage: storage format (groups carry their declared usage, which children inherit).
        occurs: the OCCURS clause, if any; the item then takes ``length * occurs.maximum``
            bytes.
        redefines: the name of the item this one redefines.
        sign_leading: SIGN LEADING (default trailing).
        sign_separate: SIGN ... SEPARATE CHARACTER (one extra byte).
        children: the subordinate items of a group.
        conditions: level-88 condition names attached to this item.
        line: the source line of the entry (1-based).
    """

    level: int
    name: str
    offset: int
    length: int
    picture: Picture | None = None
    usage: Usage = Usage.DISPLAY
    occurs: Occurs | None = None
    redefines: str | None = None
    sign_leading: bool = False
    sign_separate: bool = False
    children: tuple[Field, ...] = ()
    conditions: tuple[Condition, ...] = ()
    line: int = 0

    @property
    def is_group(self) -> bool:
        """True for a group item."""
        return bool(self.children)

    @property
    def is_filler(self) -> bool:
        """True for FILLER (and unnamed) items, which are not output."""
        return self.name == "FILLER"

    @property
    def total_length(self) -> int:
        """Bytes taken including all OCCURS elements at their maximum count."""
        return self.length * (self.occurs.maximum if self.occurs else 1)

    @property
    def end(self) -> int:
        """Offset just past the item (maximum OCCURS count)."""
        return self.offset + self.total_length

    @property
    def key(self) -> str:
        """The output key of the item."""
        return output_name(self.name)

    def walk(self) -> Iterator[Field]:
        """This item and all items below it, depth first in source order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Layout:
    """A compiled copybook.

    Attributes:
        roots: the level-01 and level-77 items in source order. Several 01 records share
            offset 0 (they redefine each other, as in COBOL).
        renames: the level-66 entries.
        record_length: bytes of the longest record (ODO arrays at their maximum). Level-77
            items are standalone (working-storage) items, not part of the record: they
            are listed in ``roots`` but never decoded, encoded or counted here.
        variable: True when the layout has OCCURS ... DEPENDING ON.
        notes: how the parser read the source where a rule had to be chosen (for example
            level numbers in column 7 of a fixed-format copybook), for ``copybook layout``.
    """

    roots: tuple[Field, ...]
    renames: tuple[Renames, ...] = ()
    record_length: int = 0
    variable: bool = False
    notes: tuple[str, ...] = ()
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for item in self.fields():
            # The first declaration of a name wins; qualified names are not supported.
            self._by_name.setdefault(item.name, item)

    def fields(self) -> Iterator[Field]:
        """Every item of every record, depth first in source order."""
        for root in self.roots:
            yield from root.walk()

    def find(self, name: str) -> Field:
        """The first item called ``name`` (COBOL spelling or with ``_``), else ``KeyError``."""
        key = name.upper()
        found = self._by_name.get(key) or self._by_name.get(key.replace("_", "-"))
        if found is None:
            msg = f"no field named {name!r} in the copybook"
            raise KeyError(msg)
        return found

    @property
    def output_roots(self) -> tuple[Field, ...]:
        """The items that become top-level keys.

        A single 01 group is collapsed (its children are the record's keys), like
        Cobrix's ``collapse_root``; with several 01 records each becomes a key. Level-77
        items are not part of the record and are never output.
        """
        records = tuple(root for root in self.roots if root.level == 1)
        if len(records) == 1 and records[0].is_group:
            return records[0].children
        return records
