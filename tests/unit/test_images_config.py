"""Image names as Docker normalizes them, image configs, and what runs for a transform."""

from __future__ import annotations

import json

import pytest

from pachstream.errors import InvalidInput, InvalidSpec
from pachstream.images import DEFAULT_PATH, ImageConfig, normalize, run_plan
from pachstream.images._config import parse_config, resolve_user
from pachstream.images._reference import id_prefix

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("myorg/etl:1.2", "docker.io/myorg/etl:1.2"),
        ("ghcr.io/org/team/tool:v1", "ghcr.io/org/team/tool:v1"),
        ("localhost/etl", "localhost/etl:latest"),
        ("localhost:5000/etl", "localhost:5000/etl:latest"),
        ("registry:5000/a/b:c", "registry:5000/a/b:c"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}"),
        ("a_b-c__d/e.f---g", "docker.io/a_b-c__d/e.f---g:latest"),
        ("a_b.c/x", None),  # a "." makes the first component a registry, and "_" is no host
    ],
)
def test_names_normalize_as_docker(typed, normalized):
    if normalized is None:
        with pytest.raises(InvalidInput, match="is not a host"):
            normalize(typed)
        return
    assert normalize(typed) == normalized
    assert normalize(normalized) == normalized  # idempotent


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "not an image reference"),
        (" busybox", "not an image reference"),
        ("BusyBox", "'busybox' is not valid (repository names are lower case)"),
        ("busybox:", "tag '' is not valid"),
        ("busybox:.x", "tag '.x' is not valid"),
        ("busybox@sha256:abc", "is not sha256:<64 hex digits>"),
        ("a//b", "component '' is not valid"),
        ("-a", "component '-a' is not valid"),
    ],
)
def test_bad_names_say_what_is_wrong(typed, said):
    with pytest.raises(InvalidInput) as caught:
        normalize(typed)
    assert said.replace("'busybox'", "'BusyBox'") in caught.value.message
    assert caught.value.image == typed


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        (D, "ab" * 32),
        ("abababababab", "abababababab"),
        ("sha256:abababababab", "abababababab"),
        ("ababababab", None),  # too short to be an id
        ("busybox", None),
    ],
)
def test_id_prefix(text, prefix):
    assert id_prefix(text) == prefix


def test_parse_config():
    doc = {
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin", "A=1=2"],
            "WorkingDir": "/app",
            "User": "app",
            "Entrypoint": ["python3"],
            "Cmd": ["/app/etl.py"],
        },
        "rootfs": {"type": "layers", "diff_ids": [D]},
    }
    config = parse_config(json.dumps(doc).encode(), where="x.tar: c.json")
    assert config == ImageConfig(
        env=("PATH=/bin", "A=1=2"),
        working_dir="/app",
        user="app",
        entrypoint=("python3",),
        cmd=("/app/etl.py",),
        created="2024-01-02T03:04:05Z",
        architecture="amd64",
        diff_ids=(D,),
    )
    assert parse_config(b'{"config": null, "rootfs": {}}', where="w") == ImageConfig()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"not json", "the image config is not JSON"),
        (b"[]", "is not a JSON object"),
        (b'{"config": {"Env": "A=1"}}', "'config.Env' must be a list of strings"),
        (b'{"config": {"WorkingDir": 3}}', "'config.WorkingDir' must be a string"),
        (b'{"config": []}', "'config' and 'rootfs' must be objects"),
    ],
)
def test_bad_configs_name_the_file_and_field(data, said):
    with pytest.raises(InvalidInput, match=said) as caught:
        parse_config(data, where="img.tar: abc.json")
    assert caught.value.message.startswith("img.tar: abc.json: ")


PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n#c\n"
    "nobody:x:65534:65534::/:\n"
)
GROUP = "root:x:0:\nstaff:x:50:app\n"
IMAGE = ImageConfig(
    env=("PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "MODE=image"),
    working_dir="/app",
    user="app",
    entrypoint=("python3",),
    cmd=("/app/etl.py", "--default"),
)
BARE = ImageConfig()

PLANS = [
    # (what, image config, transform cmd, env, working_dir, expected cmd, env, workdir, uid:gid)
    (
        "no transform.cmd: the image's Entrypoint + Cmd",
        IMAGE,
        None,
        None,
        None,
        ("python3", "/app/etl.py", "--default"),
        {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MODE": "image"},
        "/app",
        (1000, 1001),
    ),
    (
        "transform.cmd replaces Entrypoint and Cmd; spec env overrides and adds",
        IMAGE,
        ["sh", "-c", "echo hi"],
        {"MODE": "spec", "EXTRA": "1"},
        None,
        ("sh", "-c", "echo hi"),
        {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MODE": "spec", "EXTRA": "1"},
        "/app",
        (1000, 1001),
    ),
    (
        "an empty transform.cmd is no cmd",
        IMAGE,
        [],
        {},
        "",
        ("python3", "/app/etl.py", "--default"),
        {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MODE": "image"},
        "/app",
        (1000, 1001),
    ),
    (
        "spec working_dir wins over the image's",
        IMAGE,
        ["true"],
        None,
        "/pfs/out",
        ("true",),
        {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MODE": "image"},
        "/pfs/out",
        (1000, 1001),
    ),
    (
        "a bare image: '/', root, Docker's PATH",
        BARE,
        ["true"],
        None,
        None,
        ("true",),
        {"PATH": DEFAULT_PATH},
        "/",
        (0, 0),
    ),
    (
        "only an Entrypoint; the spec's PATH wins",
        ImageConfig(entrypoint=("/bin/tool",)),
        None,
        {"PATH": "/opt/bin"},
        None,
        ("/bin/tool",),
        {"PATH": "/opt/bin"},
        "/",
        (0, 0),
    ),
    (
        "only a Cmd; an Env entry without '=' is an empty value",
        ImageConfig(cmd=("/bin/sh",), env=("EMPTY", "=nameless")),
        None,
        None,
        None,
        ("/bin/sh",),
        {"EMPTY": "", "PATH": DEFAULT_PATH},
        "/",
        (0, 0),
    ),
]


@pytest.mark.parametrize(
    ("what", "config", "cmd", "env", "working_dir", "out_cmd", "out_env", "out_dir", "ids"),
    PLANS,
    ids=[p[0] for p in PLANS],
)
def test_run_plan(what, config, cmd, env, working_dir, out_cmd, out_env, out_dir, ids):
    plan = run_plan(
        config,
        image="myorg/etl:1.2",
        cmd=cmd,
        env=env,
        working_dir=working_dir,
        passwd=PASSWD,
        group=GROUP,
    )
    assert (plan.cmd, dict(plan.env), plan.working_dir, (plan.uid, plan.gid)) == (
        out_cmd,
        out_env,
        out_dir,
        ids,
    )


def test_no_command_at_all_names_the_image_and_the_fix():
    with pytest.raises(InvalidSpec) as caught:
        run_plan(BARE, image="scratchy:1", cmd=None)
    assert caught.value.message == (
        "transform.cmd is empty and image 'scratchy:1' has no Entrypoint or Cmd; "
        "set transform.cmd to the command to run"
    )


@pytest.mark.parametrize(
    ("user", "passwd", "group", "ids"),
    [
        ("", None, None, (0, 0)),
        ("0", None, None, (0, 0)),
        ("1000", None, None, (1000, 0)),  # Docker: no passwd entry, gid 0
        ("1000", PASSWD, None, (1000, 1001)),
        ("1000:7", None, None, (1000, 7)),
        ("app", PASSWD, None, (1000, 1001)),
        ("app:staff", PASSWD, GROUP, (1000, 50)),
        ("app:0", PASSWD, None, (1000, 0)),
        ("nobody", PASSWD, None, (65534, 65534)),
        ("1000:staff", None, GROUP, (1000, 50)),
    ],
)
def test_resolve_user(user, passwd, group, ids):
    assert resolve_user(user, image="i", passwd=passwd, group=group) == ids


@pytest.mark.parametrize(
    ("user", "passwd", "group", "said"),
    [
        ("app", None, None, "names user 'app', but the image has no /etc/passwd"),
        ("ghost", PASSWD, None, "names user 'ghost', but the image has no such entry"),
        ("app:wheel", PASSWD, GROUP, "names group 'wheel', which the image's /etc/group lacks"),
        ("app:staff", PASSWD, None, "names group 'staff'"),
    ],
)
def test_unknown_users_and_groups_are_refused(user, passwd, group, said):
    with pytest.raises(InvalidSpec, match=said) as caught:
        resolve_user(user, image="myorg/etl:1.2", passwd=passwd, group=group)
    assert "image 'myorg/etl:1.2'" in caught.value.message
