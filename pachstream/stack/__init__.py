"""The embedded stack: servers from wheels plus pachstream's processors, under one folder."""

from pachstream.stack._release import await_release, waits_for_release
from pachstream.stack._supervisor import (
    PROCESSORS,
    Supervisor,
    detach,
    down,
    read_state,
    running,
    status,
)

__all__ = [
    "PROCESSORS",
    "Supervisor",
    "await_release",
    "detach",
    "down",
    "read_state",
    "running",
    "status",
    "waits_for_release",
]
