"""The commit processor: requests in, trees and commit facts out.

``CommitProcessor`` is imported on first use (PEP 562): the model modules below this package
(``events``, used by ``pachstream.tree`` and ``pachstream.content``) must load without the
processor, which itself needs the tree; an eager import here made that a cycle.
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
