"""OpenLineage export: every pipeline job as OpenLineage RunEvents (issue 4).

Each job emits START when it starts and COMPLETE or FAIL when it ends, with the pipeline as
the job, its input repos and its output repo as datasets (commit ids in the ``version``
facet) and datum counts in the ``pachstream_datums`` run facet. See ``docs/openlineage.md``.

- The pure core (:func:`run_events`, :func:`run_id`, :func:`parse_target`) lives in
  ``_openlineage_events``: facts in, event dicts out.
- The shell (:class:`OpenLineageExporter` and its sinks) lives in ``_openlineage_export``.
"""

from pachstream.config import FileTarget, HttpTarget, KafkaTarget, Target, parse_target
from pachstream.lineage._openlineage_events import (
    DATUMS_FACET,
    JOB_FACET,
    RUN_EVENT_SCHEMA_URL,
    dataset_namespace,
    event_time,
    run_events,
    run_id,
)
from pachstream.lineage._openlineage_export import (
    EventSink,
    KafkaSink,
    KafkaTopicTransport,
    OpenLineageExporter,
    TransportSink,
    make_sink,
    producer_uri,
    serialize,
)

__all__ = [
    "DATUMS_FACET",
    "JOB_FACET",
    "RUN_EVENT_SCHEMA_URL",
    "EventSink",
    "FileTarget",
    "HttpTarget",
    "KafkaSink",
    "KafkaTarget",
    "KafkaTopicTransport",
    "OpenLineageExporter",
    "Target",
    "TransportSink",
    "dataset_namespace",
    "event_time",
    "make_sink",
    "parse_target",
    "producer_uri",
    "run_events",
    "run_id",
    "serialize",
]
