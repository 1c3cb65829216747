"""Pipelines: specs, datums, incremental jobs, the dispatcher and the workers."""

from pachstream.dispatch._dispatcher import Dispatcher
from pachstream.dispatch.datums import (
    CrossInput,
    Datum,
    DatumInput,
    GroupInput,
    JoinInput,
    PfsInput,
    UnionInput,
    datums,
)
from pachstream.dispatch.plan import IndexEntry, JobPlan, OutputConflict, merge_outputs, plan_job
from pachstream.dispatch.spec import PipelineSpec, Transform, parse_specs
from pachstream.dispatch.worker import Worker, WorkerPool

__all__ = [
    "CrossInput",
    "Datum",
    "Dispatcher",
    "DatumInput",
    "GroupInput",
    "IndexEntry",
    "JobPlan",
    "JoinInput",
    "OutputConflict",
    "PfsInput",
    "PipelineSpec",
    "Transform",
    "UnionInput",
    "Worker",
    "WorkerPool",
    "datums",
    "merge_outputs",
    "parse_specs",
    "plan_job",
]
