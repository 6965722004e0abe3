"""How one Kafka record becomes one MongoDB write: mongo-kafka's strategies, and the CDC handler.

Two builders turn a :class:`~headwater.connectors.api.SinkRecord` into a
:class:`~headwater.sinks.mongodb.client.WriteOp` (or ``None`` to skip it):

- :class:`StrategyWriteBuilder` (no ``change.data.capture.handler``): the value becomes
  a document; the post-processor chain (id adder, projectors, renamers, ...) shapes it;
  the write model strategy picks the write. Tombstones delete when
  ``delete.on.null.values`` is on.
- :class:`ChangeEventWriteBuilder` (``change.data.capture.handler=headwater``): c, r and
  u become a replace-one upsert on ``_id`` = the event key, d a delete-one, t a
  delete-many of the collection; a tombstone is skipped or deletes.

Both raise :class:`~headwater.connectors.errors.RecordError` for a record that cannot
become a write; they never touch the network and never mutate the record.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
import uuid

from headwater.codecs.envelope import ChangeEvent, Op
from headwater.connectors.api import SinkRecord
from headwater.connectors.errors import RecordError
from headwater.sinks.mongodb.client import WriteKind, WriteOp
from headwater.sinks.mongodb.config import MongoSinkConfig, RenameRule

__all__ = [
    "ChangeEventWriteBuilder",
    "FieldProjection",
    "StrategyWriteBuilder",
    "WriteBuilder",
    "flatten_paths",
    "make_builder",
]

Document: t.TypeAlias = dict[str, t.Any]
_END = "\x00end"
ID = "_id"


class WriteBuilder(t.Protocol):
    """Turns one record into one write, or None to skip it."""

    def build(self, record: SinkRecord) -> WriteOp | None:
        """The write for ``record``.

        Raises:
            RecordError: the record cannot become a write (not a document, no id...).
        """
        ...


def make_builder(settings: MongoSinkConfig, new_object_id: t.Callable[[], t.Any] | None = None) -> WriteBuilder:
    """The builder ``settings`` (one topic's merged config) asks for.

    ``new_object_id`` makes ObjectIds for the bson-oid id strategy; it is only called
    when that strategy is used.
    """
    if settings.change_data_capture_handler:
        return ChangeEventWriteBuilder(settings)
    return StrategyWriteBuilder(settings, new_object_id)


def _where(record: SinkRecord) -> str:
    return f"{record.topic}-{record.partition}@{record.offset}"


def flatten_paths(document: t.Mapping[str, t.Any], prefix: str = "") -> Document:
    """``{"a": {"b": 1}, "c": 2}`` -> ``{"a.b": 1, "c": 2}``: a business key as a query filter."""
    flat: Document = {}
    for name, value in document.items():
        path = f"{prefix}{name}"
        if isinstance(value, t.Mapping) and value:
            flat.update(flatten_paths(value, path + "."))
        else:
            flat[path] = value
    return flat


class FieldProjection:
    """An allow- or block-list of dotted field paths (``*``: any one field, ``**``: all below).

    Applying it returns a new document; the input is never modified. Arrays of
    documents are projected element by element.
    """

    def __init__(self, kind: str, paths: str, *, keep_id: bool = False) -> None:
        self.allow = kind == "allowlist"
        self.keep_id = keep_id
        self.tree: dict[str, t.Any] = {}
        for path in (part.strip() for part in paths.split(",")):
            if not path:
                continue
            node = self.tree
            for name in path.split("."):
                node = node.setdefault(name, {})
            node[_END] = True

    def apply(self, document: t.Mapping[str, t.Any]) -> Document:
        """The projected copy of ``document``."""
        projected = self._allow(document, self.tree) if self.allow else self._block(document, self.tree)
        if self.keep_id and self.allow and ID in document:
            projected[ID] = document[ID]
        return projected

    def _node(self, tree: dict[str, t.Any], name: str) -> dict[str, t.Any] | None:
        return t.cast("dict[str, t.Any] | None", tree.get(name, tree.get("*")))

    def _allow(self, document: t.Mapping[str, t.Any], tree: dict[str, t.Any]) -> Document:
        if "**" in tree:
            return dict(document)
        out: Document = {}
        for name, value in document.items():
            node = self._node(tree, name)
            if node is None:
                continue
            if _END in node:
                out[name] = value
            elif isinstance(value, t.Mapping):
                out[name] = self._allow(value, node)
            elif isinstance(value, list):
                out[name] = [self._allow(item, node) if isinstance(item, t.Mapping) else item for item in value]
        return out

    def _block(self, document: t.Mapping[str, t.Any], tree: dict[str, t.Any]) -> Document:
        if "**" in tree:
            return {}
        out: Document = {}
        for name, value in document.items():
            node = self._node(tree, name)
            if node is None:
                out[name] = value
            elif _END in node:
                continue
            elif isinstance(value, t.Mapping):
                out[name] = self._block(value, node)
            elif isinstance(value, list):
                out[name] = [self._block(item, node) if isinstance(item, t.Mapping) else item for item in value]
            else:
                out[name] = value
        return out


def _remove_nulls(document: t.Mapping[str, t.Any]) -> Document:
    return {
        name: _remove_nulls(value) if isinstance(value, t.Mapping) else value
        for name, value in document.items()
        if value is not None
    }


class _Renamer:
    """mongo-kafka's RenameByMapping and RenameByRegExp over ``key.``/``value.`` paths."""

    def __init__(self, mapping: t.Sequence[RenameRule], regexp: t.Sequence[RenameRule]) -> None:
        self.mapping = {rule.old: rule.new for rule in mapping}
        self.regexp = [(re.compile(rule.old), re.compile(rule.pattern), rule.new) for rule in regexp]

    def rename(self, document: t.Mapping[str, t.Any], prefix: str) -> Document:
        out: Document = {}
        for name, value in document.items():
            path = f"{prefix}.{name}"
            new_name = self.mapping.get(path, name)
            for path_pattern, pattern, replacement in self.regexp:
                if path_pattern.fullmatch(path):
                    new_name = pattern.sub(replacement, new_name)
            out[new_name] = self.rename(value, path) if isinstance(value, t.Mapping) else value
        return out


# A post processor takes (record, key document, value document) and returns the new pair.
_Processor: t.TypeAlias = t.Callable[[SinkRecord, t.Any, Document], tuple[t.Any, Document]]


class StrategyWriteBuilder:
    """mongo-kafka's pipeline: post-processor chain (id adder first), then a write model strategy."""

    def __init__(self, settings: MongoSinkConfig, new_object_id: t.Callable[[], t.Any] | None = None) -> None:
        self.settings = settings
        self._new_object_id = new_object_id
        self._id_of = self._id_strategy(settings.document_id_strategy)
        self._processors = [self._processor(name) for name in settings.processors()]
        self._write = self._write_strategy(settings.writemodel_strategy)

    # --- document ids -------------------------------------------------------------

    def _id_strategy(self, name: str) -> t.Callable[[SinkRecord, t.Any, Document | None], t.Any]:
        settings = self.settings
        binary = settings.document_id_strategy_uuid_format == "binary"

        def as_uuid(value: uuid.UUID) -> t.Any:
            return value if binary else str(value)

        def bson_oid(_record: SinkRecord, _key: t.Any, _value: Document | None) -> t.Any:
            if self._new_object_id is None:
                from headwater.sinks.mongodb.client import object_id_factory

                self._new_object_id = object_id_factory()
            return self._new_object_id()

        def random_uuid(_record: SinkRecord, _key: t.Any, _value: Document | None) -> t.Any:
            return as_uuid(uuid.uuid4())

        def kafka_metadata(record: SinkRecord, _key: t.Any, _value: Document | None) -> t.Any:
            return f"{record.topic}#{record.partition}#{record.offset}"

        def full_key(_record: SinkRecord, key: t.Any, _value: Document | None) -> t.Any:
            if key is None:
                msg = "document.id.strategy=full-key needs a record key"
                raise RecordError(msg)
            return dict(key) if isinstance(key, t.Mapping) else key

        def provided(source: str) -> t.Callable[[SinkRecord, t.Any, Document | None], t.Any]:
            def provided_in(_record: SinkRecord, key: t.Any, value: Document | None) -> t.Any:
                document = key if source == "key" else value
                if not isinstance(document, t.Mapping) or ID not in document:
                    msg = f"document.id.strategy=provided-in-{source} needs an _id field in the record {source}"
                    raise RecordError(msg)
                return document[ID]

            return provided_in

        def uuid_provided(source: str) -> t.Callable[[SinkRecord, t.Any, Document | None], t.Any]:
            read = provided(source)

            def uuid_provided_in(record: SinkRecord, key: t.Any, value: Document | None) -> t.Any:
                raw = read(record, key, value)
                try:
                    return as_uuid(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
                except ValueError as exc:
                    msg = f"_id in the record {source} is not a UUID: {raw!r}"
                    raise RecordError(msg) from exc

            return uuid_provided_in

        def partial(source: str) -> t.Callable[[SinkRecord, t.Any, Document | None], t.Any]:
            projection = FieldProjection(
                getattr(settings, f"document_id_strategy_partial_{source}_projection_type"),
                getattr(settings, f"document_id_strategy_partial_{source}_projection_list"),
            )

            def partial_of(_record: SinkRecord, key: t.Any, value: Document | None) -> t.Any:
                document = key if source == "key" else value
                if not isinstance(document, t.Mapping):
                    msg = f"document.id.strategy=partial-{source} needs the record {source} to be a document"
                    raise RecordError(msg)
                projected = projection.apply(document)
                if not projected:
                    msg = f"the partial-{source} projection selects no field of this record's {source}"
                    raise RecordError(msg)
                return projected

            return partial_of

        strategies: dict[str, t.Callable[[SinkRecord, t.Any, Document | None], t.Any]] = {
            "bson-oid": bson_oid,
            "uuid": random_uuid,
            "kafka-metadata": kafka_metadata,
            "full-key": full_key,
            "provided-in-key": provided("key"),
            "provided-in-value": provided("value"),
            "uuid-provided-in-key": uuid_provided("key"),
            "uuid-provided-in-value": uuid_provided("value"),
            "partial-key": partial("key"),
            "partial-value": partial("value"),
        }
        return strategies[name]

    # --- post processors ----------------------------------------------------------

    def _processor(self, name: str) -> _Processor:
        settings = self.settings
        # The uuid-provided strategies convert the value's own _id, so they always apply.
        overwrite = settings.document_id_strategy_overwrite_existing or settings.document_id_strategy.startswith(
            "uuid-provided"
        )

        def document_id_adder(record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
            if overwrite or ID not in value:
                value[ID] = self._id_of(record, key, value)
            return key, value

        def kafka_meta_adder(record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
            value["topic-partition-offset"] = f"{record.topic}-{record.partition}-{record.offset}"
            if record.timestamp_ms is not None:
                value["CreateTime"] = record.timestamp_ms
            return key, value

        def key_projector(projection: FieldProjection) -> _Processor:
            def project_key(_record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
                return (projection.apply(key) if isinstance(key, t.Mapping) else key), value

            return project_key

        def value_projector(projection: FieldProjection) -> _Processor:
            def project_value(_record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
                return key, projection.apply(value)

            return project_value

        def null_field_value_remover(_record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
            return key, _remove_nulls(value)

        def renamer(renames: _Renamer) -> _Processor:
            def rename(_record: SinkRecord, key: t.Any, value: Document) -> tuple[t.Any, Document]:
                new_key = renames.rename(key, "key") if isinstance(key, t.Mapping) else key
                return new_key, renames.rename(value, "value")

            return rename

        if name == "document-id-adder":
            return document_id_adder
        if name == "kafka-meta-adder":
            return kafka_meta_adder
        if name.endswith("-key-projector"):
            kind = "allowlist" if name.startswith("allow") else "blocklist"
            return key_projector(FieldProjection(kind, settings.key_projection_list))
        if name.endswith("-value-projector"):
            kind = "allowlist" if name.startswith("allow") else "blocklist"
            return value_projector(FieldProjection(kind, settings.value_projection_list, keep_id=True))
        if name == "null-field-value-remover":
            return null_field_value_remover
        mapping, regexp = settings.rename_rules()
        if name == "rename-by-mapping":
            return renamer(_Renamer(mapping, []))
        return renamer(_Renamer([], regexp))

    # --- write models -------------------------------------------------------------

    def _write_strategy(self, name: str) -> t.Callable[[Document], WriteOp]:
        def require_id(document: Document) -> t.Any:
            if ID not in document:
                msg = f"writemodel.strategy={name} needs an _id (is document-id-adder in post.processor.chain?)"
                raise RecordError(msg)
            return document[ID]

        def business_key(document: Document) -> tuple[Document, Document]:
            key = document.get(ID)
            if not isinstance(key, t.Mapping) or not key:
                msg = f"writemodel.strategy={name} needs the partial-key/partial-value id to be a non-empty document"
                raise RecordError(msg)
            rest = {field: value for field, value in document.items() if field != ID}
            return flatten_paths(key), rest

        def timestamps(fields: Document) -> Document:
            now = dt.datetime.now(dt.UTC)
            return {"$set": {**fields, "_modifiedTS": now}, "$setOnInsert": {"_insertedTS": now}}

        def without_id(document: Document) -> Document:
            return {field: value for field, value in document.items() if field != ID}

        builders: dict[str, t.Callable[[Document], WriteOp]] = {
            "replace-one": lambda doc: WriteOp(WriteKind.REPLACE, {ID: require_id(doc)}, doc, upsert=True),
            "replace-one-business-key": lambda doc: WriteOp(WriteKind.REPLACE, *business_key(doc), upsert=True),
            "update-one": lambda doc: WriteOp(
                WriteKind.UPDATE, {ID: require_id(doc)}, {"$set": without_id(doc)}, upsert=True
            ),
            "update-one-timestamps": lambda doc: WriteOp(
                WriteKind.UPDATE, {ID: require_id(doc)}, timestamps(without_id(doc)), upsert=True
            ),
            "update-one-business-key-timestamps": lambda doc: (
                lambda key_rest: WriteOp(WriteKind.UPDATE, key_rest[0], timestamps(key_rest[1]), upsert=True)
            )(business_key(doc)),
            "insert-one": lambda doc: WriteOp(WriteKind.INSERT, None, doc),
            "delete-one-business-key": lambda doc: WriteOp(WriteKind.DELETE, business_key(doc)[0]),
        }
        return builders[name]

    def build(self, record: SinkRecord) -> WriteOp | None:
        """See :class:`WriteBuilder`: processors in chain order, then the write model strategy."""
        try:
            value = record.value
            if value is None:
                return self._tombstone(record)
            if not isinstance(value, t.Mapping):
                msg = f"value is {type(value).__name__}, not a document (JSON object)"
                raise RecordError(msg)
            key: t.Any = record.key
            document: Document = dict(value)
            for processor in self._processors:
                key, document = processor(record, key, document)
            return self._write(document)
        except RecordError as exc:
            raise RecordError(str(exc), record=record, location=_where(record)) from exc

    def _tombstone(self, record: SinkRecord) -> WriteOp:
        settings = self.settings
        if not settings.delete_on_null_values:
            msg = "tombstone (null value) with delete.on.null.values=false"
            raise RecordError(msg)
        document_id = self._id_of(record, record.key, None)
        if settings.delete_writemodel_strategy == "delete-one-business-key":
            if not isinstance(document_id, t.Mapping):
                msg = "delete-one-business-key needs the key projection to be a document"
                raise RecordError(msg)
            return WriteOp(WriteKind.DELETE, flatten_paths(document_id))
        return WriteOp(WriteKind.DELETE, {ID: document_id})


class ChangeEventWriteBuilder:
    """Applies Headwater's (Debezium's) change-event envelope by primary key.

    ``_id`` is the event key (``{"id": 42}``), or with
    ``change.data.capture.handler.id=key-field`` the value of a one-field key (``42``).
    The document is the ``after`` row, key fields included, so the collection holds
    exactly the folded change stream plus ``_id``. Replays are harmless: every write
    is an upsert or a delete by ``_id``.
    """

    def __init__(self, settings: MongoSinkConfig) -> None:
        self.delete_tombstones = settings.delete_on_null_values
        self.unwrap_key = settings.change_data_capture_handler_id == "key-field"
        self.remove_nulls = settings.change_data_capture_handler_remove_null_values

    def _document_id(self, key: t.Any) -> t.Any:
        if key is None:
            msg = "change event without a key: its document cannot be found"
            raise RecordError(msg)
        if not self.unwrap_key:
            return key
        if isinstance(key, t.Mapping):
            if len(key) != 1:
                msg = f"change.data.capture.handler.id=key-field needs a one-field key, not {len(key)} fields"
                raise RecordError(msg)
            return next(iter(key.values()))
        return key

    def build(self, record: SinkRecord) -> WriteOp | None:
        """See :class:`WriteBuilder`: c/r/u replace (upsert), d deletes, t clears, a tombstone skips or deletes."""
        try:
            if record.value is None:
                if not self.delete_tombstones:
                    return None
                return WriteOp(WriteKind.DELETE, {ID: self._document_id(record.key)})
            event = ChangeEvent.from_value(record.key, record.value)
            assert event is not None  # only a None value gives None
            if event.op is Op.TRUNCATE:
                return WriteOp(WriteKind.DELETE_MANY, {})
            document_id = self._document_id(record.key)
            if event.op is Op.DELETE:
                return WriteOp(WriteKind.DELETE, {ID: document_id})
            after = event.after
            if not isinstance(after, t.Mapping):
                msg = f"op {event.op.value!r} has an 'after' that is not a document"
                raise RecordError(msg)
            document = _remove_nulls(after) if self.remove_nulls else dict(after)
            document[ID] = document_id
            return WriteOp(WriteKind.REPLACE, {ID: document_id}, document, upsert=True)
        except RecordError as exc:
            raise RecordError(str(exc), record=record, location=_where(record)) from exc
