"""Where a sandbox's working folders go, and what a datum that does not fit says."""

from __future__ import annotations

import errno

import pytest

from pachstream.worker._worker import not_started
from pachstream.worker.sandbox import MEMORY_DIR, MEMORY_FOLDERS, MEMORY_MIN_BYTES, memory_folders

GIB = 1 << 30


@pytest.mark.parametrize(
    ("room", "folders"),
    [
        (64 << 20, ["ctl"]),  # Docker's /dev/shm: only the control files
        (MEMORY_MIN_BYTES - 1, ["ctl"]),
        (MEMORY_MIN_BYTES, ["ctl", "inputs", "out"]),
        (12 * GIB, ["ctl", "inputs", "out"]),  # half of this box's 24 GiB
        (0, ["ctl"]),
    ],
)
def test_inputs_and_outputs_go_in_memory_only_where_there_is_room(room, folders) -> None:
    chosen = memory_folders(room)
    assert sorted(chosen) == folders
    assert all(chosen[name] == MEMORY_FOLDERS[name] for name in chosen)


@pytest.mark.parametrize(
    ("err", "said", "fix"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/dev/shm/x.inputs/raw/f"),
            "OSError: [Errno 28] No space left on device: '/dev/shm/x.inputs/raw/f'",
            f"the memory folder {MEMORY_DIR}",
        ),
        (
            OSError(errno.EACCES, "Permission denied"),
            "PermissionError: [Errno 13] Permission denied",
            "",
        ),
        (ValueError("surrogates not allowed"), "ValueError: surrogates not allowed", ""),
    ],
)
def test_a_datum_that_cannot_start_says_why_and_the_fix_when_it_did_not_fit(err, said, fix) -> None:
    note = not_started(err)
    assert note.startswith(f"pachstream: the datum could not be started: {said}")
    assert note.endswith("\n")
    if fix:
        assert fix in note and "finer glob" in note
    else:
        assert "glob" not in note
