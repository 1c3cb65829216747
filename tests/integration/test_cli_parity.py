"""The pachctl commands users type first, through the real CLI: version, completion, put file
from http and s3, get file -r, copy file, find/subscribe commit, logs -f/-j, draw and edit
pipeline, extract/restore into a fresh namespace."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import stat
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from pachstream.objectstore import S3ObjectStore
from pachstream.settings import Settings
from pachstream.testing.services import RunningStack, run_cli

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)


def _env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env.update(settings.child_env())
    env.update(extra or {})
    return env


async def _cli(
    settings: Settings, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> tuple[int, str, str]:
    if env is None:
        return await run_cli(settings, *args, stdin=stdin)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pachstream", *args, env=_env(settings, env),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def _ok(settings: Settings, *args: str, **kw: Any) -> str:
    code, out, err = await _cli(settings, *args, **kw)
    assert code == 0, (args, out, err)
    return out


async def _one_line_error(settings: Settings, *args: str) -> str:
    code, out, err = await _cli(settings, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (args, code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
    return lines[0]


class _Stream:
    """A long-running CLI command whose stdout lines are read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, settings: Settings, *args: str) -> _Stream:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pachstream", *args, env=_env(settings),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def line(self, timeout_s: float = 60) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout=timeout_s)
        assert raw, "the stream ended"
        return raw.decode().rstrip("\n")

    async def until(self, needle: str, timeout_s: float = 90) -> list[str]:
        seen = []
        deadline = time.monotonic() + timeout_s
        while not seen or needle not in seen[-1]:
            seen.append(await self.line(max(0.1, deadline - time.monotonic())))
        return seen

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
        await self.proc.wait()


async def _http_server(files: dict[str, bytes]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        body = files.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


# ----------------------------------------------------------------------------- files and commits


async def test_files_and_commits(stack: RunningStack, tmp_path: Path) -> None:
    s = stack.settings
    c = stack.client

    # version and completion need no servers.
    assert (await _ok(s, "version")).split()[-1] == orjson.loads(await _ok(s, "version", "--json"))[
        "pachstream"
    ]
    for shell in ("bash", "zsh", "fish"):
        assert "_PACHSTREAM_COMPLETE" in await _ok(s, "completion", shell)
    assert "tcsh" in await _one_line_error(s, "completion", "tcsh")
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "pachstream"),
        env={**_env(s), "_PACHSTREAM_COMPLETE": "complete_bash",
             "COMP_WORDS": "pachstream subscr", "COMP_CWORD": "1"},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    completed, _ = await proc.communicate()
    assert completed.decode().split() == ["subscribe"]

    await c.create_repo("raw")
    await c.create_repo("copy")

    # http(s): into a directory under the URL's name, or at a named path; a 404 is one line.
    runner, base = await _http_server({"/files/cat.txt": b"meow", "/big.bin": b"x" * 300_000})
    try:
        await _ok(s, "put", "file", "raw@master:/web/", "-f", f"{base}/files/cat.txt")
        await _ok(s, "put", "file", "raw@master:/web/big", "-f", f"{base}/big.bin")
        error = await _one_line_error(s, "put", "file", "raw@master:/x", "-f", f"{base}/nope")
        assert "404" in error and "/nope" in error
    finally:
        await runner.cleanup()
    assert await c.get_file("raw@master", "/web/cat.txt") == b"meow"
    assert await c.get_file("raw@master", "/web/big") == b"x" * 300_000

    # s3: the stack's own S3 endpoint (SeaweedFS here); -r puts a prefix as a directory.
    assert s.s3 is not None
    bucket = f"src-{s.namespace}"
    store = S3ObjectStore(dataclasses.replace(s.s3, bucket=bucket), "")
    await store.ensure_bucket()
    for key, data in {"in/a.csv": b"a", "in/sub/b.csv": b"bb", "other/c": b"c"}.items():
        await store.put(key, data)
    await store.close()
    await _ok(s, "put", "file", "raw@master:/s3/one.csv", "-f", f"s3://{bucket}/in/a.csv")
    await _ok(s, "put", "file", "-r", "raw@master:/s3/tree", "-f", f"s3://{bucket}/in")
    listed = orjson.loads(await _ok(s, "list", "file", "raw@master:/s3/tree/sub", "--json"))
    assert [f["path"] for f in listed] == ["/s3/tree/sub/b.csv"]
    assert await c.get_file("raw@master", "/s3/tree/a.csv") == b"a"
    assert await c.get_file("raw@master", "/s3/one.csv") == b"a"
    missing = await _one_line_error(s, "put", "file", "raw@master:/m", "-f", f"s3://{bucket}/no")
    assert f"s3://{bucket}/no does not exist" in missing
    assert "-r" in await _one_line_error(
        s, "put", "file", "raw@master:/", "-f", f"s3://{bucket}/in/"
    )

    # get file -r: the directory's files below a local folder.
    out_dir = tmp_path / "out"
    await _ok(s, "get", "file", "-r", "raw@master:/s3", "-o", str(out_dir))
    got = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    assert got == ["one.csv", "tree/a.csv", "tree/sub/b.csv"]
    assert (out_dir / "tree/sub/b.csv").read_bytes() == b"bb"
    assert "-o" in await _one_line_error(s, "get", "file", "-r", "raw@master:/s3")

    # copy file: a file and a directory, across repos; the same entries (same hashes).
    await _ok(s, "copy", "file", "raw@master:/web/cat.txt", "copy@master:/pets/")
    await _ok(s, "copy", "file", "raw@master:/s3/tree", "copy@master:/t", "-r")
    src = orjson.loads(await _ok(s, "inspect", "file", "raw@master:/web/big", "--json"))
    await _ok(s, "copy", "file", "raw@master:/web/big", "copy@master:/big")
    dst = orjson.loads(await _ok(s, "inspect", "file", "copy@master:/big", "--json"))
    assert dst["hash"] == src["hash"] and dst["size_bytes"] == 300_000
    assert await c.get_file("copy@master", "/pets/cat.txt") == b"meow"
    assert await c.get_file("copy@master", "/t/sub/b.csv") == b"bb"
    assert "does not exist" in await _one_line_error(
        s, "copy", "file", "raw@master:/nothing", "copy@master:/x"
    )

    # find commit: the commits that changed a file, newest first.
    first = await c.put_file("raw@master", "/f.txt", b"1")
    await c.put_file("raw@master", "/other", b"o")
    second = await c.put_file("raw@master", "/f.txt", b"22")
    third = await c.delete_file("raw@master", "/f.txt")
    found = orjson.loads(await _ok(s, "find", "commit", "raw@master:/f.txt", "--json"))
    assert [(f["commit"]["id"], f["change"]) for f in found] == [
        (third, "deleted"), (second, "modified"), (first, "added"),
    ]  # fmt: skip
    found = orjson.loads(
        await _ok(s, "find", "commit", "raw@master^", "--path", "/f.txt", "--json", "-n", "1")
    )
    assert [f["commit"]["id"] for f in found] == [second]
    table = await _ok(s, "find", "commit", "raw@master", "--path", "/web")
    assert "cat.txt" in table and "big" in table
    assert "--path" in await _one_line_error(s, "find", "commit", "raw@master")

    # subscribe commit: the existing commits, then new ones as they land.
    listed = orjson.loads(await _ok(s, "list", "commit", "copy@master", "--json"))
    history = [x["id"] for x in listed]
    out = await _ok(s, "subscribe", "commit", "copy@master", "--json", "--max", str(len(history)))
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == history[::-1]
    out = await _ok(s, "subscribe", "commit", "copy@master", "--from", history[-1], "--json",
                    "--timeout", "3")  # fmt: skip
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == history[-2::-1]
    stream = await _Stream.start(s, "subscribe", "commit", "copy@master", "--new")
    try:
        # A commit that lands before the subscriber has started is not new to it: put until
        # one is printed, then it must be one of these, and none of the older ones.
        new_ids: list[str] = []
        for n in range(30):
            new_ids.append(await c.put_file("copy@master", f"/new{n}", b"n"))
            try:
                line = await stream.line(timeout_s=2)
                break
            except TimeoutError:
                continue
        assert line.split("  ")[0].removeprefix("copy@") in new_ids, (line, new_ids)
        assert line.split("  ")[1] == "master"
    finally:
        await stream.stop()
    assert await _ok(s, "subscribe", "commit", "copy@master", "--new", "--timeout", "1") == ""
    assert "does not exist" in await _one_line_error(s, "subscribe", "commit", "nope@master")


# ----------------------------------------------------------------------------- pipelines

UPPER = """
pipeline: {name: upper}
input: {pfs: {repo: words, glob: "/*"}}
transform:
  cmd: [sh, -c, 'for f in /pfs/words/*; do n=$(basename $f); echo "log of $n";
    tr a-z A-Z < $f > /pfs/out/$n; done']
"""
COUNT = """
pipeline: {name: count}
input: {cross: [{pfs: {repo: upper, glob: /}}, {pfs: {repo: words, glob: /, name: w}}]}
transform: {cmd: [sh, -c, 'cat /pfs/upper/* | wc -c > /pfs/out/total']}
"""

# Replaces the command of the spec it is given (YAML), as a user would in vi.
EDITOR_SCRIPT = """#!/bin/sh
sed -i 's/echo "log of/echo "edited log of/' "$1"
"""


async def _jobs(settings: Settings, pipeline: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    while True:
        jobs = orjson.loads(await _ok(settings, "list", "job", "-p", pipeline, "--json"))
        done = [j for j in jobs if j["state"] != "running"]
        if len(done) >= count:
            return jobs
        assert time.monotonic() < deadline, f"{pipeline}: {jobs}"
        await asyncio.sleep(0.5)


@needs_bwrap
async def test_pipeline_commands(stack: RunningStack, tmp_path: Path) -> None:
    s = stack.settings
    c = stack.client
    await c.create_repo("words")
    await c.put_files("words@master", [("/a", b"abc"), ("/b", b"de")])
    (tmp_path / "p.yaml").write_text(UPPER + "---\n" + COUNT)
    await _ok(s, "create", "pipeline", "-f", str(tmp_path / "p.yaml"))

    # draw pipeline: text and JSON.
    drawn = (await _ok(s, "draw", "pipeline")).splitlines()
    assert drawn == [
        "words",
        "├─▶ count  (pipeline, running)",
        "└─▶ upper  (pipeline, running)",
        "    └─▶ count  ↑",
    ]
    graph = orjson.loads(await _ok(s, "draw", "pipeline", "--json"))
    assert {(e["from"], e["to"]) for e in graph["edges"]} == {
        ("words", "upper"), ("words", "count"), ("upper", "count"),
    }  # fmt: skip

    # logs: -j (pachctl's alias), -f on a job ends with the job; unknown names are one line.
    job = (await _jobs(s, "upper", 1))[0]["id"]
    out = await _ok(s, "logs", "-j", job)
    assert "log of a" in out and "log of b" in out
    out = await _ok(s, "logs", "-j", job, "-f", "--json")
    assert sorted(orjson.loads(line)["datum_id"] for line in out.splitlines()) == sorted(
        d["id"] for d in orjson.loads(await _ok(s, "list", "datum", job, "--json"))
    )
    assert "list pipeline" in await _one_line_error(s, "logs", "-p", "nope")
    assert "list job" in await _one_line_error(s, "logs", "-j", "0" * 32)
    assert "list pipeline" in await _one_line_error(s, "logs", "-p", "nope", "-f")

    # logs -p -f follows the pipeline's next jobs.
    follow = await _Stream.start(s, "logs", "-p", "upper", "-f")
    try:
        await follow.until("log of")  # the current job's datums first
        await c.put_file("words@master", "/zz", b"zzz")
        await follow.until("log of zz")
    finally:
        await follow.stop()

    # edit pipeline: $EDITOR changes the spec, the pipeline is updated (version 2).
    editor = tmp_path / "editor.sh"
    editor.write_text(EDITOR_SCRIPT)
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = await _ok(s, "edit", "pipeline", "upper", env={"EDITOR": str(editor)})
    assert out == "upper\n"
    info = orjson.loads(await _ok(s, "inspect", "pipeline", "upper", "--json"))
    assert info["version"] == 2 and "edited log" in str(info["spec"]["transform"]["cmd"])
    code, out, err = await _cli(s, "edit", "pipeline", "upper", "--json", env={"EDITOR": "true"})
    assert (code, out) == (0, "") and "unchanged" in err
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\nsed -i 's/name: upper/name: other/' \"$1\"\n")
    bad.chmod(bad.stat().st_mode | stat.S_IEXEC)
    # The refused edit is kept for the user, in the temporary folder (this test's).
    env = {"EDITOR": str(bad), "TMPDIR": str(tmp_path)}
    code, out, err = await _cli(s, "edit", "pipeline", "upper", env=env)
    assert code == 1 and "'upper' only" in err and "your edit is in" in err
    assert len(list(tmp_path.glob("pipeline-upper-*.yaml"))) == 1


# ----------------------------------------------------------------------------- extract / restore


REFS = ["master", "dev", "master^", "master~2", "dev^"]


async def _state(settings: Settings, repo: str, refs: list[str], tmp: Path) -> dict[str, Any]:
    """What a user sees of a repo: each ref's files (hash and content) and the history."""
    out: dict[str, Any] = {}
    for n, ref in enumerate(refs):
        files = orjson.loads(await _ok(settings, "glob", "file", f"{repo}@{ref}:/**", "--json"))
        folder = tmp / f"{settings.namespace}-{n}"
        await _ok(settings, "get", "file", "-r", f"{repo}@{ref}:/", "-o", str(folder))
        out[ref] = {
            f["path"]: (f["hash"], (folder / f["path"].lstrip("/")).read_bytes())
            for f in files
            if f["type"] == "file"
        }
    commits = orjson.loads(await _ok(settings, "list", "commit", f"{repo}@master", "--json"))
    out["history"] = [(x["description"], x["file_count"], x["size_bytes"]) for x in commits]
    return out


@needs_bwrap
async def test_extract_and_restore_into_a_fresh_namespace(
    stack: RunningStack, settings: Settings, tmp_path: Path
) -> None:
    s = stack.settings
    c = stack.client
    await c.create_repo("words", "some words")
    await c.put_files("words@master", [("/a", b"abc"), ("/d/b", b"de")])
    async with c.commit("words@master", "second") as commit:
        await commit.put_file("/a", b"ABC")
        await commit.put_file("/big", b"0123456789" * 20_000)
    await c.put_file("words@master", "/a", b"+more", append=True)  # a two-chunk file
    await c.create_branch("words@dev", "master^")
    await c.put_file("words@dev", "/dev-only", b"dev")
    await c.delete_file("words@master", "/d")
    await c.create_branch("words@empty")
    (tmp_path / "p.yaml").write_text(UPPER)
    await _ok(s, "create", "pipeline", "-f", str(tmp_path / "p.yaml"))
    await _jobs(s, "upper", 1)
    await _ok(s, "stop", "pipeline", "upper")
    before = await _state(s, "words", REFS, tmp_path)

    archive = tmp_path / "backup.tar"
    code, _, err = await _cli(s, "extract", "-o", str(archive))
    assert code == 0 and "1 repo, 5 commits" in err and "1 pipeline" in err, err
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and all(n.startswith("chunks/") for n in names[1:])
    folder = tmp_path / "folder"
    await _ok(s, "extract", "words", "-o", str(folder))  # one repo, as a folder
    assert (folder / "manifest.json").is_file()
    assert "already exists" in await _one_line_error(s, "restore", str(archive))

    fresh = settings.with_namespace("r" + uuid.uuid4().hex[:12])
    async with RunningStack(fresh):
        code, out, err = await _cli(fresh, "restore", str(archive), "--json")
        assert code == 0, err
        summary = orjson.loads(out)
        assert (summary["repos"], summary["commits"], summary["pipelines"]) == (1, 5, 1)
        after = await _state(fresh, "words", REFS, tmp_path)
        assert after == before
        branches = orjson.loads(await _ok(fresh, "list", "branch", "words", "--json"))
        assert {(b["name"], b["head"] is None) for b in branches} == {
            ("master", False), ("dev", False), ("empty", True),
        }  # fmt: skip
        repo = orjson.loads(await _ok(fresh, "inspect", "repo", "words", "--json"))
        assert repo["description"] == "some words"
        pipeline = orjson.loads(await _ok(fresh, "inspect", "pipeline", "upper", "--json"))
        assert pipeline["state"] == "stopped"
        assert "does not exist" in await _one_line_error(fresh, "restore", str(tmp_path / "no"))
