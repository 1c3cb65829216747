from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pachstream.testing.services import RunningStack
from pachstream.worker.sandbox import Sandbox


@pytest.fixture
async def stack(settings) -> AsyncIterator[RunningStack]:
    """Processors and a client on real servers, in a namespace of this test's own."""
    async with RunningStack(settings) as running:
        yield running


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A warm sandbox with inputs ``images`` and ``labels``; skipped without bubblewrap."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make installs it)")
    box = Sandbox(tmp_path / "box", ["images", "labels"])
    yield box
    await box.stop()
