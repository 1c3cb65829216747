from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pachstream.testing_services import RunningStack


@pytest.fixture
async def stack(settings) -> AsyncIterator[RunningStack]:
    """Processors and a client on real servers, in a namespace of this test's own."""
    async with RunningStack(settings) as running:
        yield running
