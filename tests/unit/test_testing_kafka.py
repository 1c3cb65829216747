"""The Apache Kafka test harness: its config, and a clear refusal where Java or Maven is missing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pachstream.errors import KafkaUnavailable
from pachstream.testing import kafka as testing_kafka
from pachstream.testing.kafka import fetch_jars, java_bin


def test_server_properties_are_a_single_loopback_kraft_node(tmp_path: Path):
    text = testing_kafka._server_properties(tmp_path, 9092, 9093)
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["auto.create.topics.enable"] == "false"  # pachstream creates its topics
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "min.insync.replicas"):  # fmt: skip
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_cluster_id_is_what_kafka_storage_random_uuid_prints():
    cid = testing_kafka._cluster_id()
    assert len(cid) == 22 and "=" not in cid
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_a_complete_cache_needs_no_maven(tmp_path: Path, monkeypatch):
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "a.jar").write_bytes(b"")
    (tmp_path / "classpath.txt").write_text("libs/a.jar\n")
    monkeypatch.setattr(testing_kafka.shutil, "which", lambda name: None)
    assert fetch_jars(tmp_path) == [tmp_path / "libs" / "a.jar"]


def test_missing_maven_or_java_is_one_line_naming_it(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(testing_kafka.shutil, "which", lambda name: None)
    with pytest.raises(KafkaUnavailable, match=r"Maven \(mvn\) is not on PATH") as maven:
        fetch_jars(tmp_path / "empty")
    with pytest.raises(KafkaUnavailable, match=r"Java \(java\) is not on PATH") as java:
        java_bin()
    assert "\n" not in str(maven.value) and "\n" not in str(java.value)
