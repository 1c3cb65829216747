"""``pachstream chaos``: a fault-injection campaign with an invariant checker (issue 18).

A stack of its own runs a steady mixed load (SDK puts and commits, ingest-topic records, S3
gateway PUTs and multipart uploads, a 2-stage pipeline with a join) while random processes of
it get SIGKILL or SIGTERM; then the load stops, the stack goes quiet, and the invariants are
checked against what the load was told succeeded. The checks are pure functions of collected
facts (:mod:`~pachstream.chaos._invariants`), the fault plan a pure function of the seed
(:mod:`~pachstream.chaos._plan`); the load, the injector and the collector are the shell.
"""

from pachstream.chaos._campaign import (
    RECOVERY_TARGET_S,
    CampaignConfig,
    Report,
    run_campaign,
)
from pachstream.chaos._facts import (
    Ack,
    CommitFact,
    DeadLetter,
    Fault,
    JobFact,
    OpenCommitFact,
    ReadBack,
)
from pachstream.chaos._invariants import (
    Invariant,
    check_acknowledged,
    check_dead_letters,
    check_jobs,
    check_lineage,
    check_open_commits,
    check_outputs,
    downstream_of,
)
from pachstream.chaos._plan import (
    TARGETS,
    Shot,
    fault_classes,
    first_job,
    first_write,
    percentile,
    plan_faults,
    recovered_at,
)

__all__ = [
    "RECOVERY_TARGET_S",
    "TARGETS",
    "Ack",
    "CampaignConfig",
    "CommitFact",
    "DeadLetter",
    "Fault",
    "Invariant",
    "JobFact",
    "OpenCommitFact",
    "ReadBack",
    "Report",
    "Shot",
    "check_acknowledged",
    "check_dead_letters",
    "check_jobs",
    "check_lineage",
    "check_open_commits",
    "check_outputs",
    "downstream_of",
    "fault_classes",
    "percentile",
    "plan_faults",
    "first_job",
    "first_write",
    "recovered_at",
    "run_campaign",
]
