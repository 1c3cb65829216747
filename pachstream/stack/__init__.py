"""The embedded stack: servers from wheels plus pachstream's processors, under one folder."""

from pachstream.stack._supervisor import (
    PROCESSORS,
    Supervisor,
    detach,
    down,
    read_state,
    running,
    status,
)

__all__ = ["PROCESSORS", "Supervisor", "detach", "down", "read_state", "running", "status"]
