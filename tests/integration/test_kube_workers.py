"""The Kubernetes worker pool against a real API server (pachstream.testing.kube, kwok):
the rendered StatefulSets pass server-side validation (strict: an unknown field would be
refused) and follow the pipelines through create, scale, update, stop, start and delete; an
object the server refuses is an error naming the pipeline, and the others go on.

The reconcile step is driven directly with pipeline rows (name, version, state, spec), as
the pool's loop does with ``queries.current_pipelines``. kwok runs no containers: pods turn
Running, which is what the StatefulSet controller needs to roll and scale.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kube_plane import has_default_account, plane_or_skip, settled
from kubernetes_asyncio import client, config

from pachstream.settings import Settings
from pachstream.testing.kube import KubeControlPlane
from pachstream.testing.services import RunningStack
from pachstream.worker import KubernetesWorkerPool
from pachstream.worker._kube_objects import KubeDeployment, object_name
from pachstream.worker._kube_pool import deployment_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeControlPlane]:
    yield from plane_or_skip(tmp_path_factory.mktemp("kube"), "Kubernetes worker pool tests")


@pytest.fixture
async def kube_ns(plane: KubeControlPlane) -> AsyncIterator[str]:
    """A Kubernetes namespace of this test's own, with its default ServiceAccount."""
    ns = f"w-{uuid.uuid4().hex[:8]}"
    conf = client.Configuration()
    await config.load_kube_config(config_file=str(plane.kubeconfig_path), client_configuration=conf)
    async with client.ApiClient(configuration=conf) as api:
        core = client.CoreV1Api(api)
        await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        await settled(lambda: has_default_account(core, ns), "default ServiceAccount")
        try:
            yield ns
        finally:
            await core.delete_namespace(ns)


@pytest.fixture
async def pool(
    plane: KubeControlPlane, kube_ns: str, tmp_path: Path
) -> AsyncIterator[KubernetesWorkerPool]:
    """A pool that is not started: the tests call its reconcile step with pipeline rows."""
    settings = Settings(home=tmp_path, namespace="ps", kafka=None, postgres=None, s3=None)
    deployment = KubeDeployment(
        namespace=kube_ns,
        image="registry.example/pachstream:test",
        pachstream_namespace="ps",
        env=(("PACHSTREAM_NAMESPACE", "ps"),),
    )
    pool = KubernetesWorkerPool(
        settings, kubeconfig=str(plane.kubeconfig_path), deployment=deployment
    )
    api = await pool.connect()
    try:
        yield pool
    finally:
        await api.close()


def spec(name: str, parallelism: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "transform": {
            "image": "docker.io/library/busybox:1.37",
            "cmd": ["sh", "-c", "cp -r /pfs/in/. /pfs/out/"],
        },
        "input": {"pfs": {"repo": "in", "glob": "/*"}},
        "parallelism_spec": {"constant": parallelism},
        "resource_requests": {"cpu": 0.1, "memory": "32Mi"},
        "scheduling_spec": {"node_selector": {"type": "kwok"}},
        **extra,
    }


async def _pods(pool: KubernetesWorkerPool, ns: str, pipeline: str) -> list[Any]:
    core = client.CoreV1Api(pool._api)
    found = await core.list_namespaced_pod(ns, label_selector=f"pachstream.io/pipeline={pipeline}")
    return sorted(found.items, key=lambda p: p.metadata.name)


async def test_statefulsets_follow_the_pipelines(pool: KubernetesWorkerPool) -> None:
    ns = pool._deployment.namespace
    apps = client.AppsV1Api(pool._api)
    name = object_name("ps", "edges")

    async def running(count: int, version: int) -> bool:
        pods = await _pods(pool, ns, "edges")
        return [(p.status.phase, p.metadata.labels.get("pachstream.io/version")) for p in pods] == [
            ("Running", str(version))
        ] * count

    # create: N pods, ordinal = shard
    assert await pool.reconcile([("edges", 1, "running", spec("edges", 2))]) == []
    await settled(lambda: running(2, 1), "2 pods of version 1 Running")
    pods = await _pods(pool, ns, "edges")
    assert [p.metadata.name for p in pods] == [f"{name}-0", f"{name}-1"]
    assert [p.metadata.labels["apps.kubernetes.io/pod-index"] for p in pods] == ["0", "1"]
    worker = next(c for c in pods[0].spec.containers if c.name == "worker")
    assert worker.args == [
        "run",
        "worker",
        "edges",
        "1",
        "$(PACHSTREAM_SHARD)",
        "/var/lib/pachstream/worker",
        "--agent",
        "pod",
    ]
    user = next(c for c in pods[0].spec.containers if c.name == "user")
    assert user.resources.requests == {"cpu": "100m", "memory": "32Mi"}
    assert [c.name for c in pods[0].spec.init_containers] == ["agent"]

    # the same rows again: nothing is written
    before = (await apps.read_namespaced_stateful_set(name, ns)).metadata.resource_version
    assert await pool.reconcile([("edges", 1, "running", spec("edges", 2))]) == []
    assert (await apps.read_namespaced_stateful_set(name, ns)).metadata.resource_version == before

    # parallelism change: scaled, same template
    revision = (await apps.read_namespaced_stateful_set(name, ns)).status.update_revision
    await pool.reconcile([("edges", 1, "running", spec("edges", 3))])
    await settled(lambda: running(3, 1), "3 pods Running")
    assert (await apps.read_namespaced_stateful_set(name, ns)).status.update_revision == revision

    # update (new version): the pods roll to the new template
    await pool.reconcile([("edges", 2, "running", spec("edges", 3))])
    await settled(lambda: running(3, 2), "3 pods of version 2 Running", timeout_s=180)
    sts = await apps.read_namespaced_stateful_set(name, ns)
    assert sts.status.update_revision != revision
    assert sts.spec.template.spec.containers[1].args[3] == "2"

    # stop: no pods; start: back
    await pool.reconcile([("edges", 2, "stopped", spec("edges", 3))])
    await settled(lambda: running(0, 2), "no pods when stopped")
    assert (await apps.read_namespaced_stateful_set(name, ns)).spec.replicas == 0
    await pool.reconcile([("edges", 2, "running", spec("edges", 3))])
    await settled(lambda: running(3, 2), "3 pods again when started")

    # delete: every object goes
    await pool.reconcile([])

    async def gone() -> bool:
        sets = await apps.list_namespaced_stateful_set(ns)
        return not sets.items and not await _pods(pool, ns, "edges")

    await settled(gone, "StatefulSet and pods gone")


async def test_a_refused_object_names_the_pipeline_and_the_others_go_on(
    pool: KubernetesWorkerPool,
) -> None:
    ns = pool._deployment.namespace
    greedy = spec("greedy", resource_requests={"cpu": 2}, resource_limits={"cpu": 1})
    errors = await pool.reconcile(
        [("greedy", 1, "running", greedy), ("fine", 1, "running", spec("fine"))]
    )
    (error,) = errors
    assert error.pipeline == "greedy" and error.status == 422
    assert error.message.startswith(
        f"pipeline 'greedy': Kubernetes refused StatefulSet '{object_name('ps', 'greedy')}' "
        f"in namespace '{ns}' (422 Unprocessable Entity)"
    )
    assert "resources.requests" in error.message and "cpu limit" in error.message
    assert "fix the pipeline's resource_requests, resource_limits" in error.message
    assert pool.refused == {"greedy": error}
    sets = await client.AppsV1Api(pool._api).list_namespaced_stateful_set(ns)
    assert [s.metadata.annotations["pachstream.io/pipeline"] for s in sets.items] == ["fine"]

    # fixed by an update: created, and the refusal is forgotten
    fixed = spec("greedy", resource_requests={"cpu": 1}, resource_limits={"cpu": 1})
    assert (
        await pool.reconcile(
            [("greedy", 2, "running", fixed), ("fine", 1, "running", spec("fine"))]
        )
        == []
    )
    assert pool.refused == {}


@pytest.fixture
async def kube_stack(settings: Settings, kube_ns: str) -> AsyncIterator[RunningStack]:
    """Processors told that the workers are Kubernetes pods (the dispatcher refuses resources
    and node selectors otherwise)."""
    kube = replace(
        settings, workers="kubernetes", kube_namespace=kube_ns, kube_image="reg.example/ps:1"
    )
    async with RunningStack(kube) as running:
        yield running


async def test_the_started_pool_follows_pipelines_made_through_the_client(
    plane: KubeControlPlane, kube_ns: str, kube_stack: RunningStack, monkeypatch
) -> None:
    import pachstream.worker._kube_pool as kube_pool

    reads: list[float] = []
    real_read = kube_pool.current_pipelines

    async def counted(pool: Any) -> Any:
        reads.append(time.monotonic())
        return await real_read(pool)

    monkeypatch.setattr(kube_pool, "current_pipelines", counted)
    stack = kube_stack
    settings = stack.settings
    deployment = deployment_for(settings)
    env = dict(deployment.env)
    assert env["PACHSTREAM_HOME"] == "/var/lib/pachstream"
    # Addresses as values; the credentials only through the Secret.
    assert env["PACHSTREAM_KAFKA_BOOTSTRAP"] == settings.child_env()["PACHSTREAM_KAFKA_BOOTSTRAP"]
    assert "PACHSTREAM_POSTGRES_DSN" not in env and deployment.secret == "pachstream-secrets"
    name = object_name(settings.namespace, "copy")
    c = stack.client
    await c.create_repo("in")
    async with KubernetesWorkerPool(
        settings, kubeconfig=str(plane.kubeconfig_path), poll_s=0.2
    ) as pool:
        apps = client.AppsV1Api(pool._api)

        async def replicas(count: int | None) -> bool:
            sets = await apps.list_namespaced_stateful_set(kube_ns)
            have = [(s.metadata.name, s.spec.replicas) for s in sets.items]
            return have == ([] if count is None else [(name, count)])

        await c.create_pipeline(spec("copy", 2, scheduling_spec=None))
        await settled(lambda: replicas(2), "a StatefulSet of 2 for the new pipeline")
        await c.stop_pipeline("copy")
        await settled(lambda: replicas(0), "0 replicas once stopped")
        await c.delete_pipeline("copy")
        await settled(lambda: replicas(None), "the StatefulSet gone with the pipeline")
        assert pool.refused == {}
        # A watch, not a poll: with nothing changing, the pool reads no pipelines (a resync
        # is 30 s away), while each change above was followed within seconds.
        await asyncio.sleep(1.5)
        quiet = len(reads)
        await asyncio.sleep(3)
        assert len(reads) == quiet, reads
