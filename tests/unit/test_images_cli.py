"""``image load``, ``list image`` and ``delete image`` on a store under PACHSTREAM_HOME."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pachstream.cli import _app


def _archive(path: Path, tags: list[str]) -> Path:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("etc/os-release")
        info.size = 8
        t.addfile(info, io.BytesIO(b"ID=cli\n\n"))
    data = layer.getvalue()
    diff = "sha256:" + hashlib.sha256(data).hexdigest()
    cfg = json.dumps({"created": "2025-02-03T04:05:06Z", "rootfs": {"diff_ids": [diff]}}).encode()
    name = hashlib.sha256(cfg).hexdigest() + ".json"
    members = {
        name: cfg,
        "l/layer.tar": data,
        "manifest.json": json.dumps(
            [{"Config": name, "RepoTags": tags, "Layers": ["l/layer.tar"]}]
        ).encode(),
    }
    with tarfile.open(path, "w") as t:
        for member, body in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return path


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("PACHSTREAM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PACHSTREAM_IMAGES", raising=False)
    _app._load_commands(["_images"])
    runner = CliRunner()

    def run(*argv: str) -> tuple[int, str]:
        result = runner.invoke(_app.app, list(argv))
        error = f"error: {result.exception.message}" if hasattr(result.exception, "message") else ""
        return result.exit_code, result.output + error

    return run


def test_load_list_delete(cli, tmp_path):
    archive = _archive(tmp_path / "a.tar", ["busybox:latest"])
    code, said = cli("image", "load", str(archive), "--name", "mine/bb:1")
    assert code == 0 and said.startswith(
        "loaded docker.io/library/busybox:latest, docker.io/mine/bb:1 (sha256:"
    )
    code, said = cli("list", "image")
    lines = said.split("\n")
    assert code == 0 and lines[0].split() == ["NAME", "ID", "SIZE", "CREATED"]
    assert lines[1].split()[0] == "docker.io/library/busybox:latest"
    assert lines[2].split()[0] == "docker.io/mine/bb:1" and "2025-02-03T04:05:06Z" in lines[2]
    code, said = cli("list", "image", "--json")
    [doc] = json.loads(said)
    assert doc["names"] == ["docker.io/library/busybox:latest", "docker.io/mine/bb:1"]
    assert doc["created"] == "2025-02-03T04:05:06Z" and doc["id"].startswith("sha256:")
    assert (tmp_path / "home" / "images" / "records" / f"{doc['id'][7:]}.json").exists()
    code, said = cli("delete", "image", "busybox")
    assert (
        said
        == "untagged docker.io/library/busybox:latest; the image stays as docker.io/mine/bb:1\n"
    )
    code, said = cli("delete", "image", "mine/bb:1")
    assert code == 0 and said == f"deleted docker.io/mine/bb:1 ({doc['id'][:19]})\n"
    assert json.loads(cli("list", "image", "--json")[1]) == []


def test_errors_name_the_file_or_image(cli, tmp_path):
    code, said = cli("image", "load", str(tmp_path / "none.tar"))
    assert code == 1 and "none.tar does not exist" in said
    code, said = cli("delete", "image", "ghost")
    assert code == 1 and "image 'ghost' is not in the image store" in said
