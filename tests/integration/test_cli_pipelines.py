"""The pipeline commands as users run them: JSON for scripts, one clear line on bad input."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from pachstream.testing.services import run_cli

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)

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
HEAD = "input: {pfs: {repo: raw, glob: /}}\n"
BAD_SPECS = [
    ("pipeline: {name: a}\ninput: {pfs: {repo: nope, glob: /}}\ntransform: {cmd: [x]}", "nope"),
    # No cmd and no image whose Entrypoint could run.
    ("pipeline: {name: b}\n" + HEAD + "transform: {stdin: [x]}", "cmd"),
    ("pipeline: {name: c}\n" + HEAD + "transform: {cmd: [x]}\nstandby: true", "standby"),
]


_cli = run_cli


async def _one_line_error(settings, *args: str) -> str:
    code, out, err = await _cli(settings, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (args, code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
    return lines[0]


async def _first_job(settings, pipeline: str) -> dict[str, Any]:
    """Poll ``list job -p`` until the pipeline has a job (at most 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        code, out, err = await _cli(settings, "list", "job", "-p", pipeline, "--json")
        assert code == 0, err
        jobs = orjson.loads(out)
        if jobs:
            return jobs[-1]
        assert time.monotonic() < deadline, f"no job of {pipeline} after 60 s"
        await asyncio.sleep(0.5)


async def test_pipeline_commands(stack, tmp_path: Path) -> None:
    s = stack.settings
    await stack.client.create_repo("raw")
    await stack.client.put_files("raw@master", [("/a", b"1"), ("/b", b"2")])
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)

    code, out, err = await _cli(s, "create", "pipeline", "-f", str(good))
    assert (code, out) == (0, "up\n"), err
    code, out, err = await _cli(s, "list", "pipeline", "--json")
    assert code == 0, err
    assert [(p["name"], p["version"], p["state"]) for p in orjson.loads(out)] == [
        ("up", 1, "running")
    ]
    job = (await _first_job(s, "up"))["id"]
    code, out, err = await _cli(s, "wait", "job", job, "--timeout", "120", "--json")
    assert code == 0, err
    assert orjson.loads(out)["state"] == "success"
    code, out, err = await _cli(s, "list", "datum", job, "--json")
    assert code == 0, err
    datums = orjson.loads(out)
    assert sorted(d["inputs"][0]["path"] for d in datums) == ["/a", "/b"]
    assert {d["state"] for d in datums} == {"success"}
    code, out, err = await _cli(s, "logs", "--job", job)
    assert code == 0, err
    assert all(d["id"] in out for d in datums), out
    code, out, err = await _cli(s, "inspect", "pipeline", "up", "--json")
    assert code == 0, err
    info = orjson.loads(out)
    assert info["last_job"] == job and info["spec"]["transform"]["cmd"][0] == "sh"

    # Bad input: exit 1 and one line naming the problem; nothing is created.
    for i, (spec, needle) in enumerate(BAD_SPECS):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(spec)
        line = await _one_line_error(s, "create", "pipeline", "-f", str(bad))
        assert needle in line, (spec, line)
    line = await _one_line_error(s, "create", "pipeline", "-f", str(good))
    assert "exists" in line and "update pipeline" in line, line
    line = await _one_line_error(s, "inspect", "job", "0" * 32)
    assert "0" * 32 in line and "does not exist" in line, line
    code, out, err = await _cli(s, "list", "pipeline", "--json")
    assert [p["name"] for p in orjson.loads(out)] == ["up"]

    # The same spec through stdin as an update: a new version of the same pipeline.
    code, out, err = await _cli(s, "update", "pipeline", "-f", "-", stdin=GOOD.encode())
    assert (code, out) == (0, "up\n"), err

    # An image that is not in the image store (and no skopeo to pull it): accepted, since it
    # may be loaded next, but said once on create; its jobs fail until it is loaded.
    imaged = GOOD.replace("name: up", "name: imaged").replace(
        "transform: {", "transform: {image: 'ubuntu:22.04', "
    )
    code, out, err = await _cli(s, "create", "pipeline", "-f", "-", stdin=imaged.encode())
    assert (code, out) == (0, "imaged\n"), err
    if shutil.which("skopeo") is None:
        warning = "warning: pipeline 'imaged': image 'ubuntu:22.04' is not in the image store"
        assert err.count(warning) == 1 and len(err.strip().splitlines()) == 1, err
        assert "pachstream image load FILE" in err
    code, out, err = await _cli(s, "inspect", "pipeline", "imaged", "--json")
    assert orjson.loads(out)["notes"] == [], out  # it runs in its image, as on Pachyderm
    # Without an image, inspect says where the command runs.
    code, out, err = await _cli(s, "inspect", "pipeline", "up")
    assert code == 0 and "Note: no transform.image: the command runs on this machine" in out


async def test_failing_pipeline(stack, tmp_path: Path) -> None:
    s = stack.settings
    await stack.client.create_repo("raw")
    await stack.client.put_files("raw@master", [("/a", b"1")])
    fails = tmp_path / "fails.yaml"
    fails.write_text(FAILS)

    code, out, err = await _cli(s, "create", "pipeline", "-f", str(fails))
    assert (code, out) == (0, "fails\n"), err
    job = (await _first_job(s, "fails"))["id"]
    line = await _one_line_error(s, "wait", "job", job, "--timeout", "120")
    assert f"job {job}" in line and "failed" in line and "exit 3" in line, line
    [datum] = await stack.client.list_datum(job)
    assert datum.id in line, line

    code, out, err = await _cli(s, "rerun", "job", job)
    assert code == 0, err
    rerun = out.strip()
    assert len(rerun) == 32 and rerun != job
