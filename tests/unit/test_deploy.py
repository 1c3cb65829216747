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
