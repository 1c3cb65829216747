"""Quantities as people read them (sizes), shared by the CLI's tables and the console's pages.
Pure; the lowest layer, so any front door may import it.
"""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
"""Binary units, smallest first; sizes past the last one stay in it."""


def human_bytes(n: int | None) -> str:
    """``1023 B``, ``1.5 KiB``, ``2.0 GiB``; ``-`` for None (a size not known)."""
    if n is None:
        return "-"
    size = float(n)
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable: the last unit always answers")


__all__ = ["UNITS", "human_bytes"]
