"""``headwater copybook``: inspect copybook layouts and decode mainframe files to JSON lines.

``layout COPYBOOK`` prints every item's level, name, picture, usage, offset (0-based)
and length. ``decode COPYBOOK DATA...`` prints one JSON object per record (decimals as
JSON numbers with their full scale, e.g. ``59.80``); ``--count`` decodes everything and
prints only ``{"records": N, "errors": M}``. Errors go to stderr with file, record,
offset, field and raw bytes, and the exit status is 1.

With ``--segment-children PARENT=CHILD1,CHILD2`` (repeatable; names are REDEFINES groups
from ``--segment-map``) each JSON object is one root segment record with its descendants
nested as lists inside their parent's group (see :mod:`headwater.codecs.copybook.hierarchy`),
and ``--count`` counts those hierarchies.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from headwater.codecs.copybook.decoder import DecodePlan, compile_plan, decode_records
from headwater.codecs.copybook.descriptors import diagnose
from headwater.codecs.copybook.errors import CopybookSyntaxError, DecodeError, FramingError, SegmentHierarchyError
from headwater.codecs.copybook.hierarchy import HierarchyAssembler, assemble_hierarchies
from headwater.codecs.copybook.layout import Field, Layout
from headwater.codecs.copybook.options import (
    FILLER_NAMING,
    DecodeOptions,
    FloatFormat,
    OnError,
    RecordFormat,
    RecordFormatOptions,
    Trim,
)
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.copybook.records import RawRecord, RecordSplitter
from headwater.codecs.ebcdic import UnknownCodePageError
from headwater.connectors.errors import ConfigError

__all__ = ["copybook"]

_CHUNK = 8 * 1024 * 1024


def _json_default(value: Any) -> Any:
    # orjson cannot serialise Decimal; a raw fragment keeps the exact digits and scale.
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value) if value.is_finite() else f'"{value}"')
    msg = f"cannot serialise {type(value).__name__}"
    raise TypeError(msg)


_MEMBER_SUFFIXES = ("", ".cpy", ".CPY", ".cbl", ".CBL", ".cob", ".COB", ".copy", ".txt")


def member_reader(folders: tuple[Path, ...]) -> Callable[[str], str]:
    """A COPY member resolver over copybook library folders (first match wins).

    A member ``NAME`` is the file ``NAME``, ``NAME.cpy``, ``NAME.cbl``, ``NAME.cob`` (either
    case of the name) in the first folder that has one.
    """

    def read(member: str) -> str:
        for folder in folders:
            for name in (member, member.lower()):
                for suffix in _MEMBER_SUFFIXES:
                    candidate = folder / f"{name}{suffix}"
                    if candidate.is_file():
                        return candidate.read_text(encoding="utf-8", errors="replace")
        searched = ", ".join(str(folder) for folder in folders)
        msg = f"no file for member {member} in {searched}"
        raise KeyError(msg)

    return read


def _load_layout(path: Path, library: tuple[Path, ...] = ()) -> Layout:
    folders = (*library, path.parent)
    return parse_copybook(
        path.read_text(encoding="utf-8", errors="replace"), source=str(path), include=member_reader(folders)
    )


@click.group("copybook")
def copybook() -> None:
    """Inspect COBOL copybooks and decode mainframe data files."""


_COPYBOOK_DIR = click.option(
    "--copybook-dir",
    "copybook_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of COPY members (repeatable; the copybook's own folder is searched last).",
)


@copybook.command("layout")
@click.argument("copybook_path", metavar="COPYBOOK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_COPYBOOK_DIR
def layout_command(copybook_path: Path, copybook_dirs: tuple[Path, ...]) -> None:
    """Print each field's level, name, picture, usage, offset and length."""
    try:
        layout = _load_layout(copybook_path, copybook_dirs)
    except CopybookSyntaxError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in layout.notes:
        click.echo(f"note: {note}")
    click.echo(f"{'LEVEL':<5} {'NAME':<40} {'PICTURE':<16} {'USAGE':<8} {'OFFSET':>7} {'LENGTH':>7}  NOTES")
    for item in layout.fields():
        click.echo(_layout_line(item))
    for rename in layout.renames:
        through = f" THRU {rename.through}" if rename.through else ""
        click.echo(f"{66:<5} {rename.name:<40} RENAMES {rename.start}{through}")
    click.echo(f"record length: {layout.record_length}{' (variable: OCCURS DEPENDING ON)' if layout.variable else ''}")


def _layout_line(item: Field) -> str:
    depth = max(0, _depth(item))
    name = "  " * depth + item.name
    picture = item.picture.source if item.picture else ""
    usage = "GROUP" if item.is_group else item.usage.value
    notes = []
    if item.occurs:
        occurs = item.occurs
        span = f"{occurs.minimum} TO {occurs.maximum}" if occurs.depending_on else str(occurs.maximum)
        notes.append(f"OCCURS {span}" + (f" DEPENDING ON {occurs.depending_on}" if occurs.depending_on else ""))
    if item.redefines:
        notes.append(f"REDEFINES {item.redefines}")
    if item.level == 77:
        notes.append("standalone item: not part of the record")
    if item.sign_separate or item.sign_leading:
        notes.append(
            f"SIGN {'LEADING' if item.sign_leading else 'TRAILING'}{' SEPARATE' if item.sign_separate else ''}"
        )
    notes.extend(f"88 {c.name} = {', '.join(c.values)}" for c in item.conditions)
    columns = f"{item.level:02d}    {name:<40} {picture:<16} {usage:<8} {item.offset:>7} {item.length:>7}"
    return f"{columns}  {'; '.join(notes)}".rstrip()


def _depth(item: Field) -> int:
    # Indentation follows the level number (01 -> 0, 05 -> 1, 10 -> 2, ...), for readability.
    return 0 if item.level in (1, 77) else min(item.level // 5, 10)


def _segment_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        segment, sep, redefine = value.partition("=")
        if not sep or not redefine:
            msg = f"--segment-map expects VALUE=REDEFINE_NAME, got {value!r}"
            raise click.BadParameter(msg)
        pairs.append((segment, redefine))
    return tuple(pairs)


def _segment_children(values: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    entries = []
    for value in values:
        parent, sep, children = value.partition("=")
        names = tuple(name.strip() for name in children.split(",") if name.strip())
        if not sep or not parent.strip() or not names:
            msg = f"--segment-children expects PARENT=CHILD1,CHILD2, got {value!r}"
            raise click.BadParameter(msg)
        entries.append((parent.strip(), names))
    return tuple(entries)


@copybook.command("decode")
@click.argument("copybook_path", metavar="COPYBOOK", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument(
    "data_paths", metavar="DATA", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_COPYBOOK_DIR
@click.option(
    "--code-page",
    "code_page",
    default="cp037",
    show_default=True,
    help="Code page of text fields: cp037, cp1047, cp1140..., ascii (IBM tables, control characters kept), "
    "or Cobrix's common, common_extended, cp037_extended (control bytes become spaces; common keeps only "
    "the invariant characters). The default is cp037 because common silently blanks national characters.",
)
@click.option(
    "--field-code-page",
    "field_code_pages",
    multiple=True,
    metavar="PAGE=FIELD1,FIELD2",
    help="Decode these fields with another code page (repeatable; Cobrix field_code_page:PAGE).",
)
@click.option(
    "--code-page-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A 256-character UTF-8 table: character i is byte i.",
)
@click.option("--record-format", type=click.Choice([f.value for f in RecordFormat]), default="F", show_default=True)
@click.option("--record-length", type=click.IntRange(min=1), help="Fixed record length (default: from the copybook).")
@click.option("--block-length", type=click.IntRange(min=1), help="FB without BDW: bytes per block.")
@click.option("--records-per-block", type=click.IntRange(min=1), help="FB without BDW: records per block.")
@click.option(
    "--rdw-endian",
    type=click.Choice(["big", "little"]),
    default="big",
    show_default=True,
    help="Byte order of RDW lengths: big is IBM's 'LL LL 00 00'; little reads Cobrix's reversed word "
    "'00 00 LL LL' (low byte first) and also 'LL LL 00 00' with the low byte first.",
)
@click.option(
    "--bdw-endian",
    type=click.Choice(["big", "little"]),
    default="big",
    show_default=True,
    help="Byte order of BDW lengths (forms as for --rdw-endian).",
)
@click.option(
    "--rdw-includes-header",
    type=click.Choice(["auto", "true", "false"]),
    default="auto",
    show_default=True,
    help="Whether RDW lengths count the 4 RDW bytes (true: IBM; false: payload only, as Cobrix's default). "
    "auto: taken from the first RDWs when only one convention fits them, else IBM's.",
)
@click.option(
    "--bdw-includes-header",
    type=click.Choice(["auto", "true", "false"]),
    default="auto",
    show_default=True,
    help="Whether BDW lengths count the 4 BDW bytes (as --rdw-includes-header).",
)
@click.option(
    "--rdw-adjustment",
    type=int,
    default=0,
    show_default=True,
    help="Added to the RDW payload length after the convention above.",
)
@click.option(
    "--bdw-adjustment",
    type=int,
    default=0,
    show_default=True,
    help="Added to the BDW payload length after the convention above.",
)
@click.option(
    "--allow-short-records",
    is_flag=True,
    help="Records shorter than the copybook (FB blocks, V records) decode with the missing fields null.",
)
@click.option("--record-length-field", help="Field holding each record's length (F records without RDW).")
@click.option("--file-start-offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--file-end-offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--record-start-offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--record-end-offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--segment-field", help="Field holding the segment id.")
@click.option(
    "--segment-map",
    multiple=True,
    metavar="VALUE=REDEFINE_NAME",
    help="Decode only this REDEFINES for this segment id (repeatable).",
)
@click.option("--segment-filter", multiple=True, metavar="VALUE", help="Keep only these segment ids (repeatable).")
@click.option(
    "--segment-children",
    multiple=True,
    metavar="PARENT=CHILD1,CHILD2",
    help="Nest these child segments' records under each PARENT record; print one object per root (repeatable).",
)
@click.option("--trim", type=click.Choice([t.value for t in Trim]), default="both", show_default=True)
@click.option("--variable-size-occurs", is_flag=True, help="OCCURS DEPENDING ON arrays take only their actual size.")
@click.option(
    "--relaxed-sign",
    is_flag=True,
    help="Zoned numbers: ignore spaces around the digits and accept a positive overpunch in unsigned fields; "
    "only the last digit (the first with SIGN LEADING) may carry the sign (Cobrix strict_sign_overpunching=false).",
)
@click.option(
    "--improved-null-detection",
    is_flag=True,
    help="A DISPLAY or packed field of only 0x00 bytes is null (Cobrix's default), not '' or an error.",
)
@click.option(
    "--drop-group-fillers/--keep-group-fillers",
    default=True,
    show_default=True,
    help="Leave FILLER groups out of the output (Cobrix keeps them: drop_group_fillers=false).",
)
@click.option(
    "--drop-value-fillers/--keep-value-fillers",
    default=True,
    show_default=True,
    help="Leave elementary FILLERs out of the output (as Cobrix's drop_value_fillers=true).",
)
@click.option(
    "--filler-naming",
    type=click.Choice(list(FILLER_NAMING)),
    default="sequence_numbers",
    show_default=True,
    help="Keys of kept FILLERs: FILLER_1/FILLER_P1... or FILLER_AFTER_<previous field> (Cobrix filler_naming_policy).",
)
@click.option("--float-format", type=click.Choice([f.value for f in FloatFormat]), default="ibm", show_default=True)
@click.option("--debug-hex", is_flag=True, help="Add <FIELD>_hex with each field's raw bytes.")
@click.option("--on-error", type=click.Choice([o.value for o in OnError]), default="fail", show_default=True)
@click.option("--count", "count_only", is_flag=True, help="Decode everything; print only record and error counts.")
def decode_command(
    copybook_path: Path,
    data_paths: tuple[Path, ...],
    copybook_dirs: tuple[Path, ...],
    code_page: str,
    field_code_pages: tuple[str, ...],
    code_page_file: Path | None,
    record_format: str,
    record_length: int | None,
    block_length: int | None,
    records_per_block: int | None,
    rdw_endian: str,
    bdw_endian: str,
    rdw_includes_header: str,
    bdw_includes_header: str,
    rdw_adjustment: int,
    bdw_adjustment: int,
    allow_short_records: bool,
    record_length_field: str | None,
    file_start_offset: int,
    file_end_offset: int,
    record_start_offset: int,
    record_end_offset: int,
    segment_field: str | None,
    segment_map: tuple[str, ...],
    segment_filter: tuple[str, ...],
    segment_children: tuple[str, ...],
    trim: str,
    variable_size_occurs: bool,
    relaxed_sign: bool,
    improved_null_detection: bool,
    drop_group_fillers: bool,
    drop_value_fillers: bool,
    filler_naming: str,
    float_format: str,
    debug_hex: bool,
    on_error: str,
    count_only: bool,
) -> None:
    """Decode DATA files described by COPYBOOK into JSON lines."""
    try:
        layout = _load_layout(copybook_path, copybook_dirs)
        format_options = RecordFormatOptions(
            record_format=RecordFormat(record_format),
            record_length=record_length,
            block_length=block_length,
            records_per_block=records_per_block,
            rdw_big_endian=rdw_endian == "big",
            bdw_big_endian=bdw_endian == "big",
            rdw_adjustment=rdw_adjustment,
            bdw_adjustment=bdw_adjustment,
            rdw_includes_header=_tristate(rdw_includes_header),
            bdw_includes_header=_tristate(bdw_includes_header),
            allow_short_records=allow_short_records,
            record_length_field=record_length_field,
            file_start_offset=file_start_offset,
            file_end_offset=file_end_offset,
            record_start_offset=record_start_offset,
            record_end_offset=record_end_offset,
        )
        decode_options = DecodeOptions(
            code_page=code_page,
            field_code_pages=_field_pages(field_code_pages),
            custom_code_page=code_page_file.read_text(encoding="utf-8") if code_page_file else None,
            trim=Trim(trim),
            relaxed_sign=relaxed_sign,
            allow_short_records=allow_short_records,
            zero_bytes_null=improved_null_detection,
            drop_group_fillers=drop_group_fillers,
            drop_value_fillers=drop_value_fillers,
            filler_naming=filler_naming,
            float_format=FloatFormat(float_format),
            debug_hex=debug_hex,
            on_error=OnError(on_error),
            variable_size_occurs=variable_size_occurs,
            segment_field=segment_field,
            segment_map=_segment_pairs(segment_map),
            segment_filter=segment_filter,
            segment_children=_segment_children(segment_children),
        )
        plan = compile_plan(layout, decode_options)
        if decode_options.segment_children:
            HierarchyAssembler(plan)  # checks the children against the layout before reading data
    except (CopybookSyntaxError, ConfigError, UnknownCodePageError, KeyError) as exc:
        raise click.ClickException(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from exc

    out: BinaryIO = sys.stdout.buffer
    records = errors = 0
    # The loop runs once per record: names are bound locally, and each file's records come
    # a chunk at a time (no generator per record between the decoder and the write).
    write, dumps, default, newline = out.write, orjson.dumps, _json_default, orjson.OPT_APPEND_NEWLINE
    try:
        for path in data_paths:
            for chunk in _decode_file(plan, format_options, path):
                for record in chunk:
                    records += 1
                    if "_errors" in record:
                        errors += len(record["_errors"])
                    if not count_only:
                        try:
                            write(dumps(record, default=default, option=newline))
                        except TypeError:
                            write(_big_int_line(record))
    except (DecodeError, FramingError, SegmentHierarchyError) as exc:
        out.flush()
        click.echo(f"error: {exc}", err=True)
        hint = _format_hint(exc, format_options)
        if hint:
            click.echo(f"hint: {hint}", err=True)
        sys.exit(1)
    if count_only:
        _write(out, {"records": records, "errors": errors})


def _format_hint(exc: DecodeError | FramingError | SegmentHierarchyError, options: RecordFormatOptions) -> str | None:
    """When the failing file's first bytes parse as another record format, name it."""
    source = getattr(exc, "source", None)
    if not source or "looks like" in str(exc):
        return None
    try:
        with Path(source).open("rb") as handle:
            head = handle.read(_HINT_BYTES + 1)
    except OSError:
        return None
    current = (
        options.record_format.value,
        options.rdw_big_endian,
        options.rdw_includes_header,
        options.bdw_includes_header,
    )
    return diagnose(head[:_HINT_BYTES], final=len(head) <= _HINT_BYTES, current=current)


_HINT_BYTES = 64 * 1024


def _tristate(value: str) -> bool | None:
    return None if value == "auto" else value == "true"


def _field_pages(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        page, sep, names = value.partition("=")
        fields = [name.strip() for name in names.split(",") if name.strip()]
        if not sep or not page.strip() or not fields:
            msg = f"--field-code-page expects PAGE=FIELD1,FIELD2, got {value!r}"
            raise click.BadParameter(msg)
        pairs.extend((name, page.strip()) for name in fields)
    return tuple(pairs)


def _write(out: BinaryIO, value: dict[str, Any]) -> None:
    try:
        out.write(orjson.dumps(value, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))
    except TypeError:
        out.write(_big_int_line(value))


def _big_int_line(value: dict[str, Any]) -> bytes:
    """The JSON line of a record orjson refused: integers beyond 64 bits (PIC 9(20) and
    wider) written as raw digits."""
    from headwater.codecs.converters import exact_integers  # the rare path: not at start-up

    return orjson.dumps(exact_integers(value), default=_json_default, option=orjson.OPT_APPEND_NEWLINE)


def _decode_file(plan: DecodePlan, options: RecordFormatOptions, path: Path) -> Iterator[Iterable[dict[str, Any]]]:
    """The file's decoded records a chunk at a time, or its hierarchies' rows with
    ``segment_children``; a decode error is raised while its chunk is iterated, after the
    records before it."""
    if plan.options.segment_children:
        records = (record for chunk in _split_file(plan, options, path) for record in chunk)
        yield (hierarchy.row for hierarchy in assemble_hierarchies(plan, records, source=str(path)))
        return
    for chunk in _split_file(plan, options, path):
        # Decimals only go to orjson here: the compiled decoder hands them over as fragments.
        yield decode_records(plan, chunk, source=str(path), decimal_text=orjson.Fragment)


def _split_file(plan: DecodePlan, options: RecordFormatOptions, path: Path) -> Iterator[list[RawRecord]]:
    """The file's records, a list per chunk read (``RecordSplitter.split``, in lists); on a
    framing error, the records before the broken one come first, then the error."""
    splitter = RecordSplitter.for_plan(plan, options, source=str(path))
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield splitter.feed(chunk)
        yield splitter.finish()
    except FramingError as exc:
        yield exc.records_before
        raise
