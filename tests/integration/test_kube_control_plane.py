"""The test Kubernetes control plane (pachstream.testing.kube) through kubernetes-asyncio: a
StatefulSet's pods turn Running under kwok, scale to zero and go; the apiserver's validation
refuses a bad object with 422; RBAC refuses a user until a Role is bound.

Skipped with one line where the programs are not built (``make kube-bins``), Go is missing or
the build failed: a test session never starts the half-hour build itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from kube_plane import has_default_account, plane_or_skip, settled
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from pachstream.testing.kube import KUBE_VERSION, KubeControlPlane

pytestmark = pytest.mark.slow

WORKER_USER = "pachstream-worker-controller"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeControlPlane]:
    for plane in plane_or_skip(
        tmp_path_factory.mktemp("kube"),
        "Kubernetes control plane tests",
        extra_users={WORKER_USER: []},
    ):
        print(f"\nKubernetes {KUBE_VERSION} at {plane.server_url}: ready {plane.started_in_s:.1f}s")
        yield plane


async def _api(kubeconfig: str) -> client.ApiClient:
    conf = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=conf)
    return client.ApiClient(configuration=conf)


@pytest.fixture
async def api(plane: KubeControlPlane) -> AsyncIterator[client.ApiClient]:
    async with await _api(str(plane.kubeconfig_path)) as api:
        yield api


def _statefulset(name: str, replicas: int) -> client.V1StatefulSet:
    labels = {"app": name}
    container = client.V1Container(
        name="worker", image="busybox:1.37", command=["sleep", "infinity"]
    )
    return client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1StatefulSetSpec(
            replicas=replicas,
            service_name=name,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def _namespace(name: str) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name))


async def test_a_statefulset_runs_under_kwok_scales_to_zero_and_is_deleted(
    plane: KubeControlPlane, api: client.ApiClient
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = f"t-{uuid.uuid4().hex[:8]}"
    await core.create_namespace(_namespace(ns))
    # The controller manager gives every namespace its default ServiceAccount, which the
    # ServiceAccount admission plugin needs before any pod is made.
    await settled(lambda: has_default_account(core, ns), "default ServiceAccount")
    await apps.create_namespaced_stateful_set(ns, _statefulset("workers", 2))

    async def running(count: int) -> bool:
        pods = await core.list_namespaced_pod(ns, label_selector="app=workers")
        phases = sorted(p.status.phase or "" for p in pods.items)
        return phases == ["Running"] * count

    await settled(lambda: running(2), "2 pods Running")
    pods = await core.list_namespaced_pod(ns, label_selector="app=workers")
    assert sorted(p.metadata.name for p in pods.items) == ["workers-0", "workers-1"]
    assert {p.spec.node_name for p in pods.items} == {plane.node_name}
    sts = await apps.read_namespaced_stateful_set("workers", ns)
    assert sts.status.ready_replicas == 2

    await apps.patch_namespaced_stateful_set_scale("workers", ns, {"spec": {"replicas": 0}})
    await settled(lambda: running(0), "pods gone after scaling to 0")

    await apps.delete_namespaced_stateful_set("workers", ns)

    async def sts_gone() -> bool:
        return not (await apps.list_namespaced_stateful_set(ns)).items

    await settled(sts_gone, "StatefulSet gone")
    await core.delete_namespace(ns)

    async def ns_gone() -> bool:
        try:
            await core.read_namespace(ns)
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    await settled(ns_gone, "namespace gone")


async def test_a_bad_object_is_refused_by_server_side_validation_with_422(
    api: client.ApiClient,
) -> None:
    apps = client.AppsV1Api(api)
    bad = _statefulset("Not_A_DNS_Name", -1)
    with pytest.raises(ApiException) as caught:
        await apps.create_namespaced_stateful_set("default", bad)
    assert caught.value.status == 422
    said = str(caught.value.body)
    assert '"reason":"Invalid"' in said
    assert "spec.replicas" in said and "Not_A_DNS_Name" in said


async def test_rbac_refuses_a_user_until_a_role_is_bound(
    plane: KubeControlPlane, api: client.ApiClient
) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    await client.CoreV1Api(api).create_namespace(_namespace(ns))
    async with await _api(str(plane.user_kubeconfigs[WORKER_USER])) as worker:
        apps = client.AppsV1Api(worker)
        with pytest.raises(ApiException) as caught:
            await apps.list_namespaced_stateful_set(ns)
        assert caught.value.status == 403

        rbac = client.RbacAuthorizationV1Api(api)
        await rbac.create_namespaced_role(
            ns,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="statefulsets"),
                rules=[
                    client.V1PolicyRule(
                        api_groups=["apps"],
                        resources=["statefulsets"],
                        verbs=["get", "list", "watch"],
                    )
                ],
            ),
        )
        await rbac.create_namespaced_role_binding(
            ns,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="statefulsets"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="statefulsets"
                ),
                subjects=[
                    client.RbacV1Subject(
                        api_group="rbac.authorization.k8s.io", kind="User", name=WORKER_USER
                    )
                ],
            ),
        )

        async def allowed() -> bool:
            try:
                await apps.list_namespaced_stateful_set(ns)
            except ApiException as exc:
                if exc.status == 403:
                    return False
                raise
            return True

        await settled(allowed, "the bound Role to take effect", timeout_s=30)
        with pytest.raises(ApiException) as caught:  # still only what the Role grants
            await apps.create_namespaced_stateful_set(ns, _statefulset("nope", 1))
        assert caught.value.status == 403
    await client.CoreV1Api(api).delete_namespace(ns)
