"""Configuration of the ``mainframe-copybook`` source.

The keys mirror the options of ``headwater copybook decode`` (``--record-format`` is
``record.format``, ``--segment-map A=X`` is ``segment.map=A=X,B=Y``, repeated
``--segment-children P=C1,C2`` is ``segment.children=P=C1,C2;C1=G``...), so a layout that
decodes on the command line decodes the same way in the connector. Everything that can
be checked before a task starts is checked here, per key: the copybook must parse (the
error names line and column), key fields, the segment and length fields must exist, and
the code page must be known.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from headwater.connectors.config import PluginConfig, TaskKey, TopicName
from headwater.connectors.errors import FieldError

if t.TYPE_CHECKING:
    from headwater.codecs.copybook import DecodeOptions, DecodePlan, Layout, RecordFormatOptions

Mode = t.Literal["append", "snapshot-diff"]
FinishedAction = t.Literal["keep", "move", "delete"]


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _segment_map_pairs(value: str) -> tuple[tuple[str, str], ...]:
    return tuple((pair.partition("=")[0], pair.partition("=")[2]) for pair in _csv(value))


def _segment_children_entries(value: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``P=C1,C2;C1=G`` as ``(("P", ("C1", "C2")), ("C1", ("G",)))``; ValueError naming a malformed entry."""
    entries = []
    for entry in (part.strip() for part in value.split(";")):
        if not entry:
            continue
        parent, sep, children = entry.partition("=")
        if not sep or not parent.strip() or not _csv(children):
            msg = f"expected PARENT=CHILD1,CHILD2 entries separated by ';', got {entry!r}"
            raise ValueError(msg)
        entries.append((parent.strip(), tuple(_csv(children))))
    return tuple(entries)


def _read_text(path: str, *, errors: str = "strict") -> str:
    """A file named in the config, read for validation; an unreadable one is that key's error."""
    try:
        return Path(path).read_text(encoding="utf-8", errors=errors)
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise ValueError(msg) from exc


class MainframeCopybookConfig(PluginConfig):
    """Which datasets to read, how they are laid out, and how records become change events."""

    copybook_dir: str = ""
    """Comma-separated folders of COPY members (``NAME``, ``NAME.cpy``, ``NAME.cbl``...); the folder of
    ``copybook.path`` is searched last. ``COPY ... REPLACING`` is applied."""
    copybook_path: str | None = None
    """Path of the COBOL copybook describing the records (give this or ``copybook.text``)."""
    copybook_text: str | None = None
    """The copybook itself, inline (give this or ``copybook.path``)."""
    input_dir: str = Field(min_length=1)
    """Folder to watch for dataset files."""
    input_glob: str = Field(default="*", min_length=1)
    """Which files of ``input.dir`` to read (a glob relative to it, e.g. ``*.VB`` or ``**/*.dat``)."""
    topic: TopicName
    """Topic the change events go to."""
    mode: Mode = "append"
    """``append``: every record is a create event. ``snapshot-diff``: every file is a new full extract
    (a generation), compared by ``key.fields`` with the previous one into create/update/delete events."""
    key_fields: str = ""
    """Comma-separated decoded field names (``CUST_ID`` or ``CUST-ID``) that form the record key.
    Empty: the key is ``{"file", "record"}`` (append mode only)."""
    generation_order: t.Literal["name", "mtime"] = "name"
    """snapshot-diff: order of the generations, by file name or by modification time."""

    record_format: t.Literal["F", "FB", "V", "VB", "VBS", "T"] = "F"
    """F, FB, V (RDW), VB (BDW and RDW), VBS (VB with records spanning blocks) or T (text lines)."""
    record_length: int | None = Field(default=None, ge=1)
    """Fixed record length in bytes (default: from the copybook)."""
    block_length: int | None = Field(default=None, ge=1)
    """FB without BDW: bytes per block."""
    records_per_block: int | None = Field(default=None, ge=1)
    """FB without BDW: records per block."""
    rdw_endian: t.Literal["big", "little"] = "big"
    """Byte order of the RDW length."""
    bdw_endian: t.Literal["big", "little"] = "big"
    """Byte order of the BDW length."""
    rdw_includes_header: t.Literal["auto", "true", "false"] = "auto"
    """Whether RDW lengths count the 4 RDW bytes (``true``: IBM; ``false``: payload only, Cobrix's default);
    ``auto`` takes IBM's when it fits the first RDWs of each file, else the one other that fits; a file
    still being written with too few records to tell is decided on the bytes there are once they are read,
    and later bytes that do not fit are a framing error: give the convention explicitly for such files."""
    bdw_includes_header: t.Literal["auto", "true", "false"] = "auto"
    """Whether BDW lengths count the 4 BDW bytes (as ``rdw.includes.header``)."""
    rdw_adjustment: int = 0
    """Added to the RDW payload length after the convention above."""
    bdw_adjustment: int = 0
    """Added to the BDW payload length after the convention above."""
    allow_short_records: bool = False
    """Records shorter than the copybook (FB blocks, V records) decode with the missing fields null (Cobrix);
    otherwise they are bad records."""
    record_length_field: str | None = None
    """F records without RDW: the field holding each record's total length."""
    file_start_offset: int = Field(default=0, ge=0)
    """Bytes to skip at the start of each file (a header)."""
    file_end_offset: int = Field(default=0, ge=0)
    """Bytes to ignore at the end of each file (a trailer)."""
    record_start_offset: int = Field(default=0, ge=0)
    """Bytes to skip at the start of each record."""
    record_end_offset: int = Field(default=0, ge=0)
    """Bytes to skip at the end of each record."""

    code_page: str = "cp037"
    """EBCDIC code page of text fields (cp037, cp273, cp500, cp875, cp1047, cp1140-cp1148, ascii), or
    Cobrix's tables ``common``, ``common_extended``, ``cp037_extended`` (control bytes become spaces)."""
    field_code_pages: str = ""
    """Per-field code pages (Cobrix ``field_code_page:PAGE``): ``cp037=FIELD1,FIELD2;cp1047=FIELD3``."""
    improved_null_detection: bool = False
    """A DISPLAY or packed field of only 0x00 bytes is null (Cobrix's default); otherwise text is "" and a
    number is invalid."""
    drop_group_fillers: bool = True
    """Leave FILLER groups out of the events (Cobrix keeps them: ``drop_group_fillers=false``)."""
    drop_value_fillers: bool = True
    """Leave elementary FILLERs out of the events (as Cobrix)."""
    filler_naming: t.Literal["sequence_numbers", "previous_field_name"] = "sequence_numbers"
    """Names of kept FILLERs: ``FILLER_1``/``FILLER_P1``... or ``FILLER_AFTER_<previous field>``."""
    code_page_file: str | None = None
    """A file holding a custom 256-character code page table (UTF-8; character i is byte i)."""
    trim: t.Literal["none", "left", "right", "both"] = "both"
    """Which ends of text fields lose their blanks."""
    relaxed_sign: bool = False
    """Zoned numbers: ignore spaces around the digits and accept a positive overpunch in unsigned fields;
    only the last digit (first with SIGN LEADING) may carry the sign."""
    float_format: t.Literal["ibm", "ieee"] = "ibm"
    """COMP-1/COMP-2 encoding: IBM hexadecimal float or IEEE 754."""
    variable_size_occurs: bool = False
    """OCCURS DEPENDING ON arrays take only their actual size (later fields shift)."""
    segment_field: str | None = None
    """Multisegment files: the field holding the segment id."""
    segment_map: str = ""
    """Segment id to REDEFINES alternative, e.g. ``C=SEG-CUST,A=SEG-ADDR``."""
    segment_filter: str = ""
    """Comma-separated segment ids to keep (empty: all)."""
    segment_children: str = ""
    """Hierarchical files (Cobrix ``segment-children``): parent REDEFINES to child REDEFINES, all named in
    ``segment.map``, e.g. ``COMPANY=DEPT,CONTACT;DEPT=EMPLOYEE`` (entries separated by ``;``, children by
    ``,``). Each change event is then one root segment record with its children's records nested as lists
    inside the parent's group (empty lists when none); keys come from the root record. A hierarchy is
    emitted when the next root record arrives, or when the file is fully read and unchanged for
    ``file.quiet.ms`` (so a writer must append a whole hierarchy within that time). Offsets stop at root
    boundaries: a restart never splits a hierarchy. Records before the first root, or children whose parent
    is not open, are bad records. append mode only."""
    debug_hex: bool = False
    """Add ``<FIELD>_hex`` with every field's raw bytes."""
    on_error: t.Literal["fail", "null"] = "fail"
    """Invalid field data: ``fail`` makes the record a bad record (dead-letter topic under
    ``errors.tolerance=all``); ``null`` emits the field as null and lists the error in ``_errors``."""

    poll_interval_ms: int = Field(default=1_000, ge=10, le=600_000)
    """How often the folder is listed for new files and growing files are checked."""
    batch_size: int = Field(default=4_096, ge=1, le=100_000)
    """Most records one poll returns (about)."""
    finished_file_action: FinishedAction = "keep"
    """What to do with a file once all its records are durable in Kafka: keep, move (to ``finished.dir``) or delete.
    In append mode a file counts as finished once fully read and unchanged for ``file.quiet.ms``."""
    finished_dir: str | None = None
    """Where ``finished.file.action=move`` puts finished files."""
    file_quiet_ms: int = Field(default=5_000, ge=0)
    """append mode: a fully read file unchanged for this long is complete (moved or deleted with
    ``finished.file.action``; with ``keep``, a truncated record at its end is reported then)."""
    failed_file_action: t.Literal["move", "keep"] = "move"
    """append mode: a file whose records cannot be delimited from some byte to its end (a README beside
    the datasets, a file of another format) sends those bytes to the dead-letter topic (under
    ``errors.tolerance=all``) and is then moved to ``failed.dir`` (``move``), or left where it is and
    not read again (``keep``). Garbage inside a file is skipped up to the next valid BDW/RDW instead."""
    failed_dir: str = ""
    """Where ``failed.file.action=move`` puts such files; empty: the ``failed`` folder inside ``input.dir``
    (never read)."""
    replaced_file_action: t.Literal["new-generation", "fail"] = "new-generation"
    """append mode: a file replaced under the same name (a new file renamed over it, or rewritten shorter)
    while it is read. ``new-generation`` finishes the old file through the handle already open, then
    reads the new one from its start (a part of the old file that could not be read is reported as a
    bad record); ``fail`` stops the task with an error naming the file."""
    tombstones_on_delete: bool = True
    """snapshot-diff: emit a tombstone (null value) after each delete, as Debezium does."""

    field_types: str = ""
    """Numeric or text fields that hold dates and times, ``FIELD:KIND[:PATTERN]`` comma-separated, e.g.
    ``CM-OPEN-DATE:date:yyyyMMdd,CM-OPEN-TIME:time:HHmmss``; KIND is date, time or timestamp and PATTERN a
    Java date pattern. They become Connect Date/Time/Timestamp values (all zeros or blanks: null); a value
    that does not fit makes the record a bad record. Not inside OCCURS or with segment.children."""

    task_index: TaskKey[int] = Field(default=0, ge=0)
    """Set by the connector in task configs: this task's index."""
    task_count: TaskKey[int] = Field(default=1, ge=1)
    """Set by the connector in task configs: how many tasks share the files."""

    _layout: t.Any = PrivateAttr(default=None)

    def local_errors(self) -> list[FieldError]:
        """``input.dir`` must be a directory on this machine."""
        if not Path(self.input_dir).is_dir():
            return [FieldError("input.dir", f"{self.input_dir} is not a directory here (create it, or fix the path)")]
        return []

    # ------------------------------------------------------------------ validators

    @model_validator(mode="before")
    @classmethod
    def _check_absent_keys(cls, data: t.Any) -> t.Any:
        # Keys with cross-key rules are validated even when absent; pydantic would report
        # a validated default under the Python name, so an explicit default is put in
        # under the dotted key instead.
        if isinstance(data, dict):
            data = dict(data)
            for name, default in (("copybook_text", None), ("key_fields", ""), ("finished_dir", None)):
                if name not in data and name.replace("_", ".") not in data:
                    data[name.replace("_", ".")] = default
        return data

    # Cross-key checks live on the later key (``info.data`` holds the keys declared
    # before it), so each problem is reported under the key that has to change.

    @field_validator("copybook_dir")
    @classmethod
    def _member_folders(cls, value: str) -> str:
        for folder in _csv(value):
            if not Path(folder).is_dir():
                msg = f"{folder} is not a folder"
                raise ValueError(msg)
        return value

    @field_validator("copybook_path")
    @classmethod
    def _copybook_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _parse(_read_text(value, errors="replace"), _folders(info.data.get("copybook_dir", ""), value))
        return value

    @field_validator("copybook_text")
    @classmethod
    def _copybook_inline(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            if info.data.get("copybook_path") is not None:
                msg = "give copybook.path or copybook.text, not both"
                raise ValueError(msg)
            _parse(value, _folders(info.data.get("copybook_dir", ""), None))
        elif "copybook_path" in info.data and info.data["copybook_path"] is None:
            msg = "give copybook.text or copybook.path"
            raise ValueError(msg)
        return value

    @field_validator("key_fields")
    @classmethod
    def _known_keys(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("mode") == "snapshot-diff" and not _csv(value):
            msg = "snapshot-diff needs key fields to compare generations"
            raise ValueError(msg)
        layout = _layout_of(info.data)
        if layout is not None:
            for name in _csv(value):
                try:
                    key_path(layout, name)
                except KeyError as exc:
                    raise ValueError(exc.args[0]) from None
        return value

    @field_validator("records_per_block")
    @classmethod
    def _one_block_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("block_length") is not None:
            msg = "give block.length or records.per.block, not both"
            raise ValueError(msg)
        return value

    @field_validator("record_length_field", "segment_field")
    @classmethod
    def _field_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.field_name == "record_length_field" and info.data.get("record_format", "F") != "F":
            msg = "only applies to record.format F"
            raise ValueError(msg)
        layout = _layout_of(info.data)
        if layout is not None:
            try:
                layout.find(value)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        return value

    @field_validator("code_page")
    @classmethod
    def _known_code_page(cls, value: str) -> str:
        from headwater.codecs.ebcdic import UnknownCodePageError, code_page

        try:
            code_page(value)
        except UnknownCodePageError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("field_code_pages")
    @classmethod
    def _field_pages(cls, value: str, info: ValidationInfo) -> str:
        from headwater.codecs.ebcdic import UnknownCodePageError, code_page

        layout = _layout_of(info.data)
        for page, name in _field_page_pairs(value):
            try:
                code_page(page)
                if layout is not None:
                    layout.find(name)
            except UnknownCodePageError as exc:
                raise ValueError(str(exc)) from exc
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        return value

    @field_validator("code_page_file")
    @classmethod
    def _readable_table(cls, value: str | None) -> str | None:
        if value is not None:
            table = _read_text(value)
            if len(table) != 256 and len(table.rstrip("\n")) != 256:
                msg = f"must hold 256 characters, has {len(table)}"
                raise ValueError(msg)
        return value

    @field_validator("segment_map")
    @classmethod
    def _segment_pairs(cls, value: str, info: ValidationInfo) -> str:
        layout = _layout_of(info.data)
        for pair in _csv(value):
            segment, sep, redefine = pair.partition("=")
            if not sep or not segment or not redefine:
                msg = f"expected VALUE=REDEFINE_NAME pairs separated by commas, got {pair!r}"
                raise ValueError(msg)
            if layout is not None:
                try:
                    layout.find(redefine)
                except KeyError as exc:
                    raise ValueError(exc.args[0]) from None
        if value and not info.data.get("segment_field"):
            msg = "needs segment.field"
            raise ValueError(msg)
        return value

    @field_validator("segment_filter")
    @classmethod
    def _filter_needs_field(cls, value: str, info: ValidationInfo) -> str:
        if _csv(value) and not info.data.get("segment_field"):
            msg = "needs segment.field"
            raise ValueError(msg)
        return value

    @field_validator("segment_children")
    @classmethod
    def _segment_tree(cls, value: str, info: ValidationInfo) -> str:
        entries = _segment_children_entries(value)
        if not entries:
            return value
        if info.data.get("mode") == "snapshot-diff":
            msg = "works in append mode only"
            raise ValueError(msg)
        segment_map = info.data.get("segment_map")
        if not info.data.get("segment_field") or not segment_map:
            msg = "needs segment.field and segment.map"
            raise ValueError(msg)
        from headwater.codecs.copybook import DecodeOptions, compile_plan
        from headwater.codecs.copybook.hierarchy import segment_tree
        from headwater.connectors.errors import ConfigError

        layout = _layout_of(info.data)
        try:
            options = DecodeOptions(
                segment_field=info.data["segment_field"],
                segment_map=_segment_map_pairs(segment_map),
                segment_children=entries,
            )
            if layout is None:
                return value
            tree = segment_tree(compile_plan(layout, options))
        except ConfigError as exc:
            raise ValueError("; ".join(error.message for error in exc.errors)) from exc
        for child in tree.parent_of:
            inside = {item.name for item in layout.find(child).walk()}
            for name in _csv(info.data.get("key_fields") or ""):
                if layout.find(name).name in inside:
                    msg = f"key field {name} is inside the child segment {child}; keys must come from the root record"
                    raise ValueError(msg)
        return value

    @field_validator("field_types")
    @classmethod
    def _temporal_fields(cls, value: str, info: ValidationInfo) -> str:
        from headwater.codecs.temporal import parse_field_types

        items = parse_field_types(value)
        if items and info.data.get("segment_children"):
            msg = "cannot be combined with segment.children"
            raise ValueError(msg)
        layout = _layout_of(info.data)
        if layout is not None:
            for item in items:
                try:
                    key_path(layout, item.name)
                except KeyError as exc:
                    raise ValueError(exc.args[0]) from None
        return value

    @field_validator("finished_dir")
    @classmethod
    def _move_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("finished_file_action") == "move" and not value:
            msg = "required when finished.file.action=move"
            raise ValueError(msg)
        return value

    # ------------------------------------------------------------------ derived values

    def copybook_source(self) -> tuple[str, str | None]:
        """The copybook text and the file it came from (None when inline)."""
        if self.copybook_text is not None:
            return self.copybook_text, None
        assert self.copybook_path is not None
        return Path(self.copybook_path).read_text(encoding="utf-8", errors="replace"), self.copybook_path

    def layout(self) -> Layout:
        """The parsed copybook (parsed once per copybook text)."""
        if self._layout is None:
            text, source = self.copybook_source()
            self._layout = _parse(text, _folders(self.copybook_dir, source))
        return t.cast("Layout", self._layout)

    def key_fields_list(self) -> list[str]:
        """The key field names as given."""
        return _csv(self.key_fields)

    def segment_pairs(self) -> tuple[tuple[str, str], ...]:
        """``segment.map`` as (segment id, REDEFINES name) pairs."""
        return _segment_map_pairs(self.segment_map)

    def segment_children_entries(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``segment.children`` as (parent, children) REDEFINES names."""
        return _segment_children_entries(self.segment_children)

    def format_options(self) -> RecordFormatOptions:
        """The codec's record format options."""
        from headwater.codecs.copybook import RecordFormat, RecordFormatOptions

        return RecordFormatOptions(
            record_format=RecordFormat(self.record_format),
            record_length=self.record_length,
            block_length=self.block_length,
            records_per_block=self.records_per_block,
            rdw_big_endian=self.rdw_endian == "big",
            bdw_big_endian=self.bdw_endian == "big",
            rdw_adjustment=self.rdw_adjustment,
            bdw_adjustment=self.bdw_adjustment,
            rdw_includes_header=_tristate(self.rdw_includes_header),
            bdw_includes_header=_tristate(self.bdw_includes_header),
            allow_short_records=self.allow_short_records,
            record_length_field=self.record_length_field,
            file_start_offset=self.file_start_offset,
            file_end_offset=self.file_end_offset,
            record_start_offset=self.record_start_offset,
            record_end_offset=self.record_end_offset,
        )

    def decode_options(self) -> DecodeOptions:
        """The codec's decode options."""
        from headwater.codecs.copybook import DecodeOptions, FloatFormat, OnError, Trim

        return DecodeOptions(
            code_page=self.code_page,
            field_code_pages=tuple((name, page) for page, name in _field_page_pairs(self.field_code_pages)),
            custom_code_page=Path(self.code_page_file).read_text(encoding="utf-8") if self.code_page_file else None,
            trim=Trim(self.trim),
            relaxed_sign=self.relaxed_sign,
            float_format=FloatFormat(self.float_format),
            debug_hex=self.debug_hex,
            on_error=OnError(self.on_error),
            variable_size_occurs=self.variable_size_occurs,
            allow_short_records=self.allow_short_records,
            zero_bytes_null=self.improved_null_detection,
            drop_group_fillers=self.drop_group_fillers,
            drop_value_fillers=self.drop_value_fillers,
            filler_naming=self.filler_naming,
            segment_field=self.segment_field,
            segment_map=self.segment_pairs(),
            segment_filter=tuple(_csv(self.segment_filter)),
            segment_children=self.segment_children_entries(),
        )

    def plan(self) -> DecodePlan:
        """The compiled decode plan."""
        return _compile(self)


def _tristate(value: str) -> bool | None:
    return None if value == "auto" else value == "true"


def _field_page_pairs(value: str) -> list[tuple[str, str]]:
    """``cp037=A,B;cp1047=C`` as (page, field) pairs; ValueError naming a malformed entry."""
    pairs: list[tuple[str, str]] = []
    for entry in (part.strip() for part in value.split(";")):
        if not entry:
            continue
        page, sep, names = entry.partition("=")
        if not sep or not page.strip() or not _csv(names):
            msg = f"expected PAGE=FIELD1,FIELD2 entries separated by ';', got {entry!r}"
            raise ValueError(msg)
        pairs.extend((page.strip(), name) for name in _csv(names))
    return pairs


def _folders(copybook_dir: str | None, copybook_path: str | None) -> tuple[str, ...]:
    folders = _csv(copybook_dir or "")
    if copybook_path is not None:
        folders.append(str(Path(copybook_path).parent))
    return tuple(folders)


@functools.lru_cache(maxsize=32)
def _parse(text: str, folders: tuple[str, ...] = ()) -> Layout:
    """Parse copybook text (COPY members from ``folders``); a syntax error is a ValueError naming line and column."""
    from headwater.codecs.copybook import CopybookSyntaxError, parse_copybook
    from headwater.connectors.commands.copybook import member_reader

    try:
        return parse_copybook(text, include=member_reader(tuple(Path(folder) for folder in folders)))
    except CopybookSyntaxError as exc:
        msg = f"line {exc.line}, column {exc.column}: {exc.reason}"
        raise ValueError(msg) from None


def _layout_of(data: t.Mapping[str, t.Any]) -> Layout | None:
    """The layout from already validated keys, or None when the copybook key was invalid."""
    try:
        if data.get("copybook_text") is not None:
            return _parse(data["copybook_text"], _folders(data.get("copybook_dir"), None))
        if data.get("copybook_path") is not None:
            path = data["copybook_path"]
            text = Path(path).read_text(encoding="utf-8", errors="replace")
            return _parse(text, _folders(data.get("copybook_dir"), path))
    except (ValueError, OSError):
        return None
    return None


def _compile(config: MainframeCopybookConfig) -> DecodePlan:
    from headwater.codecs.copybook import compile_plan

    return compile_plan(config.layout(), config.decode_options())


@functools.lru_cache(maxsize=256)
def _paths(layout_id: int, layout: Layout, name: str) -> tuple[str, ...]:
    del layout_id
    target = layout.find(name)

    def search(items: t.Sequence[t.Any], trail: tuple[str, ...]) -> tuple[str, ...] | None:
        for item in items:
            if item.is_filler:
                continue
            here = (*trail, item.key)
            if item is target:
                return here
            if item.children and item.occurs is None:
                found = search(item.children, here)
                if found is not None:
                    return found
        return None

    found = search(layout.output_roots, ())
    if found is None or target.is_group:
        msg = f"{name!r} is not an elementary field outside any OCCURS (cannot be a key)"
        raise KeyError(msg)
    return found


def key_path(layout: Layout, name: str) -> tuple[str, ...]:
    """Where the decoded value of key field ``name`` sits in a decoded record.

    Raises:
        KeyError: the field does not exist, is a group, or sits inside an OCCURS.
    """
    return _paths(id(layout), layout, name)
