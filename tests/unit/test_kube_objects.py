"""The Kubernetes worker pool's pure core: the rendered StatefulSet and the actions."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from pachstream.dispatch.spec import parse_spec
from pachstream.errors import ConfigError
from pachstream.settings import Settings
from pachstream.worker._kube_objects import (
    Create,
    Delete,
    KubeDeployment,
    Replace,
    Scale,
    WantedPipeline,
    object_name,
    plan_actions,
    render_statefulset,
    selector,
    wanted_pipelines,
)
from pachstream.worker.agent import AGENT

DEPLOY = KubeDeployment(
    namespace="pipelines",
    image="registry.example/pachstream:1",
    pachstream_namespace="ps",
    env=(("PACHSTREAM_KAFKA_BOOTSTRAP", "kafka:9092"), ("PACHSTREAM_NAMESPACE", "ps")),
)


def raw(name: str = "edges", **extra: Any) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "transform": {"image": "docker.io/library/busybox:1.37", "cmd": ["sh"]},
        "input": {
            "cross": [
                {"pfs": {"repo": "images", "glob": "/*"}},
                {"pfs": {"repo": "masks", "glob": "/"}},
            ]
        },
        **extra,
    }


def wanted(
    name: str = "edges", version: int = 1, stopped: bool = False, **extra: Any
) -> WantedPipeline:
    return WantedPipeline(name, version, parse_spec(raw(name, **extra)), stopped=stopped)


def pod(body: dict[str, Any]) -> dict[str, Any]:
    return body["spec"]["template"]["spec"]


def container(body: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [
        c for c in pod(body)["containers"] + pod(body)["initContainers"] if c["name"] == name
    ]
    return found


# (test id, pipeline, what to read from the rendered StatefulSet, expected)
RENDERED = [
    (
        "replicas are the parallelism",
        wanted(parallelism_spec={"constant": 3}),
        lambda b: b["spec"]["replicas"],
        3,
    ),
    (
        "stopped: no replicas",
        wanted(stopped=True, parallelism_spec={"constant": 3}),
        lambda b: b["spec"]["replicas"],
        0,
    ),
    ("namespace", wanted(), lambda b: b["metadata"]["namespace"], "pipelines"),
    (
        "labels",
        wanted(version=4),
        lambda b: b["metadata"]["labels"],
        {
            "app.kubernetes.io/name": "pachstream",
            "app.kubernetes.io/component": "worker",
            "pachstream.io/namespace": "ps",
            "pachstream.io/pipeline": "edges",
            "pachstream.io/version": "4",
        },
    ),
    (
        "template has the labels",
        wanted(version=4),
        lambda b: b["spec"]["template"]["metadata"]["labels"]["pachstream.io/version"],
        "4",
    ),
    (
        "selector leaves the version out (a new version rolls the same set)",
        wanted(version=4),
        lambda b: sorted(b["spec"]["selector"]["matchLabels"]),
        [
            "app.kubernetes.io/component",
            "app.kubernetes.io/name",
            "pachstream.io/namespace",
            "pachstream.io/pipeline",
        ],
    ),
    (
        "exact name in an annotation",
        wanted("Edges_2"),
        lambda b: b["metadata"]["annotations"]["pachstream.io/pipeline"],
        "Edges_2",
    ),
    (
        "init container copies the busybox",
        wanted(),
        lambda b: container(b, "agent")["command"],
        ["/usr/bin/busybox", "cp", "/usr/bin/busybox", "/.pachstream/busybox"],
    ),
    (
        "init container runs the pachstream image",
        wanted(),
        lambda b: container(b, "agent")["image"],
        "registry.example/pachstream:1",
    ),
    (
        "user container runs the user's image",
        wanted(),
        lambda b: container(b, "user")["image"],
        "docker.io/library/busybox:1.37",
    ),
    (
        "user container runs the agent, the local sandbox's very text",
        wanted(),
        lambda b: container(b, "user")["command"],
        ["/.pachstream/busybox", "sh", "-c", AGENT],
    ),
    (
        "the sidecar talks to the pod's agent, with credentials from the Secret only",
        wanted(),
        lambda b: (container(b, "worker")["args"][-2:], container(b, "worker")["envFrom"]),
        (["--agent", "pod"], [{"secretRef": {"name": "pachstream-secrets"}}]),
    ),
    (
        "no service links in the user's environment",
        wanted(),
        lambda b: b["spec"]["template"]["spec"]["enableServiceLinks"],
        False,
    ),
    (
        "user container mounts",
        wanted(),
        lambda b: {
            m["mountPath"]: m.get("readOnly", False) for m in container(b, "user")["volumeMounts"]
        },
        {
            "/.pachstream": True,
            "/ctl": False,
            "/ctl/runs": True,
            "/pfs/out": False,
            "/tmp": False,
            "/pfs/images": True,
            "/pfs/masks": True,
        },
    ),
    (
        "user root is read-only",
        wanted(),
        lambda b: container(b, "user")["securityContext"]["readOnlyRootFilesystem"],
        True,
    ),
    (
        "sidecar runs the worker of the pod's shard",
        wanted(version=2),
        lambda b: container(b, "worker")["command"] + container(b, "worker")["args"],
        [
            "pachstream",
            "run",
            "worker",
            "edges",
            "2",
            "$(PACHSTREAM_SHARD)",
            "/var/lib/pachstream/worker",
            "--agent",
            "pod",
        ],
    ),
    (
        "the shard is the pod's ordinal",
        wanted(),
        lambda b: container(b, "worker")["env"][0],
        {
            "name": "PACHSTREAM_SHARD",
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
            },
        },
    ),
    (
        "sidecar env",
        wanted(),
        lambda b: {e["name"]: e.get("value") for e in container(b, "worker")["env"][1:]},
        {"PACHSTREAM_KAFKA_BOOTSTRAP": "kafka:9092", "PACHSTREAM_NAMESPACE": "ps"},
    ),
    (
        "sidecar mounts the sandbox's folders",
        wanted(),
        lambda b: sorted(m["mountPath"] for m in container(b, "worker")["volumeMounts"]),
        [
            "/var/lib/pachstream/worker",
            "/var/lib/pachstream/worker/box/ctl",
            "/var/lib/pachstream/worker/box/inputs/images",
            "/var/lib/pachstream/worker/box/inputs/masks",
            "/var/lib/pachstream/worker/box/out",
        ],
    ),
    ("no resources: none asked", wanted(), lambda b: "resources" in container(b, "user"), False),
    (
        "resources on the user container",
        wanted(
            resource_requests={"cpu": 0.25, "memory": "64Mi"},
            resource_limits={"cpu": 2, "disk": "1Gi"},
        ),
        lambda b: container(b, "user")["resources"],
        {
            "requests": {"cpu": "250m", "memory": "64Mi"},
            "limits": {"cpu": "2000m", "ephemeral-storage": "1Gi"},
        },
    ),
    (
        "sidecar reserves nothing",
        wanted(resource_requests={"cpu": 1}),
        lambda b: "resources" in container(b, "worker"),
        False,
    ),
    (
        "node selector",
        wanted(scheduling_spec={"node_selector": {"zone": "a"}}),
        lambda b: pod(b)["nodeSelector"],
        {"zone": "a"},
    ),
    ("no node selector", wanted(), lambda b: "nodeSelector" in pod(b), False),
    ("no service-account token", wanted(), lambda b: pod(b)["automountServiceAccountToken"], False),
    (
        "no image: the pachstream image",
        WantedPipeline("e", 1, parse_spec({**raw("e"), "transform": {"cmd": ["sh"]}})),
        lambda b: container(b, "user")["image"],
        "registry.example/pachstream:1",
    ),
]


@pytest.mark.parametrize(
    ("name", "pipeline", "read", "expected"), RENDERED, ids=[r[0] for r in RENDERED]
)
def test_rendered_statefulset(name, pipeline, read, expected):
    assert read(render_statefulset(pipeline, DEPLOY)) == expected


@pytest.mark.parametrize(
    ("pipeline", "other"),
    [("edges", "Edges"), ("a_b", "a-b"), ("x" * 60, "x" * 61), ("edges", "edges2")],
)
def test_object_names_are_short_dns_labels_and_distinct(pipeline, other):
    names = {object_name("ps", pipeline), object_name("ps", other), object_name("ps2", pipeline)}
    assert len(names) == 3
    for n in names:
        assert len(n) <= 49 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n), n


def test_a_name_that_is_no_label_value_labels_with_the_object_name():
    body = render_statefulset(wanted("_edges"), DEPLOY)
    assert body["metadata"]["labels"]["pachstream.io/pipeline"] == body["metadata"]["name"]


def test_the_selector_selects_what_is_rendered():
    labels = render_statefulset(wanted(), DEPLOY)["metadata"]["labels"]
    assert all(labels[k] == v for k, v in (p.split("=") for p in selector(DEPLOY).split(",")))


def server(body: dict[str, Any], replicas: int | None = None) -> dict[str, Any]:
    """As the API server lists it: defaults filled in, a resourceVersion, a status."""
    obj = copy.deepcopy(body)
    obj["metadata"]["resourceVersion"] = "41"
    obj["metadata"]["uid"] = "u-1"
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    obj["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    obj["status"] = {"replicas": obj["spec"]["replicas"]}
    return obj


def rendered(p: WantedPipeline) -> dict[str, Any]:
    return render_statefulset(p, DEPLOY)


OTHER_NS = server(
    render_statefulset(
        wanted("elsewhere"),
        KubeDeployment(namespace="pipelines", image="i", pachstream_namespace="other"),
    )
)
EDGES = object_name("ps", "edges")

# (test id, wanted, existing, the actions as (kind, pipeline, detail))
ACTIONS = [
    ("nothing", [], [], []),
    ("new pipeline: create", [wanted()], [], [("Create", "edges", 1)]),
    ("same: nothing", [wanted()], [server(rendered(wanted()))], []),
    (
        "parallelism change: scale",
        [wanted(parallelism_spec={"constant": 4})],
        [server(rendered(wanted()))],
        [("Scale", "edges", 4)],
    ),
    (
        "stop: scale to 0",
        [wanted(stopped=True)],
        [server(rendered(wanted()))],
        [("Scale", "edges", 0)],
    ),
    (
        "start: scale back",
        [wanted()],
        [server(rendered(wanted(stopped=True)))],
        [("Scale", "edges", 1)],
    ),
    (
        "new version: replace",
        [wanted(version=2)],
        [server(rendered(wanted()))],
        [("Replace", "edges", "41")],
    ),
    (
        "new version and parallelism: one replace",
        [wanted(version=2, parallelism_spec={"constant": 2})],
        [server(rendered(wanted()))],
        [("Replace", "edges", "41")],
    ),
    (
        "resources change: replace",
        [wanted(resource_limits={"memory": "1Gi"})],
        [server(rendered(wanted()))],
        [("Replace", "edges", "41")],
    ),
    ("deleted pipeline: delete", [], [server(rendered(wanted()))], [("Delete", "edges", EDGES)]),
    ("another pachstream namespace's: left alone", [], [OTHER_NS], []),
    (
        "changed by hand (no hash): replace",
        [wanted()],
        [
            {
                **server(rendered(wanted())),
                "metadata": {"name": EDGES, "labels": {"pachstream.io/namespace": "ps"}},
            }
        ],
        [("Replace", "edges", None)],
    ),
    (
        "several, deletes last",
        [wanted("b"), wanted("a")],
        [
            server(rendered(wanted("c"))),
            server(
                rendered(
                    wanted("b"),
                ),
                replicas=5,
            ),
        ],
        [("Create", "a", 1), ("Scale", "b", 1), ("Delete", "c", object_name("ps", "c"))],
    ),
]


def summary(action: Any) -> tuple[str, str, Any]:
    match action:
        case Create(pipeline, body):
            return ("Create", pipeline, body["spec"]["replicas"])
        case Replace(pipeline, _, body):
            return ("Replace", pipeline, body["metadata"].get("resourceVersion"))
        case Scale(pipeline, _, replicas):
            return ("Scale", pipeline, replicas)
        case Delete(pipeline, name):
            return ("Delete", pipeline, name)
    raise AssertionError(action)


@pytest.mark.parametrize(
    ("name", "want", "existing", "expected"), ACTIONS, ids=[a[0] for a in ACTIONS]
)
def test_actions(name, want, existing, expected):
    assert [summary(a) for a in plan_actions(want, existing, DEPLOY)] == expected


def test_a_replace_rolls_to_the_new_template():
    (action,) = plan_actions([wanted(version=2)], [server(rendered(wanted()))], DEPLOY)
    assert isinstance(action, Replace)
    assert action.body["spec"]["template"]["metadata"]["labels"]["pachstream.io/version"] == "2"


def test_wanted_pipelines_skip_refused_specs_and_read_the_state():
    bad = {**raw("bad"), "spout": {"overwrite": True}}
    got = wanted_pipelines(
        [("edges", 3, "stopped", raw()), ("bad", 1, "running", bad), ("m", 1, "running", raw("m"))]
    )
    assert [(w.name, w.version, w.stopped) for w in got] == [("edges", 3, True), ("m", 1, False)]


# (test id, environment, (workers, kube namespace, kube image) or the error's words)
SETTINGS = [
    ("default", {}, ("local", "default", None)),
    (
        "kubernetes",
        {"PACHSTREAM_WORKERS": "kubernetes", "PACHSTREAM_KUBE_IMAGE": "p:1"},
        ("kubernetes", "default", "p:1"),
    ),
    (
        "namespace",
        {
            "PACHSTREAM_WORKERS": "kubernetes",
            "PACHSTREAM_KUBE_IMAGE": "p:1",
            "PACHSTREAM_KUBE_NAMESPACE": "data-1",
        },
        ("kubernetes", "data-1", "p:1"),
    ),
    (
        "unknown backend",
        {"PACHSTREAM_WORKERS": "docker"},
        "PACHSTREAM_WORKERS='docker' is invalid; use 'local'",
    ),
    (
        "kubernetes without image",
        {"PACHSTREAM_WORKERS": "kubernetes"},
        "PACHSTREAM_WORKERS=kubernetes needs PACHSTREAM_KUBE_IMAGE",
    ),
    (
        "blank image",
        {"PACHSTREAM_WORKERS": "kubernetes", "PACHSTREAM_KUBE_IMAGE": " "},
        "needs PACHSTREAM_KUBE_IMAGE",
    ),
    (
        "bad namespace",
        {"PACHSTREAM_KUBE_NAMESPACE": "Data_1"},
        "PACHSTREAM_KUBE_NAMESPACE='Data_1' is invalid",
    ),
]


@pytest.mark.parametrize(("name", "env", "expected"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_settings(name, env, expected, tmp_path):
    env = {"PACHSTREAM_HOME": str(tmp_path), **env}
    if isinstance(expected, str):
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(env, stack_file=False)
        assert expected in raised.value.message
        return
    s = Settings.from_env(env, stack_file=False)
    assert (s.workers, s.kube_namespace, s.kube_image) == expected
    again = Settings.from_env(s.child_env(), stack_file=False)
    assert (again.workers, again.kube_namespace, again.kube_image) == expected


def test_worker_pods_get_addresses_as_values_and_credentials_only_from_the_secret(tmp_path):
    from pachstream.worker._kube_pool import deployment_for

    settings = Settings.from_env(
        {
            "PACHSTREAM_HOME": str(tmp_path),
            "PACHSTREAM_KAFKA_BOOTSTRAP": "kafka:9092",
            "PACHSTREAM_POSTGRES_DSN": "postgresql://ps:pg-Secret-1@db:5432/ps",
            "PACHSTREAM_S3_ENDPOINT": "http://s3:9000",
            "PACHSTREAM_S3_ACCESS_KEY": "s3-access-1",
            "PACHSTREAM_S3_SECRET_KEY": "s3-Secret-1",
            "PACHSTREAM_GATEWAY_ACCESS_KEY": "gw-access-1",
            "PACHSTREAM_GATEWAY_SECRET_KEY": "gw-Secret-1",
            "PACHSTREAM_WORKERS": "kubernetes",
            "PACHSTREAM_KUBE_IMAGE": "registry.example/pachstream:1",
            "PACHSTREAM_KUBE_SECRET": "ps-worker-credentials",
        },
        stack_file=False,
    )
    deployment = deployment_for(settings)
    body = render_statefulset(wanted(), deployment)
    text = str(body)
    assert not any(s in text for s in ("pg-Secret-1", "s3-Secret-1", "s3-access-1", "gw-"))
    names = {k for k, _ in deployment.env}
    assert names == {
        "PACHSTREAM_HOME",
        "PACHSTREAM_KAFKA_BOOTSTRAP",
        "PACHSTREAM_NAMESPACE",
        "PACHSTREAM_S3_BUCKET",
        "PACHSTREAM_S3_ENDPOINT",
        "PACHSTREAM_S3_REGION",
    }
    assert container(body, "worker")["envFrom"] == [
        {"secretRef": {"name": "ps-worker-credentials"}}
    ]
