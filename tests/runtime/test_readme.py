"""The README's config reference is the one the installed plugins' schemas produce."""

from __future__ import annotations

from pathlib import Path

from headwater.connectors.cli import config_reference_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def test_readme_config_reference_is_current() -> None:
    text = README.read_text()
    current = text[text.index(START) + len(START) : text.index(END)].strip()
    assert current == config_reference_markdown().strip(), (
        "README config reference is stale: run `headwater plugins --update-readme README.md`"
    )
