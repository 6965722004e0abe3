"""Benchmark: Headwater's copybook decoder and Cobrix's reader on the same file and core.

The 500-byte, 40-field record of ``bench_copybook.py`` repeated to ``--mb`` MB, as an F
file in cp037. In each of ``--rounds`` interleaved rounds, on the same file:

* Cobrix 2.6.9 (``cobol-parser``, run through the differential-test driver in
  ``tests/cobrix``) decodes it once in its warm JVM, to ordered maps;
* Headwater ``decode_batch`` (batches of ``--batch`` records) to dicts, with the compiled
  core when it is built, and again on the numpy path (``native.ENABLED = False``);
* Headwater as the mainframe source reads it: ``RecordSplitter.feed`` in 8 MB chunks,
  then ``decode_records``;
* ``headwater copybook decode`` as a whole process printing JSON lines (to /dev/null).

Medians over the rounds are reported (and the best), with the ratio to Cobrix and the load
average before and after (the machine is shared: rounds vary). Run:
``.venv/bin/python bench/bench_cobrix.py [--mb 50] [--rounds 6] [--write]``; ``--write``
updates the ``## Headwater vs Cobrix`` section of bench/RESULTS.md. Needs java, javac and
Maven (the first run fetches Cobrix's jars).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_copybook import COPYBOOK, _values
from report import machine_description, write_section

from headwater.codecs.copybook import RecordFormatOptions, RecordSplitter, native
from headwater.codecs.copybook.decoder import compile_plan, decode_batch, decode_records
from headwater.codecs.copybook.encoder import encode_record
from headwater.codecs.copybook.parser import parse_copybook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cobrix"))
from cobrix_harness import COBRIX_VERSION, CobrixOracle

_CHUNK = 8 * 1024 * 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


HEADWATER = Path(sys.executable).with_name("headwater")


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
    compiled = native.native_program(plan) is not None

    def api_round() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        decoded = 0
        for begin in range(0, len(data), batch_bytes):
            decoded += len(decode_batch(plan, view[begin : begin + batch_bytes], length))
        assert decoded == count
        return time.perf_counter() - start, time.process_time() - cpu

    def numpy_round() -> tuple[float, float]:
        native.ENABLED = False
        try:
            return api_round()
        finally:
            native.ENABLED = compiled

    def source_round() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        splitter = RecordSplitter.for_plan(plan, RecordFormatOptions(), source="bench")
        decoded = 0
        for begin in range(0, len(data), _CHUNK):
            for _row in decode_records(plan, splitter.feed(view[begin : begin + _CHUNK]), source="bench"):
                decoded += 1
        decoded += sum(1 for _ in decode_records(plan, splitter.finish(), source="bench"))
        assert decoded == count
        return time.perf_counter() - start, time.process_time() - cpu

    with tempfile.TemporaryDirectory(prefix="bench-cobrix-") as work:
        copybook_file, data_file = Path(work, "bench.cpy"), Path(work, "bench.dat")
        copybook_file.write_text(COPYBOOK)
        data_file.write_bytes(data)

        def cli_round() -> tuple[float, float]:
            start, cpu = time.perf_counter(), _children_cpu()
            with open(os.devnull, "wb") as sink:
                subprocess.run([str(HEADWATER), "copybook", "decode", str(copybook_file), str(data_file)],
                               stdout=sink, check=True)  # fmt: skip
            return time.perf_counter() - start, _children_cpu() - cpu

        def cobrix_round() -> tuple[float, float]:
            _, seconds, cpu = oracle.bench(COPYBOOK, data, options, 1)[0]
            return seconds, cpu

        oracle = CobrixOracle(Path(work))
        try:
            options = {"ebcdic_code_page": "cp037", "record_format": "F"}
            sample = oracle.decode(COPYBOOK, data[: 3 * length], options)
            assert sample.records is not None, sample.error
            ours = decode_batch(plan, data[: 3 * length], length)
            assert [r["ACCOUNT_ID"] for r in ours] == [r["ACCOUNT_ID"] for r in sample.records]
            oracle.bench(COPYBOOK, data, options, 1)  # warm-up: Cobrix's JIT
            api_round()  # warm-up: compiles the batch program
            load_before = os.getloadavg()
            sides: dict[str, Callable[[], tuple[float, float]]] = {
                "cobrix": cobrix_round,
                "api": api_round,
                "source": source_round,
                "cli": cli_round,
                "numpy": numpy_round,
            }
            times: dict[str, list[float]] = {name: [] for name in sides}
            cpus: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, run in sides.items():
                    wall, cpu = run()
                    times[name].append(wall)
                    cpus[name].append(cpu)
            load_after = os.getloadavg()
        finally:
            oracle.close()

    def rate(name: str, pick: Callable[[list[float]], float], table: dict[str, list[float]] = times) -> float:
        return megabytes / pick(table[name])

    median, best = statistics.median, min
    cobrix = rate("cobrix", median)
    cobrix_cpu = rate("cobrix", median, cpus)
    rows = [
        ("api", f"Headwater `decode_batch`{' (compiled core)' if compiled else ' (compiled core not built)'}"),
        ("source", "Headwater as the source reads: `RecordSplitter.feed` + `decode_records`"),
        ("cli", "Headwater `copybook decode` printing JSON, whole process"),
        ("numpy", "Headwater `decode_batch`, numpy path (the fallback without a C compiler)"),
        ("cobrix", f"Cobrix {COBRIX_VERSION} reader, warm JVM"),
    ]
    lines = [
        "## Headwater vs Cobrix",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine_description()}; "
        "one process each, in one run on the same file.",
        "",
        f"Layout: the `bench_copybook.py` record ({length} bytes, {fields} fields), {count:,} records = "
        f"{megabytes:.1f} MB, F in cp037. {args.rounds} rounds; in each, every side decodes the whole file once, "
        f"in turn: Cobrix {COBRIX_VERSION} `VarLenNestedReader` in one warm JVM to ordered maps; Headwater to dicts "
        f"(Decimal for scaled numbers), `decode_batch` in batches of {args.batch:,}.",
        "",
        "| Decoder | MB/s wall (median) | MB/s wall (best) | MB/s of CPU time (median) | ratio to Cobrix, wall "
        "| ratio to Cobrix, CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in rows:
        mid, cpu = rate(name, median), rate(name, median, cpus)
        lines.append(
            f"| {label} | {mid:,.1f} | {rate(name, best):,.1f} | {cpu:,.1f} | {mid / cobrix:.2f} | "
            f"{cpu / cobrix_cpu:.2f} |"
        )
    lines += [
        "",
        f"Load average (1 min) {load_before[0]:.1f} before the rounds and {load_after[0]:.1f} after, on "
        f"{os.cpu_count()} cores shared with other jobs: every side got a fraction of a core, so the ratios say "
        "more than the absolute wall rates. CPU time is the decoding thread's for Cobrix (its JIT and GC threads "
        "are not counted), the process's for Headwater, and the child process's for the CLI, which includes "
        "starting Python and importing Headwater (about 0.13 s since the runtime loads on demand).",
        "",
        "Reproduce: `.venv/bin/python bench/bench_cobrix.py --write`.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
