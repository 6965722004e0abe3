"""``headwater emulator``: write realistic test datasets and print their expected final state.

``final-state sap --scenario NAME --seed N`` prints the rows of an emulated SAP system's
tables after its whole history (see :mod:`headwater.conformance.emulators.sap`).
``generate mainframe --scenario NAME --seed N --out DIR`` writes a scenario's copybook and
data files (see :mod:`headwater.conformance.emulators.mainframe`) and prints the connector
keys that read them; ``final-state mainframe --scenario NAME --seed N`` prints the keyed
rows a consumer must hold after folding the change stream, one JSON object per line
(``{"table": ..., "key": {...}, "row": {...}}``, decimals as JSON numbers with full scale).
``final-state oracle --scenario NAME --seed N`` does the same for the Oracle LogMiner
emulator (:mod:`headwater.conformance.emulators.oracle`; NAME is a built-in scenario or a
JSON scenario file), with Debezium's values (times as epoch units, RAW as base64).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import orjson

__all__ = ["emulator"]

_SCENARIOS = ("customers-vb", "customers-vbs", "accounts-fb", "multisegment", "growing", "generations", "hierarchical")


def _json_default(value: Any) -> Any:
    # Exact decimals: the digits and scale as written (59.80 stays 59.80).
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    msg = f"cannot serialise {type(value).__name__}"
    raise TypeError(msg)


@click.group("emulator")
def emulator() -> None:
    """Generate emulated source data for demos and conformance tests."""


@emulator.group("generate")
def generate_group() -> None:
    """Write a scenario's input data."""


@emulator.group("final-state")
def final_state_group() -> None:
    """Print the final keyed state a scenario's change stream folds to."""


@generate_group.command("mainframe")
@click.option("--scenario", type=click.Choice(_SCENARIOS), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--count", type=click.IntRange(min=1), help="Records (rows per generation); a default per scenario.")
@click.option("--bad-records", type=click.IntRange(min=0), default=0, show_default=True,
              help="customers-vb(s): records with invalid packed data (they belong in the dead-letter topic).")  # fmt: skip  # noqa: E501
def generate_mainframe(scenario: str, seed: int, out_dir: Path, count: int | None, bad_records: int) -> None:
    """Write a mainframe dataset scenario (copybook + data files) into OUT."""
    from headwater.conformance.emulators.mainframe import connector_config, generate

    files = generate(scenario, seed, out_dir, count=count, bad_records=bad_records)
    files.append_all()  # the growing file is written whole here; tests append step by step
    click.echo(f"copybook: {files.copybook}", err=True)
    for path in files.data:
        click.echo(f"data:     {path} ({path.stat().st_size} bytes)", err=True)
    config = connector_config(files, f"mainframe.{files.table}")
    sys.stdout.buffer.write(orjson.dumps(config, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))


@final_state_group.command("mainframe")
@click.option("--scenario", type=click.Choice(_SCENARIOS), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--count", type=click.IntRange(min=1), help="As given to generate.")
@click.option("--bad-records", type=click.IntRange(min=0), default=0, show_default=True, help="As given to generate.")
def final_state_mainframe(scenario: str, seed: int, count: int | None, bad_records: int) -> None:
    """Print the final keyed rows of a scenario as JSON lines."""
    from headwater.conformance.emulators.mainframe import final_state

    out = sys.stdout.buffer
    for entry in final_state(scenario, seed, count=count, bad_records=bad_records):
        out.write(orjson.dumps(entry, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))


@final_state_group.command("oracle")
@click.option("--scenario", default="default", show_default=True, help="A built-in scenario or a JSON scenario file.")
@click.option("--seed", type=int, default=1, show_default=True)
def final_state_oracle(scenario: str, seed: int) -> None:
    """Print the final rows of an Oracle emulator scenario as JSON lines."""
    from headwater.conformance.emulators.oracle import final_state, load_scenario

    try:
        spec = load_scenario(scenario)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from exc
    out = sys.stdout.buffer
    for entry in final_state(spec, seed):
        out.write(orjson.dumps(entry, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))


@final_state_group.command("sap")
@click.option("--scenario", type=click.Choice(("erp", "large")), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--count", type=click.IntRange(min=1), help="Change steps (erp) or materials (large); a default per scenario."
)
@click.option("--table", "tables", multiple=True, help="Only these tables (default: MARA, KNA1, VBAK, ZWIDE).")
def final_state_sap(scenario: str, seed: int, count: int | None, tables: tuple[str, ...]) -> None:
    """Print the final keyed rows of an emulated SAP system's tables as JSON lines."""
    from headwater.conformance.emulators.sap import final_state

    out = sys.stdout.buffer
    for entry in final_state(scenario, seed, count=count, tables=[name.upper() for name in tables] or None):
        out.write(orjson.dumps(entry, default=_json_default, option=orjson.OPT_APPEND_NEWLINE))
