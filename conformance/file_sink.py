"""Checks on what the ``file`` sink wrote, for end-to-end tests of datagen -> Kafka -> files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from headwater.codecs.envelope import fold
from headwater.connectors.datagen.client import final_state
from headwater.connectors.datagen.config import DatagenConfig

__all__ = ["lines_landed", "tables_off_final_state"]


def lines_landed(out: Path) -> int:
    """Lines written so far to every ``*.jsonl`` file in ``out``."""
    return sum(path.read_bytes().count(b"\n") for path in out.glob("*.jsonl"))


def tables_off_final_state(out: Path, prefix: str, config: DatagenConfig) -> list[str]:
    """The tables whose folded output is not (yet) the source's final state.

    A plain comparison, never an ``assert``: tests poll this while records still land, and
    pytest would spend minutes diffing two large unequal documents on each failed try.
    """
    off = []
    for table in config.table_list():
        path = out / f"{prefix}.{table}.jsonl"
        if not path.exists():
            off.append(table)
            continue
        lines = [json.loads(line, parse_float=Decimal) for line in path.read_bytes().splitlines()]
        state = fold((line["key"], line["value"]) for line in lines)
        expected = final_state(
            table, seed=config.seed, keys=config.keys, count=config.table_count(table), initial_rows=config.initial_rows
        )
        if json.dumps(state, default=str, sort_keys=True) != json.dumps(expected, default=str, sort_keys=True):
            off.append(table)
    return off
