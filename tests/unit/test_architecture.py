"""The architecture contract (pyproject.toml, [tool.importlinter]) holds, and can fail.

`make test` runs `lint-imports` itself; these cases show that each kind of violation is
caught, by adding one to a copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so grimp reads it, not the installed package.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "pachstream", tmp_path / "pachstream", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_package_keeps_the_contract(tree: Path) -> None:
    proc = _lint(tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr


BREAKS = [
    # (module to break, the import added, the contract, what the report names)
    # An upward import: the model importing a processor.
    ("model.py", "import pachstream.commits.events", "layers:", "model -> pachstream.commits"),
    # A processor importing the client above it.
    ("dispatch/plan.py", "import pachstream.client", "layers:", "plan -> pachstream.client"),
    # Siblings on one line of the layers, said to be independent.
    ("kafka.py", "import pachstream.pg", "layers:", "pachstream.kafka -> pachstream.pg"),
    # Another package's private module.
    ("cli/_output.py", "import pachstream.commits._core", "private module", "commits._core"),
    # A cycle between two modules of one package.
    ("dispatch/datums.py", "import pachstream.dispatch.plan", "no cycles", "pachstream.dispatch"),
]


@pytest.mark.parametrize(
    ("module", "line", "contract", "shown"), BREAKS, ids=[b[0] for b in BREAKS]
)
def test_a_violation_fails_the_contract(
    tree: Path, module: str, line: str, contract: str, shown: str
) -> None:
    _append(tree / "pachstream" / module, line)
    proc = _lint(tree)
    assert proc.returncode == 1, proc.stdout
    broken = proc.stdout.split("Broken contracts", 1)[1]
    assert contract in broken and shown in broken


def test_every_top_level_module_has_a_layer() -> None:
    # A package left out of the layers is checked by nothing: a new one must be placed.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    placed = {name.strip() for line in layers for name in line.split("|")}
    found = {
        f"pachstream.{p.stem}"
        for p in (ROOT / "pachstream").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("__")
    }
    assert sorted(found - placed) == []
