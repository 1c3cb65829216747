"""Mistakes users make answer one line that names the fix, and exit code 1 (README).

Also: directory listings come from Postgres, so they are checked against the tree itself.
"""

from __future__ import annotations

from pathlib import Path

from pachstream.testing.services import run_cli

MISTAKES = [
    # (argv, what the one line must contain)
    (["list", "file", "images:master"], "did you mean 'images@master'?"),
    (["put", "file", "images:master", "-f", "{tmp}/cats"], "did you mean 'images@master'?"),
    (["list", "commit", "images:master"], "did you mean 'images@master'?"),
    (["get", "file", "images@master/cats/tom.png"], "did you mean 'images@master:/cats/tom.png'?"),
    (["list", "file", "imgaes@master"], "did you mean 'images'?"),
    (["list", "file", "images@mastr"], "did you mean the branch 'master'?"),
    (["get", "file", "images@master:/cats"], "is a directory in images@master"),
    (["get", "file", "images@master:/cats"], "get file -r"),
    (["get", "file", "images@master:/cats/tom.pgn"], "did you mean '/cats/tom.png'?"),
    (["put", "file", "images@master:/x", "-f", "{tmp}/catz"], "did you mean '{tmp}/cats'?"),
    (["logs", "-p", "nope"], "pipeline 'nope' does not exist"),
    (["logs", "--job", "0" * 32], f"job {'0' * 32} does not exist"),
    (["create", "pipeline", "-f", "{tmp}/bad.yaml"], "file '{tmp}/bad.yaml', line 5, column 3"),
    (["create", "pipeline", "-f", "{tmp}/bad.json"], "spec file '{tmp}/bad.json', line 3"),
    # Usage errors: one line too (Click prints a usage block and exits 2).
    (["lsit", "repo"], "Did you mean 'list'?"),
    (["list", "file"], "Missing argument 'REPO@REF[:/DIR]'; see 'pachstream list file --help'"),
    (["list", "commit", "images", "--number", "x"], "'--number'"),
    (["put", "file", "images@master:/x", "--bogus"], "No such option: --bogus"),
]


async def test_mistakes_name_the_fix(stack, settings, tmp_path: Path):
    cats = tmp_path / "cats"
    cats.mkdir()
    (cats / "tom.png").write_bytes(b"tom")
    (tmp_path / "bad.yaml").write_text("pipeline:\n  name: x\ntransform:\n   cmd: x\n  image: y\n")
    (tmp_path / "bad.json").write_text('{"pipeline": {"name": "x"},\n\n "transform" {}}\n')
    await stack.client.create_repo("images")
    await stack.client.put_file("images@master", "/cats/tom.png", b"tom")

    for args, needle in MISTAKES:
        argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
        code, out, err = await run_cli(settings, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (argv, code, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert needle.replace("{tmp}", str(tmp_path)) in lines[0], (argv, lines[0])

    # Help is not an error.
    code, out, err = await run_cli(settings, "list")
    assert code == 0 and "Usage: pachstream list" in out, err


async def test_put_file_takes_text(stack):
    c = stack.client
    await c.create_repo("texts")
    await c.put_file("texts@master", "/a.txt", "héllo")
    await c.put_files("texts@master", [("/b.txt", "b"), ("/c.bin", b"\x00")])
    assert await c.get_file("texts@master", "/a.txt") == "héllo".encode()
    assert await c.get_file("texts@master", "/b.txt") == b"b"


async def _tree_listing(c, ref: str, path: str) -> list[tuple[str, str, int, str | None]]:
    """What the tree says a directory holds: every shard read (the way list_file used to)."""
    info, root = await c._root(ref)
    prefix = "/" if path == "/" else path + "/"
    children: dict[str, list] = {}
    async for p, raw in c.trees.walk(root):
        if not p.startswith(prefix):
            continue
        head, sep, _ = p[len(prefix) :].partition("/")
        slot = children.setdefault(prefix + head, ["dir" if sep else "file", 0, None])
        if sep:
            slot[0] = "dir"
        else:
            slot[2] = raw[0]
        slot[1] += raw[1]
    return sorted((p, t, s, h if t == "file" else None) for p, (t, s, h) in children.items())


async def test_listing_from_postgres_matches_the_tree(stack):
    c = stack.client
    await c.create_repo("shapes")
    await c.put_files(
        "shapes@master",
        [
            (f"/d{d}/sub{s}/f{i}", f"{d}{s}{i}".encode())
            for d in range(3)
            for s in range(2)
            for i in range(4)
        ]
        + [("/top.txt", b"top"), ("/ünï code/ä b.txt", b"u")],
    )
    await c.delete_file("shapes@master", "/d1")  # a whole directory
    await c.put_file("shapes@master", "/d1/sub0/back", b"back")  # ... and something back in it
    await c.put_file("shapes@master", "/d0/sub1/f2", b"overwritten, longer")
    await c.put_file("shapes@master", "/d2/sub0/f0", b"+more", append=True)
    await c.delete_file("shapes@master", "/d2/sub1/f3")
    await c.create_branch("shapes@old", "master~3")  # another branch, an older head
    await c.put_file("shapes@old", "/d2/new", b"new")

    for ref in ("shapes@master", "shapes@master^", "shapes@master~4", "shapes@old"):
        for path in ("/", "/d0", "/d1", "/d1/sub0", "/d2/sub0", "/ünï code"):
            expected = await _tree_listing(c, ref, path)
            if not expected:
                continue
            got = await c.list_file(ref, path)
            assert [(f.path, f.type, f.size_bytes, f.hash) for f in got] == expected, (ref, path)
            info = await c.inspect_file(ref, path)
            assert info.type == "dir" and info.size_bytes == sum(e[2] for e in expected)
    files = await c.list_file("shapes@master", "/d0/sub1/f2")
    assert [(f.type, f.size_bytes) for f in files] == [("file", len(b"overwritten, longer"))]
