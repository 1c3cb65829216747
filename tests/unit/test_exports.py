"""Each package's public names are exactly its ``__all__`` (STYLE.md §3)."""

import importlib

import pytest

PACKAGES = {
    "pachstream": {"Client", "SyncClient"},
    "pachstream.client": {
        "spec_notes",
        "CommitSetInfo",
        "BranchInfo",
        "Client",
        "CommitInfo",
        "DatumInfo",
        "DiffInfo",
        "FileInfo",
        "JobInfo",
        "OpenCommit",
        "PipelineInfo",
        "RepoInfo",
        "SyncClient",
        "CommitEdge",
        "CommitLineage",
        "FileVersion",
        "Lineage",
        "LineageEdge",
    },
    "pachstream.commits": {"CommitProcessor"},
    "pachstream.lineage": {"BULK", "Materializer", "notify_channel", "queries", "rows_for"},
    "pachstream.ingest": {
        "CommitPolicy",
        "IngestConsumer",
        "IngestItem",
        "Notification",
        "NotifyConfig",
        "parse_notification",
        "parse_notify_config",
        "parse_policies",
        "parse_record",
    },
    "pachstream.gateway": {
        "GATEWAY_DESCRIPTION",
        "Bucket",
        "CommitTiming",
        "CorsPolicy",
        "S3Error",
        "S3Gateway",
        "key_to_path",
        "parse_bucket",
    },
    "pachstream.worker": {"KubernetesWorkerPool", "Worker", "WorkerPool"},
    "pachstream.images": {
        "DEFAULT_PATH",
        "Deleted",
        "Image",
        "ImageConfig",
        "ImageStore",
        "Reference",
        "RunPlan",
        "normalize",
        "parse_reference",
        "read_in_root",
        "resolve_in_root",
        "run_plan",
        "write_docker_archive",
    },
    "pachstream.dispatch": {
        "CrossInput",
        "Datum",
        "DatumInput",
        "Dispatcher",
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
    },
}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_exports(name):
    module = importlib.import_module(name)
    assert set(module.__all__) == PACKAGES[name]
    for symbol in module.__all__:
        assert getattr(module, symbol).__doc__, f"{name}.{symbol} has no docstring"
