"""A datum end to end inside the sandbox: staging, Pachyderm's environment, retries, outputs."""

from __future__ import annotations

import pytest

from pachstream.content import ContentWriter, read_file
from pachstream.dispatch.datums import JoinInput, PfsInput, datums
from pachstream.dispatch.spec import Transform
from pachstream.objectstore import MemoryObjectStore
from pachstream.worker.runner import datum_env, run_datum

TREES = {  # by source (repo@branch)
    "images@master": {"/cats/tom.png": "h1", "/cats/sub/kit.png": "h2", "/dogs/rex.png": "h3"},
    "labels@master": {"/cats.txt": "h4"},
}
CONTENT = {
    ("images", "/cats/tom.png"): b"TOM",
    ("images", "/cats/sub/kit.png"): b"KIT",
    ("images", "/dogs/rex.png"): b"REX",
    ("labels", "/cats.txt"): b"feline\n",
}


async def fetch(name: str, path: str) -> bytes:
    return CONTENT[(name, path)]


def joined():
    spec = JoinInput(
        (
            PfsInput(name="images", repo="images", glob="/(*)", join_on="$1"),
            PfsInput(name="labels", repo="labels", glob="/(*).txt", join_on="$1"),
        )
    )
    (d,) = datums(spec, TREES)
    return d


def test_environment_is_pachyderms():
    d = joined()
    env = datum_env(d, {"images": "c1", "labels": "c2"}, "job1", "out1")
    assert env == {
        "PACH_JOB_ID": "job1",
        "PACH_DATUM_ID": d.id,
        "PACH_OUTPUT_COMMIT_ID": "out1",
        "images": "/pfs/images/cats",
        "images_COMMIT": "c1",
        "PACH_DATUM_images_JOIN_ON": "cats",
        "labels": "/pfs/labels/cats.txt",
        "labels_COMMIT": "c2",
        "PACH_DATUM_labels_JOIN_ON": "cats",
    }


async def test_a_datum_runs_with_its_inputs_staged_and_outputs_stored(sandbox):
    d = joined()
    objects = MemoryObjectStore()
    transform = Transform(
        cmd=("sh",),
        stdin=(
            'for f in $(find "$images" -type f | sort); do cat "$f"; done > /pfs/out/all.txt',
            'cat "$labels" >> /pfs/out/all.txt',
            "mkdir -p /pfs/out/meta && "
            'echo "$PACH_DATUM_labels_JOIN_ON $GREETING" > /pfs/out/meta/key',
            "test ! -e /pfs/images/dogs",
        ),
        env=(("GREETING", "hi"),),
    )
    result = await run_datum(
        d,
        transform,
        sandbox,
        fetch,
        ContentWriter(objects),
        env=datum_env(d, {}, "j", "o"),
        tries=1,
    )
    assert result.state == "success", result.last.stderr_tail
    assert sorted(result.outputs) == ["/all.txt", "/meta/key"]
    assert await read_file(objects, result.outputs["/all.txt"]) == b"KITTOMfeline\n"
    assert await read_file(objects, result.outputs["/meta/key"]) == b"cats hi\n"


async def test_retries_then_failure_keeps_the_exit_code_and_stderr(sandbox, tmp_path):
    d = joined()
    flaky = Transform(
        cmd=(
            "sh",
            "-c",
            "n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n+1)) > /tmp/n; "
            "[ $n -ge 1 ] || exit 7; echo ok > /pfs/out/x",
        )
    )
    ok = await run_datum(
        d, flaky, sandbox, fetch, ContentWriter(MemoryObjectStore()), env={}, tries=3
    )
    assert (ok.state, ok.tries) == ("success", 2)
    broken = Transform(cmd=("sh", "-c", "echo 'no such model' >&2; exit 2"))
    failed = await run_datum(
        d, broken, sandbox, fetch, ContentWriter(MemoryObjectStore()), env={}, tries=3
    )
    assert (failed.state, failed.tries, failed.last.exit_code, failed.outputs) == (
        "failed",
        3,
        2,
        {},
    )
    assert "no such model" in failed.last.stderr_tail


async def _outputs(sandbox, script: str) -> tuple[str, dict[str, bytes], str]:
    """Run one datum whose code is ``script``; its state, outputs' bytes and stderr."""
    d = joined()
    objects = MemoryObjectStore()
    result = await run_datum(
        d,
        Transform(cmd=("sh", "-c", script)),
        sandbox,
        fetch,
        ContentWriter(objects),
        env=datum_env(d, {}, "j", "o"),
        tries=1,
    )
    files = {p: await read_file(objects, e) for p, e in result.outputs.items()}
    return result.state, files, result.last.stderr_tail


async def test_symlinks_in_out_are_uploaded_as_their_targets_content(sandbox):
    # Pachyderm uploads what a link points to (datum.go handleSymlinks): a common way to
    # pass an input through without copying it.
    state, files, err = await _outputs(
        sandbox,
        "cd /pfs/out && ln -s /pfs/labels/cats.txt label.txt && ln -s /pfs/images/cats pics && "
        "echo own > own.txt && ln -s own.txt again.txt && mkdir d && ln -s ../own.txt d/up.txt && "
        "ln -s /usr/bin/env tool",
    )
    assert state == "success", err
    with open("/usr/bin/env", "rb") as f:
        tool = f.read()
    assert files == {
        "/again.txt": b"own\n",
        "/d/up.txt": b"own\n",
        "/label.txt": b"feline\n",
        "/own.txt": b"own\n",
        "/pics/sub/kit.png": b"KIT",
        "/pics/tom.png": b"TOM",
        "/tool": tool,
    }


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (
            "ln -s /pfs/out/nothing /pfs/out/x",
            "output '/x' is a symlink to '/pfs/out/nothing', which does not exist",
        ),
        (
            "echo hi > /tmp/t && ln -s /tmp/t /pfs/out/x",
            "output '/x' is a symlink to '/tmp/t', which the worker cannot read",
        ),
        (
            "ln -s /pfs/out/b /pfs/out/a && ln -s /pfs/out/a /pfs/out/b",
            "more than 40 symlinks in a row",
        ),
        ("mkdir /pfs/out/d && ln -s .. /pfs/out/d/loop", "directory links nest more than 40 deep"),
        (  # folders of 250-byte names, 9 deep: a 2,260-byte path (issue 18)
            "cd /pfs/out && for i in 1 2 3 4 5 6 7 8 9; do n=$(printf '%0250d' $i); "
            "mkdir $n && cd $n; done && echo x > f",
            "output path '/" + "0" * 63 + "'… is 2261 bytes long; at most 2048 bytes",
        ),
    ],
)
async def test_a_link_that_cannot_be_uploaded_fails_the_datum_naming_it(sandbox, script, said):
    state, files, err = await _outputs(sandbox, script)
    assert (state, files) == ("failed", {}) and said in err
