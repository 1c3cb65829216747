"""Small asyncio helpers for every layer (they import nothing of pachstream)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any


async def wait_all(aws: Iterable[Awaitable[Any]]) -> None:
    """Wait until every one of ``aws`` has ended, then raise the first failure among them:
    none is left running unobserved (``gather`` without ``return_exceptions`` raises at the
    first failure and leaves the others running).
    """
    for result in await asyncio.gather(*aws, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result
