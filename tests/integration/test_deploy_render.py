"""``pachstream deploy render`` applied to a real API server (pachstream.testing.kube): every
object passes server-side validation, every Deployment gets its pod Running (under kwok, which
runs no containers), and the workers' ServiceAccount may manage StatefulSets in its namespace
and nothing else.

Skipped with one line where the control plane is not built (``make kube-bins``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import yaml
from kube_plane import plane_or_skip
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from pachstream.stack import PROCESSORS
from pachstream.testing.kube import KubeControlPlane

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeControlPlane]:
    yield from plane_or_skip(tmp_path_factory.mktemp("kube"), "Kubernetes control plane tests")


async def _api(kubeconfig: str, token: str | None = None) -> client.ApiClient:
    conf = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=conf)
    if token is not None:
        conf.api_key = {"BearerToken": f"Bearer {token}"}
        conf.cert_file = conf.key_file = None
    return client.ApiClient(configuration=conf)


@pytest.fixture
async def api(plane: KubeControlPlane) -> AsyncIterator[client.ApiClient]:
    async with await _api(str(plane.kubeconfig_path)) as api:
        yield api


async def _create(api: client.ApiClient, ns: str, obj: dict[str, Any]) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    create = {
        "ConfigMap": core.create_namespaced_config_map,
        "Secret": core.create_namespaced_secret,
        "Service": core.create_namespaced_service,
        "ServiceAccount": core.create_namespaced_service_account,
        "Deployment": apps.create_namespaced_deployment,
        "Role": rbac.create_namespaced_role,
        "RoleBinding": rbac.create_namespaced_role_binding,
    }[obj["kind"]]
    await create(ns, obj)


async def test_the_rendered_objects_apply_and_run(
    plane: KubeControlPlane, api: client.ApiClient
) -> None:
    ns = f"ps-{uuid.uuid4().hex[:8]}"
    # What a user runs: the CLI's output, not the library's return value.
    text = subprocess.run(
        [sys.executable, "-m", "pachstream", "deploy", "render", "-n", ns, "--image", "ps:test"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    objects = [o for o in yaml.safe_load_all(text) if o]
    assert {o["metadata"]["namespace"] for o in objects} == {ns}
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    await core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for obj in objects:
        await _create(api, ns, obj)  # server-side validation: an invalid object raises 422

    deployments = [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"]
    assert len(deployments) == len(PROCESSORS)  # one per processor
    deadline = time.monotonic() + 120
    while True:
        listed = await apps.list_namespaced_deployment(ns)
        ready = {d.metadata.name for d in listed.items if (d.status.ready_replicas or 0) == 1}
        if ready == set(deployments):
            break
        assert time.monotonic() < deadline, f"not ready: {set(deployments) - ready}"
        await asyncio.sleep(0.5)

    # The workers' account: StatefulSets of its namespace yes; Secrets, other namespaces no.
    token = await core.create_namespaced_service_account_token(
        "pachstream-workers", ns, {"spec": {"audiences": [], "expirationSeconds": 600}}
    )
    async with await _api(str(plane.kubeconfig_path), token.status.token) as worker:
        wapps, wcore = client.AppsV1Api(worker), client.CoreV1Api(worker)
        await wapps.list_namespaced_stateful_set(ns)
        for refused in (
            wcore.list_namespaced_secret(ns),
            wapps.list_namespaced_stateful_set("default"),
            wapps.list_namespaced_deployment(ns),
        ):
            with pytest.raises(ApiException) as denied:
                await refused
            assert denied.value.status == 403
