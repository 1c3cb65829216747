"""Compare two runs: per-area passes before/after and the tests whose outcome changed.

python tests/s3compat/compare.py BEFORE/results.json AFTER/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3compat.areas import AREAS, CORE_AREAS, area_of  # noqa: E402


def _load(path: str) -> dict[str, dict[str, str]]:
    doc = json.loads(Path(path).read_text())
    rows = {row["name"]: row for row in doc["tests"]}
    for row in rows.values():  # today's rules, so two runs are cut the same way
        row["area"] = area_of(row["name"], row.get("markers", ()), row["module"])
    return rows


def compare(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> str:
    """A before/after table of passes per area, then the changed tests."""
    lines = [f"{'area':<20}{'before':>8}{'after':>8}{'of':>6}"]
    for title, wanted in (("core", True), ("other", False)):
        totals = [0, 0, 0]
        for area in (a for a in AREAS if (a in CORE_AREAS) == wanted):
            names = {n for n, r in after.items() if r["area"] == area}
            names |= {n for n, r in before.items() if r["area"] == area}
            if not names:
                continue
            b = sum(1 for n in names if before.get(n, {}).get("outcome") == "passed")
            a = sum(1 for n in names if after.get(n, {}).get("outcome") == "passed")
            totals = [totals[0] + b, totals[1] + a, totals[2] + len(names)]
            lines.append(f"{area:<20}{b:>8}{a:>8}{len(names):>6}")
        lines.append(f"{'= ' + title:<20}{totals[0]:>8}{totals[1]:>8}{totals[2]:>6}\n")
    changed = [
        f"  {n}: {before.get(n, {}).get('outcome', '-')} -> {after.get(n, {}).get('outcome', '-')}"
        for n in sorted(set(before) | set(after))
        if before.get(n, {}).get("outcome") != after.get(n, {}).get("outcome")
    ]
    return "\n".join([*lines, f"changed ({len(changed)}):", *changed])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py BEFORE/results.json AFTER/results.json")
    print(compare(_load(sys.argv[1]), _load(sys.argv[2])))
