"""Test harness: embedded servers in a temporary folder, and the processors of a namespace.

``EmbeddedServers`` starts SeaweedFS, Tansu and PostgreSQL on free loopback ports and stops
every process it started, by PID, on exit (also after an exception). ``RunningStack`` (from
:mod:`pachstream.testing.services`) runs the processors of one namespace in-process.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from pachstream.settings import KafkaSettings, ObjectStoreSettings, PostgresSettings, Settings
from pachstream.stack.servers import (
    Server,
    ensure_buckets,
    filer_socket,
    start_postgres,
    start_seaweedfs,
    start_tansu,
    stop_servers,
)
from pachstream.testing.services import RunningStack

__all__ = ["EmbeddedServers", "RunningStack"]


class EmbeddedServers:
    """The three servers in a temporary folder: ``with EmbeddedServers() as s: s.settings``."""

    def __init__(self, *, kafka_storage: str = "memory", folder: Path | None = None) -> None:
        self.kafka_storage = kafka_storage
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="pachstream-test-"))
        self.servers: list[Server] = []
        self.settings: Settings

    def __enter__(self) -> EmbeddedServers:
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            weed = start_seaweedfs(self.folder / "seaweedfs", logs)
            self.servers.append(weed)
            ensure_buckets(weed.address, ["pachstream", "tansu"])
            self.servers.append(start_tansu(logs, self.kafka_storage, weed.address))
            self.servers.append(start_postgres(self.folder / "postgres", logs))
        except BaseException:
            self.stop()
            raise
        kafka, pg = self.servers[1], self.servers[2]
        self.settings = Settings(
            home=self.folder,
            namespace="ps",
            kafka=KafkaSettings(bootstrap=kafka.address),
            postgres=PostgresSettings(dsn=pg.address),
            s3=ObjectStoreSettings(
                endpoint=weed.address, filer_socket=str(filer_socket(self.folder / "seaweedfs"))
            ),
            kafka_storage=self.kafka_storage,
        )
        return self

    def stop(self) -> None:
        """Stop every server started, newest first."""
        stop_servers(self.servers, 20)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
