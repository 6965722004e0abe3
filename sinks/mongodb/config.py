"""Configuration of the ``mongodb`` sink, in mongo-kafka's key names.

Every key except ``connection.uri`` can be set per topic with
``topic.override.<topic>.<key>`` (as in mongo-kafka); :meth:`MongoSinkConfig.for_topic`
returns the merged settings. Strategy and post-processor names take Headwater's short
names (``replace-one``, ``partial-value``, ...) or mongo-kafka's class names, so an
existing mongo-kafka connector file ports by changing ``connector.class`` only.
"""

from __future__ import annotations

import json
import re
import typing as t

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from headwater.connectors.config import PluginConfig

__all__ = [
    "CDC_HANDLERS",
    "DELETE_STRATEGIES",
    "ID_STRATEGIES",
    "KEY_BASED_ID_STRATEGIES",
    "NAMESPACE_MAPPERS",
    "POST_PROCESSORS",
    "WRITE_STRATEGIES",
    "MongoSinkConfig",
    "RenameRule",
]

TOPIC_PLACEHOLDER = "${topic}"
_OVERRIDE_PREFIX = "topic.override."

# mongo-kafka class names (the part after the last dot) -> Headwater's short names.
_WRITE_STRATEGY_CLASSES = {
    "DefaultWriteModelStrategy": "replace-one",
    "ReplaceOneDefaultStrategy": "replace-one",
    "ReplaceOneBusinessKeyStrategy": "replace-one-business-key",
    "UpdateOneDefaultStrategy": "update-one",
    "UpdateOneTimestampsStrategy": "update-one-timestamps",
    "UpdateOneBusinessKeyTimestampStrategy": "update-one-business-key-timestamps",
    "InsertOneDefaultStrategy": "insert-one",
    "DeleteOneBusinessKeyStrategy": "delete-one-business-key",
}
WRITE_STRATEGIES = frozenset(_WRITE_STRATEGY_CLASSES.values())

_DELETE_STRATEGY_CLASSES = {
    "DeleteOneDefaultStrategy": "delete-one",
    "DeleteOneTombstoneBusinessKeyStrategy": "delete-one-business-key",
}
DELETE_STRATEGIES = frozenset(_DELETE_STRATEGY_CLASSES.values())

_ID_STRATEGY_CLASSES = {
    "BsonOidStrategy": "bson-oid",
    "UuidStrategy": "uuid",
    "KafkaMetaDataStrategy": "kafka-metadata",
    "FullKeyStrategy": "full-key",
    "PartialKeyStrategy": "partial-key",
    "PartialValueStrategy": "partial-value",
    "ProvidedInKeyStrategy": "provided-in-key",
    "ProvidedInValueStrategy": "provided-in-value",
    "UuidProvidedInKeyStrategy": "uuid-provided-in-key",
    "UuidProvidedInValueStrategy": "uuid-provided-in-value",
}
ID_STRATEGIES = frozenset(_ID_STRATEGY_CLASSES.values())

# field name -> (mongo-kafka class names to short names, the short names, what to call it)
_STRATEGY_FIELDS: dict[str, tuple[t.Mapping[str, str], frozenset[str], str]] = {
    "writemodel_strategy": (_WRITE_STRATEGY_CLASSES, WRITE_STRATEGIES, "write model strategy"),
    "delete_writemodel_strategy": (_DELETE_STRATEGY_CLASSES, DELETE_STRATEGIES, "delete write model strategy"),
    "document_id_strategy": (_ID_STRATEGY_CLASSES, ID_STRATEGIES, "document id strategy"),
}
KEY_BASED_ID_STRATEGIES = frozenset({"full-key", "partial-key", "provided-in-key", "uuid-provided-in-key"})
"""Id strategies that read only the key, so a tombstone (key, no value) still yields an id."""

_POST_PROCESSOR_CLASSES = {
    "DocumentIdAdder": "document-id-adder",
    "KafkaMetaAdder": "kafka-meta-adder",
    "AllowListKeyProjector": "allow-list-key-projector",
    "WhitelistKeyProjector": "allow-list-key-projector",
    "AllowListValueProjector": "allow-list-value-projector",
    "WhitelistValueProjector": "allow-list-value-projector",
    "BlockListKeyProjector": "block-list-key-projector",
    "BlacklistKeyProjector": "block-list-key-projector",
    "BlockListValueProjector": "block-list-value-projector",
    "BlacklistValueProjector": "block-list-value-projector",
    "NullFieldValueRemover": "null-field-value-remover",
    "RenameByMapping": "rename-by-mapping",
    "RenameByRegExp": "rename-by-regexp",
}
POST_PROCESSORS = frozenset(_POST_PROCESSOR_CLASSES.values())

_CDC_HANDLER_CLASSES = {
    # mongo-kafka's Debezium RDBMS handlers read the same envelope Headwater emits.
    "RdbmsHandler": "headwater",
    "MysqlHandler": "headwater",
    "PostgresHandler": "headwater",
}
CDC_HANDLERS = frozenset({"", "headwater"})

_NAMESPACE_MAPPER_CLASSES = {
    "DefaultNamespaceMapper": "default",
    "FieldPathNamespaceMapper": "field-path",
}
NAMESPACE_MAPPERS = frozenset(_NAMESPACE_MAPPER_CLASSES.values())

ProjectionType = t.Literal["", "allowlist", "blocklist"]
_PROJECTION_ALIASES = {"none": "", "whitelist": "allowlist", "blacklist": "blocklist"}


def _short_name(value: t.Any, classes: t.Mapping[str, str], known: t.Collection[str]) -> t.Any:
    """Map a mongo-kafka class name (fully qualified or not) to its short name."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in known:
        return text
    simple = text.rsplit(".", 1)[-1].rsplit("$", 1)[-1]
    return classes.get(simple, text)


def _check_known(value: str, known: t.Collection[str], what: str) -> str:
    if value not in known:
        choices = ", ".join(sorted(name for name in known if name))
        msg = f"unknown {what} {value!r}; choose from {choices} (or mongo-kafka's class names)"
        raise ValueError(msg)
    return value


class RenameRule(t.NamedTuple):
    """One renaming rule: for ``rename-by-mapping`` ``old`` is a dotted path with a
    ``key.``/``value.`` prefix and ``new`` a field name; for ``rename-by-regexp``
    ``old`` is a regular expression matched against such paths, and every match of
    ``pattern`` in the field name is replaced by ``new``."""

    old: str
    new: str
    pattern: str = ""


class MongoSinkConfig(PluginConfig):
    """Where the documents go, how each record becomes a write, and how writes are batched."""

    connection_uri: SecretStr = SecretStr("mongodb://localhost:27017")
    """``mongodb://`` or ``mongodb+srv://`` URI (Atlas). TLS, ``retryWrites``, ``w`` and
    timeouts go in its options. Never logged."""
    database: str = Field(min_length=1)
    """Target database; may contain ``${topic}``."""
    collection: str = ""
    """Target collection; ``${topic}`` is replaced by the record's topic. Empty: the topic name."""
    topic_override: dict[str, dict[str, t.Any]] = Field(default_factory=dict)
    """``topic.override.<topic>.<key>``: any key but ``connection.uri`` for one topic,
    e.g. ``topic.override.demo.orders.collection``."""
    writemodel_strategy: str = "replace-one"
    """replace-one (by ``_id``, upsert), replace-one-business-key, update-one,
    update-one-timestamps, update-one-business-key-timestamps, insert-one,
    delete-one-business-key."""
    delete_on_null_values: bool = False
    """A tombstone (key, null value) deletes the document its key names; off: a tombstone
    is a record error (in CDC mode: skipped)."""
    delete_writemodel_strategy: str = "delete-one"
    """How a tombstone deletes: delete-one (``_id`` from the key-based id strategy) or
    delete-one-business-key (filter on the projected key fields)."""
    document_id_strategy: str = "bson-oid"
    """bson-oid, uuid, kafka-metadata (``topic#partition#offset``), full-key, partial-key,
    partial-value, provided-in-key, provided-in-value, uuid-provided-in-key,
    uuid-provided-in-value."""
    document_id_strategy_overwrite_existing: bool = False
    """Replace an ``_id`` the value already has with the strategy's id."""
    document_id_strategy_uuid_format: t.Literal["string", "binary"] = "string"
    """UUID ids as canonical strings or as BSON binary subtype 4."""
    document_id_strategy_partial_key_projection_type: ProjectionType = ""
    """allowlist or blocklist of key fields that form the id (partial-key)."""
    document_id_strategy_partial_key_projection_list: str = ""
    """Comma-separated dotted field paths for partial-key."""
    document_id_strategy_partial_value_projection_type: ProjectionType = ""
    """allowlist or blocklist of value fields that form the id (partial-value)."""
    document_id_strategy_partial_value_projection_list: str = ""
    """Comma-separated dotted field paths for partial-value."""
    post_processor_chain: str = "document-id-adder"
    """Comma-separated processors applied in order; document-id-adder is put first if missing."""
    key_projection_type: ProjectionType = ""
    """allowlist or blocklist for the key projectors."""
    key_projection_list: str = ""
    """Comma-separated dotted key paths (``*`` matches any one field, ``**`` everything below)."""
    value_projection_type: ProjectionType = ""
    """allowlist or blocklist for the value projectors."""
    value_projection_list: str = ""
    """Comma-separated dotted value paths (``*`` matches any one field, ``**`` everything below)."""
    field_renamer_mapping: str = "[]"
    """JSON list of ``{"oldName": "value.a.b", "newName": "c"}`` for rename-by-mapping."""
    field_renamer_regexp: str = "[]"
    """JSON list of ``{"regexp": "^value\\\\..*", "pattern": "_", "replace": "-"}`` for rename-by-regexp."""
    namespace_mapper: str = "default"
    """``default`` (``database`` and ``collection``) or ``field-path`` (mongo-kafka's
    FieldPathNamespaceMapper): each record's database and/or collection is the string at a
    dotted path of its key or value, e.g. ``source.table`` of a change event."""
    namespace_mapper_key_database_field: str = ""
    """field-path: dotted path in the record key naming the database."""
    namespace_mapper_key_collection_field: str = ""
    """field-path: dotted path in the record key naming the collection."""
    namespace_mapper_value_database_field: str = ""
    """field-path: dotted path in the record value naming the database."""
    namespace_mapper_value_collection_field: str = ""
    """field-path: dotted path in the record value naming the collection."""
    namespace_mapper_error_if_invalid: bool = False
    """field-path: a missing or non-string field makes the record a bad record; off: the
    record goes to the default ``database``/``collection`` (as mongo-kafka)."""
    change_data_capture_handler: str = ""
    """``headwater`` (or mongo-kafka's Debezium RdbmsHandler class): apply change events by
    key; strategies and post processors are bypassed."""
    change_data_capture_handler_id: t.Literal["key", "key-field"] = "key"
    """CDC ``_id``: the key document (``{"id": 42}``, as mongo-kafka) or, for one-field keys, its value (``42``)."""
    change_data_capture_handler_remove_null_values: bool = False
    """CDC: drop fields whose value is null from the written document."""
    max_batch_size: int = Field(default=0, ge=0)
    """Most writes per bulk write; 0: one bulk write per collection per ``put``."""
    bulk_write_ordered: bool = True
    """Ordered bulk writes stop at the first failing write (the rest is retried by the sink); unordered ones go on."""
    rate_limiting_every_n: int = Field(default=0, ge=0)
    """Pause ``rate.limiting.timeout`` ms after every N bulk writes (0: never)."""
    rate_limiting_timeout: int = Field(default=0, ge=0)
    """The pause of ``rate.limiting.every.n``, in milliseconds."""

    @model_validator(mode="before")
    @classmethod
    def _gather_topic_overrides(cls, data: t.Any) -> t.Any:
        """Collect the flat ``topic.override.<topic>.<key>`` keys into ``topic.override``."""
        if not isinstance(data, t.Mapping):
            return data
        flat = [key for key in data if isinstance(key, str) and key.startswith(_OVERRIDE_PREFIX)]
        if not flat:
            return data
        gathered = dict(data)
        overrides: dict[str, dict[str, t.Any]] = {
            topic: dict(keys) for topic, keys in dict(gathered.pop("topic.override", None) or {}).items()
        }
        # Topic names may contain dots, so match the longest known key at the end.
        suffixes = sorted(cls._overridable_keys(), key=len, reverse=True)
        for key in flat:
            rest = key[len(_OVERRIDE_PREFIX) :]
            value = gathered.pop(key)
            for suffix in suffixes:
                if rest.endswith("." + suffix) and len(rest) > len(suffix) + 1:
                    overrides.setdefault(rest[: -len(suffix) - 1], {})[suffix] = value
                    break
            else:
                overrides.setdefault(rest, {})[""] = value  # rejected by _check_overrides, naming the key
        gathered["topic.override"] = overrides
        return gathered

    @classmethod
    def _overridable_keys(cls) -> list[str]:
        return [
            info.alias or name
            for name, info in cls.model_fields.items()
            if name not in ("connection_uri", "topic_override")
        ]

    @field_validator("connection_uri")
    @classmethod
    def _check_uri(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("mongodb://", "mongodb+srv://")):
            msg = "must start with mongodb:// or mongodb+srv://"
            raise ValueError(msg)
        return value

    @field_validator("writemodel_strategy", "delete_writemodel_strategy", "document_id_strategy", mode="before")
    @classmethod
    def _strategy(cls, value: t.Any, info: ValidationInfo) -> t.Any:
        """Accept a short name or mongo-kafka's class name; reject unknown strategies."""
        classes, known, what = _STRATEGY_FIELDS[info.field_name or ""]
        name = _short_name(value, classes, known)
        return _check_known(name, known, what) if isinstance(name, str) else name

    @field_validator(
        "document_id_strategy_partial_key_projection_type",
        "document_id_strategy_partial_value_projection_type",
        "key_projection_type",
        "value_projection_type",
        mode="before",
    )
    @classmethod
    def _projection_alias(cls, value: t.Any) -> t.Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _PROJECTION_ALIASES.get(lowered, lowered)
        return value

    @field_validator("post_processor_chain", mode="before")
    @classmethod
    def _post_processors(cls, value: t.Any) -> t.Any:
        if not isinstance(value, str):
            return value
        names = [
            _short_name(name, _POST_PROCESSOR_CLASSES, POST_PROCESSORS) for name in value.split(",") if name.strip()
        ]
        for name in names:
            _check_known(name, POST_PROCESSORS, "post processor")
        return ",".join(names)

    @field_validator("namespace_mapper", mode="before")
    @classmethod
    def _namespace_mapper(cls, value: t.Any) -> t.Any:
        return _short_name(value, _NAMESPACE_MAPPER_CLASSES, NAMESPACE_MAPPERS)

    @field_validator("namespace_mapper")
    @classmethod
    def _known_namespace_mapper(cls, value: str) -> str:
        return _check_known(value, NAMESPACE_MAPPERS, "namespace mapper")

    @field_validator("change_data_capture_handler", mode="before")
    @classmethod
    def _cdc_handler(cls, value: t.Any) -> t.Any:
        return _short_name(value, _CDC_HANDLER_CLASSES, CDC_HANDLERS)

    @field_validator("change_data_capture_handler")
    @classmethod
    def _known_cdc_handler(cls, value: str) -> str:
        return _check_known(value, CDC_HANDLERS, "change data capture handler")

    @field_validator("field_renamer_mapping", "field_renamer_regexp")
    @classmethod
    def _json_list(cls, value: str) -> str:
        try:
            rules = json.loads(value)
        except ValueError as exc:
            msg = f"not valid JSON: {exc}"
            raise ValueError(msg) from exc
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            msg = "must be a JSON list of objects"
            raise ValueError(msg)
        return value

    @field_validator("topic_override")
    @classmethod
    def _check_overrides(cls, value: dict[str, dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
        allowed = set(cls._overridable_keys())
        for topic, keys in value.items():
            unknown = sorted(set(keys) - allowed)
            if unknown:
                names = ", ".join(
                    f"topic.override.{topic}.{key}" if key else f"topic.override.{topic}" for key in unknown
                )
                msg = f"unknown per-topic key(s): {names}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> MongoSinkConfig:
        self._check_one_topic()
        for topic in self.topic_override:
            self.for_topic(topic)
        return self

    def _check_one_topic(self) -> None:
        """Reject combinations mongo-kafka rejects too, before any task starts."""
        self._check_namespace_mapper()
        if self.change_data_capture_handler:
            return
        strategy = self.document_id_strategy
        if self.delete_on_null_values and strategy not in KEY_BASED_ID_STRATEGIES:
            msg = (
                f"delete.on.null.values=true needs a key-based document.id.strategy "
                f"({', '.join(sorted(KEY_BASED_ID_STRATEGIES))}), not {strategy}"
            )
            raise ValueError(msg)
        if "business-key" in self.writemodel_strategy and strategy not in ("partial-key", "partial-value"):
            msg = (
                f"writemodel.strategy={self.writemodel_strategy} needs "
                "document.id.strategy partial-key or partial-value"
            )
            raise ValueError(msg)
        if (
            self.delete_on_null_values
            and self.delete_writemodel_strategy == "delete-one-business-key"
            and strategy != "partial-key"
        ):
            msg = "delete.writemodel.strategy=delete-one-business-key needs document.id.strategy=partial-key"
            raise ValueError(msg)
        for kind in ("key", "value"):
            if strategy == f"partial-{kind}":
                projection = getattr(self, f"document_id_strategy_partial_{kind}_projection_type")
                fields = getattr(self, f"document_id_strategy_partial_{kind}_projection_list")
                if not projection or not fields.strip():
                    msg = (
                        f"document.id.strategy=partial-{kind} needs "
                        f"document.id.strategy.partial.{kind}.projection.type and .list"
                    )
                    raise ValueError(msg)
        chain = self.processors()
        if any("key-projector" in name for name in chain) and not (
            self.key_projection_type and self.key_projection_list
        ):
            msg = "a key projector in post.processor.chain needs key.projection.type and key.projection.list"
            raise ValueError(msg)
        if any("value-projector" in name for name in chain) and not (
            self.value_projection_type and self.value_projection_list
        ):
            msg = "a value projector in post.processor.chain needs value.projection.type and value.projection.list"
            raise ValueError(msg)

    def _check_namespace_mapper(self) -> None:
        paths = {
            (part, kind): getattr(self, f"namespace_mapper_{kind}_{part}_field")
            for part in ("database", "collection")
            for kind in ("key", "value")
        }
        if self.namespace_mapper != "field-path":
            if any(paths.values()):
                msg = "namespace.mapper.*.field keys need namespace.mapper=field-path"
                raise ValueError(msg)
            return
        if not any(paths.values()):
            msg = "namespace.mapper=field-path needs a namespace.mapper.{key,value}.{database,collection}.field"
            raise ValueError(msg)
        for part in ("database", "collection"):
            if paths[(part, "key")] and paths[(part, "value")]:
                msg = f"set namespace.mapper.key.{part}.field or namespace.mapper.value.{part}.field, not both"
                raise ValueError(msg)

    def for_topic(self, topic: str) -> MongoSinkConfig:
        """The settings for records of ``topic``: these keys, then its ``topic.override.<topic>.*`` keys.

        Raises:
            ValueError: when the merged settings are invalid (reported at config load,
                since the validator calls this for every overridden topic).
        """
        overrides = self.topic_override.get(topic)
        if not overrides:
            return self
        merged = {**self.model_dump(by_alias=True, exclude={"topic_override"}), **overrides}
        try:
            return type(self).model_validate(merged)
        except ValueError as exc:
            msg = f"topic.override.{topic}.*: {exc}"
            raise ValueError(msg) from exc

    def namespace(self, topic: str) -> tuple[str, str]:
        """(database, collection) for ``topic``, with ``${topic}`` substituted."""
        collection = self.collection or topic
        return self.database.replace(TOPIC_PLACEHOLDER, topic), collection.replace(TOPIC_PLACEHOLDER, topic)

    def processors(self) -> list[str]:
        """The post-processor chain, with document-id-adder first if it was left out (as mongo-kafka does)."""
        names = [name for name in self.post_processor_chain.split(",") if name]
        if "document-id-adder" not in names:
            names.insert(0, "document-id-adder")
        return names

    def rename_rules(self) -> tuple[list[RenameRule], list[RenameRule]]:
        """The (mapping, regexp) renaming rules, parsed from their JSON keys."""
        mapping = [
            RenameRule(str(rule.get("oldName", "")), str(rule.get("newName", "")))
            for rule in json.loads(self.field_renamer_mapping)
        ]
        regexp = [
            RenameRule(str(rule.get("regexp", "")), str(rule.get("replace", "")), str(rule.get("pattern", "")))
            for rule in json.loads(self.field_renamer_regexp)
        ]
        for rule in regexp:
            re.compile(rule.old)
            re.compile(rule.pattern)
        return mapping, regexp
