"""Hierarchical segments (``segment_children``): assembly, nesting, empty children, strict errors, options."""

from __future__ import annotations

import typing as t
from decimal import Decimal

import pytest

from headwater.codecs.copybook import (
    DecodeOptions,
    Hierarchy,
    HierarchyAssembler,
    SegmentHierarchyError,
    assemble_hierarchies,
    compile_plan,
    decode_record,
    encode_record,
    parse_copybook,
)
from headwater.codecs.copybook.options import OnError
from headwater.connectors.errors import ConfigError

COMPANIES = """\
       01  COMPANY-FILE.
           05  SEG-ID              PIC X.
           05  COMPANY-ID          PIC 9(4).
           05  SEG-DATA            PIC X(20).
           05  COMPANY REDEFINES SEG-DATA.
               10  COMPANY-NAME    PIC X(20).
           05  DEPT REDEFINES SEG-DATA.
               10  DEPT-CODE       PIC X(4).
               10  BUDGET          PIC S9(7)V99 COMP-3.
               10  FILLER          PIC X(11).
           05  EMPLOYEE REDEFINES SEG-DATA.
               10  EMP-NAME        PIC X(12).
               10  SALARY          PIC 9(6).
               10  FILLER          PIC X(2).
           05  CONTACT REDEFINES SEG-DATA.
               10  PHONE           PIC X(20).
"""
LAYOUT = parse_copybook(COMPANIES)
RECORD_LENGTH = 25
SEGMENT_MAP = (("C", "COMPANY"), ("D", "DEPT"), ("E", "EMPLOYEE"), ("P", "CONTACT"))
CHILDREN = (("COMPANY", ("DEPT", "CONTACT")), ("DEPT", ("EMPLOYEE",)))
SOURCE = "COMPANY.V"


def _options(**overrides: t.Any) -> DecodeOptions:
    keys: dict[str, t.Any] = {"segment_field": "SEG-ID", "segment_map": SEGMENT_MAP, "segment_children": CHILDREN}
    return DecodeOptions(**{**keys, **overrides})


def company(company_id: int, name: str) -> bytes:
    return encode_record(LAYOUT, {"SEG_ID": "C", "COMPANY_ID": company_id, "COMPANY": {"COMPANY_NAME": name}})


def dept(company_id: int, code: str, budget: str) -> bytes:
    return encode_record(
        LAYOUT, {"SEG_ID": "D", "COMPANY_ID": company_id, "DEPT": {"DEPT_CODE": code, "BUDGET": Decimal(budget)}}
    )


def employee(company_id: int, name: str, salary: int) -> bytes:
    return encode_record(
        LAYOUT, {"SEG_ID": "E", "COMPANY_ID": company_id, "EMPLOYEE": {"EMP_NAME": name, "SALARY": salary}}
    )


def contact(company_id: int, phone: str) -> bytes:
    return encode_record(LAYOUT, {"SEG_ID": "P", "COMPANY_ID": company_id, "CONTACT": {"PHONE": phone}})


def _triples(records: list[bytes], start_offset: int = 0) -> list[tuple[int, int, bytes]]:
    """(number, offset, data) as a splitter yields them for an F file."""
    return [(index + 1, start_offset + index * RECORD_LENGTH, data) for index, data in enumerate(records)]


def _assemble(records: list[bytes], **overrides: t.Any) -> list[Hierarchy]:
    return list(assemble_hierarchies(compile_plan(LAYOUT, _options(**overrides)), _triples(records), source=SOURCE))


def test_two_levels_nest_under_the_parents_group() -> None:
    records = [
        company(1, "ACME"),
        dept(1, "D100", "1500.25"),
        employee(1, "ADA", 91000),
        employee(1, "ALAN", 87000),
        contact(1, "555-0100"),
        dept(1, "D200", "-3.10"),
        employee(1, "GRACE", 99000),
        company(2, "GLOBEX"),
        contact(2, "555-0200"),
        contact(2, "555-0201"),
    ]
    first, second = _assemble(records)
    assert first.row == {
        "SEG_ID": "C",
        "COMPANY_ID": 1,
        "COMPANY": {
            "COMPANY_NAME": "ACME",
            "DEPT": [
                {
                    "DEPT_CODE": "D100",
                    "BUDGET": Decimal("1500.25"),
                    "EMPLOYEE": [{"EMP_NAME": "ADA", "SALARY": 91000}, {"EMP_NAME": "ALAN", "SALARY": 87000}],
                },
                {"DEPT_CODE": "D200", "BUDGET": Decimal("-3.10"), "EMPLOYEE": [{"EMP_NAME": "GRACE", "SALARY": 99000}]},
            ],
            "CONTACT": [{"PHONE": "555-0100"}],
        },
    }
    assert (first.record_number, first.byte_offset, first.record_count, first.segment_id) == (1, 0, 7, "C")
    assert second.row["COMPANY"] == {
        "COMPANY_NAME": "GLOBEX",
        "DEPT": [],
        "CONTACT": [{"PHONE": "555-0200"}, {"PHONE": "555-0201"}],
    }
    assert (second.record_number, second.byte_offset, second.record_count) == (8, 7 * RECORD_LENGTH, 3)


def test_empty_children_are_empty_lists_and_other_segments_keys_are_dropped() -> None:
    (only,) = _assemble([company(3, "INITECH"), dept(3, "D1", "0")])
    assert only.row == {
        "SEG_ID": "C",
        "COMPANY_ID": 3,
        "COMPANY": {
            "COMPANY_NAME": "INITECH",
            "DEPT": [{"DEPT_CODE": "D1", "BUDGET": Decimal("0.00"), "EMPLOYEE": []}],
            "CONTACT": [],
        },
    }
    assert "SEG_DATA" not in only.row
    assert "EMPLOYEE" not in only.row


def test_assembler_holds_the_open_hierarchy_until_the_next_root_or_finish() -> None:
    plan = compile_plan(LAYOUT, _options())
    assembler = HierarchyAssembler(plan, source=SOURCE)
    fed = _triples([company(1, "A"), dept(1, "D1", "1"), company(2, "B"), contact(2, "X")])

    def feed(index: int) -> Hierarchy | None:
        number, offset, data = fed[index]
        return assembler.feed(number, offset, data, decode_record(plan, data))

    assert feed(0) is None
    assert feed(1) is None
    assert assembler.open_root == 1
    completed = feed(2)
    assert completed is not None
    assert (completed.record_number, completed.record_count) == (1, 2)
    assert assembler.open_root == 3
    assert feed(3) is None
    last = assembler.finish()
    assert last is not None
    assert (last.record_number, last.record_count, last.row["COMPANY"]["CONTACT"]) == (3, 2, [{"PHONE": "X"}])
    assert assembler.open_root is None
    assert assembler.finish() is None


def test_record_before_the_first_root_is_an_error_naming_where() -> None:
    with pytest.raises(SegmentHierarchyError) as caught:
        _assemble([dept(1, "D1", "1"), company(1, "A")])
    error = caught.value
    assert (error.record_number, error.byte_offset, error.segment_id) == (1, 0, "D")
    assert "before the first root" in str(error)
    assert SOURCE in str(error)
    assert "record 1 at byte offset 0" in str(error)


def test_child_whose_parent_is_not_open_is_an_error_and_assembly_goes_on() -> None:
    plan = compile_plan(LAYOUT, _options())
    assembler = HierarchyAssembler(plan, source=SOURCE)
    # The contact closes the department, so the employee after it has no open parent.
    records = _triples([company(1, "A"), dept(1, "D1", "1"), contact(1, "X"), employee(1, "LATE", 1), contact(1, "Y")])
    errors: list[SegmentHierarchyError] = []
    for number, offset, data in records:
        try:
            assert assembler.feed(number, offset, data, decode_record(plan, data)) is None
        except SegmentHierarchyError as exc:
            errors.append(exc)
    (error,) = errors
    assert (error.record_number, error.byte_offset, error.segment_id) == (4, 3 * RECORD_LENGTH, "E")
    assert "parent DEPT is not open" in str(error)
    assert error.raw == records[3][2]
    last = assembler.finish()
    assert last is not None
    assert last.record_count == 5  # the left-out record still lies inside the hierarchy
    assert last.row["COMPANY"]["CONTACT"] == [{"PHONE": "X"}, {"PHONE": "Y"}]
    assert last.row["COMPANY"]["DEPT"] == [{"DEPT_CODE": "D1", "BUDGET": Decimal("1.00"), "EMPLOYEE": []}]


def test_unmapped_segment_id_is_an_error() -> None:
    stray = bytearray(contact(1, "X"))
    stray[0] = ord("Z".encode("cp037"))
    with pytest.raises(SegmentHierarchyError, match="no segment_map entry") as caught:
        _assemble([company(1, "A"), bytes(stray)])
    assert (caught.value.record_number, caught.value.segment_id) == (2, "Z")


def test_segment_filter_applies_first_and_filtered_records_count_in_the_span() -> None:
    records = [company(1, "A"), contact(1, "X"), dept(1, "D1", "1"), company(2, "B")]
    first, second = _assemble(records, segment_filter=("C", "D", "E"))
    assert first.row["COMPANY"]["CONTACT"] == []
    assert first.row["COMPANY"]["DEPT"][0]["DEPT_CODE"] == "D1"
    assert (first.record_count, second.record_number) == (3, 4)


def test_field_errors_of_a_child_stay_with_the_child_entry() -> None:
    bad = bytearray(dept(1, "D1", "1"))
    bad[1 + 4 + 4 + 4] = 0xAA  # last byte of BUDGET: an invalid sign nibble
    (only,) = _assemble([company(1, "A"), bytes(bad)], on_error=OnError.NULL)
    (entry,) = only.row["COMPANY"]["DEPT"]
    assert entry["BUDGET"] is None
    assert [error["field"] for error in entry["_errors"]] == ["BUDGET"]
    assert "_errors" not in only.row


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"segment_children": (("COMPANY", ("DEPT", "BRANCH")),)}, "BRANCH is not a REDEFINES named in segment_map"),
        (
            {"segment_children": (("COMPANY", ("EMPLOYEE",)), ("DEPT", ("EMPLOYEE",)))},
            "EMPLOYEE has two parents: COMPANY and DEPT",
        ),
        (
            {"segment_children": (("DEPT", ("EMPLOYEE",)), ("EMPLOYEE", ("DEPT",)))},
            "segments form a cycle: EMPLOYEE -> DEPT -> EMPLOYEE",
        ),
        ({"segment_children": (("DEPT", ("DEPT",)),)}, "DEPT cannot be its own child"),
        ({"segment_children": (("DEPT", ()),)}, "DEPT has no children"),
        (
            {"segment_children": (("DEPT", ("EMPLOYEE",)), ("dept", ("CONTACT",)))},
            "dept is listed as a parent twice",
        ),
        ({"segment_map": ()}, "needs segment_field and segment_map"),
    ],
)
def test_options_reject_bad_trees_under_the_option_name(overrides: dict[str, t.Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _options(**overrides)
    assert any(error.key == "segment_children" and message in error.message for error in caught.value.errors), (
        caught.value.errors
    )


def test_names_match_with_dashes_or_underscores_in_any_case() -> None:
    options = _options(segment_map=(("C", "company"), ("D", "Dept")), segment_children=(("COMPANY", ("dept",)),))
    (only,) = list(assemble_hierarchies(compile_plan(LAYOUT, options), _triples([company(1, "A"), dept(1, "D", "2")])))
    assert only.row["COMPANY"]["DEPT"][0]["DEPT_CODE"] == "D"


def test_layout_problems_are_config_errors_of_the_option() -> None:
    elementary = COMPANIES.replace(
        "           05  CONTACT REDEFINES SEG-DATA.\n               10  PHONE           PIC X(20).\n",
        "           05  CONTACT REDEFINES SEG-DATA PIC X(20).\n",
    )
    plan = compile_plan(parse_copybook(elementary), _options())
    with pytest.raises(ConfigError) as caught:
        HierarchyAssembler(plan)
    assert [error.key for error in caught.value.errors] == ["segment_children"]
    assert "CONTACT is not a group" in str(caught.value)

    clash = COMPANIES.replace("10  COMPANY-NAME    PIC X(20).", "10  DEPT-X          PIC X(20).").replace(
        "10  DEPT-X ", "10  CONTACT"
    )
    with pytest.raises(ConfigError, match="would overwrite the field CONTACT of its parent COMPANY"):
        HierarchyAssembler(compile_plan(parse_copybook(clash), _options()))

    with pytest.raises(ConfigError, match="segment_children: required"):
        HierarchyAssembler(compile_plan(LAYOUT, DecodeOptions(segment_field="SEG-ID", segment_map=SEGMENT_MAP)))


def _feed_all(
    plan: t.Any, records: list[bytes], left_out: frozenset[int] = frozenset()
) -> tuple[list[Hierarchy], list[SegmentHierarchyError]]:
    """Feed records (those numbered in ``left_out`` without a row, as a caller reporting them does)."""
    assembler = HierarchyAssembler(plan, source=SOURCE)
    done: list[Hierarchy] = []
    errors: list[SegmentHierarchyError] = []
    for number, offset, data in _triples(records):
        row = None if number in left_out else decode_record(plan, data)
        try:
            completed = assembler.feed(number, offset, data, row)
        except SegmentHierarchyError as exc:
            errors.append(exc)
            continue
        if completed is not None:
            done.append(completed)
    last = assembler.finish()
    return [*done, *([last] if last else [])], errors


def test_children_of_a_left_out_record_are_errors_not_attached_to_an_earlier_sibling() -> None:
    plan = compile_plan(LAYOUT, _options())
    records = [company(1, "A"), dept(1, "D1", "1"), dept(1, "D2", "2"), employee(1, "E", 1), company(2, "B")]
    (first, second), errors = _feed_all(plan, records, left_out=frozenset({3}))
    assert [entry["DEPT_CODE"] for entry in first.row["COMPANY"]["DEPT"]] == ["D1"]
    assert first.row["COMPANY"]["DEPT"][0]["EMPLOYEE"] == []
    assert (first.record_count, second.record_number) == (4, 5)
    (error,) = errors
    assert (error.record_number, error.segment_id) == (4, "E")
    assert "parent DEPT record 3 was left out" in str(error)


def test_a_left_out_root_completes_the_open_hierarchy_and_orphans_its_children() -> None:
    plan = compile_plan(LAYOUT, _options())
    records = [company(1, "A"), contact(1, "X"), company(2, "B"), dept(2, "D", "1"), company(3, "C")]
    (first, third), errors = _feed_all(plan, records, left_out=frozenset({3}))
    assert (first.record_number, first.record_count, third.record_number) == (1, 2, 5)
    assert [(error.record_number, error.segment_id) for error in errors] == [(4, "D")]
    assert "parent COMPANY record 3 was left out" in str(errors[0])
