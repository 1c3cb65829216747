"""Which workers the local pool keeps (``wanted_workers``): every shard of every pipeline, but
none of a pipeline with ``autoscaling`` while it rests (no job lately, no new version)."""

from __future__ import annotations

import pytest

from pachstream.worker._worker import wanted_workers

NOW = 10_000.0
KEPT = 120.0


def spec(name: str, parallelism: int = 2, **extra: object) -> dict[str, object]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        "transform": {"cmd": ["true"]},
        "parallelism_spec": {"constant": parallelism},
        **extra,
    }


OLD = NOW - 1_000  # created long before the idle time
CASES = [
    # (name, pipelines (name, created, spec), at work, expected (name, shards))
    ("kept, idle", [("a", OLD, spec("a"))], set(), {("a", 2)}),
    ("kept, autoscaling false", [("a", OLD, spec("a", autoscaling=False))], set(), {("a", 2)}),
    ("autoscaling, idle: none", [("a", OLD, spec("a", autoscaling=True))], set(), set()),
    ("autoscaling, at work", [("a", OLD, spec("a", autoscaling=True))], {"a"}, {("a", 2)}),
    (
        "autoscaling, version just made",
        [("a", NOW - 5, spec("a", 3, autoscaling=True))],
        set(),
        {("a", 3)},
    ),
    (
        "autoscaling, version made just before the idle time",
        [("a", NOW - KEPT, spec("a", autoscaling=True))],
        set(),
        set(),
    ),
    (
        "only the idle one rests",
        [("a", OLD, spec("a", autoscaling=True)), ("b", OLD, spec("b", autoscaling=True))],
        {"b"},
        {("b", 2)},
    ),
    (
        "a refused spec gets none",
        [("a", OLD, spec("a", 0, autoscaling=True) | {"transform": {}})],
        {"a"},
        set(),
    ),
]


@pytest.mark.parametrize(
    ("pipelines", "at_work", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_wanted_workers(pipelines, at_work, expected):
    rows = [(name, 1, created, raw) for name, created, raw in pipelines]
    shards = {(name, i) for name, n in expected for i in range(n)}
    assert {(n, s) for n, _, s in wanted_workers(rows, at_work, NOW, KEPT)} == shards
