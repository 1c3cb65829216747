"""Workers: run a pipeline's datums and report each result.

A worker consumes its pipeline's task topic, stages a datum's inputs under ``/pfs/<input>``,
runs the transform (:mod:`~pachstream.worker.runner`) in a warm sandbox
(:mod:`~pachstream.worker.sandbox`), stores ``/pfs/out`` and produces the datum's result;
:class:`WorkerPool` keeps one worker per task-topic partition of every running pipeline
(:class:`KubernetesWorkerPool`: one StatefulSet per pipeline, a pod per partition). The
worker sits above the lineage package (it asks whether a job was stopped) and beside the
dispatcher, to which it talks only through topics.

The names are imported on first use (PEP 562), so reading a module of this package does not
load the drivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pachstream.worker._kube_pool import KubernetesWorkerPool
    from pachstream.worker._worker import IDLE_WORKERS_KEPT_S, Worker, WorkerPool

__all__ = ["IDLE_WORKERS_KEPT_S", "KubernetesWorkerPool", "Worker", "WorkerPool"]


def __getattr__(name: str) -> Any:
    if name == "KubernetesWorkerPool":  # loads kubernetes-asyncio: only when asked for
        from pachstream.worker import _kube_pool

        return _kube_pool.KubernetesWorkerPool
    if name in __all__:
        from pachstream.worker import _worker

        return getattr(_worker, name)
    raise AttributeError(f"module 'pachstream.worker' has no attribute {name!r}")
