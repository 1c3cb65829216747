"""The pipeline commands as users run them: JSON for scripts, one clear line on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from test_cli import _cli

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)")

GOOD = """
pipeline: {name: up}
input: {pfs: {repo: raw, glob: "/*"}}
transform: {cmd: [sh, -c, 'cp /pfs/raw/* /pfs/out/']}
"""
FAILS = """
pipeline: {name: fails}
input: {pfs: {repo: raw, glob: "/*"}}
transform: {cmd: [sh, -c, 'echo oops >&2; exit 3']}
datum_tries: 1
"""
BAD = [
    ("pipeline: {name: a}\ninput: {pfs: {repo: nope, glob: /}}\ntransform: {cmd: [\"true\"]}", "nope"),
    ("pipeline: {name: b}\ninput: {pfs: {repo: raw, glob: /}}\ntransform: {}", "cmd"),
    ("pipeline: {name: c}\ninput: {pfs: {repo: raw, glob: /}}\ntransform: {cmd: [x]}\nautoscaling: true", "autoscaling"),
]


async def test_pipeline_commands(stack, tmp_path: Path) -> None:
    s = stack.settings
    await stack.client.create_repo("raw")
    cid = await stack.client.put_files("raw@master", [("/a", b"1"), ("/b", b"2")])
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "fails.yaml").write_text(FAILS)
    assert (await _cli(s, "create", "pipeline", "-f", str(tmp_path / "good.yaml")))[:2] == (0, "up\n")
    code, stdout, _ = await _cli(s, "wait", "commitset", f"raw@{cid}", "--json")
    assert code == 0 and [j["state"] for j in orjson.loads(stdout)] == ["success"]
    job = orjson.loads(stdout)[0]["id"]
    code, stdout, _ = await _cli(s, "list", "pipeline", "--json")
    assert [p["name"] for p in orjson.loads(stdout)] == ["up"]
    assert (await _cli(s, "wait", "job", job))[0] == 0
    code, stdout, _ = await _cli(s, "list", "datum", job, "--json")
    assert sorted(d["inputs"][0]["path"] for d in orjson.loads(stdout)) == ["/a", "/b"]
    assert (await _cli(s, "inspect", "pipeline", "up"))[0] == 0
    assert (await _cli(s, "logs", "--job", job))[0] == 0

    for i, (spec, word) in enumerate(BAD):
        (tmp_path / f"bad{i}.yaml").write_text(spec)
        code, _, stderr = await _cli(s, "create", "pipeline", "-f", str(tmp_path / f"bad{i}.yaml"))
        assert code == 1 and word in stderr and len(stderr.strip().splitlines()) == 1, stderr
    code, _, stderr = await _cli(s, "create", "pipeline", "-f", str(tmp_path / "good.yaml"))
    assert code == 1 and "update pipeline" in stderr
    code, _, stderr = await _cli(s, "inspect", "job", "0" * 32)
    assert code == 1 and "does not exist" in stderr

    assert (await _cli(s, "create", "pipeline", "-f", str(tmp_path / "fails.yaml")))[0] == 0
    failed = (await stack.client.flush("raw", cid, timeout_s=120))[-1]
    code, _, stderr = await _cli(s, "wait", "job", failed.id)
    assert code == 1 and "exit 3" in stderr and "oops" in stderr, stderr
    code, stdout, _ = await _cli(s, "rerun", "job", failed.id)
    assert code == 0 and len(stdout.strip()) == 32
