"""``headwater copybook`` commands through click's CliRunner."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from headwater.codecs.copybook.encoder import encode_record, frame_vb
from headwater.codecs.copybook.parser import parse_copybook
from headwater.connectors.commands.copybook import copybook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mainframe"
COPYBOOK = str(FIXTURES / "customer.cpy")
GOLDEN = str(FIXTURES / "customer.cp037.dat")

SEGMENTS = """\
       01  REC.
           05  SEG-ID      PIC X.
           05  CUSTOMER.
               10  NAME    PIC X(6).
           05  ACCOUNT REDEFINES CUSTOMER.
               10  AMOUNT  PIC S9(5) COMP-3.
               10  FILLER  PIC X(3).
"""


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(copybook, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_layout_prints_fields() -> None:
    code, out, _ = _run("layout", COPYBOOK)
    assert code == 0
    assert "BALANCE" in out
    assert "S9(7)V99" in out
    assert "COMP-3" in out
    assert "record length: 44" in out


def test_decode_prints_json_lines_with_exact_decimals() -> None:
    code, out, _ = _run("decode", COPYBOOK, GOLDEN, "--code-page", "cp037", "--record-format", "F")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert '"BALANCE":-59.80' in lines[0]
    assert '"RATE":1.2500' in lines[0]
    assert orjson.loads(lines[0])["CUST_NAME"] == "JOHN SMITH"


def test_count_and_debug_hex_and_trim() -> None:
    code, out, _ = _run("decode", COPYBOOK, GOLDEN, GOLDEN, "--count")
    assert (code, orjson.loads(out)) == (0, {"records": 4, "errors": 0})
    code, out, _ = _run("decode", COPYBOOK, GOLDEN, "--debug-hex", "--trim", "none")
    record = orjson.loads(out.splitlines()[0])
    assert record["BALANCE_hex"] == "000005980D"
    assert record["CUST_NAME"] == "JOHN SMITH" + " " * 10


def test_decode_error_goes_to_stderr(tmp_path: Path) -> None:
    data = bytearray(Path(GOLDEN).read_bytes())
    data[44 + 27] = 0xAA  # second record, a digit nibble of BALANCE
    bad = tmp_path / "bad.dat"
    bad.write_bytes(bytes(data))
    code, out, err = _run("decode", COPYBOOK, str(bad))
    assert code == 1
    assert len(out.splitlines()) == 1  # the good first record was printed
    for part in ["bad.dat", "record 2", "byte offset 70", "field BALANCE", "00 AA 05 98 0D"]:
        assert part in err
    code, out, _ = _run("decode", COPYBOOK, str(bad), "--on-error", "null", "--count")
    assert (code, orjson.loads(out)) == (0, {"records": 2, "errors": 1})


def test_variable_blocked_with_segments(tmp_path: Path) -> None:
    cpy = tmp_path / "seg.cpy"
    cpy.write_text(SEGMENTS)
    layout = parse_copybook(SEGMENTS)
    records = [
        encode_record(layout, {"SEG_ID": "C", "CUSTOMER": {"NAME": "ANN"}}),
        encode_record(layout, {"SEG_ID": "A", "ACCOUNT": {"AMOUNT": Decimal(-12)}}),
    ]
    data = tmp_path / "seg.dat"
    framed = frame_vb(records, rdw_big_endian=False, bdw_big_endian=False, rdw_adjustment=4, bdw_adjustment=4)
    data.write_bytes(b"HEADER" + framed)
    code, out, err = _run(
        "decode", str(cpy), str(data), "--record-format", "VB", "--rdw-endian", "little",
        "--bdw-endian", "little", "--rdw-adjustment", "4", "--bdw-adjustment", "4", "--file-start-offset", "6",
        "--segment-field", "SEG-ID", "--segment-map", "C=CUSTOMER", "--segment-map", "A=ACCOUNT",
        "--segment-filter", "A",
    )  # fmt: skip
    assert code == 0, err
    assert [orjson.loads(line) for line in out.splitlines()] == [
        {"SEG_ID": "A", "CUSTOMER": None, "ACCOUNT": {"AMOUNT": -12}}
    ]


@pytest.mark.parametrize(
    "options",
    [
        ["--record-format", "FB", "--records-per-block", "1"],
        ["--record-format", "FB", "--block-length", "44"],
        ["--record-length", "44", "--record-start-offset", "0", "--record-end-offset", "0"],
        ["--relaxed-sign", "--float-format", "ieee", "--variable-size-occurs", "--file-end-offset", "0"],
        ["--code-page", "cp1047", "--bdw-endian", "big", "--rdw-endian", "big"],
    ],
)
def test_option_names(options: list[str]) -> None:
    code, out, err = _run("decode", COPYBOOK, GOLDEN, "--count", *options)
    assert code == 0, err
    assert orjson.loads(out)["records"] == 2


def test_code_page_file_and_record_length_field(tmp_path: Path) -> None:
    table = tmp_path / "page.txt"
    table.write_text(bytes(range(256)).decode("cp037"), encoding="utf-8")
    cpy = tmp_path / "len.cpy"
    cpy.write_text("01 R.\n  05 LEN PIC 9(2).\n  05 BODY PIC X(10).\n")
    data = tmp_path / "len.dat"
    data.write_bytes(b"\xf0\xf4\xc1\xc2" + b"\xf0\xf3\xc3")
    code, out, err = _run(
        "decode", str(cpy), str(data), "--code-page-file", str(table), "--record-length-field", "LEN",
        "--on-error", "null",
    )  # fmt: skip
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert lines[0]["BODY"] is None
    assert lines[0]["_errors"][0]["field"] == "BODY"
    assert len(lines) == 2


def test_bad_copybook_and_bad_rdw(tmp_path: Path) -> None:
    cpy = tmp_path / "bad.cpy"
    cpy.write_text("01 R.\n  05 A PIC X(2) NONSENSE.\n")
    code, _, err = _run("decode", str(cpy), GOLDEN)
    assert code == 1
    assert "line 2, column 17" in err
    code, _, err = _run("decode", COPYBOOK, GOLDEN, "--record-format", "V")
    assert code == 1
    assert "RDW" in err
    assert "customer.cp037.dat" in err
    assert "record 1" in err


def _hierarchy_args(tmp_path: Path, records: list[bytes]) -> list[str]:
    from test_copybook_hierarchy import COMPANIES

    copybook_path = tmp_path / "company.cpy"
    copybook_path.write_text(COMPANIES)
    data = tmp_path / "COMPANY.F"
    data.write_bytes(b"".join(records))
    return [
        "decode", str(copybook_path), str(data), "--segment-field", "SEG-ID",
        "--segment-map", "C=COMPANY", "--segment-map", "D=DEPT", "--segment-map", "E=EMPLOYEE",
        "--segment-map", "P=CONTACT",
        "--segment-children", "COMPANY=DEPT,CONTACT", "--segment-children", "DEPT=EMPLOYEE",
    ]  # fmt: skip


def test_decode_segment_children_prints_one_object_per_root(tmp_path: Path) -> None:
    from test_copybook_hierarchy import company, contact, dept, employee

    records = [company(1, "ACME"), dept(1, "D1", "12.50"), employee(1, "ADA", 5), contact(1, "555"), company(2, "B")]
    code, out, err = _run(*_hierarchy_args(tmp_path, records))
    assert (code, err) == (0, "")
    first, second = (orjson.loads(line) for line in out.splitlines())
    assert first == {
        "SEG_ID": "C",
        "COMPANY_ID": 1,
        "COMPANY": {
            "COMPANY_NAME": "ACME",
            "DEPT": [{"DEPT_CODE": "D1", "BUDGET": 12.5, "EMPLOYEE": [{"EMP_NAME": "ADA", "SALARY": 5}]}],
            "CONTACT": [{"PHONE": "555"}],
        },
    }
    assert '"BUDGET":12.50' in out.splitlines()[0]
    assert second["COMPANY"] == {"COMPANY_NAME": "B", "DEPT": [], "CONTACT": []}
    code, out, _ = _run(*_hierarchy_args(tmp_path, records), "--count")
    assert (code, orjson.loads(out)) == (0, {"records": 2, "errors": 0})


def test_decode_segment_children_errors(tmp_path: Path) -> None:
    from test_copybook_hierarchy import company, employee

    code, out, err = _run(*_hierarchy_args(tmp_path, [employee(1, "EARLY", 1), company(1, "A")]))
    assert (code, out) == (1, "")
    assert "COMPANY.F: record 1 at byte offset 0, segment id 'E'" in err
    assert "before the first root" in err

    code, _, err = _run(*_hierarchy_args(tmp_path, [company(1, "A")]), "--segment-children", "DEPT=BRANCH")
    assert code == 1
    assert "segment_children" in err
    assert "BRANCH is not a REDEFINES named in segment_map" in err

    code, _, err = _run(*_hierarchy_args(tmp_path, [company(1, "A")]), "--segment-children", "COMPANY")
    assert code == 2
    assert "PARENT=CHILD1,CHILD2" in err


def test_layout_notes_column_7_levels_and_77_items(tmp_path: Path) -> None:
    book = tmp_path / "col7.cpy"
    book.write_text("      01  R.\n      05  A  PIC X(2).\n      77  K  PIC 9.\n")
    code, out, _ = _run("layout", str(book))
    assert code == 0
    assert "note: fixed format: level numbers start in column 7" in out
    assert "standalone item: not part of the record" in out
    assert "record length: 2" in out


def test_decode_copy_members_from_a_library_folder(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "ADDR.cpy").write_text("           05  :P:-CITY  PIC X(3).\n")
    book = tmp_path / "main.cpy"
    book.write_text("       01  R.\n           05  ID  PIC 9.\n           COPY ADDR REPLACING ==:P:== BY ==HOME==.\n")
    data = tmp_path / "data.bin"
    data.write_bytes("1NYC".encode("cp037"))
    code, out, err = _run("decode", str(book), str(data), "--copybook-dir", str(library))
    assert code == 0, err
    assert orjson.loads(out) == {"ID": 1, "HOME_CITY": "NYC"}
    code, _, err = _run("decode", str(book), str(data))
    assert code == 1 and "COPY ADDR: member not found" in err


def test_decode_prints_integers_wider_than_64_bits(tmp_path: Path) -> None:
    book = tmp_path / "wide.cpy"
    book.write_text("       01  R.\n           05  N  PIC 9(20).\n")
    data = tmp_path / "data.bin"
    data.write_bytes("98765432109876543210".encode("cp037"))
    code, out, err = _run("decode", str(book), str(data))
    assert code == 0, err
    assert out.strip() == '{"N":98765432109876543210}'


def test_vb_file_read_as_f_names_the_record_format(tmp_path: Path) -> None:
    book = tmp_path / "vb.cpy"
    book.write_text("       01  R.\n           05  A  PIC X(5).\n           05  N  PIC 9(3).\n")
    layout = parse_copybook(book.read_text())
    records = [encode_record(layout, {"A": f"R{i}", "N": i}) for i in range(6)]
    data = tmp_path / "data.vb"
    data.write_bytes(frame_vb(records, records_per_block=3))
    code, _, err = _run("decode", str(book), str(data))
    assert code == 1
    assert "looks like VB" in err and "--record-format VB" in err


def test_little_endian_descriptors_and_excluded_header_are_read(tmp_path: Path) -> None:
    book = tmp_path / "v.cpy"
    book.write_text("       01  R.\n           05  A  PIC X(3).\n")
    body = b"".join(b"\x00\x00" + (3).to_bytes(2, "little") + text.encode("cp037") for text in ("abc", "def", "ghi"))
    data = tmp_path / "data.v"
    data.write_bytes(body)
    code, out, err = _run("decode", str(book), str(data), "--record-format", "V", "--rdw-endian", "little")
    assert code == 0, err
    assert [orjson.loads(line)["A"] for line in out.splitlines()] == ["abc", "def", "ghi"]


def test_decode_command_starts_without_the_runtime() -> None:
    """`copybook decode` is a quick tool: loading it must not import the runtime or pydantic
    (about 0.15 s of a 1 s run on a 50 MB file), while the plugin API still loads on demand."""
    import subprocess
    import sys

    probe = (
        "import sys, headwater.connectors.cli, headwater.connectors.commands.copybook\n"
        "heavy = sorted(m for m in ('pydantic', 'headwater.connectors.api', 'confluent_kafka') if m in sys.modules)\n"
        "from headwater.connectors import SourceTask, ConfigError, PluginConfig\n"
        "print(heavy, SourceTask.__name__, ConfigError.__name__, PluginConfig.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "SourceTask", "ConfigError", "PluginConfig"]
