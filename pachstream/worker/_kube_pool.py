"""The Kubernetes backend of the worker pool: one StatefulSet per pipeline, kept in step.

:class:`KubernetesWorkerPool` has :class:`~pachstream.worker.WorkerPool`'s lifecycle and job.
It reads the current pipelines (:func:`pachstream.lineage.queries.current_pipelines`) at
start, and again each time the lineage processor announces committed rows (it notifies
:func:`pachstream.lineage.notify_channel` after each batch with a pipeline fact; the pool
listens, as the client's waits do): a watch on the facts, never a poll. Whenever they
changed, and every ``resync_s`` besides (to repair a StatefulSet changed or deleted by hand),
it reconciles: it lists the StatefulSets labelled with this pachstream namespace, asks the
pure core (:mod:`._kube_objects`) for the actions and performs them. A lost listening
connection is made again at the next step, which reads the pipelines then. This is the only
module of the package that imports kubernetes-asyncio.

The connection is the pod's service account when the pool runs in a cluster, else the
kubeconfig the driver finds (``$KUBECONFIG``, ``~/.kube/config``), or the one given.

An object the API server refuses (422 Invalid: a request above its limit, an image name it
cannot read) does not stop the pool: the pipeline's error (an
:class:`~pachstream.errors.InvalidSpec` naming the pipeline, the StatefulSet and the
server's causes) is logged once, kept in :attr:`KubernetesWorkerPool.refused` and returned by
:meth:`KubernetesWorkerPool.reconcile`, and the other pipelines go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from pachstream.errors import ConfigError, InvalidSpec
from pachstream.lineage import notify_channel
from pachstream.pg import connect_pool
from pachstream.service import Service
from pachstream.settings import Settings
from pachstream.worker._kube_objects import (
    Create,
    Delete,
    KubeAction,
    KubeDeployment,
    Replace,
    Scale,
    WantedPipeline,
    plan_actions,
    selector,
    wanted_pipelines,
)
from pachstream.worker._worker import current_pipelines

log = logging.getLogger("pachstream.worker.kube")

POD_HOME = "/var/lib/pachstream"
"""``PACHSTREAM_HOME`` of the sidecar (the pool's own home is a path on another machine)."""


SIDECAR_VARIABLES = frozenset(
    {
        "PACHSTREAM_NAMESPACE",
        "PACHSTREAM_KAFKA_BOOTSTRAP",
        "PACHSTREAM_S3_ENDPOINT",
        "PACHSTREAM_S3_BUCKET",
        "PACHSTREAM_S3_REGION",
    }
)
"""The settings a worker pod gets as values: the servers' addresses. Its credentials
(``PACHSTREAM_POSTGRES_DSN``, ``PACHSTREAM_S3_ACCESS_KEY``, ``PACHSTREAM_S3_SECRET_KEY``) come
from the Secret ``PACHSTREAM_KUBE_SECRET`` names; the rest (the gateway's keys, the console's
token, notifications...) are no worker's business."""


def deployment_for(settings: Settings) -> KubeDeployment:
    """The deployment the settings describe: the sidecar gets the servers' addresses."""
    if settings.kube_image is None:
        raise ConfigError(
            "the Kubernetes worker pool needs PACHSTREAM_KUBE_IMAGE, the pachstream image its "
            "pods run; set it"
        )
    # Only what a worker reads, and of that no credential: those come from the Secret.
    env = {k: v for k, v in settings.child_env().items() if k in SIDECAR_VARIABLES}
    env["PACHSTREAM_HOME"] = POD_HOME
    return KubeDeployment(
        namespace=settings.kube_namespace,
        image=settings.kube_image,
        pachstream_namespace=settings.namespace,
        env=tuple(sorted(env.items())),
        secret=settings.kube_secret,
    )


class KubernetesWorkerPool(Service):
    """Keeps one StatefulSet per current pipeline, ``parallelism`` pods each (0 when stopped).

    Args:
        settings: The servers and ``PACHSTREAM_KUBE_*``.
        kubeconfig: A kubeconfig file; None: in-cluster, else the driver's default.
        deployment: Overrides what the settings give (tests).
        poll_s: Seconds to wait before trying again when the API server or the database is
            away (pipeline changes are watched, never polled).
        resync_s: Seconds after which the StatefulSets are compared again though the
            pipelines did not change.
    """

    name = "workers"

    def __init__(
        self,
        settings: Settings,
        *,
        kubeconfig: str | None = None,
        deployment: KubeDeployment | None = None,
        poll_s: float = 1.0,
        resync_s: float = 30.0,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._deployment = deployment or deployment_for(settings)
        self._kubeconfig = kubeconfig
        self._poll_s = poll_s
        self._resync_s = resync_s
        self._pool: Any = None
        self._api: client.ApiClient | None = None
        self._seen: list[tuple[str, int, str, str]] | None = None
        """The rows of the last complete reconcile (None: reconcile at the next poll)."""
        self._synced = 0.0
        self._conflicts = 0
        self._listener: Any = None
        self._changed = asyncio.Event()
        """Set by the watch: the pipelines changed (or the watch was lost)."""
        self.refused: dict[str, InvalidSpec] = {}
        """Pipeline → why the API server refused its StatefulSet, as of the last reconcile."""

    async def _open(self) -> None:
        self._api = await self.connect()
        _, pg, _ = self._settings.require()
        self._pool = await connect_pool(pg, self._settings.namespace)
        await self._listen()

    async def _listen(self) -> None:
        listener = await self._pool.acquire()
        await listener.add_listener(notify_channel(self._settings.namespace), self._heard)
        listener.add_termination_listener(self._lost)
        self._listener = listener

    def _heard(self, *_: Any) -> None:
        self._changed.set()

    def _lost(self, *_: Any) -> None:
        # Listen again at the next step, which reads the pipelines meanwhile.
        self._listener = None
        self._changed.set()

    async def connect(self) -> client.ApiClient:
        """A client for the cluster (see the class's ``kubeconfig``); :meth:`reconcile` alone
        needs only this, not Postgres (tests call it so).
        """
        conf = client.Configuration()
        if self._kubeconfig is not None:
            await config.load_kube_config(config_file=self._kubeconfig, client_configuration=conf)
        else:
            try:
                config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
            except ConfigException:
                await config.load_kube_config(client_configuration=conf)
        self._api = client.ApiClient(configuration=conf)
        return self._api

    async def _close(self) -> None:
        if self._api is not None:
            await self._api.close()
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.remove_termination_listener(self._lost)
            await listener.remove_listener(notify_channel(self._settings.namespace), self._heard)
            await self._pool.release(listener)
        if self._pool is not None:
            await self._pool.close()

    async def _step(self) -> None:
        if self._listener is None:
            try:
                await self._listen()
            except OSError as exc:
                log.warning("workers: cannot listen for pipeline changes, retrying: %s", exc)
        due = self._seen is None or time.monotonic() - self._synced > self._resync_s
        if not due and not self._changed.is_set():
            # Waits a second at most, so that stop() is seen at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1.0)
            if not self._changed.is_set():
                return
        # Cleared before the read: rows committed after it set the event again.
        self._changed.clear()
        current = await current_pipelines(self._pool)
        rows = [(p.name, p.version, p.state, p.spec) for p in current]
        seen = [(n, v, s, json.dumps(r, sort_keys=True)) for n, v, s, r in rows]
        if seen == self._seen and not due:
            return
        conflicts = self._conflicts
        try:
            await self.reconcile(rows)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The API server is away (a restart, a network blip): try again soon.
            log.warning("workers: Kubernetes API unreachable, retrying: %s", exc)
        except ApiException as exc:
            if exc.status is None or not (exc.status == 429 or exc.status >= 500):
                raise  # not a passing state of the server: the pool fails loudly
            log.warning("workers: Kubernetes API answered %s, retrying", exc.status)
        else:
            if self._conflicts == conflicts:
                self._seen, self._synced = seen, time.monotonic()
                return
        # Not in step yet: look again soon, changed or not.
        self._seen = None
        await asyncio.sleep(self._poll_s)

    async def reconcile(
        self, rows: Sequence[tuple[str, int, str, dict[str, Any]]]
    ) -> list[InvalidSpec]:
        """Bring the StatefulSets in line with ``rows`` (name, version, state, raw spec).

        Returns the refusals of this round, one per pipeline whose object the server refused.
        """
        return await self.apply(wanted_pipelines(rows))

    async def apply(self, wanted: Sequence[WantedPipeline]) -> list[InvalidSpec]:
        """As :meth:`reconcile`, from already-parsed pipelines."""
        assert self._api is not None, "start() or connect() first"
        apps = client.AppsV1Api(self._api)
        ns = self._deployment.namespace
        # Plain JSON, as the core reads it (the models would rename every field).
        response: Any = await apps.list_namespaced_stateful_set(
            ns, label_selector=selector(self._deployment), _preload_content=False
        )
        existing = json.loads(await response.read())["items"]
        refused: dict[str, InvalidSpec] = {}
        for action in plan_actions(wanted, existing, self._deployment):
            try:
                await self._perform(apps, action)
            except ApiException as exc:
                if exc.status == 409:
                    # Changed by someone else since the list: the next round sees the change.
                    log.info("workers: %s changed meanwhile; retrying next round", action.pipeline)
                    self._conflicts += 1
                    continue
                if exc.status in (400, 403, 422):
                    refused[action.pipeline] = _refusal(action, ns, exc)
                    continue
                raise
        for pipeline, err in refused.items():
            if pipeline not in self.refused or self.refused[pipeline].message != err.message:
                log.error("workers: %s", err.message)
        self.refused = refused
        return list(refused.values())

    async def _perform(self, apps: client.AppsV1Api, action: KubeAction) -> None:
        ns = self._deployment.namespace
        # The driver sends a dict body as it is; its annotations name the model class only.
        match action:
            case Create(pipeline, body):
                log.info("workers: creating %s for %s", body["metadata"]["name"], pipeline)
                await apps.create_namespaced_stateful_set(
                    ns, cast(Any, body), field_validation="Strict"
                )
            case Replace(pipeline, name, body):
                log.info("workers: replacing %s for %s (rolls its pods)", name, pipeline)
                await apps.replace_namespaced_stateful_set(
                    name, ns, cast(Any, body), field_validation="Strict"
                )
            case Scale(pipeline, name, replicas):
                log.info("workers: scaling %s for %s to %d", name, pipeline, replicas)
                await apps.patch_namespaced_stateful_set_scale(
                    name, ns, {"spec": {"replicas": replicas}}
                )
            case Delete(pipeline, name):
                log.info("workers: deleting %s of deleted pipeline %s", name, pipeline)
                try:
                    await apps.delete_namespaced_stateful_set(
                        name, ns, propagation_policy="Background"
                    )
                except ApiException as exc:
                    if exc.status != 404:  # already gone: what was wanted
                        raise


def _refusal(action: KubeAction, namespace: str, exc: ApiException) -> InvalidSpec:
    """The error naming the pipeline, its object and the server's causes, with the fix."""
    name = action.name if not isinstance(action, Create) else action.body["metadata"]["name"]
    try:
        status = json.loads(exc.body or b"")
        causes = (status.get("details") or {}).get("causes") or []
        said = "; ".join(f"{c.get('field', '?')}: {c.get('message', '')}" for c in causes)
        said = said or status.get("message", "")
    except (TypeError, ValueError):
        said = str(exc.body or exc.reason)
    return InvalidSpec(
        f"pipeline '{action.pipeline}': Kubernetes refused StatefulSet '{name}' in namespace "
        f"'{namespace}' ({exc.status} {exc.reason}): {said}; fix the pipeline's "
        "resource_requests, resource_limits, scheduling_spec or transform.image and update "
        "it (or PACHSTREAM_KUBE_IMAGE)",
        pipeline=action.pipeline,
        statefulset=name,
        status=exc.status,
    )
