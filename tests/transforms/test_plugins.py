"""Third-party transforms and predicates come from entry points, and only from there."""

from __future__ import annotations

import typing as t
from importlib.metadata import EntryPoint

import pytest

from headwater.connectors.api import SinkRecord
from headwater.connectors.errors import ConfigError
from headwater.connectors.transforms import Predicate, Transformation, build_transforms, chain
from headwater.connectors.transforms.base import Record


class Upper(Transformation):
    """Upper-cases a string value (a stand-in for a third-party transform)."""

    def apply(self, record: Record) -> Record | None:
        from dataclasses import replace

        return replace(record, value=str(record.value).upper())


class IsShort(Predicate):
    def test(self, record: t.Any) -> bool:
        return len(str(record.value)) < 4


class NotATransform:
    pass


def _entry_points(monkeypatch: pytest.MonkeyPatch, group: str, name: str, target: str) -> None:
    entry = EntryPoint(name=name, value=f"{__name__}:{target}", group=group)

    def fake(*, group: str, name: str) -> list[EntryPoint]:
        return [entry] if (group, name) == (entry.group, entry.name) else []

    monkeypatch.setattr(chain, "entry_points", fake)


def test_a_registered_transform_and_predicate_are_found_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = {
        ("headwater.transforms", "upper"): EntryPoint("upper", f"{__name__}:Upper", "headwater.transforms"),
        ("headwater.predicates", "short"): EntryPoint("short", f"{__name__}:IsShort", "headwater.predicates"),
    }
    monkeypatch.setattr(
        chain, "entry_points", lambda *, group, name: [e for k, e in entries.items() if k == (group, name)]
    )
    built = build_transforms(
        {
            "transforms": "u",
            "transforms.u.type": "upper",
            "transforms.u.predicate": "p",
            "predicates": "p",
            "predicates.p.type": "short",
        }
    )
    record = SinkRecord("t", 0, 0, None, "abc")
    out = built.apply(record)
    assert out is not None and out.value == "ABC"
    long = SinkRecord("t", 0, 0, None, "abcdef")
    assert built.apply(long) is long


def test_an_entry_point_that_is_not_a_transformation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, "headwater.transforms", "bogus", "NotATransform")
    with pytest.raises(
        ConfigError, match=r"transforms.u.type: entry point 'bogus' .* is not a Headwater Transformation"
    ):
        build_transforms({"transforms": "u", "transforms.u.type": "bogus"})


def test_a_module_path_is_never_imported() -> None:
    with pytest.raises(ConfigError, match="unknown transform"):
        build_transforms({"transforms": "u", "transforms.u.type": f"{__name__}.Upper"})
