"""Process metrics: the exposition parser, the summaries ``status`` prints, the address
rules, the registry round trip, the small server, and the deploy annotations.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import orjson
import pytest

from pachstream import deploy
from pachstream.errors import ConfigError, InvalidInput, Unavailable
from pachstream.metrics import (
    Load,
    MetricsServer,
    ProcessMetrics,
    ProcessReport,
    Sample,
    metrics_addresses,
    parse_samples,
    process_report,
    scrape,
    summarize,
)
from pachstream.settings import STACK_FILE, Settings, parse_host_port

COUNTER = """\
# HELP pachstream_records_consumed_total Records consumed.
# TYPE pachstream_records_consumed_total counter
pachstream_records_consumed_total{processor="commits",topic="ps.requests"} 12.0
pachstream_records_consumed_total{processor="commits",topic="ps.events"} 3.0
"""
GAUGE = """\
# TYPE pachstream_consumer_lag gauge
pachstream_consumer_lag{partition="0",processor="commits",topic="ps.requests"} 5.0
pachstream_consumer_lag{partition="1",processor="commits",topic="ps.requests"} 2.0
"""
HISTOGRAM = """\
# TYPE pachstream_batch_seconds histogram
pachstream_batch_seconds_bucket{le="0.1",processor="commits"} 1.0
pachstream_batch_seconds_bucket{le="+Inf",processor="commits"} 2.0
pachstream_batch_seconds_count{processor="commits"} 2.0
pachstream_batch_seconds_sum{processor="commits"} 0.75
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("# HELP only a comment\n", []),
        (
            COUNTER,
            [
                Sample(
                    "pachstream_records_consumed_total",
                    {"processor": "commits", "topic": "ps.requests"},
                    12.0,
                ),
                Sample(
                    "pachstream_records_consumed_total",
                    {"processor": "commits", "topic": "ps.events"},
                    3.0,
                ),
            ],
        ),
        (
            HISTOGRAM,
            [
                Sample("pachstream_batch_seconds_bucket", {"le": "0.1", "processor": "commits"}, 1),
                Sample(
                    "pachstream_batch_seconds_bucket", {"le": "+Inf", "processor": "commits"}, 2
                ),
                Sample("pachstream_batch_seconds_count", {"processor": "commits"}, 2.0),
                Sample("pachstream_batch_seconds_sum", {"processor": "commits"}, 0.75),
            ],
        ),
        # No HELP/TYPE, no labels, a timestamp, escapes in a label value.
        ("up 1 1700000000000\n", [Sample("up", {}, 1.0)]),
        (
            'x{path="a\\"b\\\\c\\nd"} 2.5e3\n',
            [Sample("x", {"path": 'a"b\\c\nd'}, 2500.0)],
        ),
        ("x -Inf\n", [Sample("x", {}, -math.inf)]),
    ],
)
def test_parse_samples(text: str, expected: list[Sample]) -> None:
    assert parse_samples(text) == expected


def test_parse_samples_reads_nan() -> None:
    (sample,) = parse_samples("x NaN\n")
    assert math.isnan(sample.value)


@pytest.mark.parametrize(
    "text",
    ["x{a=b} 1\n", 'x{a="b"} one\n', "<html>not metrics</html>\n", 'x{a="b" 1\n'],
)
def test_parse_samples_refuses_what_is_not_an_exposition(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a Prometheus text exposition"):
        parse_samples(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        (HISTOGRAM, {}),  # no consumer metrics: nothing to say about lag
        (COUNTER, {"commits": Load(15.0, None)}),
        (COUNTER + GAUGE, {"commits": Load(15.0, 7.0)}),
        (
            COUNTER
            + 'pachstream_consumer_lag{partition="0",processor="workers",topic="t"} 4\n'
            + 'pachstream_records_consumed_total{processor="workers",topic="t"} 9\n',
            {"commits": Load(15.0, None), "workers": Load(9.0, 4.0)},
        ),
    ],
)
def test_summarize_sums_per_processor(text: str, expected: dict[str, Load]) -> None:
    assert summarize(parse_samples(text)) == expected


U = "http://127.0.0.1:1/metrics"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            Unavailable(f"{U} did not answer: refused"),
            ProcessReport(U, error=f"{U} did not answer: refused"),
        ),
        ("<html>", ProcessReport(U, error="not a Prometheus text exposition")),
        (HISTOGRAM, ProcessReport(U)),
        (COUNTER + GAUGE, ProcessReport(U, lag=7.0, consumed=15.0)),
        (COUNTER, ProcessReport(U, lag=None, consumed=15.0)),
    ],
)
def test_process_report(answer: str | Unavailable, expected: ProcessReport) -> None:
    got = process_report(U, answer)
    if expected.error is not None and got.error is not None:
        assert got.error.startswith(expected.error)
        assert (got.lag, got.consumed) == (None, None)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("http://localhost:80", ("localhost", 80)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_parse_address(address: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(address, "PACHSTREAM_METRICS_ADDRESS", "127.0.0.1:9464") == expected


@pytest.mark.parametrize("address", ["9464", ":9464", "host:", "host:port", "host:70000"])
def test_parse_address_names_the_variable(address: str) -> None:
    with pytest.raises(ConfigError, match=r"PACHSTREAM_METRICS_ADDRESS=.*host:port"):
        MetricsServer(address)  # the server reads its address with the shared parser


@pytest.mark.parametrize(("value", "ok"), [("127.0.0.1:9464", True), ("nonsense", False)])
def test_settings_read_the_metrics_address_but_never_pass_it_on(value: str, ok: bool) -> None:
    env = {"PACHSTREAM_HOME": "/nonexistent", "PACHSTREAM_METRICS_ADDRESS": value}
    if not ok:
        with pytest.raises(ConfigError, match="PACHSTREAM_METRICS_ADDRESS='nonsense'"):
            Settings.from_env(env, stack_file=False)
        return
    settings = Settings.from_env(env, stack_file=False)
    assert settings.metrics_address == value
    # Two children on one port would collide: each gets its own from the supervisor.
    assert "PACHSTREAM_METRICS_ADDRESS" not in settings.child_env()


def test_metrics_addresses_from_stack_json(tmp_path: Path) -> None:
    assert metrics_addresses(tmp_path) == {}  # no stack
    (tmp_path / STACK_FILE).write_text("{half")
    assert metrics_addresses(tmp_path) == {}  # a file being replaced is not a crash
    recorded = {"commits": "http://127.0.0.1:5/metrics", "console": "http://127.0.0.1:6/metrics"}
    (tmp_path / STACK_FILE).write_bytes(
        orjson.dumps({"addresses": {}, "metrics": {**recorded, "bad": 3}})
    )
    assert metrics_addresses(tmp_path) == recorded
    settings = Settings.from_env({"PACHSTREAM_HOME": str(tmp_path)}, stack_file=False)
    assert metrics_addresses(settings) == recorded


class _Rec:
    def __init__(self, topic: str) -> None:
        self.topic = topic


def test_observe_batch_counts_records_and_lag_behind_the_highwater() -> None:
    m = ProcessMetrics()
    ends = {("t", 0): 10, ("t", 1): 4}  # partition 2: never fetched, no highwater yet
    m.observe_batch(
        "commits",
        [_Rec("t"), _Rec("t"), _Rec("u")],
        {("t", 0): 7, ("t", 1): 6, ("t", 2): 0},
        lambda t, p: ends.get((t, p)),
        0.2,
    )
    m.observe_batch("commits", [_Rec("t")], {("t", 0): 10}, lambda t, p: ends.get((t, p)), 0.1)
    samples = parse_samples(m.exposition().decode())
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    assert (
        got[("pachstream_records_consumed_total", (("processor", "commits"), ("topic", "t")))] == 3
    )
    assert (
        got[("pachstream_records_consumed_total", (("processor", "commits"), ("topic", "u")))] == 1
    )
    lag = {s.labels["partition"]: s.value for s in samples if s.name == "pachstream_consumer_lag"}
    # 10 - 10 after the second batch; 4 - 6 is a highwater older than the offset: 0, not -2.
    assert lag == {"0": 0.0, "1": 0.0}
    assert got[("pachstream_batch_seconds_count", (("processor", "commits"),))] == 2
    assert got[("pachstream_batch_seconds_sum", (("processor", "commits"),))] == pytest.approx(0.3)
    assert summarize(samples) == {"commits": Load(4.0, 0.0)}


async def test_the_server_answers_and_scrape_reads_it() -> None:
    m = ProcessMetrics()
    m.gateway_requests.labels("PutObject", "200").inc()
    server = MetricsServer("127.0.0.1:0", m.registry)
    await server.start()
    try:
        assert not server.url.endswith(":0/metrics")  # the port 0 became
        text = await scrape(server.url)
        samples = parse_samples(text)
        assert (
            Sample(
                "pachstream_gateway_requests_total",
                {"operation": "PutObject", "status": "200"},
                1.0,
            )
            in samples
        )
        with pytest.raises(Unavailable, match="answered HTTP 404"):
            await scrape(server.url.replace("/metrics", "/nothing"))
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
    finally:
        await server.stop()
        await server.stop()  # idempotent
    with pytest.raises(Unavailable, match="did not answer"):
        await scrape(server.url, timeout_s=1.0)


async def test_a_taken_port_is_a_config_error_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(f"127.0.0.1:{port}")
        with pytest.raises(ConfigError, match="PACHSTREAM_METRICS_ADDRESS"):
            await server.start()
        await server.stop()


def test_every_pod_template_has_scrape_annotations_on_a_port_it_serves() -> None:
    deployments = [
        o
        for objects in deploy.render(processors=(*deploy.PROCESSORS, "openlineage")).values()
        for o in objects
        if o["kind"] == "Deployment"
    ]
    assert deployments
    for d in deployments:
        template = d["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/path"] == "/metrics"
        (container,) = template["spec"]["containers"]
        ports = {p["containerPort"] for p in container["ports"]}
        assert int(notes["prometheus.io/port"]) in ports, d["metadata"]["name"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if container["args"] == ["run", "console"]:
            assert "PACHSTREAM_METRICS_ADDRESS" not in env  # its own server has /metrics
        else:
            assert env["PACHSTREAM_METRICS_ADDRESS"] == f"0.0.0.0:{deploy.METRICS_PORT}"


def test_status_says_why_a_process_has_no_metrics(tmp_path: Path) -> None:
    from rich.console import Console

    from pachstream.cli._stack import _metrics, _metrics_table

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens once the socket is closed
    url = f"http://127.0.0.1:{closed}/metrics"
    (tmp_path / STACK_FILE).write_bytes(orjson.dumps({"metrics": {"commits": url}}))
    report = _metrics(tmp_path)
    assert report["commits"]["lag"] is None and report["commits"]["consumed"] is None
    assert report["commits"]["error"].startswith(f"{url} did not answer")
    console = Console(width=200, record=True)
    console.print(_metrics_table(report))
    (row,) = [r for r in console.export_text().splitlines() if r.strip().startswith("commits")]
    assert row.split()[1:3] == ["-", "-"] and "did not answer" in row
    assert _metrics(tmp_path / "nowhere") == {}
