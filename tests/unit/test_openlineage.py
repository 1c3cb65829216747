"""The OpenLineage core: facts → RunEvents, run ids, configuration; every event schema-valid."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from openlineage_schema import errors

from pachstream.commits.events import CommitFinished
from pachstream.dispatch.events import InputCommit, JobFinished, JobStarted, PipelineStateSet
from pachstream.errors import InvalidInput
from pachstream.lineage import openlineage as ol
from pachstream.lineage.openlineage import (
    FileTarget,
    HttpTarget,
    KafkaTarget,
    parse_target,
    run_events,
    run_id,
    serialize,
)

PRODUCER = "https://github.com/pachstream/pachstream/tree/v0.1.0"
NS = "pachstream://ps"
JOB = "a" * 32
OLD_JOB = "b" * 32
IN_COMMIT = "c" * 32
OUT_COMMIT = "d" * 32
SPEC = "https://openlineage.io/spec/"
OURS = "https://raw.githubusercontent.com/pachstream/pachstream/main/docs/openlineage/"


def facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


VERSION = SPEC + "facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
ERROR = SPEC + "facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
JOB_TYPE = facet(
    SPEC + "facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    processingType="BATCH",
    integration="PACHSTREAM",
    jobType="PIPELINE",
)
DATUMS = OURS + "DatumsRunFacet.json#/$defs/DatumsRunFacet"
JOB_RUN = OURS + "JobRunFacet.json#/$defs/JobRunFacet"


def started(**over: Any) -> JobStarted:
    fields: dict[str, Any] = dict(
        event_id="e1",
        job_id=JOB,
        pipeline="edges",
        version=2,
        inputs=(InputCommit(name="images", repo="images", branch="master", commit_id=IN_COMMIT),),
        output_commit=OUT_COMMIT,
        time=1_700_000_000.25,
        datums=5,
        to_run=3,
        skipped=2,
    )
    return JobStarted(**{**fields, **over})


def finished(**over: Any) -> JobFinished:
    fields: dict[str, Any] = dict(
        event_id="e2",
        job_id=JOB,
        pipeline="edges",
        state="success",
        output_commit=OUT_COMMIT,
        processed=3,
        skipped=2,
        failed=0,
        recovered=0,
        time=1_700_000_060.0,
    )
    return JobFinished(**{**fields, **over})


def dataset(name: str, commit: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": NS, "name": name}
    if commit is not None:
        out["facets"] = {"version": facet(VERSION, datasetVersion=commit)}
    return out


RUN_ID = str(
    uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "https://pachstream.dev/openlineage/run"), JOB)
)

START = {
    "eventType": "START",
    "eventTime": "2023-11-14T22:13:20.250000+00:00",
    "producer": PRODUCER,
    "schemaURL": SPEC + "2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {
        "runId": RUN_ID,
        "facets": {
            "pachstream_job": facet(JOB_RUN, jobId=JOB, pipelineVersion=2),
            "pachstream_datums": facet(DATUMS, datums=5, toRun=3, skipped=2),
        },
    },
    "job": {"namespace": NS, "name": "edges", "facets": {"jobType": JOB_TYPE}},
    "inputs": [dataset("images", IN_COMMIT)],
    "outputs": [dataset("edges", OUT_COMMIT)],
}

COMPLETE = {
    "eventType": "COMPLETE",
    "eventTime": "2023-11-14T22:14:20+00:00",
    "producer": PRODUCER,
    "schemaURL": SPEC + "2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {
        "runId": RUN_ID,
        "facets": {
            "pachstream_job": facet(JOB_RUN, jobId=JOB, state="success"),
            "pachstream_datums": facet(DATUMS, processed=3, skipped=2, failed=0, recovered=0),
        },
    },
    "job": {"namespace": NS, "name": "edges", "facets": {"jobType": JOB_TYPE}},
    "inputs": [],
    "outputs": [dataset("edges", OUT_COMMIT)],
}


def with_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the values at dotted paths replaced (None deletes)."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = out
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return out


FAIL_REASON = "2 datums failed: 1f3a (exit 1); rerun with 'pachstream rerun job'"

CASES = {
    "start": (started(), [START]),
    "complete": (finished(), [COMPLETE]),
    "fail with reason": (
        finished(state="failure", output_commit=None, processed=1, failed=2, reason=FAIL_REASON),
        [
            with_changes(
                COMPLETE,
                {
                    "eventType": "FAIL",
                    "run.facets.pachstream_job.state": "failure",
                    "run.facets.pachstream_datums": facet(
                        DATUMS, processed=1, skipped=2, failed=2, recovered=0
                    ),
                    "run.facets.errorMessage": facet(
                        ERROR, message=FAIL_REASON, programmingLanguage="unknown"
                    ),
                    "outputs": [dataset("edges", None)],
                },
            )
        ],
    ),
    "killed without reason": (
        finished(state="killed", output_commit=None, processed=0, skipped=0),
        [
            with_changes(
                COMPLETE,
                {
                    "eventType": "FAIL",
                    "run.facets.pachstream_job.state": "killed",
                    "run.facets.pachstream_datums": facet(
                        DATUMS, processed=0, skipped=0, failed=0, recovered=0
                    ),
                    "run.facets.errorMessage": facet(
                        ERROR, message="the job was killed", programmingLanguage="unknown"
                    ),
                    "outputs": [dataset("edges", None)],
                },
            )
        ],
    ),
    "rerun job": (
        started(rerun_of=OLD_JOB),
        [with_changes(START, {"run.facets.pachstream_job.rerunOf": OLD_JOB})],
    ),
    "empty input branch: no version facet": (
        started(
            inputs=(
                InputCommit(name="images", repo="images", branch="master", commit_id=IN_COMMIT),
                InputCommit(name="labels", repo="labels", branch="dev", commit_id=None),
            )
        ),
        [with_changes(START, {"inputs": [dataset("images", IN_COMMIT), dataset("labels", None)]})],
    ),
    "a repo read twice at one commit is one dataset; two commits are two": (
        started(
            inputs=(
                InputCommit(name="left", repo="images", branch="master", commit_id=IN_COMMIT),
                InputCommit(name="right", repo="images", branch="master", commit_id=IN_COMMIT),
                InputCommit(name="old", repo="images", branch="v1", commit_id=OLD_JOB),
            )
        ),
        [
            with_changes(
                START, {"inputs": [dataset("images", IN_COMMIT), dataset("images", OLD_JOB)]}
            )
        ],
    ),
    "other facts: nothing": (
        PipelineStateSet(event_id="e", request_id="r", pipeline="edges", state="stopped", time=1.0),
        [],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_events(name: str) -> None:
    fact, expected = CASES[name]
    events = run_events(fact, namespace="ps", producer=PRODUCER)
    assert events == expected
    for event in events:
        assert errors(event) == []


def test_commit_facts_give_nothing() -> None:
    fact = CommitFinished.__new__(CommitFinished)  # any non-job fact, fields irrelevant
    assert run_events(fact, namespace="ps", producer=PRODUCER) == []


def test_run_id_is_a_pinned_uuid5_of_the_job_id() -> None:
    # Pinned: changing the derivation would orphan every run already in a lineage store.
    assert run_id("0" * 32) == "e1414229-9b12-5be2-9f3f-2c2caf811dd0"
    assert run_id(JOB) == RUN_ID == run_id(JOB)
    assert uuid.UUID(run_id(JOB)).version == 5
    ids = {run_id(f"{i:032x}") for i in range(1000)}
    assert len(ids) == 1000


def test_start_and_finish_name_the_same_run_and_job() -> None:
    (start,) = run_events(started(), namespace="ps", producer=PRODUCER)
    (end,) = run_events(finished(state="failure", reason="x"), namespace="ps", producer=PRODUCER)
    assert start["run"]["runId"] == end["run"]["runId"]
    assert start["job"] == end["job"]
    (other,) = run_events(started(job_id=OLD_JOB), namespace="ps", producer=PRODUCER)
    assert other["run"]["runId"] != start["run"]["runId"]


def test_same_fact_twice_gives_identical_bytes() -> None:
    for fact in (started(), finished(), finished(state="failure", reason="boom")):
        first = [serialize(e) for e in run_events(fact, namespace="ps", producer=PRODUCER)]
        again = [serialize(e) for e in run_events(fact, namespace="ps", producer=PRODUCER)]
        assert first == again
        assert json.loads(first[0]) == run_events(fact, namespace="ps", producer=PRODUCER)[0]


def test_namespace_names_jobs_and_datasets() -> None:
    (event,) = run_events(started(), namespace="tenant_a", producer=PRODUCER)
    spaces = {event["job"]["namespace"]} | {
        d["namespace"] for d in event["inputs"] + event["outputs"]
    }
    assert spaces == {"pachstream://tenant_a"}


def test_event_time_keeps_microseconds_and_utc() -> None:
    assert ol.event_time(0) == "1970-01-01T00:00:00+00:00"
    assert ol.event_time(1.000001) == "1970-01-01T00:00:01.000001+00:00"


def test_the_validator_catches_what_it_should() -> None:
    """The schema check is not vacuous: broken events fail it."""
    (good,) = run_events(started(), namespace="ps", producer=PRODUCER)
    broken = {
        "missing runId": with_changes(good, {"run.runId": None}),
        "runId not a uuid": with_changes(good, {"run.runId": JOB}),
        "naive eventTime": with_changes(good, {"eventTime": "2023-11-14T22:13:20"}),
        "unknown eventType": with_changes(good, {"eventType": "DONE"}),
        "facet without _producer": with_changes(
            good, {"run.facets.pachstream_datums._producer": None}
        ),
        "typo in our facet": with_changes(good, {"run.facets.pachstream_datums.toRum": 3}),
        "negative count": with_changes(good, {"run.facets.pachstream_datums.datums": -1}),
        "version facet without version": with_changes(
            good,
            {
                "outputs": [
                    {"namespace": NS, "name": "edges", "facets": {"version": facet(VERSION)}}
                ]
            },
        ),
        "facet under the wrong key": with_changes(
            good, {"run.facets.versionish": facet(VERSION, datasetVersion="x")}
        ),
        "facet schema we do not have": with_changes(
            good, {"run.facets.mine": facet("https://example.com/Mine.json#/$defs/Mine")}
        ),
        "error facet without language": with_changes(
            good, {"run.facets.errorMessage": facet(ERROR, message="x")}
        ),
    }
    for name, event in broken.items():
        assert errors(event), name


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("http://marquez:5000", HttpTarget(url="http://marquez:5000", endpoint="api/v1/lineage")),
        (
            "https://ol.example.com/",
            HttpTarget(url="https://ol.example.com", endpoint="api/v1/lineage"),
        ),
        (
            "http://127.0.0.1:8080/custom/lineage?tenant=a",
            HttpTarget(url="http://127.0.0.1:8080", endpoint="/custom/lineage?tenant=a"),
        ),
        ("file:///var/log/ol/events.jsonl", FileTarget(path="/var/log/ol/events.jsonl")),
        ("file://localhost/tmp/e.jsonl", FileTarget(path="/tmp/e.jsonl")),
        ("kafka:ps.openlineage", KafkaTarget(topic="ps.openlineage")),
    ],
)
def test_parse_target(value: str, target: object) -> None:
    assert parse_target(value) == target


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "not set"),
        ("", "not set"),
        ("marquez:5000", "scheme"),
        ("ftp://host/x", "scheme"),
        ("http://", "no host"),
        ("http://host:99999", "port"),
        ("http://host:port", "port"),
        ("http://host/#frag", "fragment"),
        ("file://events.jsonl", "absolute path"),
        ("file:relative.jsonl", "absolute path"),
        ("file:///tmp/", "name a file"),
        ("file:///tmp/e.jsonl?x=1", "query"),
        ("kafka:", "topic name"),
        ("kafka:bad topic", "topic name"),
        ("kafka:..", "topic name"),
        ("kafka:" + "t" * 250, "topic name"),
    ],
)
def test_bad_targets_name_the_variable_value_and_forms(value: str | None, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_target(value)
    message = info.value.message
    assert message.startswith(f"PACHSTREAM_OPENLINEAGE={value!r} is invalid")
    assert why in message
    assert "http(s)://host:port[/path]" in message and "file:///" in message
    assert "kafka:TOPIC" in message
    assert info.value.variable == "PACHSTREAM_OPENLINEAGE" and info.value.value == value


def test_settings_carry_the_variable_to_children() -> None:
    from pachstream.settings import Settings

    s = Settings.from_env({"PACHSTREAM_OPENLINEAGE": "kafka:lineage"}, stack_file=False)
    assert s.openlineage == "kafka:lineage"
    assert s.child_env()["PACHSTREAM_OPENLINEAGE"] == "kafka:lineage"
    unset = Settings.from_env({"PACHSTREAM_OPENLINEAGE": ""}, stack_file=False)
    assert unset.openlineage is None and "PACHSTREAM_OPENLINEAGE" not in unset.child_env()


def test_a_bad_target_is_refused_when_read_and_by_the_exporter() -> None:
    import dataclasses

    from pachstream.errors import ConfigError
    from pachstream.settings import Settings

    with pytest.raises(ConfigError, match="PACHSTREAM_OPENLINEAGE='marquez'"):
        Settings.from_env({"PACHSTREAM_OPENLINEAGE": "marquez"}, stack_file=False)
    # Settings built by hand are not read from the environment: the exporter still refuses.
    s = dataclasses.replace(Settings.from_env({}, stack_file=False), openlineage="marquez")
    with pytest.raises(InvalidInput, match="PACHSTREAM_OPENLINEAGE='marquez'"):
        ol.OpenLineageExporter(s)


def test_kafka_transport_keys_records_by_job_and_queues_the_wire_text() -> None:
    transport = ol.KafkaTopicTransport(
        ol.KafkaTopicTransport.config_class.from_dict({"topic": "t"})
    )
    events = run_events(started(), namespace="ps", producer=PRODUCER)
    events += run_events(finished(), namespace="ps", producer=PRODUCER)
    for e in events:
        transport.emit(e)
    records = transport.take()
    assert records == [("t", "pachstream://ps/edges", serialize(e).encode()) for e in events]
    assert transport.take() == []


def test_processors_to_start_follow_the_setting() -> None:
    from pachstream.settings import Settings
    from pachstream.stack._supervisor import PROCESSORS, processors_for

    off = Settings.from_env({}, stack_file=False)
    on = Settings.from_env({"PACHSTREAM_OPENLINEAGE": "kafka:lineage"}, stack_file=False)
    assert processors_for(off) == PROCESSORS
    assert processors_for(on) == (*PROCESSORS, "openlineage")


def test_public_names() -> None:
    assert set(ol.__all__) == {n for n in dir(ol) if not n.startswith("_")} - {"annotations"}
    for name in ol.__all__:
        if callable(getattr(ol, name)):
            assert getattr(ol, name).__doc__, name
