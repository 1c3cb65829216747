"""The Apache Kafka test harness against the real broker: a cluster id that begins with "-"
(1 id in 64) formats and starts like any other."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pachstream.errors import KafkaUnavailable
from pachstream.testing import kafka as testing_kafka


def test_a_cluster_id_beginning_with_a_dash_starts_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dashed = "-" + "A" * 21  # base64url of 16 bytes, as kafka-storage random-uuid prints
    assert len(base64.urlsafe_b64decode(dashed + "==")) == 16
    monkeypatch.setattr(testing_kafka, "_cluster_id", lambda: dashed)
    try:
        testing_kafka.java_bin()
        testing_kafka.fetch_jars(testing_kafka.default_cache())
    except KafkaUnavailable as exc:
        pytest.skip(f"Apache Kafka runs skipped: {exc}")
    kafka = testing_kafka.ApacheKafka(tmp_path / "kafka")
    try:
        kafka.start()  # the format refused "-AAAA..." as an option before
        assert (tmp_path / "kafka" / "data" / "meta.properties").read_text().count(dashed) == 1
    finally:
        kafka.stop()
