"""Each package's public names are exactly its ``__all__`` (STYLE.md §3)."""

import importlib

import pytest

PACKAGES = {
    "pachstream": {"Client", "SyncClient"},
    "pachstream.client": {"BranchInfo", "Client", "CommitInfo", "DatumInfo", "DiffInfo", "FileInfo", "JobInfo",
                          "OpenCommit", "PipelineInfo", "RepoInfo", "SyncClient", "CommitEdge", "CommitLineage",
                          "FileVersion", "Lineage", "LineageEdge"},
    "pachstream.commits": {"CommitProcessor"},
    "pachstream.lineage": {"Materializer", "notify_channel"},
    "pachstream.dispatch": {
        "CrossInput", "Datum", "DatumInput", "Dispatcher", "GroupInput", "IndexEntry", "JobPlan", "JoinInput",
        "OutputConflict", "PfsInput", "PipelineSpec", "Transform", "UnionInput", "Worker", "WorkerPool", "datums",
        "merge_outputs", "parse_specs", "plan_job",
    },
}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_exports(name):
    module = importlib.import_module(name)
    assert set(module.__all__) == PACKAGES[name]
    for symbol in module.__all__:
        assert getattr(module, symbol).__doc__, f"{name}.{symbol} has no docstring"
