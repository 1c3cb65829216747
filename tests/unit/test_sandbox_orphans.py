"""Memory folders of sandbox roots that are gone are freed at the next sandbox start.

A stack killed whole stops no sandbox; its home is then deleted and its folders in the
memory folder would stay until a reboot. Each root's folders have an owner file naming the
root; a start frees the folders of every owner whose root no longer links to them, once the
owner is older than a start takes (a young one may be a start in progress).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pachstream.worker import sandbox
from pachstream.worker.sandbox import MEMORY_FOLDERS, ORPHAN_AFTER_S, OWNER_SUFFIX


@pytest.fixture
def mine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shm = tmp_path / "shm"
    shm.mkdir()
    monkeypatch.setattr(sandbox, "MEMORY_DIR", shm)
    return shm / f"pachstream-{os.getuid()}"


def _start(root: Path, mine: Path) -> str:
    """A sandbox start at ``root``: its folders made, staged into, and its owner aged."""
    sandbox._in_memory(root)
    target = Path(os.readlink(root / "ctl"))
    assert target.parent == mine
    (target / "staged").write_bytes(b"x" * 10)
    owner = mine / f"{target.name}{OWNER_SUFFIX}"
    assert owner.read_text() == str(root.resolve())
    old = time.time() - ORPHAN_AFTER_S - 1
    os.utime(owner, (old, old))
    return target.name


def _older_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root started with its control folder on disk (made before that folder moved to
    memory) and its inputs and outputs in memory."""
    monkeypatch.setattr(sandbox, "MEMORY_MIN_BYTES", 0)
    root = tmp_path / "older"
    (root / "ctl").mkdir(parents=True)
    sandbox._in_memory(root)
    return root


def _held(mine: Path) -> set[str]:
    return {p.name for p in mine.iterdir()}


def test_the_folders_of_a_deleted_root_are_freed_by_the_next_start(
    tmp_path: Path, mine: Path
) -> None:
    gone = _start(tmp_path / "gone", mine)
    shutil.rmtree(tmp_path / "gone")  # the stack's home deleted after a kill -9
    kept = _start(tmp_path / "kept", mine)
    assert not any(name.startswith(gone) for name in _held(mine))
    assert {kept, f"{kept}{OWNER_SUFFIX}"} <= _held(mine)


def test_a_root_that_still_links_to_its_folders_keeps_them(tmp_path: Path, mine: Path) -> None:
    stopped = _start(tmp_path / "stopped", mine)  # its sandbox stopped; the root is there
    sandbox._in_memory(tmp_path / "other")
    assert (mine / stopped / "staged").exists()


def test_a_young_owner_is_left_alone_even_without_its_root(tmp_path: Path, mine: Path) -> None:
    sandbox._in_memory(tmp_path / "starting")  # its owner just written
    young = Path(os.readlink(tmp_path / "starting" / "ctl")).name
    shutil.rmtree(tmp_path / "starting")
    sandbox._in_memory(tmp_path / "other")
    assert young in _held(mine)


def test_a_root_whose_links_now_point_elsewhere_frees_the_old_folders(
    tmp_path: Path, mine: Path
) -> None:
    root = tmp_path / "moved"
    old = _start(root, mine)
    for name in MEMORY_FOLDERS:
        if (root / name).is_symlink():
            (root / name).unlink()
            (root / name).mkdir()  # on disk now (no room in memory, say)
    sandbox._in_memory(tmp_path / "other")
    assert not any(name.startswith(old) for name in _held(mine))


def test_a_root_with_its_control_folder_on_disk_keeps_its_other_memory_folders(
    tmp_path: Path, mine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _older_root(tmp_path, monkeypatch)
    staged = Path(os.readlink(root / "inputs"))
    (staged / "in").write_bytes(b"x")
    owner = mine / f"{staged.name.removesuffix('.inputs')}{OWNER_SUFFIX}"
    past = time.time() - ORPHAN_AFTER_S - 1
    os.utime(owner, (past, past))
    sandbox._in_memory(tmp_path / "other")
    assert (staged / "in").read_bytes() == b"x"


def test_a_stop_frees_the_owner_with_the_folders_and_a_start_writes_it_again(
    tmp_path: Path, mine: Path
) -> None:
    root = tmp_path / "root"
    digest = _start(root, mine)
    sandbox.free_memory(root)
    assert not any(name.startswith(digest) for name in _held(mine))
    sandbox._in_memory(root)
    assert (mine / f"{digest}{OWNER_SUFFIX}").read_text() == str(root.resolve())


def test_a_stop_frees_the_owner_of_a_root_whose_control_folder_is_on_disk(
    tmp_path: Path, mine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _older_root(tmp_path, monkeypatch)
    digest = Path(os.readlink(root / "inputs")).name.removesuffix(".inputs")
    assert (mine / f"{digest}{OWNER_SUFFIX}").exists()
    sandbox.free_memory(root)
    assert not any(name.startswith(digest) for name in _held(mine))
