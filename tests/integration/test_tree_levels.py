"""A repo big enough for a tree of several node levels (manifest version 3), on real servers:
it lists (the gateway's pages), reads and diffs as the plain sorted list of its files says."""

from __future__ import annotations

from pachstream.gateway._lister import Lister
from pachstream.gateway._listing import ObjectInfo, list_page
from pachstream.testing.services import RunningStack
from pachstream.tree import MANIFEST_VERSION

FILES = 4000
"""~125 leaves of ~32 entries, 2 index levels: every reader crosses node boundaries."""


async def test_a_multi_level_tree_lists_reads_and_diffs_as_its_files(stack: RunningStack) -> None:
    c = stack.client
    await c.create_repo("levels")
    files = {f"/d{i % 13}/s{i % 3}/f{i:05d}": f"v{i}" for i in range(FILES)}
    await c.put_files("levels@master", files.items())
    first = await c.inspect_commit("levels@master")

    async with c.commit("levels@master") as commit:
        await commit.put_files([("/d1/s1/f00001", "changed"), ("/d2/new", "added")])
        await commit.delete_file("/d5")
    second = await c.inspect_commit("levels@master")
    root = await c.trees.root(second.root)
    assert root.version == MANIFEST_VERSION and root.height >= 2

    gone = {p for p in files if p.startswith("/d5/")}
    now = {p: t for p, t in files.items() if p not in gone}
    now.update({"/d1/s1/f00001": "changed", "/d2/new": "added"})
    assert root.count == len(now)

    # Reads: single files, and a directory's files (client download walks the tree).
    for path in ["/d1/s1/f00001", "/d2/new", "/d0/s0/f00000", "/d12/s0/f03990"]:
        assert await c.get_file("levels@master", path) == now[path].encode()
    got = {p async for p, _ in c.trees.under(root, "/d7/")}
    assert got == {p for p in now if p.startswith("/d7/")} and len(got) > 250

    # Diffs: against the parent, and the reverse.
    diff = await c.diff_file("levels@master")
    assert sorted((d.path, d.change) for d in diff) == sorted(
        [("/d1/s1/f00001", "modified"), ("/d2/new", "added")] + [(p, "deleted") for p in gone]
    )
    back = await c.diff_file(f"levels@{first.id}", "levels@master")
    assert {d.path for d in back} == {d.path for d in diff}

    # Listings, page by page, equal list_page over the sorted keys (paths without '/').
    hashes = {p: raw[0] async for p, raw in c.trees.walk(root)}
    objects = [ObjectInfo(p[1:], len(now[p]), hashes[p], 0.0) for p in sorted(now)]
    lister = Lister(c)
    cases = [("", "", ""), ("", "/", ""), ("d1/", "/", ""), ("d1", "", "d1/s1/f00400"),
             ("d12/s2/", "", ""), ("d", "/s", "d10/s"), ("nomatch/", "/", "")]  # fmt: skip
    for prefix, delimiter, after in cases:
        pages = 0
        while True:
            want = list_page(objects, prefix=prefix, delimiter=delimiter, after=after, max_keys=700)
            page = await lister.page(
                second, root, prefix=prefix, delimiter=delimiter, after=after, max_keys=700
            )
            assert [(o.key, o.etag, o.size) for o in page.contents] == [
                (o.key, o.etag, o.size) for o in want.contents
            ], (prefix, delimiter, after)
            assert (page.common_prefixes, page.is_truncated, page.next_marker) == (
                want.common_prefixes,
                want.is_truncated,
                want.next_marker,
            )
            pages += 1
            if not page.is_truncated:
                break
            assert page.next_marker is not None
            after = page.next_marker
        assert pages >= (5 if (prefix, delimiter) == ("", "") else 1)
