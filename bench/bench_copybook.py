"""Benchmark: copybook decode throughput on one core vs a plain ``bytes.decode('cp037')``.

A 500-byte record of 40 fields (text, zoned, packed, binary) is encoded with the test-data
encoder, repeated to about 50 MB and decoded in batches with ``decode_batch`` (the path
the connector uses for F/FB). The floor is decoding the same bytes as one cp037 string,
measured in the same run. Run: ``.venv/bin/python bench/bench_copybook.py [--mb 50]``;
``--write`` updates the ``## Copybook decode`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from decimal import Decimal

from report import machine_description, write_section

from headwater.codecs.copybook import native
from headwater.codecs.copybook.decoder import compile_plan, decode_batch
from headwater.codecs.copybook.encoder import encode_record
from headwater.codecs.copybook.parser import parse_copybook

COPYBOOK = """
       01  BENCH-RECORD.
           05  ACCOUNT-ID          PIC 9(10).
           05  CUSTOMER-NAME       PIC X(30).
           05  ADDRESS-LINE-1      PIC X(40).
           05  ADDRESS-LINE-2      PIC X(40).
           05  CITY                PIC X(20).
           05  STATE               PIC XX.
           05  ZIP                 PIC 9(5).
           05  PHONE               PIC X(12).
           05  BALANCE             PIC S9(11)V99 COMP-3.
           05  CREDIT-LIMIT        PIC S9(9)V99 COMP-3.
           05  LAST-PAYMENT        PIC S9(7)V99 COMP-3.
           05  OPEN-DATE           PIC 9(8).
           05  CLOSE-DATE          PIC 9(8).
           05  STATUS-CODE         PIC X.
           05  BRANCH              PIC S9(4) COMP.
           05  OFFICER             PIC S9(9) COMP.
           05  TXN-COUNT           PIC S9(18) COMP.
           05  RATE                PIC S9(3)V9(4) COMP-3.
           05  FEES                PIC S9(7)V99.
           05  INTEREST            PIC S9(7)V99.
           05  POINTS              PIC 9(7).
           05  SEGMENT             PIC X(4).
           05  EMAIL               PIC X(40).
           05  NOTES               PIC X(60).
           05  TAX-ID              PIC 9(9).
           05  RISK-SCORE          PIC S9(3) COMP-3.
           05  LIMIT-USED          PIC S9(5)V99 COMP-3.
           05  CYCLE-DAY           PIC 99.
           05  MIN-DUE             PIC S9(7)V99 COMP-3.
           05  PAST-DUE            PIC S9(7)V99 COMP-3.
           05  AUTOPAY             PIC X.
           05  CURRENCY            PIC X(3).
           05  COUNTRY             PIC X(2).
           05  PRODUCT             PIC X(8).
           05  CHANNEL             PIC X(6).
           05  REGION              PIC S9(4) COMP.
           05  SCORE-DATE          PIC 9(8).
           05  ADJUSTMENT          PIC S9(5)V99.
           05  REWARDS             PIC S9(9) COMP.
           05  FILLER              PIC X(91).
"""


def _values(rng: random.Random) -> dict[str, object]:
    def text(n: int) -> str:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ ") for _ in range(rng.randint(1, n))).strip() or "X"

    def dec(digits: int, scale: int) -> Decimal:
        return Decimal(rng.randint(-(10**digits) + 1, 10**digits - 1)).scaleb(-scale)

    return {
        "ACCOUNT_ID": rng.randint(0, 10**10 - 1), "CUSTOMER_NAME": text(30),
        "ADDRESS_LINE_1": text(40), "ADDRESS_LINE_2": text(40), "CITY": text(20),
        "STATE": "NY", "ZIP": rng.randint(0, 99999), "PHONE": "555-0100",
        "BALANCE": dec(13, 2), "CREDIT_LIMIT": dec(11, 2), "LAST_PAYMENT": dec(9, 2),
        "OPEN_DATE": 20200101, "CLOSE_DATE": 20261231, "STATUS_CODE": "A",
        "BRANCH": rng.randint(-9999, 9999), "OFFICER": rng.randint(-(10**9) + 1, 10**9 - 1),
        "TXN_COUNT": rng.randint(0, 10**18 - 1), "RATE": dec(7, 4), "FEES": dec(9, 2),
        "INTEREST": dec(9, 2), "POINTS": rng.randint(0, 10**7 - 1), "SEGMENT": "RETL",
        "EMAIL": text(40), "NOTES": text(60), "TAX_ID": rng.randint(0, 10**9 - 1),
        "RISK_SCORE": rng.randint(-999, 999), "LIMIT_USED": dec(7, 2), "CYCLE_DAY": 15,
        "MIN_DUE": dec(9, 2), "PAST_DUE": dec(9, 2), "AUTOPAY": "Y", "CURRENCY": "USD",
        "COUNTRY": "US", "PRODUCT": "GOLD", "CHANNEL": "WEB", "REGION": rng.randint(0, 9999),
        "SCORE_DATE": 20250601, "ADJUSTMENT": dec(7, 2), "REWARDS": rng.randint(0, 10**9 - 1),
    }  # fmt: skip


def _best(function: object, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=50.0, help="data size in MB")
    parser.add_argument("--batch", type=int, default=10_000, help="records per decode_batch call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    layout = parse_copybook(COPYBOOK)
    length = layout.record_length
    fields = sum(1 for f in layout.fields() if not f.is_group and not f.is_filler)
    rng = random.Random(42)
    distinct = b"".join(encode_record(layout, _values(rng)) for _ in range(2000))
    count = int(args.mb * 1e6) // length
    data = (distinct * (count // 2000 + 1))[: count * length]
    plan = compile_plan(layout)
    batch_bytes = args.batch * length
    view = memoryview(data)

    def decode_all() -> None:
        for start in range(0, len(data), batch_bytes):
            decode_batch(plan, view[start : start + batch_bytes], length)

    def floor() -> None:
        data.decode("cp037")

    decode_all()  # warm-up: compiles the batch program
    compiled = native.native_program(plan) is not None
    seconds = _best(decode_all, args.repeats)
    native.ENABLED = False
    try:
        decode_all()
        numpy_seconds = _best(decode_all, args.repeats)
    finally:
        native.ENABLED = compiled
    floor_seconds = _best(floor, args.repeats)
    megabytes = len(data) / 1e6
    lines = [
        "## Copybook decode",
        "",
        f"Machine: {machine_description()}; one core (single process, single thread).",
        "",
        f"Layout: {length}-byte record, {fields} fields (text, zoned, packed COMP-3, binary COMP); "
        f"{count:,} records = {megabytes:.1f} MB; `decode_batch` in batches of {args.batch:,} "
        f"records to dicts (Decimal for scaled numbers); best of {args.repeats} runs.",
        "",
        "| Path | MB/s | records/s |",
        "|---|---:|---:|",
        f"| `decode_batch`, {'compiled core' if compiled else 'compiled core NOT BUILT: numpy path'} "
        f"| {megabytes / seconds:,.1f} | {count / seconds:,.0f} |",
        f"| `decode_batch`, numpy columns (the fallback) | {megabytes / numpy_seconds:,.1f} "
        f"| {count / numpy_seconds:,.0f} |",
        f"| floor: `bytes.decode('cp037')` of the same file "
        f"| {megabytes / floor_seconds:,.1f} | {count / floor_seconds:,.0f} |",
        "",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} shared cores.",
        "",
        "Reproduce: `.venv/bin/python bench/bench_copybook.py --write`.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
