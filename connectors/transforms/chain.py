"""Kafka Connect's ``transforms=`` / ``predicates=`` configuration and the chain it builds.

::

    transforms=unwrap,route
    transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
    transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
    transforms.route.regex=datagen\\.(.*)
    transforms.route.replacement=flat.$1
    transforms.route.predicate=notTombstone
    transforms.route.negate=true
    predicates=notTombstone
    predicates.notTombstone.type=org.apache.kafka.connect.transforms.predicates.RecordIsTombstone

``type`` takes Kafka Connect's class name or its short alias (``RegexRouter``,
``InsertField$Value``, ``unwrap``) from the built-in set, or the name of an entry point in
the ``headwater.transforms`` / ``headwater.predicates`` groups. Nothing else is imported:
a module path in ``type`` is refused.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from importlib.metadata import entry_points

import pydantic

from headwater.connectors.config import field_errors
from headwater.connectors.errors import ConfigError, FieldError
from headwater.connectors.transforms import debezium, fields, headers, routing, timestamps
from headwater.connectors.transforms.base import AnyRecord, Predicate, Record, Transformation, TransformError

__all__ = [
    "BUILTIN_PREDICATES",
    "BUILTIN_TRANSFORMS",
    "PREDICATE_ENTRY_POINTS",
    "TRANSFORM_ENTRY_POINTS",
    "Stage",
    "TransformChain",
    "build_transforms",
]

TRANSFORM_ENTRY_POINTS = "headwater.transforms"
PREDICATE_ENTRY_POINTS = "headwater.predicates"

_TRANSFORM_CLASSES: tuple[type[Transformation], ...] = (
    fields.InsertFieldKey,
    fields.InsertFieldValue,
    fields.ReplaceFieldKey,
    fields.ReplaceFieldValue,
    fields.MaskFieldKey,
    fields.MaskFieldValue,
    fields.ValueToKey,
    fields.ExtractFieldKey,
    fields.ExtractFieldValue,
    fields.HoistFieldKey,
    fields.HoistFieldValue,
    fields.FlattenKey,
    fields.FlattenValue,
    fields.CastKey,
    fields.CastValue,
    timestamps.TimestampConverterKey,
    timestamps.TimestampConverterValue,
    timestamps.TimestampRouter,
    routing.RegexRouter,
    routing.Filter,
    headers.HeaderFromKey,
    headers.HeaderFromValue,
    headers.InsertHeader,
    headers.DropHeaders,
    debezium.ExtractNewRecordState,
)
_PREDICATE_CLASSES: tuple[type[Predicate], ...] = (
    routing.TopicNameMatches,
    routing.HasHeaderKey,
    routing.RecordIsTombstone,
)
BUILTIN_TRANSFORMS: dict[str, type[Transformation]] = {
    alias: cls for cls in _TRANSFORM_CLASSES for alias in cls.aliases
}
"""Every built-in transformation by each of its names."""
BUILTIN_PREDICATES: dict[str, type[Predicate]] = {alias: cls for cls in _PREDICATE_CLASSES for alias in cls.aliases}
"""Every built-in predicate by each of its names."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One configured transformation: ``transforms.<alias>``."""

    alias: str
    transformation: Transformation
    predicate: Predicate | None = None
    negate: bool = False


class TransformChain:
    """The connector's transformations, applied in order (Kafka Connect's TransformationChain).

    Built once per connector at config time; :meth:`apply` is called from task threads,
    once per record. An empty chain returns every record unchanged.
    """

    def __init__(self, stages: t.Sequence[Stage] = ()) -> None:
        self.stages = tuple(stages)

    def __bool__(self) -> bool:
        return bool(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def apply(self, record: Record) -> Record | None:
        """Run ``record`` through every stage whose predicate allows it; None once one drops it.

        Raises:
            TransformError: naming the stage's alias and transformation class, chained from
                whatever the transformation (or its predicate) raised.
        """
        current: Record | None = record
        for stage in self.stages:
            if current is None:
                return None
            current = _run(stage, current)
        return current


def _run(stage: Stage, record: Record) -> Record | None:
    if stage.predicate is not None:
        try:
            matches = stage.predicate.test(record)
        except Exception as exc:
            msg = f"predicate failed: {exc}"
            raise TransformError(
                msg, alias=stage.alias, class_name=stage.predicate.class_name(), record=record
            ) from exc
        if matches == stage.negate:
            return record
    try:
        return stage.transformation.apply(record)
    except Exception as exc:
        raise TransformError(
            str(exc) or type(exc).__name__,
            alias=stage.alias,
            class_name=stage.transformation.class_name(),
            record=record,
        ) from exc


_Plugin = t.TypeVar("_Plugin", Transformation, Predicate)


def _resolve(
    kind: str, name: str, builtin: t.Mapping[str, type[_Plugin]], group: str, base: type[_Plugin]
) -> type[_Plugin]:
    """The class for ``name``: built-in alias first, then the entry-point group; never an import path."""
    if name in builtin:
        return builtin[name]
    for entry in entry_points(group=group, name=name):
        try:
            loaded = entry.load()
        except ImportError as exc:
            msg = f"{kind} {name!r} needs a missing package ({exc.name})"
            raise ValueError(msg) from exc
        if not (isinstance(loaded, type) and issubclass(loaded, base)):
            msg = f"entry point {name!r} in {group} is not a Headwater {base.__name__}"
            raise ValueError(msg)
        return loaded
    short = sorted({cls.aliases[-1] for cls in builtin.values()})
    msg = f"unknown {kind} {name!r}; built in: {', '.join(short)} (third-party ones register in {group})"
    raise ValueError(msg)


def _aliases(flat: t.Mapping[str, t.Any], key: str, errors: list[FieldError]) -> list[str]:
    raw = flat.get(key)
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        items = [str(item).strip() for item in raw]
    elif isinstance(raw, str):
        items = [item.strip() for item in raw.split(",")]
    else:
        errors.append(FieldError(key, "must be a comma-separated list of names"))
        return []
    names = [item for item in items if item]
    for name in {name for name in names if names.count(name) > 1}:
        errors.append(FieldError(key, f"{name!r} is listed twice"))
    return list(dict.fromkeys(names))


def _settings(flat: t.Mapping[str, t.Any], prefix: str, skip: t.Collection[str]) -> dict[str, t.Any]:
    return {
        key[len(prefix) :]: value
        for key, value in flat.items()
        if key.startswith(prefix) and key[len(prefix) :] not in skip
    }


def _build(
    kind: str,
    prefix: str,
    cls: type[_Plugin],
    settings: t.Mapping[str, t.Any],
    errors: list[FieldError],
) -> _Plugin | None:
    try:
        config = cls.config_class.model_validate(settings)
    except pydantic.ValidationError as exc:
        errors.extend(field_errors(exc, prefix=prefix))
        return None
    try:
        return cls(config)
    except (ValueError, TypeError) as exc:
        errors.append(FieldError(prefix.rstrip("."), f"invalid {kind} settings: {exc}"))
        return None


def build_transforms(flat: t.Mapping[str, t.Any]) -> TransformChain:
    """Build the chain from a connector's flat config (only ``transforms*`` / ``predicates*`` keys are read).

    Called by ``parse_connector`` once per connector config, before any task starts.

    Raises:
        ConfigError: one :class:`FieldError` per bad key, named in full
            (``transforms.route.regex``, ``predicates.p.type``), all collected in one pass.
    """
    errors: list[FieldError] = []
    transform_names = _aliases(flat, "transforms", errors)
    predicate_names = _aliases(flat, "predicates", errors)
    for group, names in (("transforms", transform_names), ("predicates", predicate_names)):
        for key in flat:
            if key.startswith(f"{group}.") and key.split(".")[1] not in names:
                errors.append(FieldError(key, f"{key.split('.')[1]!r} is not listed in {group}"))

    predicates: dict[str, Predicate] = {}
    for name in predicate_names:
        prefix = f"predicates.{name}."
        type_name = flat.get(prefix + "type")
        if not type_name:
            errors.append(FieldError(prefix + "type", "missing (required)"))
            continue
        try:
            predicate_class = _resolve(
                "predicate", str(type_name), BUILTIN_PREDICATES, PREDICATE_ENTRY_POINTS, Predicate
            )
        except ValueError as exc:
            errors.append(FieldError(prefix + "type", str(exc)))
            continue
        predicate = _build("predicate", prefix, predicate_class, _settings(flat, prefix, {"type"}), errors)
        if predicate is not None:
            predicates[name] = predicate

    stages: list[Stage] = []
    for name in transform_names:
        prefix = f"transforms.{name}."
        type_name = flat.get(prefix + "type")
        predicate_name = flat.get(prefix + "predicate")
        negate = _boolean(flat.get(prefix + "negate", False), prefix + "negate", errors)
        if predicate_name is not None and str(predicate_name) not in predicate_names:
            errors.append(FieldError(prefix + "predicate", f"{predicate_name!r} is not listed in predicates"))
        if negate and predicate_name is None:
            errors.append(FieldError(prefix + "negate", "negate needs a predicate"))
        if not type_name:
            errors.append(FieldError(prefix + "type", "missing (required)"))
            continue
        try:
            transform_class = _resolve(
                "transform", str(type_name), BUILTIN_TRANSFORMS, TRANSFORM_ENTRY_POINTS, Transformation
            )
        except ValueError as exc:
            errors.append(FieldError(prefix + "type", str(exc)))
            continue
        settings = _settings(flat, prefix, {"type", "predicate", "negate"})
        transformation = _build("transform", prefix, transform_class, settings, errors)
        if transformation is not None:
            predicate = predicates.get(str(predicate_name)) if predicate_name is not None else None
            stages.append(Stage(name, transformation, predicate, negate))
    if errors:
        raise ConfigError(errors)
    return TransformChain(stages)


def _boolean(value: t.Any, key: str, errors: list[FieldError]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    errors.append(FieldError(key, "must be true or false"))
    return False


def applies(stage: Stage, record: AnyRecord) -> bool:
    """Whether ``stage`` runs on ``record`` (its predicate, negated if asked); for tests and tools."""
    return stage.predicate is None or stage.predicate.test(record) != stage.negate
