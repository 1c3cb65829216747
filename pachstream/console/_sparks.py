"""The home page's sparklines: each processor's throughput and lag over the last minutes. Pure.

The console scrapes every process's ``/metrics`` every :data:`SAMPLE_S` seconds (the shell is
in :mod:`._server`); each scrape, summarised per ``processor`` label
(:func:`pachstream.metrics.summarize`), is folded into a bounded history (:func:`fold`):
points older than :data:`WINDOW_S` fall out, and never more than :data:`MAX_POINTS` stay, so
memory is bounded whatever runs. :func:`series` turns a processor's points into what is
drawn: throughput as the counter's increase per second between consecutive samples (a
counter that went down means the process restarted: its new value is the increase, as
Prometheus's ``rate`` takes it) and the summed lag of its partitions as sampled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pachstream.console._html import esc, table
from pachstream.metrics import Load

SAMPLE_S = 5.0
"""Seconds between two scrapes."""
WINDOW_S = 600.0
"""How much history a sparkline shows."""
MAX_POINTS = int(WINDOW_S / SAMPLE_S) + 1
"""Points kept per processor at most (one window of samples)."""
SPARK_W, SPARK_H = 160.0, 28.0
"""Size of one sparkline."""


@dataclass(frozen=True, slots=True)
class Point:
    """One processor in one scrape."""

    t: float
    """When it was scraped (epoch seconds)."""
    consumed: float
    """Its records-consumed counter, all topics."""
    lag: float | None
    """Records behind, summed over its partitions; None when it reported none."""


History = Mapping[str, tuple[Point, ...]]
"""Points by processor, oldest first."""


@dataclass(frozen=True, slots=True)
class Series:
    """What one processor's sparklines draw."""

    processor: str
    """The ``processor`` label."""
    throughput: tuple[tuple[float, float], ...]
    """(time, records consumed per second since the previous sample)."""
    lag: tuple[tuple[float, float], ...]
    """(time, records behind)."""


@dataclass(frozen=True, slots=True)
class Trends:
    """What the home page needs: where metrics come from, and what was sampled."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    """Process name → ``/metrics`` URL; empty for a console run alone."""
    history: History = field(default_factory=dict)
    """Folded samples."""
    now: float = 0.0
    """The newest sample's time (the right end of every sparkline)."""
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Process name → why its last scrape failed."""


def merge(loads: Iterable[Mapping[str, Load]]) -> dict[str, Load]:
    """The loads of several processes' scrapes as one (a processor reported twice is summed)."""
    out: dict[str, Load] = {}
    for one in loads:
        for name, load in one.items():
            had = out.get(name)
            if had is None:
                out[name] = load
                continue
            lag = None if had.lag is None and load.lag is None else (had.lag or 0) + (load.lag or 0)
            out[name] = Load(had.consumed + load.consumed, lag)
    return out


def fold(
    history: History,
    t: float,
    loads: Mapping[str, Load],
    *,
    window_s: float = WINDOW_S,
    max_points: int = MAX_POINTS,
) -> dict[str, tuple[Point, ...]]:
    """``history`` with the scrape at ``t`` added; points before ``t - window_s`` dropped
    (a processor left with none is dropped) and at most ``max_points`` kept per processor.
    """
    out: dict[str, tuple[Point, ...]] = {}
    for name in sorted({*history, *loads}):
        points = history.get(name, ())
        if name in loads:
            points = (*points, Point(t, loads[name].consumed, loads[name].lag))
        kept = tuple(p for p in points if p.t >= t - window_s)[-max_points:]
        if kept:
            out[name] = kept
    return out


def series(processor: str, points: Sequence[Point]) -> Series:
    """A processor's throughput and lag (see the module's docstring)."""
    rates = []
    for a, b in zip(points, points[1:], strict=False):
        dt = b.t - a.t
        if dt <= 0:
            continue
        grew = b.consumed - a.consumed if b.consumed >= a.consumed else b.consumed
        rates.append((b.t, grew / dt))
    lags = tuple((p.t, p.lag) for p in points if p.lag is not None)
    return Series(processor, tuple(rates), lags)


def polyline(
    values: Sequence[tuple[float, float]],
    start: float,
    end: float,
    *,
    width: float = SPARK_W,
    height: float = SPARK_H,
) -> str:
    """The ``points`` of an SVG polyline: time from ``start`` to ``end`` left to right, value
    from 0 (bottom) to the largest value (top, 1 when all are 0), 1 px inside the edges.
    """
    top = max((v for _, v in values), default=0.0) or 1.0
    span = end - start if end > start else 1.0
    pts = []
    for t, v in values:
        x = 1 + (width - 2) * min(max((t - start) / span, 0.0), 1.0)
        y = 1 + (height - 2) * (1 - v / top)
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def sparkline(values: Sequence[tuple[float, float]], start: float, end: float, what: str) -> str:
    """An inline SVG of ``values`` (a ``<span>`` saying so when fewer than two)."""
    if len(values) < 2:
        return '<span class="muted spark-empty">collecting…</span>'
    latest = values[-1][1]
    top = max(v for _, v in values)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark {esc(what)}" '
        f'width="{SPARK_W:.0f}" height="{SPARK_H:.0f}" viewBox="0 0 {SPARK_W:.0f} {SPARK_H:.0f}">'
        f"<title>{esc(what)}: now {latest:.4g}, at most {top:.4g} "
        f"over the last {(end - start) / 60:.0f} min</title>"
        f'<polyline fill="none" stroke="#37a" stroke-width="1.5" '
        f'points="{polyline(values, start, end)}"/></svg>'
    )


def trends_html(trends: Trends) -> str:
    """The home page's section: a row per processor with its two sparklines and latest
    values, or a note saying why there are none.
    """
    head = '<h2 id="trends">Throughput and lag</h2>'
    if not trends.addresses:
        return head + (
            '<p class="muted" id="no-metrics">no sparklines: this console knows no metrics '
            'addresses (stack.json has no "metrics"; a console run alone). Run the stack '
            "with <code>pachstream up</code> to see each processor's throughput and lag.</p>"
        )
    start = trends.now - WINDOW_S
    rows = []
    for name, points in sorted(trends.history.items()):
        s = series(name, points)
        rate = f"{s.throughput[-1][1]:.1f} rec/s" if s.throughput else "-"
        lag = f"{s.lag[-1][1]:.0f}" if s.lag else "-"
        rows.append(
            [
                esc(name),
                sparkline(s.throughput, start, trends.now, "throughput") + " " + rate,
                sparkline(s.lag, start, trends.now, "lag") + " " + lag,
            ]
        )
    body = table(
        ["processor", f"records consumed per second (last {WINDOW_S / 60:.0f} min)", "lag"],
        rows,
        empty=f"no samples yet (the console scrapes every {SAMPLE_S:.0f} s)",
    )
    if trends.unavailable:
        body += (
            '<p class="muted">not answering: '
            + "; ".join(esc(f"{name}: {why}") for name, why in sorted(trends.unavailable.items()))
            + "</p>"
        )
    return head + body


__all__ = [
    "MAX_POINTS",
    "SAMPLE_S",
    "WINDOW_S",
    "History",
    "Point",
    "Series",
    "Trends",
    "fold",
    "merge",
    "polyline",
    "series",
    "sparkline",
    "trends_html",
]
