"""Copybook parser: source formats, clauses, pictures, offsets and syntax errors."""

from __future__ import annotations

import pytest
from mainframe_samples import CUSTOMER

from headwater.codecs.copybook.errors import CopybookSyntaxError
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.copybook.picture import Category, Usage, parse_picture


def _fixed(*lines: str) -> str:
    """Fixed-format source: sequence area + indicator column + code."""
    return "\n".join(line if line[:1] in "0123456789" else "000000" + line for line in lines) + "\n"


def test_fixed_format_sequence_area_comments_and_col72_cutoff() -> None:
    layout = parse_copybook(CUSTOMER)
    names = [(f.name, f.offset, f.length) for f in layout.fields()]
    assert names == [
        ("CUSTOMER-RECORD", 0, 44),
        ("CUST-ID", 0, 6),
        ("CUST-NAME", 6, 20),
        ("BALANCE", 26, 5),
        ("STATUS-CODE", 31, 1),
        ("BRANCH", 32, 2),
        ("RATE", 34, 7),
        ("FILLER", 41, 3),
    ]
    assert layout.record_length == 44
    assert layout.find("STATUS_CODE").conditions[0].name == "ACTIVE"


def test_continuation_of_word_and_literal() -> None:
    source = _fixed(
        " 01  REC.",
        "     05  LONG-NA",
        "-        ME PIC X(3) VALUE 'AB",
        "-    'C'.",
    )
    layout = parse_copybook(source, source_format="fixed")
    assert layout.find("LONG-NAME").length == 3


def test_free_format_and_inline_comments() -> None:
    layout = parse_copybook("01 R. *> record\n  05 A PIC X(2).\n* comment\n  05 B PIC 9(3) COMP-3.\n")
    assert [f.name for f in layout.fields()] == ["R", "A", "B"]
    assert layout.find("B").length == 2


def test_levels_66_77_88_and_redefines() -> None:
    layout = parse_copybook(
        """
       01  REC.
           05  KIND        PIC X.
               88  IS-A    VALUES 'A' 'B' THRU 'D'.
           05  BODY        PIC X(10).
           05  NUMS REDEFINES BODY.
               10  N1      PIC 9(5).
               10  N2      PIC 9(5).
           05  TAIL        PIC X.
       66  KEY-PART RENAMES KIND THRU BODY.
       77  STANDALONE      PIC 9.
"""
    )
    assert layout.find("NUMS").offset == 1
    assert layout.find("N2").offset == 6
    assert layout.find("TAIL").offset == 11
    assert layout.renames[0].name == "KEY-PART"
    assert layout.renames[0].through == "BODY"
    assert layout.find("KIND").conditions[0].values == ("'A'", "'B' THRU 'D'")
    assert layout.roots[-1].level == 77


def test_occurs_depending_on_and_ignored_clauses() -> None:
    layout = parse_copybook(
        """
       01  REC.
           05  CNT     PIC S9(4) COMP SYNC.
           05  ITEM    OCCURS 1 TO 3 TIMES DEPENDING ON CNT
                       ASCENDING KEY IS CODE INDEXED BY IX1 IX2.
               10  CODE  PIC X(2) JUSTIFIED RIGHT.
               10  AMT   PIC S9(3)V99 COMP-3 BLANK WHEN ZERO.
           05  AFTER   PIC X VALUE SPACES.
"""
    )
    item = layout.find("ITEM")
    assert item.occurs is not None
    assert (item.occurs.minimum, item.occurs.maximum, item.occurs.depending_on) == (1, 3, "CNT")
    assert item.length == 5
    assert layout.find("AFTER").offset == 2 + 15
    assert layout.variable


@pytest.mark.parametrize(
    ("picture", "category", "digits", "scale", "signed", "size"),
    [
        ("S9(5)V99", Category.NUMERIC, 7, 2, True, 7),
        ("9(3)PP", Category.NUMERIC, 3, -2, False, 3),
        ("SPPP9(2)", Category.NUMERIC, 2, 5, True, 2),
        ("X(10)", Category.ALPHANUMERIC, 0, 0, False, 10),
        ("A(3)", Category.ALPHABETIC, 0, 0, False, 3),
        ("ZZ,ZZ9.99-", Category.NUMERIC_EDITED, 7, 2, True, 10),
        ("9(8).9(2)", Category.NUMERIC_EDITED, 10, 2, False, 11),
        ("Z(4)9.99CR", Category.NUMERIC_EDITED, 7, 2, True, 10),
        ("+9(3)", Category.NUMERIC_EDITED, 3, 0, True, 4),
    ],
)
def test_pictures(picture: str, category: Category, digits: int, scale: int, signed: bool, size: int) -> None:
    parsed = parse_picture(picture)
    assert (parsed.category, parsed.digits, parsed.scale, parsed.signed, parsed.size) == (
        category, digits, scale, signed, size,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("usage_clause", "usage", "length"),
    [
        ("PIC S9(4) COMP", Usage.BINARY, 2),
        ("PIC S9(9) BINARY", Usage.BINARY, 4),
        ("PIC 9(18) COMP-4", Usage.BINARY, 8),
        ("PIC S9(5) COMP-5", Usage.NATIVE_BINARY, 4),
        ("PIC S9(7) PACKED-DECIMAL", Usage.PACKED, 4),
        ("PIC 9(7) COMP-3U", Usage.PACKED_UNSIGNED, 4),
        ("COMP-1", Usage.FLOAT, 4),
        ("USAGE IS COMP-2", Usage.DOUBLE, 8),
        ("PIC S9(5) SIGN LEADING SEPARATE CHARACTER", Usage.DISPLAY, 6),
        ("PIC S9(5) SIGN IS TRAILING", Usage.DISPLAY, 5),
    ],
)
def test_usages(usage_clause: str, usage: Usage, length: int) -> None:
    layout = parse_copybook(f"01 R.\n  05 F {usage_clause}.\n", source_format="free")
    item = layout.find("F")
    assert (item.usage, item.length) == (usage, length)


@pytest.mark.parametrize(
    ("source", "line", "column", "text"),
    [
        ("01 R.\n  05 A PIC X(2) FOO.\n", 2, 17, "FOO"),
        ("01 R.\n  05 A PIC X(2)\n", 2, 16, "period"),
        ("01 R.\n  05 A PIC 9(0).\n", 2, 14, "repeat count"),
        ("01 R.\n  05 A PIC X.\n  05 B REDEFINES Z PIC X.\n", 3, 3, "REDEFINES"),
        ("01 R.\n  05 A OCCURS 2 DEPENDING ON NOPE PIC X.\n", 2, 8, "NOPE"),
        ("01 R.\n  05 A USAGE WEIRD.\n", 2, 14, "USAGE"),
        ("01 R.\n  05 A COMP-3.\n", 2, 3, "PICTURE"),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int, text: str) -> None:
    with pytest.raises(CopybookSyntaxError) as caught:
        parse_copybook(source, source_format="free", source="bad.cpy")
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert text in str(error)
    assert f"line {line}, column {column}" in str(error)
    assert "bad.cpy" in str(error)


def test_fixed_format_error_columns_count_the_sequence_area() -> None:
    with pytest.raises(CopybookSyntaxError) as caught:
        parse_copybook("000100 01  R.\n000200     05  A PIC X BAD.\n")
    assert (caught.value.line, caught.value.column) == (2, 24)
