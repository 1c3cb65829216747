"""The Kubernetes objects of the worker pool, and what to do to reach them. Pure.

One StatefulSet per pipeline (not per version: a new version rolls the same set), with
``parallelism`` replicas. A StatefulSet because its pods have stable ordinals and the
controller never runs two pods of one ordinal at once: ordinal ``i`` is task-topic shard
``i``, and one shard must have one reader, as the local pool's one process per shard.

The pod, and what runs where:

- init container ``agent`` (the pachstream image, :attr:`KubeDeployment.image`): the image's
  static busybox copies itself into the ``agent`` emptyDir, mounted at ``/.pachstream``.
- container ``user`` (the pipeline's ``transform.image``): runs ``/.pachstream/busybox sh -c
  AGENT``, the agent of :mod:`pachstream.worker.agent` (the very text the local sandbox
  runs), over the FIFOs in ``/ctl`` (the ``ctl`` emptyDir), so an image without a shell
  works, as in the local sandbox. It sees ``/pfs/<input>`` read-only and ``/pfs/out``
  writable (one emptyDir each), a scratch ``/tmp``, and a read-only root; the spec's resource
  requests and limits are this container's. The container runtime runs it as the image's
  ``USER`` and with its ``Env`` and ``WORKDIR``, which the commands inherit. The image's
  ``Entrypoint`` is replaced by the agent, so a spec on this backend must give
  ``transform.cmd`` (the sidecar fails its datums saying so).
- container ``worker`` (the pachstream image, the sidecar): ``pachstream run worker PIPELINE
  VERSION $(PACHSTREAM_SHARD) /var/lib/pachstream/worker``, the shard being the pod's ordinal
  (the ``apps.kubernetes.io/pod-index`` label, through the downward API), with the
  deployment's environment; its credentials come from the deployment's Secret
  (:attr:`KubeDeployment.secret`), never as values in the StatefulSet. It mounts the same
  emptyDirs where the sandbox keeps them (``box/inputs/<input>``, ``box/out``, ``box/ctl``)
  to stage inputs, write scripts and read outputs.

The pod mounts no service-account token (neither container talks to Kubernetes), gets no
service links in its environment, and its containers share no PID namespace: the agent's
sweep of a run's processes (``kill -9 -1``) reaches only its own container.

The actions (:func:`plan_actions`): a pipeline without a StatefulSet gets :class:`Create`;
one whose rendered template (and settings) changed, a new version above all, gets
:class:`Replace`, which rolls the pods; one whose replicas alone differ (a parallelism change,
``stop pipeline``, which wants 0, ``start pipeline``) gets :class:`Scale`; a StatefulSet of
this pachstream namespace whose pipeline is gone, or whose spec this version refuses (it gets
no workers, as locally), gets :class:`Delete`. Which template a StatefulSet runs is told by
the hash of the rendered body in its ``pachstream.io/template-hash`` annotation, so the
server's defaulted fields never count as a change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from pachstream.dispatch.datums import PfsInput
from pachstream.dispatch.spec import PipelineSpec, Resources, parse_spec
from pachstream.errors import PachstreamError
from pachstream.worker.agent import AGENT, CTL_RUNS, SHELL_INSIDE

NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
PIPELINE_LABEL = "pachstream.io/pipeline"
VERSION_LABEL = "pachstream.io/version"
NAMESPACE_LABEL = "pachstream.io/namespace"
PIPELINE_ANNOTATION = "pachstream.io/pipeline"
"""The pipeline's exact name (a label value may not hold every pipeline name)."""
TEMPLATE_HASH = "pachstream.io/template-hash"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
"""Set by the StatefulSet controller on each pod: its ordinal."""

WORK_DIR = "/var/lib/pachstream/worker"
"""The sidecar's worker folder (an emptyDir); the sandbox lives under ``box/``."""
AGENT_DIR = SHELL_INSIDE.rsplit("/", 1)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeDeployment:
    """Where and how the worker pods run (from the settings)."""

    namespace: str
    """The Kubernetes namespace of the StatefulSets."""
    image: str
    """The pachstream image: the sidecar, and the source of the agent's busybox."""
    pachstream_namespace: str
    """The pachstream namespace (``PACHSTREAM_NAMESPACE``): the StatefulSets of another one in
    the same Kubernetes namespace are never touched."""
    env: tuple[tuple[str, str], ...] = ()
    """The sidecar's environment (the servers' addresses), sorted."""
    busybox: str = "/usr/bin/busybox"
    """Where the pachstream image has its static busybox."""
    grace_s: int = 30
    """``terminationGracePeriodSeconds``: a worker finishes its batch within it."""
    secret: str = "pachstream-secrets"
    """The Secret whose keys become the sidecar's credential variables (``deploy render``'s
    Secret by default): :attr:`env` holds none of them."""


@dataclass(frozen=True, slots=True)
class WantedPipeline:
    """A current pipeline that has workers."""

    name: str
    """Pipeline name."""
    version: int
    """Current spec version."""
    spec: PipelineSpec
    """The parsed spec."""
    stopped: bool = False
    """``stop pipeline``: kept, with 0 replicas."""


@dataclass(frozen=True, slots=True)
class Create:
    """Create a StatefulSet."""

    pipeline: str
    """Whose it is."""
    body: dict[str, Any]
    """The whole object."""


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace a StatefulSet's spec (rolls its pods when the template changed)."""

    pipeline: str
    """Whose it is."""
    name: str
    """The StatefulSet's name."""
    body: dict[str, Any]
    """The whole object, with the existing ``resourceVersion``: a concurrent change makes the
    replace fail rather than be lost."""


@dataclass(frozen=True, slots=True)
class Scale:
    """Set a StatefulSet's replicas only (its template is current)."""

    pipeline: str
    """Whose it is."""
    name: str
    """The StatefulSet's name."""
    replicas: int
    """Wanted replicas (0: stopped)."""


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a StatefulSet (its pods go with it)."""

    pipeline: str
    """Whose it was."""
    name: str
    """The StatefulSet's name."""


KubeAction: TypeAlias = Create | Replace | Scale | Delete
"""One step of a reconcile."""


def wanted_pipelines(rows: Sequence[tuple[str, int, str, dict[str, Any]]]) -> list[WantedPipeline]:
    """(name, version, state, raw spec) of the current pipelines → those that get workers.

    As :func:`pachstream.worker._worker.wanted_workers`, a spec this version refuses gets none.
    """
    out = []
    for name, version, state, raw in rows:
        try:
            spec = parse_spec(raw)
        except PachstreamError:
            continue
        out.append(WantedPipeline(name, version, spec, stopped=state == "stopped"))
    return out


def object_name(pachstream_namespace: str, pipeline: str) -> str:
    """The StatefulSet's name: a DNS label of at most 49 characters.

    Pipeline names may have capitals and ``_``, which Kubernetes names may not, so the name is
    a lowercased slug plus a hash of the exact names (``Edges`` and ``edges`` stay apart).
    At most 49: the controller adds ``-<10-char hash>`` for its revisions' label values,
    which must stay within 63.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", f"{pachstream_namespace}-{pipeline}".lower())
    digest = hashlib.sha256(f"{pachstream_namespace}\0{pipeline}".encode()).hexdigest()[:8]
    return f"{slug[:40].strip('-')}-{digest}"


def _label_value(pipeline: str, name: str) -> str:
    # A pipeline name is a valid label value unless too long or edged with '_' or '-'.
    ok = re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", pipeline)
    return pipeline if ok else name


def selector(deployment: KubeDeployment) -> str:
    """The label selector of every worker StatefulSet of the deployment's pachstream namespace."""
    return (
        f"{NAME_LABEL}=pachstream,{COMPONENT_LABEL}=worker,"
        f"{NAMESPACE_LABEL}={deployment.pachstream_namespace}"
    )


def _resources(requests: Resources | None, limits: Resources | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, res in (("requests", requests), ("limits", limits)):
        if res is None:
            continue
        values: dict[str, str] = {}
        if res.cpu is not None:
            values["cpu"] = f"{round(res.cpu * 1000)}m"  # millicores, as Pachyderm
        if res.memory is not None:
            values["memory"] = res.memory
        if res.disk is not None:
            values["ephemeral-storage"] = res.disk
        if values:
            out[key] = values
    return out


def _input_names(spec: PipelineSpec) -> list[str]:
    names: set[str] = set()
    stack = [spec.input]
    while stack:
        node = stack.pop()
        if isinstance(node, PfsInput):
            names.add(node.name)
        else:
            stack.extend(node.inputs)
    return sorted(names)


def render_statefulset(wanted: WantedPipeline, deployment: KubeDeployment) -> dict[str, Any]:
    """The StatefulSet of one pipeline, as the API's JSON (see the module docstring)."""
    spec = wanted.spec
    name = object_name(deployment.pachstream_namespace, wanted.name)
    match = {
        NAME_LABEL: "pachstream",
        COMPONENT_LABEL: "worker",
        NAMESPACE_LABEL: deployment.pachstream_namespace,
        PIPELINE_LABEL: _label_value(wanted.name, name),
    }
    labels = {**match, VERSION_LABEL: str(wanted.version)}
    inputs = _input_names(spec)
    volumes: list[dict[str, Any]] = [
        {"name": v, "emptyDir": {}} for v in ("agent", "ctl", "out", "tmp", "work")
    ]
    volumes += [{"name": f"input-{i}", "emptyDir": {}} for i in range(len(inputs))]
    user_mounts: list[dict[str, Any]] = [
        {"name": "agent", "mountPath": AGENT_DIR, "readOnly": True},
        {"name": "ctl", "mountPath": "/ctl"},
        # Only the sidecar writes run scripts (see pachstream.worker.agent).
        {"name": "ctl", "mountPath": f"/ctl/{CTL_RUNS}", "subPath": CTL_RUNS, "readOnly": True},
        {"name": "out", "mountPath": "/pfs/out"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    user_mounts += [
        {"name": f"input-{i}", "mountPath": f"/pfs/{n}", "readOnly": True}
        for i, n in enumerate(inputs)
    ]
    box = f"{WORK_DIR}/box"
    worker_mounts: list[dict[str, Any]] = [
        {"name": "work", "mountPath": WORK_DIR},
        {"name": "ctl", "mountPath": f"{box}/ctl"},
        {"name": "out", "mountPath": f"{box}/out"},
    ]
    worker_mounts += [
        {"name": f"input-{i}", "mountPath": f"{box}/inputs/{n}"} for i, n in enumerate(inputs)
    ]
    user: dict[str, Any] = {
        "name": "user",
        "image": spec.transform.image or deployment.image,
        "command": [SHELL_INSIDE, "sh", "-c", AGENT],
        "volumeMounts": user_mounts,
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
    }
    resources = _resources(spec.resource_requests, spec.resource_limits)
    if resources:
        user["resources"] = resources
    worker: dict[str, Any] = {
        "name": "worker",
        "image": deployment.image,
        "command": ["pachstream"],
        # $(VAR) is expanded by the kubelet from the container's environment: no shell needed.
        "args": [
            "run",
            "worker",
            wanted.name,
            str(wanted.version),
            "$(PACHSTREAM_SHARD)",
            WORK_DIR,
            "--agent",
            "pod",
        ],
        "env": [
            {
                "name": "PACHSTREAM_SHARD",
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{POD_INDEX_LABEL}']"}},
            },
            *({"name": k, "value": v} for k, v in deployment.env),
        ],
        "envFrom": [{"secretRef": {"name": deployment.secret}}],
        "volumeMounts": worker_mounts,
    }
    agent: dict[str, Any] = {
        "name": "agent",
        "image": deployment.image,
        "command": [deployment.busybox, "cp", deployment.busybox, SHELL_INSIDE],
        "volumeMounts": [{"name": "agent", "mountPath": AGENT_DIR}],
    }
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": deployment.grace_s,
        "initContainers": [agent],
        "containers": [user, worker],
        "volumes": volumes,
    }
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": name,
            "namespace": deployment.namespace,
            "labels": labels,
            "annotations": {PIPELINE_ANNOTATION: wanted.name},
        },
        "spec": {
            "replicas": 0 if wanted.stopped else spec.parallelism,
            "serviceName": name,
            # Parallel: shards are independent, so all start (and stop) at once; a rolling
            # update still replaces one pod at a time.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {PIPELINE_ANNOTATION: wanted.name},
                },
                "spec": pod,
            },
        },
    }
    body["metadata"]["annotations"][TEMPLATE_HASH] = template_hash(body)
    return body


def template_hash(body: dict[str, Any]) -> str:
    """The hash of what a replace would change besides the replicas (template and settings)."""
    shown = {k: v for k, v in body["spec"].items() if k != "replicas"}
    text = json.dumps([body["metadata"]["labels"], shown], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_actions(
    wanted: Sequence[WantedPipeline],
    existing: Sequence[dict[str, Any]],
    deployment: KubeDeployment,
) -> list[KubeAction]:
    """The steps from the ``existing`` StatefulSets (the API's JSON, camelCase) to the wanted.

    Only StatefulSets labelled with the deployment's pachstream namespace count; one whose
    pipeline is not wanted is deleted. The steps are in pipeline order, deletes last.
    """
    ns_label = deployment.pachstream_namespace
    have: dict[str, dict[str, Any]] = {}
    for obj in existing:
        meta = obj.get("metadata") or {}
        if (meta.get("labels") or {}).get(NAMESPACE_LABEL) == ns_label:
            have[meta["name"]] = obj
    actions: list[KubeAction] = []
    for w in sorted(wanted, key=lambda w: w.name):
        body = render_statefulset(w, deployment)
        name = body["metadata"]["name"]
        old = have.pop(name, None)
        if old is None:
            actions.append(Create(w.name, body))
            continue
        old_hash = (old["metadata"].get("annotations") or {}).get(TEMPLATE_HASH)
        if old_hash != body["metadata"]["annotations"][TEMPLATE_HASH]:
            version = old["metadata"].get("resourceVersion")
            if version:
                body["metadata"]["resourceVersion"] = version
            actions.append(Replace(w.name, name, body))
        elif (old.get("spec") or {}).get("replicas") != body["spec"]["replicas"]:
            actions.append(Scale(w.name, name, body["spec"]["replicas"]))
    for name, old in sorted(have.items()):
        owner = (old["metadata"].get("annotations") or {}).get(PIPELINE_ANNOTATION, name)
        actions.append(Delete(owner, name))
    return actions
