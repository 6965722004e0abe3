"""The Kafka Connect schema of decoded copybook records, derived from the layout alone.

Pure. Each elementary item maps by its PICTURE and USAGE, as Cobrix maps them to Spark:

==================================================  ==========================================
``PIC X(n)``, ``A``, ``N`` (national), edited text  string
``PIC S9(p)V9(s)`` (any usage), s > 0               Decimal(scale s, precision p+s)
``PIC S9(p)`` (DISPLAY, COMP, COMP-3), p <= 9       int32
``PIC S9(p)``, 9 < p <= 18                          int64
``PIC S9(p)``, p > 18                               Decimal(scale 0, precision p)
``COMP-5`` / ``INDEX`` / ``POINTER`` (not digits)   by bytes: 2 -> int32, 4 -> int64, 8 -> Decimal(0, 20)
``COMP-1`` / ``COMP-2``                             float32 / float64
``COMP`` with a non-numeric PICTURE                 string (hex)
group                                               struct of its items
``OCCURS``                                          array of the item
==================================================  ==========================================

``P`` scaling counts its positions in the precision (``9(3)PP`` is a 5-digit integer).
Every field is optional: a REDEFINES alternative that is not selected, an invalid field
under ``on_error=null`` and a blank edited number decode to null. FILLERs are left out,
as the decoder leaves them out. The schema is the same for every record of the layout:
a null or an empty OCCURS never changes it.
"""

from __future__ import annotations

import typing as t

from headwater.codecs import schema as s
from headwater.codecs.copybook.decoder import DecodePlan, Node
from headwater.codecs.copybook.options import OnError
from headwater.codecs.copybook.picture import Category, Usage
from headwater.codecs.schema import Schema

__all__ = ["ERRORS_SCHEMA", "hierarchy_schema", "item_schema", "key_schema", "record_schema"]

ERRORS_SCHEMA = s.array_of(
    s.struct({"field": s.STRING, "offset": s.INT64, "reason": s.STRING, "raw": s.STRING})
).optional()
"""The ``_errors`` list the decoder adds under ``on_error=null`` (absent otherwise: null)."""


def _integer(digits: int) -> Schema:
    if digits <= 9:
        return s.INT32
    if digits <= 18:
        return s.INT64
    return s.decimal_of(0, precision=digits)


def item_schema(node: Node) -> Schema:
    """The schema of one elementary item's value (one element, OCCURS not applied), optional."""
    item = node.item
    usage = item.usage
    picture = item.picture
    if usage is Usage.FLOAT:
        return s.FLOAT32.optional()
    if usage is Usage.DOUBLE:
        return s.FLOAT64.optional()
    if usage in (Usage.INDEX, Usage.POINTER) or (usage is Usage.NATIVE_BINARY and picture is None):
        return _by_bytes(item.length).optional()
    if picture is None:
        return s.STRING.optional()
    if usage in (Usage.BINARY, Usage.NATIVE_BINARY) and not picture.is_numeric:
        return s.STRING.optional()
    if picture.category in (Category.NUMERIC, Category.NUMERIC_EDITED) or usage in (
        Usage.PACKED,
        Usage.PACKED_UNSIGNED,
        Usage.BINARY,
        Usage.NATIVE_BINARY,
    ):
        scale = picture.scale
        digits = picture.digits + (-scale if scale < 0 else 0)
        if usage is Usage.NATIVE_BINARY and scale <= 0:
            # COMP-5 is not truncated to the PICTURE's digits: the bytes bound the value.
            return _by_bytes(item.length).optional()
        if scale > 0:
            return s.decimal_of(scale, precision=max(digits, scale)).optional()
        return _integer(digits).optional()
    return s.STRING.optional()


def _by_bytes(length: int) -> Schema:
    if length <= 2:
        return s.INT32
    if length <= 4:
        return s.INT64
    return s.decimal_of(0, precision=20)


def _fields(nodes: tuple[Node, ...], debug_hex: bool) -> list[tuple[str, Schema]]:
    fields: list[tuple[str, Schema]] = []
    for node in nodes:
        item = node.item
        if item.is_filler:
            continue
        if node.converter is None:
            element = s.struct(_fields(node.children, debug_hex), optional=True)
        else:
            element = item_schema(node)
        fields.append((node.key, s.array_of(element).optional() if item.occurs is not None else element))
        if debug_hex and node.converter is not None:
            hex_schema = s.STRING.optional()
            fields.append((f"{node.key}_hex", s.array_of(hex_schema).optional() if item.occurs else hex_schema))
    return fields


def record_schema(plan: DecodePlan, *, name: str | None = None, doc: str | None = None) -> Schema:
    """The schema of the records :func:`decode_record` returns for ``plan``.

    ``name`` is the Connect schema name (Debezium's ``<topic>.Value`` for the row);
    the struct itself is required, its fields optional.
    """
    fields = _fields(plan.roots, plan.options.debug_hex)
    if plan.options.on_error is not OnError.FAIL:
        fields.append(("_errors", ERRORS_SCHEMA))
    return s.struct(fields, name=name, doc=doc)


def key_schema(row: Schema, paths: t.Sequence[tuple[str, ...]], *, name: str | None = None) -> Schema:
    """The schema of a key made of the fields at ``paths`` in ``row`` (each keyed by its last part)."""
    fields = []
    for path in paths:
        current: Schema | None = row
        for part in path:
            found = current.field(part) if current is not None else None
            current = found.schema if found is not None else None
        if current is None:
            msg = f"no field {'.'.join(path)} in the record schema"
            raise s.SchemaError(msg)
        fields.append((path[-1], current))
    return s.struct(fields, name=name)


def _at(schema: Schema, path: t.Sequence[str]) -> Schema | None:
    current: Schema | None = schema
    for key in path:
        found = current.field(key) if current is not None else None
        current = found.schema if found is not None else None
    return current


def _edit(schema: Schema, path: t.Sequence[str], change: t.Callable[[Schema], Schema | None]) -> Schema:
    """``schema`` with the part at ``path`` replaced by ``change(part)`` (None removes it)."""
    key, rest = path[0], path[1:]
    fields: list[tuple[str, Schema]] = []
    for item in schema.fields:
        if item.name != key:
            fields.append((item.name, item.schema))
            continue
        changed = _edit(item.schema, rest, change) if rest else change(item.schema)
        if changed is not None:
            fields.append((item.name, changed))
    return s.struct(fields, name=schema.name, version=schema.version, doc=schema.doc, optional=schema.is_optional)


def hierarchy_schema(plan: DecodePlan, *, name: str | None = None) -> Schema:
    """The schema of the nested records :class:`~headwater.codecs.copybook.HierarchyAssembler`
    builds with ``segment_children``: each root segment's group (optional: a record has
    only its own root's, the others are absent and written as null), and inside each
    parent's group one array per child segment of that child's group, recursively (each
    entry with ``_errors`` under ``on_error=null``).
    """
    from headwater.codecs.copybook.hierarchy import segment_tree

    tree = segment_tree(plan)
    flat = record_schema(plan, name=name)
    layout = plan.layout
    errors = plan.options.on_error is not OnError.FAIL

    def entry(segment: str) -> Schema:
        group = _at(flat, tree.paths[segment])
        assert group is not None
        fields = [(item.name, item.schema) for item in group.fields]
        fields += [
            (layout.find(child).key, s.array_of(entry(child)).optional()) for child in tree.children_of.get(segment, ())
        ]
        if errors:
            fields.append(("_errors", ERRORS_SCHEMA))
        return s.struct(fields)

    row = flat
    # A row keeps only its own root segment's alternative of the REDEFINES chain; children
    # live in their parents' groups. Everything else of the chain leaves the top level.
    for segment in sorted(set(tree.paths) - tree.roots, key=lambda item: -len(tree.paths[item])):
        row = _edit(row, tree.paths[segment], lambda _part: None)
    for segment in tree.roots:
        children = tree.children_of.get(segment, ())
        if not children:
            continue

        def add_children(group: Schema, children: tuple[str, ...] = children) -> Schema:
            extra = [(layout.find(child).key, s.array_of(entry(child)).optional()) for child in children]
            return s.struct([(item.name, item.schema) for item in group.fields] + extra, optional=group.is_optional)

        row = _edit(row, tree.paths[segment], add_children)
    return row
