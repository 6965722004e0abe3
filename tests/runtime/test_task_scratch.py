"""A task's scratch folder: a temporary one is the context's own and goes when the task
stops; a configured one (``scratch.dir``) is the user's and stays, content and all."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from headwater.connectors.api import SinkTaskContext, SourceTaskContext
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore


def test_a_temporary_scratch_folder_is_removed_when_the_task_stops() -> None:
    context = SourceTaskContext("scratchy", 3, ConnectorOffsets(MemoryOffsetStore(), "scratchy"))
    folder = context.scratch_dir
    assert folder.name.startswith("headwater-scratchy-3-") and folder.is_dir()
    (folder / "spill-1.jsonl").write_text("{}\n")
    (folder / "nested").mkdir()
    (folder / "nested" / "part").write_bytes(b"x")
    context.close()
    assert not folder.exists(), "the context's own temporary folder outlived the task"
    context.close()  # twice is harmless
    again = context.scratch_dir
    assert again != folder and again.is_dir(), "used after close: a new temporary folder"
    context.close()
    assert not again.exists()


def test_a_configured_scratch_folder_and_its_content_stay(tmp_path: Path) -> None:
    configured = tmp_path / "scratch" / "conn" / "0"
    context = SinkTaskContext("conn", 0, scratch_dir=configured)
    (context.scratch_dir / "spill.jsonl").write_text("needed after a restart\n")
    context.close()
    assert (configured / "spill.jsonl").read_text() == "needed after a restart\n"


def test_a_context_never_closed_still_leaves_nothing_behind(tmp_path: Path) -> None:
    context = SinkTaskContext("forgotten", 0)
    folder = context.scratch_dir
    (folder / "f").write_text("x")
    del context
    gc.collect()
    assert not folder.exists(), "a garbage-collected context's temporary folder stays in /tmp"
    # Nor at interpreter exit (a test or tool that keeps its context to the end).
    code = (
        "from headwater.connectors.api import SinkTaskContext\n"
        "context = SinkTaskContext('at-exit', 0)\n"
        "(context.scratch_dir / 'f').write_text('x')\n"
        "print(context.scratch_dir)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    left = Path(done.stdout.strip())
    assert left.name.startswith("headwater-at-exit-0-")
    assert not left.exists(), "the folder outlived the process"
