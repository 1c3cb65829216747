"""Pipelines: specs, datums, and the incremental plan of each job (pure core so far)."""

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

__all__ = [
    "CrossInput",
    "Datum",
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
    "datums",
    "merge_outputs",
    "parse_specs",
    "plan_job",
]
