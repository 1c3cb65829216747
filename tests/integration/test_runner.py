"""A datum end to end inside the sandbox: staging, Pachyderm's environment, retries, outputs."""

from __future__ import annotations

from pachstream.content import ContentWriter, read_file
from pachstream.dispatch.datums import JoinInput, PfsInput, datums
from pachstream.dispatch.runner import datum_env, run_datum
from pachstream.dispatch.spec import Transform
from pachstream.objectstore import MemoryObjectStore

TREES = {
    "images": {"/cats/tom.png": "h1", "/cats/sub/kit.png": "h2", "/dogs/rex.png": "h3"},
    "labels": {"/cats.txt": "h4"},
}
CONTENT = {("images", "/cats/tom.png"): b"TOM", ("images", "/cats/sub/kit.png"): b"KIT", ("images", "/dogs/rex.png"): b"REX", ("labels", "/cats.txt"): b"feline\n"}


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
            'mkdir -p /pfs/out/meta && echo "$PACH_DATUM_labels_JOIN_ON $GREETING" > /pfs/out/meta/key',
            "test ! -e /pfs/images/dogs",
        ),
        env=(("GREETING", "hi"),),
    )
    result = await run_datum(
        d, transform, sandbox, fetch, ContentWriter(objects), env=datum_env(d, {}, "j", "o"), tries=1
    )
    assert result.state == "success", result.last.stderr_tail
    assert sorted(result.outputs) == ["/all.txt", "/meta/key"]
    assert await read_file(objects, result.outputs["/all.txt"]) == b"KITTOMfeline\n"
    assert await read_file(objects, result.outputs["/meta/key"]) == b"cats hi\n"


async def test_retries_then_failure_keeps_the_exit_code_and_stderr(sandbox, tmp_path):
    d = joined()
    flaky = Transform(cmd=("sh", "-c", "n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n+1)) > /tmp/n; [ $n -ge 1 ] || exit 7; echo ok > /pfs/out/x"))
    ok = await run_datum(d, flaky, sandbox, fetch, ContentWriter(MemoryObjectStore()), env={}, tries=3)
    assert (ok.state, ok.tries) == ("success", 2)
    broken = Transform(cmd=("sh", "-c", "echo 'no such model' >&2; exit 2"))
    failed = await run_datum(d, broken, sandbox, fetch, ContentWriter(MemoryObjectStore()), env={}, tries=3)
    assert (failed.state, failed.tries, failed.last.exit_code, failed.outputs) == ("failed", 3, 2, {})
    assert "no such model" in failed.last.stderr_tail
