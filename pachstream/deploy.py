"""The Kubernetes objects of pachstream's control plane, for your Kafka, PostgreSQL and S3.

``pachstream deploy render`` prints them; ``deploy/kubernetes/`` is the same output as a
kustomize base (a test keeps the two equal). Pure: plain dicts in, plain dicts and YAML out.

What runs: one Deployment per processor (:data:`pachstream.stack.PROCESSORS`), each a single
replica (it owns every partition of its input topics), configured by one ConfigMap and one
Secret whose keys are the environment variables :mod:`pachstream.settings` reads; a Service
for the S3 gateway. The worker pool runs as ``pachstream run workers`` with
``PACHSTREAM_WORKERS=kubernetes``: a controller that keeps one StatefulSet per pipeline
(:mod:`pachstream.worker._kube_objects`), under its own ServiceAccount with the least
privilege a worker controller needs in its namespace (StatefulSets, Pods, ConfigMaps).
Health: the gateway has an HTTP port and a readiness probe on it; the processors have none to
probe, and a processor that fails exits, so the kubelet's restart is their liveness.

Metrics: every pod template carries Prometheus's scrape annotations (``prometheus.io/scrape``,
``port``, ``path``), no ServiceMonitor needed. Each process serves ``/metrics`` on
:data:`METRICS_PORT` (``PACHSTREAM_METRICS_ADDRESS``), except the console, whose own server
has it (beyond loopback it asks for ``PACHSTREAM_CONSOLE_TOKEN``: give Prometheus that
token as a bearer token for this pod).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from pachstream.stack import PROCESSORS

DEFAULT_IMAGE = "pachstream:0.1.0"
"""The image built by ``deploy/Dockerfile``."""

LABEL = {"app.kubernetes.io/name": "pachstream"}

CONFIG: dict[str, str] = {
    "PACHSTREAM_NAMESPACE": "ps",
    "PACHSTREAM_KAFKA_BOOTSTRAP": "kafka.kafka.svc:9092",
    "PACHSTREAM_S3_ENDPOINT": "http://minio.minio.svc:9000",
    "PACHSTREAM_S3_BUCKET": "pachstream",
    "PACHSTREAM_S3_REGION": "us-east-1",
}
"""Where the servers are: edit for your cluster (the keys are pachstream's variables)."""

SECRETS: dict[str, str] = {
    "PACHSTREAM_POSTGRES_DSN": "postgresql://pachstream:change-me@postgres.postgres.svc:5432/pachstream",
    "PACHSTREAM_S3_ACCESS_KEY": "change-me",
    "PACHSTREAM_S3_SECRET_KEY": "change-me",
    "PACHSTREAM_GATEWAY_ACCESS_KEY": "change-me",
    "PACHSTREAM_GATEWAY_SECRET_KEY": "change-me",
    # The console listens beyond loopback in a pod, so it needs its token (/login).
    "PACHSTREAM_CONSOLE_TOKEN": "change-me",
}
"""Credentials: replace every ``change-me`` (remove both gateway keys for unsigned S3)."""

ABOUT = {
    "commits": "The commit processor: requests in, trees and commit facts out.",
    "lineage": "The materializer: facts into the Postgres query tables.",
    "dispatch": "The dispatcher: pipeline requests and finished commits in; jobs, datum tasks "
    "and output commits out.",
    "workers": "The worker controller: one StatefulSet per pipeline, whose pods run the "
    "pipeline's image (the agent) beside the pachstream sidecar.",
    "ingest": "The ingest consumer: records of <ns>.ingest (any Kafka client) become commits.",
    "s3gateway": "The S3 gateway: buckets BRANCH.REPO over HTTP (aws-cli, boto3...), port 1600.",
    "openlineage": "The OpenLineage exporter: job facts as OpenLineage run events.",
    "console": "The web console: repos, DAG, jobs, lineage in a browser, port 1700 "
    "(token: PACHSTREAM_CONSOLE_TOKEN).",
}
"""One line per processor, written above its Deployment."""

GATEWAY_PORT = 1600
CONSOLE_PORT = 1700
METRICS_PORT = 9464
"""Where each processor's pod serves ``/metrics`` (Prometheus's customary exporter port)."""


def scrape_annotations(port: int) -> dict[str, str]:
    """Prometheus's pod annotations for ``/metrics`` on ``port``."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }


def _meta(name: str, component: str | None, namespace: str | None) -> dict[str, Any]:
    labels = {**LABEL, **({"app.kubernetes.io/component": component} if component else {})}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _deployment(name: str, image: str, namespace: str | None) -> dict[str, Any]:
    selector = {**LABEL, "app.kubernetes.io/component": name}
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "args": ["run", name],
        "envFrom": [
            {"configMapRef": {"name": "pachstream-config"}},
            {"secretRef": {"name": "pachstream-secrets"}},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "2Gi"},
        },
    }
    pod: dict[str, Any] = {
        # SIGTERM: finish the batch in hand and commit offsets; a processor needs < 15 s.
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
    }
    if name == "s3gateway":
        address = f"0.0.0.0:{GATEWAY_PORT}"
        container["env"] = [{"name": "PACHSTREAM_GATEWAY_ADDRESS", "value": address}]
        container["ports"] = [{"name": "s3", "containerPort": GATEWAY_PORT}]
        container["readinessProbe"] = {"tcpSocket": {"port": GATEWAY_PORT}}
        container["resources"] = {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"memory": "4Gi"},
        }
    if name == "console":
        address = f"0.0.0.0:{CONSOLE_PORT}"
        container["env"] = [{"name": "PACHSTREAM_CONSOLE_ADDRESS", "value": address}]
        container["ports"] = [{"name": "http", "containerPort": CONSOLE_PORT}]
        container["readinessProbe"] = {"tcpSocket": {"port": CONSOLE_PORT}}
    if name == "workers":
        pod["serviceAccountName"] = "pachstream-workers"
        # The controller of worker pods: a StatefulSet per pipeline in this namespace, whose
        # sidecars get their credentials from this deployment's Secret by its name.
        container["env"] = [
            {"name": "PACHSTREAM_WORKERS", "value": "kubernetes"},
            {"name": "PACHSTREAM_KUBE_IMAGE", "value": image},
            {
                "name": "PACHSTREAM_KUBE_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "PACHSTREAM_KUBE_SECRET", "value": "pachstream-secrets"},
        ]
        container["resources"] = {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        }
    metrics_port = CONSOLE_PORT if name == "console" else METRICS_PORT
    if name != "console":
        address = f"0.0.0.0:{METRICS_PORT}"
        env = container.setdefault("env", [])
        env.append({"name": "PACHSTREAM_METRICS_ADDRESS", "value": address})
        ports = container.setdefault("ports", [])
        ports.append({"name": "metrics", "containerPort": METRICS_PORT})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f"pachstream-{name}", name, namespace),
        "spec": {
            # One owner of the input partitions per namespace: never two, even while rolling.
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector, "annotations": scrape_annotations(metrics_port)},
                "spec": pod,
            },
        },
    }


def _worker_rbac(namespace: str | None) -> list[dict[str, Any]]:
    meta = _meta("pachstream-workers", "workers", namespace)
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            # Least privilege: the worker StatefulSets of this namespace (and their scale, which
            # a parallelism change or a stop patches), their pods (to read their state) and
            # ConfigMaps (to hand them settings); nothing cluster-wide.
            "rules": [
                {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": verbs},
                {
                    "apiGroups": ["apps"],
                    "resources": ["statefulsets/scale"],
                    "verbs": ["get", "update", "patch"],
                },
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pachstream-workers",
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": "pachstream-workers",
                    **({"namespace": namespace} if namespace is not None else {}),
                }
            ],
        },
    ]


def render(
    *,
    namespace: str | None = None,
    image: str = DEFAULT_IMAGE,
    processors: Sequence[str] = PROCESSORS,
) -> dict[str, list[dict[str, Any]]]:
    """Every object, grouped by the file of the kustomize base it belongs in.

    Args:
        namespace: set on every object; None leaves it to ``kubectl -n`` or kustomize.
        image: the pachstream image every processor runs.
        processors: which processors to deploy (add ``openlineage`` for the exporter).

    """
    files: dict[str, list[dict[str, Any]]] = {
        "config.yaml": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta("pachstream-config", None, namespace),
                "data": dict(CONFIG),
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta("pachstream-secrets", None, namespace),
                "type": "Opaque",
                "stringData": dict(SECRETS),
            },
        ]
    }
    for name in processors:
        objects = [_deployment(name, image, namespace)]
        if name == "s3gateway":
            selector = {**LABEL, "app.kubernetes.io/component": name}
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _meta("pachstream-s3gateway", name, namespace),
                    "spec": {
                        "selector": selector,
                        "ports": [{"name": "s3", "port": GATEWAY_PORT, "targetPort": GATEWAY_PORT}],
                    },
                }
            )
        if name == "console":
            selector = {**LABEL, "app.kubernetes.io/component": name}
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _meta("pachstream-console", name, namespace),
                    "spec": {
                        "selector": selector,
                        "ports": [
                            {"name": "http", "port": CONSOLE_PORT, "targetPort": CONSOLE_PORT}
                        ],
                    },
                }
            )
        if name == "workers":
            objects += _worker_rbac(namespace)
        files[f"{name}.yaml"] = objects
    return files


def to_yaml(objects: Sequence[dict[str, Any]], about: str | None = None) -> str:
    """Objects as one YAML stream (``about``: a comment line above it)."""
    head = f"# {about}\n" if about else ""
    return head + "---\n".join(
        yaml.dump(o, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for o in objects
    )


class _Dumper(yaml.SafeDumper):
    """Writes a value used twice (a selector and its pod labels) twice, not as an alias:
    manifests are read by people and by tools that do not follow anchors.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


def base_files(image: str = DEFAULT_IMAGE) -> dict[str, str]:
    """The kustomize base of ``deploy/kubernetes/``: file name → text."""
    files = render(image=image)
    out = {
        name: to_yaml(objects, ABOUT.get(name.removesuffix(".yaml"), _CONFIG_ABOUT))
        for name, objects in files.items()
    }
    out["kustomization.yaml"] = to_yaml(
        [
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": sorted(files),
            }
        ],
        "pachstream's control plane; regenerate with 'pachstream deploy render --out "
        "deploy/kubernetes' (tests/unit/test_deploy.py checks it is current)",
    )
    return out


_CONFIG_ABOUT = (
    "Where the servers are and the credentials: edit for your cluster; the keys are "
    "pachstream's environment variables."
)
