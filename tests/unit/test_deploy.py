"""The Kubernetes manifests run every processor with the variables Settings reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pachstream.stack import PROCESSORS

DEPLOY = Path(__file__).parent.parent.parent / "deploy"
SETTINGS_SOURCE = (Path(__file__).parent.parent.parent / "pachstream" / "settings.py").read_text()


def _docs():
    return [
        d
        for f in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]


def test_one_deployment_per_processor_running_it():
    deployments = {d["metadata"]["name"]: d for d in _docs() if d["kind"] == "Deployment"}
    assert set(deployments) == {f"pachstream-{p}" for p in PROCESSORS}
    for name, d in deployments.items():
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["run", name.removeprefix("pachstream-")]
        assert d["spec"]["replicas"] == 1  # one owner of the input partitions per namespace


def test_every_configured_variable_is_one_settings_reads():
    data = {}
    for d in _docs():
        if d["kind"] in ("ConfigMap", "Secret"):
            data.update(d.get("data") or d.get("stringData") or {})
    assert {
        "PACHSTREAM_KAFKA_BOOTSTRAP",
        "PACHSTREAM_POSTGRES_DSN",
        "PACHSTREAM_S3_ENDPOINT",
    } <= set(data)
    for key in data:
        assert re.search(rf"\b{key}\b", SETTINGS_SOURCE), (
            f"{key} is not read by pachstream/settings.py"
        )


def test_the_kustomize_base_is_what_deploy_render_writes():
    from pachstream import deploy

    files = deploy.base_files()
    on_disk = {f.name: f.read_text() for f in (DEPLOY / "kubernetes").iterdir()}
    assert on_disk == files, "run 'pachstream deploy render --out deploy/kubernetes'"


def test_render_sets_the_namespace_and_the_image_on_every_object():
    from pachstream import deploy

    objects = [o for objs in deploy.render(namespace="n1", image="reg/ps:2").values() for o in objs]
    assert {o["metadata"]["namespace"] for o in objects} == {"n1"}
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"reg/ps:2"}
    binding = next(o for o in objects if o["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "n1"


def test_the_workers_get_least_privilege_in_their_namespace_only():
    from pachstream import deploy

    objects = [o for objs in deploy.render().values() for o in objs]
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    (role,) = [o for o in objects if o["kind"] == "Role"]
    granted = {(r["apiGroups"][0], res) for r in role["rules"] for res in r["resources"]}
    assert granted == {
        ("apps", "statefulsets"),
        ("apps", "statefulsets/scale"),
        ("", "pods"),
        ("", "configmaps"),
    }
    assert all("*" not in r["verbs"] for r in role["rules"])
    pods = next(r for r in role["rules"] if r["resources"] == ["pods"])
    assert set(pods["verbs"]) == {"get", "list", "watch"}  # read only
