"""The home page's sparklines: scrapes folded into a bounded history, turned into
throughput and lag series, drawn as polylines. Pure, table-driven.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pachstream.console._sparks import (
    Point,
    Trends,
    fold,
    merge,
    polyline,
    series,
    sparkline,
    trends_html,
)
from pachstream.metrics import Load, parse_samples, summarize

FOLDS = [
    # (history, t, loads, window_s, max_points, expected history as {proc: [(t, consumed, lag)]})
    ({}, 10.0, {}, 600, 5, {}),
    ({}, 10.0, {"commits": Load(3, 0)}, 600, 5, {"commits": [(10, 3, 0)]}),
    # A new point goes last; a processor not in this scrape keeps its points.
    (
        {"commits": (Point(10, 3, 0),), "lineage": (Point(10, 1, None),)},
        15.0,
        {"commits": Load(8, 2)},
        600,
        5,
        {"commits": [(10, 3, 0), (15, 8, 2)], "lineage": [(10, 1, None)]},
    ),
    # Points older than the window fall out; a processor left with none is dropped.
    (
        {"commits": (Point(0, 1, 0), Point(5, 2, 0)), "gone": (Point(1, 1, 0),)},
        20.0,
        {"commits": Load(4, 0)},
        10,
        5,
        {"commits": [(20, 4, 0)]},
    ),
    # Never more than max_points, however fast samples come.
    (
        {"w": tuple(Point(t, t, 0) for t in range(5))},
        5.0,
        {"w": Load(5, 0)},
        600,
        3,
        {"w": [(3, 3, 0), (4, 4, 0), (5, 5, 0)]},
    ),
]


@pytest.mark.parametrize(("history", "t", "loads", "window", "cap", "expected"), FOLDS)
def test_fold(history, t, loads, window, cap, expected):
    got = fold(history, t, loads, window_s=window, max_points=cap)
    assert {k: [(p.t, p.consumed, p.lag) for p in v] for k, v in got.items()} == expected


def test_a_long_run_stays_bounded():
    history: dict = {}
    for i in range(1000):
        history = fold(history, i * 5.0, {"p": Load(i * 10.0, 1.0)})
    (points,) = history.values()
    assert len(points) == 121 and points[-1].t == 4995.0 and points[0].t == 4395.0


SERIES = [
    # (points as (t, consumed, lag), throughput, lag)
    ([], [], []),
    ([(0, 5, None)], [], []),
    ([(0, 0, 4), (5, 50, 2), (10, 50, 0)], [(5, 10.0), (10, 0.0)], [(0, 4), (5, 2), (10, 0)]),
    # A counter that went down: the process restarted, its new value is what it consumed.
    ([(0, 100, None), (5, 20, None)], [(5, 4.0)], []),
    # Two samples at one time give no rate (no division by zero).
    ([(0, 1, 0), (0, 2, 0), (2, 6, 0)], [(2, 2.0)], [(0, 0), (0, 0), (2, 0)]),
]


@pytest.mark.parametrize(("points", "throughput", "lag"), SERIES)
def test_series(points, throughput, lag):
    s = series("p", [Point(*p) for p in points])
    assert list(s.throughput) == throughput and list(s.lag) == lag


def test_merge_sums_a_processor_reported_by_two_processes():
    got = merge([{"a": Load(1, None), "b": Load(2, 3)}, {"a": Load(4, 5), "c": Load(1, None)}])
    assert got == {"a": Load(5, 5), "b": Load(2, 3), "c": Load(1, None)}


def test_a_scrape_summarized_folds_in():
    text = (
        "# TYPE pachstream_records_consumed counter\n"
        'pachstream_records_consumed_total{processor="commits",topic="t.requests"} 40\n'
        'pachstream_records_consumed_total{processor="commits",topic="t.events"} 2\n'
        "# TYPE pachstream_consumer_lag gauge\n"
        'pachstream_consumer_lag{processor="commits",topic="t.requests",partition="0"} 3\n'
        'pachstream_consumer_lag{processor="commits",topic="t.requests",partition="1"} 4\n'
    )
    history = fold({}, 100.0, merge([summarize(parse_samples(text))]))
    assert history == {"commits": (Point(100.0, 42.0, 7.0),)}


POLYLINES = [
    # (values, start, end, points): x spans the window, y runs from 0 (bottom) to the max.
    ([(0, 0), (10, 10)], 0, 10, "1.0,27.0 159.0,1.0"),
    ([(0, 0), (5, 0)], 0, 10, "1.0,27.0 80.0,27.0"),  # all zero: a flat line at the bottom
    ([(-5, 2), (10, 1)], 0, 10, "1.0,1.0 159.0,14.0"),  # before the window: pinned left
]


@pytest.mark.parametrize(("values", "start", "end", "points"), POLYLINES)
def test_polyline(values, start, end, points):
    assert polyline(values, start, end) == points


def test_sparkline_svg_and_too_few_points():
    svg = sparkline([(0, 1.0), (5, 3.0)], 0, 600, "lag")
    root = ET.fromstring(svg)
    assert root.get("class") == "spark lag"
    assert root.find("{http://www.w3.org/2000/svg}polyline") is not None
    assert "now 3, at most 3 over the last 10 min" in svg
    assert "<svg" not in sparkline([(0, 1.0)], 0, 600, "lag")


def test_home_section_without_addresses_says_so_and_with_samples_draws_two_lines_each():
    alone = trends_html(Trends())
    assert 'id="no-metrics"' in alone and "<svg" not in alone
    history = {
        "commits": (Point(0, 0, 5), Point(5, 20, 3), Point(10, 40, 1)),
        "lineage": (Point(10, 1, None),),
    }
    html = trends_html(
        Trends({"stack": "http://x/metrics"}, history, 10.0, {"gateway": "did not answer"})
    )
    assert html.count('class="spark throughput"') == 1 and html.count('class="spark lag"') == 1
    assert "4.0 rec/s" in html and re.search(r"</svg> 1</td>", html)
    assert "collecting" in html  # lineage has one point only
    assert "gateway: did not answer" in html
    empty = trends_html(Trends({"stack": "http://x/metrics"}))
    assert "no samples yet" in empty
