"""Processes pachstream starts run the pachstream that started them, wherever they start."""

import subprocess
import sys
from pathlib import Path

from pachstream.service import own_command


def test_a_child_started_beside_another_pachstream_folder_runs_this_one(tmp_path: Path) -> None:
    impostor = tmp_path / "pachstream"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("")
    (impostor / "__main__.py").write_text("print('the impostor ran')\n")

    def run(cmd: list[str]) -> str:
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr

    # The control: `-m` alone runs the folder in the working directory.
    assert "the impostor ran" in run([sys.executable, "-m", "pachstream", "--help"])
    shown = run(own_command("pachstream", "--help"))
    assert "the impostor ran" not in shown
    assert "Usage" in shown
