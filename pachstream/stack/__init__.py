"""The embedded stack: servers from wheels plus pachstream's processors, under one folder."""

from pachstream.stack._supervisor import (
    PROCESSORS,
    Supervisor,
    check_config,
    detach,
    down,
    read_state,
    status,
)

__all__ = ["PROCESSORS", "Supervisor", "check_config", "detach", "down", "read_state", "status"]
