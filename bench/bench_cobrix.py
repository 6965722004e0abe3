"""Benchmark: Headwater's copybook decoder and Cobrix's reader on the same file and core.

The 500-byte, 40-field record of ``bench_copybook.py`` repeated to ``--mb`` MB, as an F
file in cp037. Cobrix 2.6.9 (``cobol-parser``, run through the differential-test driver in
``tests/cobrix``) decodes it ``--rounds`` times in one warm JVM, to ordered maps; Headwater
decodes it with ``decode_batch`` (the API the source uses for fixed records) to dicts,
alternating with Cobrix's rounds. The best round of each side is reported, with the ratio.

Run: ``.venv/bin/python bench/bench_cobrix.py [--mb 50] [--rounds 6] [--write]``; ``--write``
updates the ``## Headwater vs Cobrix`` section of bench/RESULTS.md. Needs java, javac and
Maven (the first run fetches Cobrix's jars).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench_copybook import COPYBOOK, _values
from report import machine_description, write_section

from headwater.codecs.copybook.decoder import compile_plan, decode_batch
from headwater.codecs.copybook.encoder import encode_record
from headwater.codecs.copybook.parser import parse_copybook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cobrix"))
from cobrix_harness import COBRIX_VERSION, CobrixOracle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=50.0, help="data size in MB")
    parser.add_argument("--batch", type=int, default=10_000, help="records per decode_batch call")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    layout = parse_copybook(COPYBOOK)
    length = layout.record_length
    fields = sum(1 for f in layout.fields() if not f.is_group and not f.is_filler)
    rng = random.Random(42)
    distinct = b"".join(encode_record(layout, _values(rng)) for _ in range(2000))
    count = int(args.mb * 1e6) // length
    data = (distinct * (count // 2000 + 1))[: count * length]
    megabytes = len(data) / 1e6
    plan = compile_plan(layout)
    view = memoryview(data)
    batch_bytes = args.batch * length

    def headwater_round() -> float:
        start = time.perf_counter()
        decoded = 0
        for begin in range(0, len(data), batch_bytes):
            decoded += len(decode_batch(plan, view[begin : begin + batch_bytes], length))
        assert decoded == count
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="bench-cobrix-") as work:
        oracle = CobrixOracle(Path(work))
        try:
            options = {"ebcdic_code_page": "cp037", "record_format": "F"}
            sample = oracle.decode(COPYBOOK, data[: 3 * length], options)
            assert sample.records is not None, sample.error
            ours = decode_batch(plan, data[: 3 * length], length)
            assert [r["ACCOUNT_ID"] for r in ours] == [r["ACCOUNT_ID"] for r in sample.records]
            headwater_round()  # warm-up: compiles the batch program
            cobrix_times: list[float] = []
            headwater_times: list[float] = []
            for _ in range(args.rounds):
                rounds = oracle.bench(COPYBOOK, data, options, 1)
                assert rounds[0][0] == count
                cobrix_times.append(rounds[0][1])
                headwater_times.append(headwater_round())
        finally:
            oracle.close()
    cobrix_best, headwater_best = min(cobrix_times), min(headwater_times)
    cobrix_rate, headwater_rate = megabytes / cobrix_best, megabytes / headwater_best
    lines = [
        "## Headwater vs Cobrix",
        "",
        f"Machine: {machine_description()}; one core each, measured in one run on the same file.",
        "",
        f"Layout: the `bench_copybook.py` record ({length} bytes, {fields} fields), {count:,} records = "
        f"{megabytes:.1f} MB, F in cp037. Cobrix {COBRIX_VERSION} `VarLenNestedReader` in one JVM, to ordered "
        f"maps, {args.rounds} rounds alternating with Headwater's `decode_batch` (batches of {args.batch:,}) "
        "to dicts; best round of each (Cobrix's JIT is warm after the first round).",
        "",
        "| Decoder | MB/s | records/s |",
        "|---|---:|---:|",
        f"| Headwater `decode_batch` | {headwater_rate:,.1f} | {count / headwater_best:,.0f} |",
        f"| Cobrix {COBRIX_VERSION} reader (warm JIT) | {cobrix_rate:,.1f} | {count / cobrix_best:,.0f} |",
        f"| **ratio Headwater / Cobrix** | **{headwater_rate / cobrix_rate:.2f}** | |",
        "",
        f"Load average at the end: {os.getloadavg()[0]:.1f} (a shared machine: rounds vary by 2x; the best of "
        "each side is compared). Cobrix's JVM runs JIT and GC on further threads; Headwater's "
        "`copybook decode` reads files through this same `decode_batch` path.",
        "",
        "Reproduce: `.venv/bin/python bench/bench_cobrix.py --write`.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
