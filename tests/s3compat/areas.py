"""Which area of S3 a test of the suite exercises, and the per-area summary of a run.

Pure and free of third-party imports: the plugin inside the suite's pytest (another venv)
and the harness both use it. A test's area comes from its name and pytest markers, by the
first rule that matches, so the order below is the priority (``test_copy_object_ifmatch_good``
is about conditions more than about copies).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "AREAS",
    "CORE_AREAS",
    "OUTCOMES",
    "AreaCounts",
    "area_of",
    "format_table",
    "summarize",
]

OUTCOMES = ("passed", "failed", "error", "skipped")
"""How a test ends, as pytest counts it (an error is a failure in setup or teardown)."""

# (area, name pattern, markers): a test is in the area if its name matches the pattern or
# it carries one of the markers. First match wins.
_RULES: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("auth-v2", r"_aws2$|_v2_|v2_client", frozenset()),
    ("logging", r"logging", frozenset({"bucket_logging", "bucket_logging_cleanup"})),
    ("object-lock", r"object_lock|retention|legal_hold", frozenset({"object_lock"})),
    ("post-object", r"^test_post_object", frozenset()),
    (
        "lifecycle",
        r"lifecycle|cloud|restore|read_through|transition|storage_class",
        frozenset(
            {
                "lifecycle",
                "lifecycle_expiration",
                "lifecycle_transition",
                "cloud_transition",
                "cloud_restore",
                "storage_class",
            }
        ),
    ),
    ("encryption", r"sse|encrypt|kms", frozenset({"encryption", "sse_s3", "bucket_encryption"})),
    ("policy", r"policy|public|abac", frozenset({"bucket_policy", "user_policy"})),
    # The conditional tests on the "current" object turn versioning on first.
    (
        "versioning",
        r"versio|delete_marker|current_object_if|_current_if",
        frozenset({"versioning", "delete_marker"}),
    ),
    ("tagging", r"tagging|_tags?_|_tags?$", frozenset({"tagging"})),
    (
        "acl",
        r"acl|ownership|access_bucket|grant|anon|not_owned|nonowner|_owner",
        frozenset({"object_ownership"}),
    ),
    ("cors", r"cors", frozenset()),
    ("website", r"website", frozenset({"s3website"})),
    ("headers", r"(?!)", frozenset()),
    ("rgw-specific", r"usage|torrent|unordered|iam|tenant|append", frozenset()),
    ("object-attributes", r"object_attributes", frozenset()),
    (
        "auth",
        r"authenticated|x_amz_expires|bad_auth|invalid_auth|presigned|authorization"
        r"|date_and|amz_date",
        frozenset(),
    ),
    (
        "conditional",
        r"if_?match|if_?none_?match|if_?non_?match|if_?modified|if_?unmodified"
        r"|conditional",
        frozenset({"conditional_write"}),
    ),
    ("checksums", r"checksum|cksum|md5|etag", frozenset({"checksum"})),
    ("copy", r"copy", frozenset({"copy"})),
    ("multipart", r"multipart|upload_part|resend_part", frozenset()),
    ("ranged-get", r"range", frozenset()),
    ("delete-many", r"multi_object|delete_objects", frozenset()),
    (
        "metadata",
        r"metadata|cache_control|_expires|content_?encoding|response_headers"
        r"|content_?type|contentlength|expect",
        frozenset(),
    ),
    (
        "bucket-listing",
        r"bucket_list|listv2|key_count|list_objects|fetchowner|marker"
        r"|continuationtoken|startafter|delimiter|special_prefix",
        frozenset({"list_objects_v2"}),
    ),
    ("buckets", r"bucket|list_buckets", frozenset()),
    ("objects", r"", frozenset()),
)
_COMPILED = tuple((area, re.compile(pattern), marks) for area, pattern, marks in _RULES)

AREAS = tuple(area for area, _, _ in _RULES)
"""Every area, in the order of the summary table."""

CORE_AREAS = frozenset(
    {
        "bucket-listing",
        "buckets",
        "objects",
        "ranged-get",
        "copy",
        "multipart",
        "delete-many",
        "metadata",
        "conditional",
        "checksums",
    }
)
"""What the gateway claims to do (docs/s3-gateway.md): the acceptance selection."""


def area_of(name: str, markers: Iterable[str] = (), module: str = "test_s3") -> str:
    """The area of the test named ``name`` (a parametrized ``[...]`` suffix is ignored).

    ``test_headers.py`` sends requests with one header changed or missing: its tests are all
    in ``headers`` (``auth-v2`` for Signature V2), whatever they write.
    """
    bare = name.partition("[")[0]
    marks = frozenset(markers)
    if module == "test_headers":
        return "auth-v2" if bare.endswith("_aws2") else "headers"
    for area, pattern, area_marks in _COMPILED:
        if marks & area_marks or pattern.search(bare):
            return area
    raise AssertionError("the last rule matches every name")  # pragma: no cover


@dataclass
class AreaCounts:
    """Outcome counts of one area."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def total(self) -> int:
        """Tests run in the area."""
        return sum(self.counts.values())


def summarize(results: Iterable[Mapping[str, str]]) -> dict[str, AreaCounts]:
    """Per-area outcome counts from result rows (``area`` and ``outcome`` keys)."""
    out: dict[str, AreaCounts] = {}
    for row in results:
        out.setdefault(row["area"], AreaCounts()).counts[row["outcome"]] += 1
    return {area: out[area] for area in AREAS if area in out}


def format_table(summary: Mapping[str, AreaCounts]) -> str:
    """The summary as a text table, core areas first, with subtotals and a total."""
    head = f"{'area':<20}{'passed':>8}{'failed':>8}{'error':>8}{'skipped':>9}{'total':>8}"
    lines = [head, "-" * len(head)]

    def row(label: str, counts: Mapping[str, int]) -> str:
        total = sum(counts.values())
        c = counts
        return (
            f"{label:<20}{c['passed']:>8}{c['failed']:>8}{c['error']:>8}{c['skipped']:>9}{total:>8}"
        )

    for title, wanted in (("core", True), ("other", False)):
        part = {a: s for a, s in summary.items() if (a in CORE_AREAS) == wanted}
        if not part:
            continue
        sub = dict.fromkeys(OUTCOMES, 0)
        for area, counts in part.items():
            lines.append(row(area, counts.counts))
            for k, v in counts.counts.items():
                sub[k] += v
        lines.append(row(f"= {title}", sub))
        lines.append("")
    grand = dict.fromkeys(OUTCOMES, 0)
    for counts in summary.values():
        for k, v in counts.counts.items():
            grand[k] += v
    lines.append(row("= all", grand))
    return "\n".join(lines)
