"""Servers for the test session: env-named, containers, or embedded (the default)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from pachstream.settings import Settings


def _docker_reachable() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def servers() -> Iterator[Settings]:
    """One set of Kafka, Postgres and S3 for the whole session."""
    named = ("PACHSTREAM_KAFKA_BOOTSTRAP", "PACHSTREAM_POSTGRES_DSN", "PACHSTREAM_S3_ENDPOINT")
    if all(os.environ.get(k) for k in named):
        yield Settings.from_env()
        return
    if _docker_reachable():
        yield from _containers()
        return
    from pachstream.testing import EmbeddedServers

    with EmbeddedServers(kafka_storage="memory") as embedded:
        yield embedded.settings


def _containers() -> Iterator[Settings]:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer
    from testcontainers.postgres import PostgresContainer

    from pachstream.settings import KafkaSettings, ObjectStoreSettings, PostgresSettings
    from pachstream.stack._servers import ensure_buckets

    with KafkaContainer() as kafka, PostgresContainer("postgres:16") as pg, MinioContainer() as minio:
        cfg = minio.get_config()
        endpoint = f"http://{cfg['endpoint']}"
        ensure_buckets(endpoint, ["pachstream"], cfg["access_key"], cfg["secret_key"])
        yield Settings(
            home=__import__("pathlib").Path("/tmp"),
            namespace="ps",
            kafka=KafkaSettings(bootstrap=kafka.get_bootstrap_server()),
            postgres=PostgresSettings(dsn=pg.get_connection_url().replace("+psycopg2", "")),
            s3=ObjectStoreSettings(endpoint=endpoint, access_key=cfg["access_key"], secret_key=cfg["secret_key"]),
        )


@pytest.fixture
def settings(servers: Settings) -> Settings:
    """The session's servers under a namespace of this test's own."""
    return servers.with_namespace("t" + uuid.uuid4().hex[:12])
