"""Headwater against Cobrix 2.6.9 on the same copybooks and bytes, field by field.

Generated cases (``cobrix_cases.make_case``) cover every USAGE, picture and sign form, OCCURS
and ODO, REDEFINES, FILLERs, code pages and the F/FB/V/VB record formats with both
descriptor conventions and endiannesses; a bounded number runs in CI, a larger sweep is
marked ``slow``. Targeted cases pin each user-facing gap of issue 12 and each deliberate
difference listed in the README's mainframe section ("Headwater and Cobrix").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from cobrix_cases import make_case
from cobrix_harness import CobrixOracle
from cobrix_headwater_side import compare, headwater_decode

CI_CASES = 40
SLOW_CASES = 600


def _errors_of(record: dict[str, Any]) -> frozenset[str]:
    return frozenset(error["field"] for error in record.get("_errors", ()))


def _check(cobrix: CobrixOracle, copybook: str, data: bytes, options: dict[str, Any], label: str) -> None:
    theirs = cobrix.decode(copybook, data, options)
    ours = headwater_decode(copybook, data, options)
    assert theirs.error is None, f"{label}: Cobrix failed: {theirs.error}\n{copybook}"
    assert ours.error is None, f"{label}: Headwater failed: {ours.error!r}\n{copybook}"
    assert ours.records is not None and theirs.records is not None
    assert len(ours.records) == len(theirs.records), f"{label}: record counts differ\n{copybook}"
    problems = []
    for number, (mine, other) in enumerate(zip(ours.records, theirs.records, strict=True), start=1):
        for diff in compare(mine, other, errors=_errors_of(mine)):
            problems.append(f"record {number}: {diff}")
    assert not problems, f"{label}:\n{copybook}\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("seed", range(CI_CASES))
def test_generated_cases_decode_as_cobrix_does(cobrix: CobrixOracle, seed: int) -> None:
    case = make_case(seed)
    _check(cobrix, case.copybook, case.data, case.options, ", ".join(case.description))


@pytest.mark.sweep
def test_generated_sweep(cobrix: CobrixOracle) -> None:
    for seed in range(CI_CASES, CI_CASES + SLOW_CASES):
        case = make_case(seed)
        _check(cobrix, case.copybook, case.data, case.options, ", ".join(case.description))


def _e(text: str) -> bytes:
    return text.encode("cp037")


# ------------------------------------------------------------------ issue 12, one by one


def _both(cobrix: CobrixOracle, copybook: str, data: bytes, **options: Any) -> tuple[list[Any], list[Any]]:
    theirs = cobrix.decode(copybook, data, options)
    ours = headwater_decode(copybook, data, options)
    assert theirs.error is None, theirs.error
    assert ours.error is None, repr(ours.error)
    assert ours.records is not None and theirs.records is not None
    return ours.records, theirs.records


def test_level_numbers_in_column_7(cobrix: CobrixOracle) -> None:
    copybook = "      01  R.\n      05  A      PIC X(2).\n      *05  C     PIC X(2).\n      05  B      PIC 9(2).\n"
    ours, theirs = _both(cobrix, copybook, _e("ab12"))
    assert ours == theirs == [{"A": "ab", "B": 12}]
    from headwater.codecs.copybook import parse_copybook

    assert "column 7" in parse_copybook(copybook).notes[0]


def test_occurs_depending_on_without_a_minimum(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  N  PIC 9.\n           05  A  PIC X OCCURS 80 DEPENDING ON N.\n"
    data = _e("1a".ljust(81))
    ours, theirs = _both(cobrix, copybook, data)
    assert ours == theirs == [{"N": 1, "A": ["a"]}]
    ours, theirs = _both(cobrix, copybook, _e("0".ljust(81)))
    assert ours == theirs == [{"N": 0, "A": []}]


@pytest.mark.parametrize("includes", [True, False])
def test_little_endian_descriptors_in_cobrix_form(cobrix: CobrixOracle, includes: bool) -> None:
    copybook = "       01  R.\n           05  A  PIC X(3).\n"
    records = [_e("abc"), _e("de"), _e("fghi")[:3]]
    extra = 4 if includes else 0
    body = b"".join(b"\x00\x00" + (len(r) + extra).to_bytes(2, "little") + r for r in records)
    data = b"\x00\x00" + len(body).to_bytes(2, "little") + body  # BDW: Cobrix excludes the header
    options = {"record_format": "VB", "rdw_adjustment": -4 if includes else 0, "allow_short_records": True}
    ours, theirs = _both(cobrix, copybook, data, **options)
    assert ours == theirs == [{"A": "abc"}, {"A": "de"}, {"A": "fgh"}]


def test_descriptor_convention_is_detected() -> None:
    """Payload-only RDW lengths decode without any option (the IBM reading cannot fit them)."""
    from headwater.codecs.copybook import RecordFormat, RecordFormatOptions
    from headwater.codecs.copybook.records import split_records

    records = [_e("abc"), _e("de"), _e("fgh")] * 3
    data = b"".join(len(r).to_bytes(2, "big") + b"\x00\x00" + r for r in records)
    split = list(split_records(data, RecordFormatOptions(record_format=RecordFormat.V)))
    assert [r.data for r in split] == records
    ibm = b"".join((len(r) + 4).to_bytes(2, "big") + b"\x00\x00" + r for r in records)
    assert [r.data for r in split_records(ibm, RecordFormatOptions(record_format=RecordFormat.V))] == records


def test_descriptor_error_names_the_adjustment_that_fits() -> None:
    from headwater.codecs.copybook import FramingError, RecordFormat, RecordFormatOptions
    from headwater.codecs.copybook.records import split_records

    records = [_e("abc"), _e("de"), _e("fgh")] * 3
    data = b"".join(len(r).to_bytes(2, "big") + b"\x00\x00" + r for r in records)
    options = RecordFormatOptions(record_format=RecordFormat.V, rdw_includes_header=True)
    with pytest.raises(FramingError, match="--rdw-includes-header false"):
        list(split_records(data, options))


def test_cobrix_code_page_tables_by_name(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  C  PIC X(1) OCCURS 256 TIMES.\n"
    for page in ("common", "common_extended", "cp037_extended"):
        options = {"ebcdic_code_page": page, "string_trimming_policy": "none", "improved_null_detection": False}
        ours, theirs = _both(cobrix, copybook, bytes(range(256)), **options)
        assert ours == theirs, page


def test_display_numbers_with_explicit_point_and_spaces(cobrix: CobrixOracle) -> None:
    copybook = (
        "       01  R.\n           05  A  PIC 9(8).9(2).\n           05  B  PIC S9(3).\n"
        "           05  C  PIC S9(3) SIGN LEADING.\n"
    )
    data = _e("     123.45") + b"\xf1\xf2\xc3\x40"[:3] + b"\xd1\xf2\xf3"
    ours, theirs = _both(cobrix, copybook, data)
    assert ours == theirs == [{"A": Decimal("123.45"), "B": 123, "C": -123}]
    # Relaxed: a trailing space after an overpunched last digit.
    data = _e("   -123.45".rjust(11))[:0] + _e("     123.45") + b"\xf1\xc2\x40" + b"\xd1\xf2\xf3"
    ours, theirs = _both(cobrix, copybook, data, strict_sign_overpunching=False)
    assert ours == theirs == [{"A": Decimal("123.45"), "B": 12, "C": -123}]


def test_field_level_code_pages(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  A  PIC X(2).\n           05  B  PIC X(2).\n"
    data = bytes([0x4A, 0xC1, 0x4A, 0xC1])  # cp037: cent sign, 'A'; common: space, 'A'
    ours, theirs = _both(cobrix, copybook, data, **{"field_code_page:cp037": "B"})
    assert ours == theirs == [{"A": "A", "B": "¢A"}]


def test_short_records_in_fb_blocks(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  A  PIC X(2).\n           05  B  PIC 9(3).\n           05  C  PIC X(3).\n"
    data = b"\x00\x0a\x00\x00" + _e("ab123abcde")
    options = {"record_format": "FB", "is_bdw_big_endian": True, "allow_short_records": True}
    ours, theirs = _both(cobrix, copybook, data, **options)
    assert ours == theirs == [{"A": "ab", "B": 123, "C": "abc"}, {"A": "de", "B": None, "C": None}]
    strict = headwater_decode(copybook, data, {**options, "allow_short_records": False})
    assert strict.error is not None and "not a multiple of the record length" in str(strict.error)


def test_copy_members_decode_as_the_inlined_copybook(cobrix: CobrixOracle, tmp_path: Any) -> None:
    from headwater.codecs.copybook import compile_plan, decode_record, parse_copybook

    member = "           05  :PFX:-NAME   PIC X(3).\n           05  :PFX:-CODE   PIC 9(2).\n"
    main = "       01  R.\n           05  ID  PIC X.\n           COPY CUSTPART REPLACING ==:PFX:== BY ==CUST==.\n"
    inlined = "       01  R.\n           05  ID  PIC X.\n" + member.replace(":PFX:", "CUST")
    data = _e("1abc42")
    theirs = cobrix.decode(inlined, data, {"ebcdic_code_page": "cp037"})
    layout = parse_copybook(main, include={"CUSTPART": member}.__getitem__)
    assert theirs.records == [decode_record(compile_plan(layout), data)]


def test_relaxed_sign_only_at_the_sign_position() -> None:
    copybook = "       01  R.\n           05  A  PIC 9(5)V99.\n"
    outcome = headwater_decode(copybook, bytes.fromhex("F0F0D1F2F3F4C5"), {"strict_sign_overpunching": False})
    assert outcome.records is not None
    record = outcome.records[0]
    assert record["A"] is None and "position 2" in record["_errors"][0]["reason"]
    outcome = headwater_decode(copybook, bytes.fromhex("F0F0F1F2F3F4C5"), {"strict_sign_overpunching": False})
    assert outcome.records == [{"A": Decimal("123.45")}]


# ---------------------------------------------------------- deliberate differences (README)


def test_invalid_digits_are_an_error_not_a_silent_null(cobrix: CobrixOracle) -> None:
    """Cobrix reads '1 2' and a sign in the middle as numbers; Headwater reports them."""
    copybook = "       01  R.\n           05  A  PIC 9(3).\n           05  B  PIC S9(3).\n"
    data = _e("1 2") + bytes.fromhex("F1D2F3")
    theirs = cobrix.decode(copybook, data, {"ebcdic_code_page": "cp037"})
    assert theirs.records == [{"A": 12, "B": -123}]
    ours = headwater_decode(copybook, data, {})
    assert ours.records is not None
    assert ours.records[0]["A"] is None and ours.records[0]["B"] is None
    assert [error["field"] for error in ours.records[0]["_errors"]] == ["A", "B"]


def test_odo_count_beyond_the_maximum_is_an_error(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  N  PIC 9.\n           05  A  PIC X OCCURS 2 DEPENDING ON N.\n"
    theirs = cobrix.decode(copybook, _e("7ab"), {})
    assert theirs.records == [{"N": 7, "A": ["a", "b"]}]  # Cobrix clamps
    ours = headwater_decode(copybook, _e("7ab"), {})
    assert ours.records is not None and "outside 0 to 2" in ours.records[0]["_errors"][0]["reason"]


def test_truncated_last_fixed_record_is_an_error(cobrix: CobrixOracle) -> None:
    copybook = "       01  R.\n           05  A  PIC X(4).\n"
    theirs = cobrix.decode(copybook, _e("abcdef"), {})
    assert theirs.records == [{"A": "abcd"}]  # Cobrix drops the 2 trailing bytes silently
    ours = headwater_decode(copybook, _e("abcdef"), {})
    assert ours.error is not None and "truncated record: 2 bytes left" in str(ours.error)
