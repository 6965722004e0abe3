"""The standard conformance suite on the built-in plugins: datagen and the file sink."""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal
from pathlib import Path

from headwater.codecs.envelope import fold
from headwater.conformance.standard import SinkHarness, SourceHarness, get_sink_test_class, get_source_test_class
from headwater.connectors.config import PluginConfig
from headwater.connectors.datagen import DatagenConnector
from headwater.connectors.datagen.client import final_state
from headwater.connectors.datagen.config import DatagenConfig
from headwater.sinks.file import FileSinkConnector
from headwater.sinks.file.config import FileSinkConfig


def _datagen_config(_tmp: Path, topic: str) -> dict[str, str]:
    return {"topic.prefix": topic, "count": "3000", "keys": "200", "seed": "5", "batch.size": "500"}


def _datagen_state(config: PluginConfig) -> dict[str, dict[str, t.Any]]:
    assert isinstance(config, DatagenConfig)
    return {
        f"{config.topic_prefix}.{table}": final_state(
            table, seed=config.seed, keys=config.keys, count=config.table_count(table)
        )
        for table in config.table_list()
    }


TestDatagen = get_source_test_class(
    SourceHarness(
        connector_class=DatagenConnector,
        make_config=_datagen_config,
        final_state=_datagen_state,
        bad_config={"count": "-5", "tables": "customers,invoices", "topic.prefix": "", "speed": "3"},
        bad_keys=frozenset({"count", "tables", "topic.prefix", "speed"}),
    )
)


def _file_lines(config: PluginConfig, topic: str) -> list[dict[str, t.Any]]:
    assert isinstance(config, FileSinkConfig)
    path = Path(config.file_dir) / f"{topic}.jsonl"
    if not path.exists():
        return []
    # Decimals stay exact: compare them as written, not as floats.
    return [json.loads(line, parse_float=Decimal) for line in path.read_bytes().splitlines()]


def _file_state(config: PluginConfig, topic: str) -> dict[str, t.Any]:
    return fold((line["key"], line["value"]) for line in _file_lines(config, topic))


TestFileSink = get_sink_test_class(
    SinkHarness(
        connector_class=FileSinkConnector,
        make_config=lambda tmp, _name: {"file.dir": str(tmp / "out")},
        read_state=_file_state,
        count_writes=lambda config, topic: len(_file_lines(config, topic)),
        # JSON cannot hold a complex number: the one value a JSON-lines file must refuse.
        bad_value={"op": "c", "after": {"id": -1, "value": complex(1, 2)}},
    )
)
