"""The CLI as users run it: bad input answers one clear line and exit code 1; JSON for scripts."""

from __future__ import annotations

from pathlib import Path

import orjson

from pachstream.testing.services import run_cli

_cli = run_cli


BAD = [
    (["create", "repo", "bad name!"], "repo name 'bad name!'"),
    (["create", "branch", "data@bad/branch"], "bad/branch"),
    (["put", "file", "data@master:/a/../b", "-f", "{local}"], ".."),
    (["put", "file", "missing@master:/x", "-f", "{local}"], "repo 'missing' does not exist"),
    (["get", "file", "data@master:/nope"], "file '/nope' does not exist"),
    (["get", "file", "data@nobranch:/x"], "neither a branch nor a commit"),
    (["get", "file", "data@master~9:/x"], "history ends"),
    (["finish", "commit", "data@master"], "no open commit"),
    (["put", "file", "data@master:/x", "-f", "/no/such/local/file"], "does not exist"),
    (["list", "file", "data@master^x"], "data@master^x"),
]


async def test_bad_input_gives_one_line_and_exit_1(stack, settings, tmp_path: Path):
    local = tmp_path / "x.txt"
    local.write_bytes(b"x")
    code, out, err = await _cli(settings, "create", "repo", "data")
    assert code == 0, err
    code, out, err = await _cli(settings, "put", "file", "data@master:/x.txt", "-f", str(local))
    assert code == 0, err
    commit_id = out.strip()
    assert len(commit_id) == 32
    for args, needle in BAD:
        argv = [a.replace("{local}", str(local)) for a in args]
        code, out, err = await _cli(settings, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (argv, code, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert needle in lines[0], (argv, lines[0])

    # A second start names the open commit; a write to a deleted repo is refused.
    code, out, _ = await _cli(settings, "start", "commit", "data@master")
    open_id = out.strip()
    code, out, err = await _cli(settings, "start", "commit", "data@master")
    assert code == 1 and open_id in err
    await _cli(settings, "finish", "commit", "data@master")
    code, _, _ = await _cli(settings, "delete", "repo", "data")
    assert code == 0
    code, out, err = await _cli(settings, "start", "commit", "data@master")
    assert code == 1 and "repo 'data' does not exist" in err

    # Nothing acknowledged was lost by all that: a repo made before is intact.
    code, _, _ = await _cli(settings, "create", "repo", "kept")
    code, out, _ = await _cli(settings, "put", "file", "kept@master:/k", "-f", "-", stdin=b"kept")
    assert code == 0
    code, out, _ = await _cli(settings, "get", "file", "kept@master:/k")
    assert out == "kept"


READS = [
    ["list", "repo", "--json"],
    ["inspect", "repo", "j", "--json"],
    ["list", "branch", "j", "--json"],
    ["inspect", "branch", "j@master", "--json"],
    ["list", "commit", "j@master", "--json"],
    ["inspect", "commit", "j@master", "--json"],
    ["wait", "commit", "j@master", "--json"],
    ["list", "file", "j@master:/", "--json"],
    ["glob", "file", "j@master:/*", "--json"],
    ["diff", "file", "j@master", "--json"],
    ["inspect", "file", "j@master:/d/f", "--json"],
]


async def test_every_read_command_speaks_json(stack, settings):
    await stack.client.create_repo("j")
    await stack.client.put_file("j@master", "/d/f", b"content")
    for args in READS:
        code, out, err = await _cli(settings, *args)
        assert code == 0, (args, err)
        doc = orjson.loads(out)
        assert isinstance(doc, (list, dict)) and doc, args
