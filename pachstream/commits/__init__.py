"""The commit processor: requests in, trees and commit facts out.

``CommitProcessor`` is imported on first use (PEP 562), so that readers of ``events`` (the
client, the CLI, the lineage processor) do not load the processor's drivers with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.commits._processor import CommitProcessor

__all__ = ["CommitProcessor"]


def __getattr__(name: str) -> Any:
    if name == "CommitProcessor":
        from pachstream.commits._processor import CommitProcessor

        return CommitProcessor
    raise AttributeError(f"module 'pachstream.commits' has no attribute {name!r}")
